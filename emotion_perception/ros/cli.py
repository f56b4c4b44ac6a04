"""`emotion-perception bag ...` and `emotion-perception demo`: the ROS side of the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    bag = subparsers.add_parser("bag", help="play a rosbag2 onto ROS topics, process one offline, or write the sample bag")
    bag_sub = bag.add_subparsers(dest="bag_command", required=True)

    play = bag_sub.add_parser("play", help="publish a bag's messages with their original timing")
    play.add_argument("bag", type=Path)
    play.add_argument("--rate", type=float, default=1.0, help="speed factor (2 = twice as fast; 0 = as fast as possible)")
    play.add_argument("--clock", action="store_true", help="publish /clock with the bag time (for use_sim_time)")
    play.add_argument("--topics", nargs="*", help="only these topics")
    play.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="SECONDS",
                      help="wait up to SECONDS for a subscriber on every image topic before starting")
    play.add_argument("--remap", nargs="*", default=[], metavar="FROM:=TO", help="publish topic FROM as TO")
    play.set_defaults(func=_play)

    process = bag_sub.add_parser("process", help="run the pipeline over a bag offline (no DDS), write EmotionArrays to a new bag")
    process.add_argument("bag", type=Path)
    process.add_argument("-o", "--out", type=Path, required=True, help="output bag directory (mcap; a name ending in _sqlite3 writes sqlite3)")
    process.add_argument("--config", type=Path, help="ROS params file (default: the package's config/emotion_perception.yaml)")
    process.add_argument("--set", nargs="*", default=[], metavar="GROUP.FIELD=VALUE", help="override settings, e.g. pipeline.pose_source=skeletons")
    process.add_argument("--image-topic")
    process.add_argument("--camera-info-topic")
    process.add_argument("--depth-topic")
    process.add_argument("--skeletons-topic")
    process.add_argument("--no-progress", action="store_true")
    process.set_defaults(func=_process)

    sample = bag_sub.add_parser("make-sample", help="render the synthetic walking scene and write it as a bag")
    sample.add_argument("out", type=Path)
    sample.add_argument("--people", type=int, default=3)
    sample.add_argument("--seconds", type=float, default=4.0)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(func=_make_sample)

    demo = subparsers.add_parser("demo", help="run the node on the bundled sample bag and show what it publishes")
    demo.add_argument("--bag", type=Path, help="bag to play (default: the bundled sample)")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="directory for the annotated contact sheet and results")
    demo.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    demo.set_defaults(func=_demo)


def settings_from_args(config: Path | None, overrides: list[str]):
    """Settings from a params file (default: the installed one) with GROUP.FIELD=VALUE overrides."""
    import yaml

    from ..settings import Settings, apply_overrides
    from .bag import share_dir

    path = config or share_dir() / "config" / "emotion_perception.yaml"
    settings = Settings.from_yaml(path) if path.is_file() else Settings()
    nested: dict[str, dict] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        group, _, name = key.partition(".")
        if not name or not _:
            raise ValueError(f"override {item!r} is not GROUP.FIELD=VALUE")
        nested.setdefault(group, {})[name] = yaml.safe_load(value)
    for group, values in nested.items():
        if group not in settings:
            raise ValueError(f"unknown settings group {group!r}")
        settings[group] = apply_overrides(settings[group], values, group)
    return settings


def _play(args: argparse.Namespace) -> int:
    import rclpy

    from .bag import play_bag

    remap = dict(item.split(":=", 1) for item in args.remap)
    rclpy.init()
    node = rclpy.create_node("emotion_perception_bag_player")
    try:
        count = play_bag(node, args.bag, args.rate, args.clock, args.topics, args.wait_for_subscribers, remap)
        print(f"published {count} messages from {args.bag}")
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _process(args: argparse.Namespace) -> int:
    from .bag import process_bag

    settings = settings_from_args(args.config, args.set)
    topics = {"image": args.image_topic, "camera_info": args.camera_info_topic, "depth": args.depth_topic,
              "skeletons": args.skeletons_topic}
    summary = process_bag(args.bag, args.out, settings, topics, progress=not args.no_progress)
    print(json.dumps({"frames": summary["frames"], "people": summary["people"]}, indent=2))
    print(f"wrote {args.out} (EmotionArray on /emotion_perception/emotions), {args.out / 'summary.json'}, {args.out / 'people.csv'}")
    return 0


def _make_sample(args: argparse.Namespace) -> int:
    from ..synthetic_scene import SceneConfig
    from .bag import write_sample_bag

    path = write_sample_bag(args.out, SceneConfig(people=args.people, seconds=args.seconds, seed=args.seed))
    print(f"wrote {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.bag, args.out, args.rate)
