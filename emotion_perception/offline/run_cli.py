"""`emotion-perception run SOURCE -o OUT`: the pipeline over a video file, an image folder or a webcam, no ROS."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .sources import DEFAULT_HFOV_DEG

    run = subparsers.add_parser("run", help="run the pipeline over a video file, an image folder or a webcam "
                                            "(no ROS); write an annotated video, people.csv and summary.json")
    run.add_argument("source", help="a video file, a folder of images (sorted by name) or a webcam index (e.g. 0)")
    run.add_argument("-o", "--out", type=Path, required=True, help="output folder (must not exist)")
    run.add_argument("--config", type=Path,
                     help="ROS params file (default: the package's config/emotion_perception.yaml)")
    run.add_argument("--set", nargs="*", default=[], metavar="GROUP.FIELD=VALUE",
                     help="override settings, e.g. detector.weights=/path/keypointrcnn.pth pipeline.device=cuda")
    run.add_argument("--fps", type=float, help="frame rate of the stamps: an image folder's (default 30), a video's "
                                               "when its file states a wrong one, the rate asked of a webcam")
    run.add_argument("--start-time", default=None, metavar="SECONDS",
                     help="stamp of the first frame of a file or folder, in seconds (default 1700000000)")
    run.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    run.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    run.add_argument("--no-progress", action="store_true")
    camera = run.add_mutually_exclusive_group()
    camera.add_argument("--intrinsics", metavar="FX,FY,CX,CY", help="camera intrinsics in pixels for the frames")
    camera.add_argument("--hfov", type=float, metavar="DEG", help="intrinsics from this horizontal field of view "
                                                                  "(square pixels, centred principal point); default "
                                                                  f"{DEFAULT_HFOV_DEG:g}, a common camera's: a recording "
                                                                  "carries no intrinsics, and without them nobody can be "
                                                                  "placed in 3D (docs/lifting.md)")
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .report import CSV_FILE, SUMMARY_FILE, atomic_output_dir, summary_text
    from .run import VIDEO_FILE, run_source
    from ..settings import load_settings
    from .sources import DEFAULT_HFOV_DEG, DEFAULT_START_NS, open_source, parse_intrinsics, stamp_from_seconds

    check_max_frames(args.max_frames)
    start_ns = DEFAULT_START_NS if args.start_time is None else stamp_from_seconds(args.start_time)
    intrinsics = parse_intrinsics(args.intrinsics) if args.intrinsics else None
    settings = load_settings(args.config, args.set)
    hfov = args.hfov if args.hfov is not None or intrinsics is not None else DEFAULT_HFOV_DEG
    with open_source(args.source, args.fps, start_ns, intrinsics, hfov,
                     max_pixels=settings.input.max_image_pixels) as source:
        with atomic_output_dir(args.out) as partial:
            summary = run_source(source, partial, settings, max_frames=args.max_frames, video=not args.no_video,
                                 progress=not args.no_progress)
    print(summary_text(summary))
    written = [VIDEO_FILE] * (not args.no_video) + [CSV_FILE, SUMMARY_FILE]
    print(f"wrote {', '.join(str(args.out / name) for name in written)}")
    return 0


def check_max_frames(max_frames: int | None) -> None:
    """ValueError for a ``--max-frames`` below 1 (the commands that take one share it)."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--max-frames must be at least 1, not {max_frames}")
