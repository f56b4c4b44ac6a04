"""`emotion-perception bag ...` and `emotion-perception demo`: the ROS side of the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from ..offline.report import summary_text
from ..offline.run_cli import check_max_frames
from ..settings import load_settings
from ..offline.synthetic_scene import SAMPLE_SCENE


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    bag = subparsers.add_parser("bag", help="play a rosbag2 onto ROS topics, process one offline, or write the sample bag")
    bag_sub = bag.add_subparsers(dest="bag_command", required=True)

    play = bag_sub.add_parser("play", help="publish a bag's messages with their original timing")
    play.add_argument("bag", type=Path)
    play.add_argument("--rate", type=float, default=1.0, help="speed factor (2 = twice as fast; 0 = as fast as possible)")
    play.add_argument("--clock", action="store_true", help="publish /clock with the bag time (for use_sim_time)")
    play.add_argument("--topics", nargs="*", help="only these topics")
    play.add_argument("--wait-for-subscribers", type=float, default=0.0, metavar="SECONDS",
                      help="wait up to SECONDS for a subscriber on every image topic before starting; if one "
                           "has none by then, play nothing and exit 2 naming it")
    play.add_argument("--remap", nargs="*", default=[], metavar="FROM:=TO", help="publish topic FROM as TO")
    play.set_defaults(func=_play)

    process = bag_sub.add_parser(
        "process", help="run the pipeline over a bag offline (no DDS), write EmotionArrays to a new bag; or over "
                        "many bags and videos at once, locally or on a Ray cluster (docs/fleet.md)")
    process.add_argument("bag", nargs="+", metavar="RECORDING",
                         help="a bag; or for a fleet run (several, or with --jobs/--ray/--compare-with): bags, videos, "
                              "folders of them, globs or list files (one per line)")
    process.add_argument("-o", "--out", type=Path, required=True,
                         help="output bag directory (mcap; a name ending in _sqlite3 writes sqlite3); for a fleet run "
                              "the folder of the recordings' outputs and of fleet.md")
    process.add_argument("--config", type=Path, help="ROS params file (default: the package's config/emotion_perception.yaml)")
    process.add_argument("--set", nargs="*", default=[], metavar="GROUP.FIELD=VALUE", help="override settings, e.g. pipeline.pose_source=skeletons")
    process.add_argument("--image-topic")
    process.add_argument("--camera-info-topic")
    process.add_argument("--depth-topic")
    process.add_argument("--skeletons-topic")
    process.add_argument("--ground-truth", type=Path, metavar="FILE",
                         help="score the output against this ground truth (docs/replay_testing.md); "
                              "the bundled sample has its ground_truth.json beside it")
    process.add_argument("--realtime", action="store_true",
                         help="drop frames as a live node of this machine's speed would (newest frame wins)")
    process.add_argument("--speed", type=float, default=1.0,
                         help="with --realtime: the emulated machine's speed relative to this one (0.5 = half as fast)")
    process.add_argument("--frame-cost", type=float, metavar="SECONDS",
                         help="with --realtime: a fixed processing cost per frame instead of the measured one "
                              "(makes the run repeatable)")
    process.add_argument("--max-frames", type=int, metavar="N", help="only the first N images")
    process.add_argument("--video", action="store_true",
                         help="also write OUT/annotated.mp4: every frame drawn as `emotion-perception run` draws it")
    process.add_argument("--no-progress", action="store_true")
    fleet = process.add_argument_group("fleet runs (docs/fleet.md)")
    fleet.add_argument("--jobs", type=int, metavar="N", help="local worker processes (default 1)")
    fleet.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                       help="one Ray task per recording on the cluster at ADDRESS (default: RAY_ADDRESS, else a local "
                            "one); needs the fleet extra")
    fleet.add_argument("--task-cpus", type=float, default=1.0, help="with --ray: CPUs per recording (default 1)")
    fleet.add_argument("--task-gpus", type=float,
                       help="with --ray: GPUs per recording (default: 1 with pipeline.device cuda, else 0)")
    fleet.add_argument("--compare-with", type=Path, metavar="OUT_A",
                       help="then compare with an earlier fleet run as `emotion-perception compare OUT_A OUT` does "
                            "(exit 3 on a regression)")
    process.set_defaults(func=_process)

    sample = bag_sub.add_parser("make-sample", help="render the synthetic walking scene and write it as a bag "
                                                   "(the bundled data/sample_walk with the defaults)")
    sample.add_argument("out", type=Path)
    sample.add_argument("--people", type=int, default=SAMPLE_SCENE.people, help="people crossing the room")
    sample.add_argument("--seconds", type=float, default=SAMPLE_SCENE.seconds, help="length of the walking part")
    sample.add_argument("--seed", type=int, default=SAMPLE_SCENE.seed)
    sample.add_argument("--no-approach", action="store_true", help="leave out the angry walker coming up to the camera")
    sample.add_argument("--photo-seconds", type=float, default=SAMPLE_SCENE.photo_seconds,
                        help="seconds of the real photograph at the end (0: none; needs scikit-image)")
    sample.set_defaults(func=_make_sample)

    from_video = bag_sub.add_parser("from-video", help="write a video file as a bag of camera images and camera info")
    from_video.add_argument("video", type=Path)
    from_video.add_argument("-o", "--out", type=Path, required=True, help="output bag directory (mcap; must not exist)")
    transport = from_video.add_mutually_exclusive_group()
    transport.add_argument("--compressed", dest="compressed", action="store_true", default=True,
                           help="sensor_msgs/CompressedImage JPEG on PREFIX/image_raw/compressed (default)")
    transport.add_argument("--raw", dest="compressed", action="store_false", help="sensor_msgs/Image on PREFIX/image_raw")
    from_video.add_argument("--encoding", choices=("rgb8", "bgr8"), default="rgb8", help="raw image encoding")
    from_video.add_argument("--jpeg-quality", type=int, default=90)
    camera = from_video.add_mutually_exclusive_group()
    camera.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="camera intrinsics in pixels for camera_info")
    camera.add_argument("--hfov", type=float, metavar="DEG", help="camera_info from this horizontal field of view "
                                                                  "(default 60; square pixels, centred principal point)")
    from_video.add_argument("--topic-prefix", default="/camera/color", help="topics PREFIX/image_raw[/compressed], PREFIX/camera_info")
    from_video.add_argument("--max-frames", type=int, metavar="N", help="only the first N frames")
    from_video.add_argument("--fps", type=float, help="frame rate of the stamps (default: the video's)")
    from_video.add_argument("--start-time", metavar="SECONDS", help="stamp of the first frame in seconds (default 1700000000)")
    from_video.add_argument("--no-progress", action="store_true")
    from_video.set_defaults(func=_from_video)

    demo = subparsers.add_parser("demo", help="run the node on the bundled sample bag and show what it publishes")
    demo.add_argument("--bag", type=Path, help="bag to play (default: the bundled sample)")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="directory for the annotated contact sheet and results")
    demo.add_argument("--rate", type=float, default=1.0, help="playback speed factor")
    demo.set_defaults(func=_demo)


def _play(args: argparse.Namespace) -> int:
    import rclpy

    from .bags.play import play_bag

    malformed = [item for item in args.remap if ":=" not in item]
    if malformed:
        raise ValueError(f"--remap takes FROM:=TO pairs, not {' '.join(malformed)}")
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
    from ..offline.fleet import is_bag
    from ..offline.realtime import RealtimeReplay
    from .bags.process import EMOTIONS_TOPIC, process_bag

    fleet_options = args.jobs is not None or args.ray is not None or args.compare_with
    if len(args.bag) > 1 or fleet_options or not is_bag(Path(args.bag[0])):
        if args.max_frames is not None or args.video:
            raise ValueError("--max-frames and --video take one bag, not a fleet run")
        return _process_fleet(args)
    args.bag = Path(args.bag[0])
    if not args.realtime and (args.speed != 1.0 or args.frame_cost is not None):
        raise ValueError("--speed and --frame-cost only apply with --realtime")
    check_max_frames(args.max_frames)
    settings = load_settings(args.config, args.set)
    topics = {"image": args.image_topic, "camera_info": args.camera_info_topic, "depth": args.depth_topic,
              "skeletons": args.skeletons_topic}
    realtime = RealtimeReplay(args.speed, args.frame_cost) if args.realtime else None
    summary = process_bag(args.bag, args.out, settings, topics, progress=not args.no_progress,
                          ground_truth=args.ground_truth, realtime=realtime, max_frames=args.max_frames,
                          video=args.video)
    print(summary_text(summary))
    if "scoring" in summary:
        overall = summary["scoring"]["overall"]
        agreement = "–" if overall["agreement"] is None else f"{overall['agreement']:.1%}"
        print(f"scoring against {args.ground_truth}: {overall['people_tracked']} of {overall['people']} people "
              f"tracked, label agreement {agreement} over {overall['valid_frames']} valid frames")
    written = [args.out / name for name in ("summary.json", "people.csv", *(["annotated.mp4"] if args.video else []))]
    print(f"wrote {args.out} (EmotionArray on {EMOTIONS_TOPIC}), {', '.join(map(str, written))}"
          + (f", {args.out / 'scoring.md'} and its plots" if "scoring" in summary else ""))
    return 0


def _process_fleet(args: argparse.Namespace) -> int:
    from ..offline.cli import compare_and_print
    from ..offline.fleet import FleetOptions, find_recordings, process_fleet
    from .bags.process import process_bag

    if args.realtime or args.ground_truth:
        raise ValueError("--realtime and --ground-truth take one bag; a fleet run scores each bag against the "
                         "ground_truth.json in its folder")
    options = FleetOptions(jobs=1 if args.jobs is None else args.jobs, ray=args.ray is not None,
                           ray_address=args.ray or None, task_cpus=args.task_cpus, task_gpus=args.task_gpus,
                           progress=not args.no_progress,
                           topics={"image": args.image_topic, "camera_info": args.camera_info_topic,
                                   "depth": args.depth_topic, "skeletons": args.skeletons_topic})
    report = process_fleet(find_recordings(args.bag), args.out, load_settings(args.config, args.set), process_bag,
                           options)  # without Ray, --ray raises MissingExtraError: one line, exit 2
    run = report["run"]
    print(f"{run['processed']} processed, {run['skipped']} skipped, {run['failed']} failed in {run['wall_seconds']:g} s; "
          f"wrote {args.out / 'fleet.md'}, {args.out / 'fleet.json'} and plots")
    code = 1 if run["failed"] else 0
    if args.compare_with:
        code = compare_and_print(args.compare_with, args.out, args.out) or code
    return code


def _make_sample(args: argparse.Namespace) -> int:
    from .bags.sample import write_sample_bag

    config = dataclasses.replace(SAMPLE_SCENE, people=args.people, seconds=args.seconds, seed=args.seed,
                                 approaching=not args.no_approach, photo_seconds=args.photo_seconds)
    path = write_sample_bag(args.out, config)
    print(f"wrote {path}")
    return 0


def _from_video(args: argparse.Namespace) -> int:
    from ..offline.sources import DEFAULT_START_NS, parse_intrinsics, stamp_from_seconds
    from .bags.video import write_video_bag

    check_max_frames(args.max_frames)
    written = write_video_bag(
        args.video, args.out, compressed=args.compressed, encoding=args.encoding, jpeg_quality=args.jpeg_quality,
        intrinsics=parse_intrinsics(args.intrinsics) if args.intrinsics else None, hfov_deg=args.hfov,
        topic_prefix=args.topic_prefix, max_frames=args.max_frames, fps=args.fps, progress=not args.no_progress,
        start_ns=DEFAULT_START_NS if args.start_time is None else stamp_from_seconds(args.start_time))
    print(json.dumps(written, indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.bag, args.out, args.rate)
