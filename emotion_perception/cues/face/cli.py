"""Face-clip sub-commands: train-face-clips, eval-face-clips, synth-face-clips (see docs/face_clips.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...runtime.training import add_evaluation_arguments, add_fit_arguments, options_of


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .clip_train import ClipTrainConfig

    train = subparsers.add_parser("train-face-clips", help="train SISTCM + two-stream LSTM (or the frame_bag baseline) on labelled face videos")
    _add_data_arguments(train)
    add_fit_arguments(train, ClipTrainConfig, "", "checkpoint name (default: face_clips_ARCHITECTURE)")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval-face-clips", help="evaluate face-clip weights on labelled face videos (report.json + confusion.png)")
    _add_data_arguments(evaluate)
    add_evaluation_arguments(evaluate)
    evaluate.set_defaults(func=_evaluate)

    synth = subparsers.add_parser("synth-face-clips", help="write the generated face-video task (known answers) as a face-clip .npz")
    synth.add_argument("--out", type=Path, required=True, help=".npz to write (layout in docs/face_clips.md)")
    synth.add_argument("--per-class", type=int, default=100, help="videos per class (5 classes)")
    _add_synthetic_shape(synth, "")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.set_defaults(func=_synth)


def _add_synthetic_shape(parser: argparse.ArgumentParser, prefix: str) -> None:
    from .clip_train import SYNTHETIC_FRAMES, SYNTHETIC_SIZE

    parser.add_argument(f"--{prefix}frames", type=int, default=SYNTHETIC_FRAMES, help="frames per generated video")
    parser.add_argument(f"--{prefix}size", type=int, default=SYNTHETIC_SIZE, help="side of the generated face crops [px]")


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="labelled face-clip .npz (layout in docs/face_clips.md)")
    source.add_argument("--synthetic", type=int, metavar="PER_CLASS", help="use this many generated videos per class")
    _add_synthetic_shape(parser, "synthetic-")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the generated data")


def _load(args: argparse.Namespace):
    from .clip_train import load_face_clips, synthetic_face_videos

    if args.synthetic:
        data = synthetic_face_videos(args.synthetic, args.synthetic_frames, args.synthetic_size, seed=args.data_seed)
        return data, f"generated face videos ({args.synthetic} per class, seed {args.data_seed})"
    return load_face_clips(args.data), str(args.data)


def _train(args: argparse.Namespace) -> int:
    from ...runtime.training import FitSettings, finish_training, validation_report
    from .clip_train import ClipTrainConfig, train_face_clips

    data, source = _load(args)
    config = options_of(args, ClipTrainConfig)
    network, passport, fit = train_face_clips(data, config, options_of(args, FitSettings), args.device,
                                              progress=True, trained_on=source)
    name = args.name or f"face_clips_{config.architecture}"
    print(finish_training(args.out, name, network, passport, validation_report(fit, passport.labels), fit))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ...runtime.training import finish_evaluation
    from .clip_model import load_clip_model
    from .clip_train import evaluate_face_clips

    data, _ = _load(args)
    network, passport = load_clip_model(args.weights, args.device)
    print(finish_evaluation(args.out, evaluate_face_clips(network, passport, data, args.device), "videos"))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .clip_train import save_face_clips, synthetic_face_videos

    data = synthetic_face_videos(args.per_class, args.frames, args.size, seed=args.seed)
    path = save_face_clips(args.out, data.videos, data.labels, data.label_names)
    print(f"{len(data.labels)} generated face videos ({args.frames} frames of {args.size}x{args.size}) → {path}")
    return 0
