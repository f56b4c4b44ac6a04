"""Gesture sub-commands: train-gesture, eval-gesture, synth-gesture (see docs/gesture.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...runtime.training import add_evaluation_arguments, add_fit_arguments, options_of


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .synthetic import TRACKING_GAP_RATE
    from .train import GestureTrainConfig

    train = subparsers.add_parser("train-gesture", help="train ACCM on labelled skeleton sequences (checkpoint + validation report)")
    _add_data_arguments(train)
    add_fit_arguments(train, GestureTrainConfig, "gesture_accm", "checkpoint name")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval-gesture", help="evaluate ACCM weights on a labelled set (report.json + confusion.png)")
    _add_data_arguments(evaluate)
    add_evaluation_arguments(evaluate)
    evaluate.set_defaults(func=_evaluate)

    synth = subparsers.add_parser("synth-gesture", help="write the generated gesture task (known answers) as a gesture .npz")
    synth.add_argument("--out", type=Path, required=True, help=".npz to write (layout in docs/gesture.md)")
    synth.add_argument("--per-class", type=int, default=100, help="sequences per emotion")
    synth.add_argument("--frames", type=int, default=60, help="frames per sequence")
    synth.add_argument("--fps", type=float, default=30.0, help="frame rate [Hz]")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.add_argument("--missing-rate", type=float, default=TRACKING_GAP_RATE, help="share of frames left missing (NaN)")
    synth.add_argument("--repeat-rate", type=float, default=TRACKING_GAP_RATE, help="share of frames repeating the one before")
    synth.set_defaults(func=_synth)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="labelled gesture .npz (layout in docs/gesture.md)")
    source.add_argument("--synthetic", type=int, metavar="PER_CLASS", help="use this many generated sequences per emotion")
    parser.add_argument("--synthetic-frames", type=int, default=60, help="frames per generated sequence")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the generated data")


def _load(args: argparse.Namespace):
    from .data import GestureSet, load_gesture_set
    from .synthetic import synthetic_gestures

    if args.synthetic:
        sequences, labels = synthetic_gestures(args.synthetic, args.synthetic_frames, seed=args.data_seed)
        return GestureSet(list(sequences), labels), f"generated gestures ({args.synthetic} per class, seed {args.data_seed})"
    return load_gesture_set(args.data), str(args.data)


def _train(args: argparse.Namespace) -> int:
    from ...runtime.training import FitSettings, finish_training, validation_report
    from .train import GestureTrainConfig, train_gesture

    data, source = _load(args)
    config, settings = options_of(args, GestureTrainConfig), options_of(args, FitSettings)
    network, passport, fit = train_gesture(data, config, settings, args.device, progress=True, trained_on=source)
    print(finish_training(args.out, args.name, network, passport, validation_report(fit, passport.labels), fit))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ...runtime.training import finish_evaluation
    from .model import load_accm
    from .train import evaluate_gesture

    data, _ = _load(args)
    network, passport = load_accm(args.weights, args.device)
    print(finish_evaluation(args.out, evaluate_gesture(network, passport, data, args.device), "sequences"))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .data import save_gesture_set
    from .synthetic import synthetic_gestures

    sequences, labels = synthetic_gestures(args.per_class, args.frames, args.fps, args.seed, args.missing_rate,
                                           args.repeat_rate)
    path = save_gesture_set(args.out, sequences, labels, fps=args.fps)
    print(f"{len(labels)} generated gesture sequences ({args.frames} frames at {args.fps:g} Hz) → {path}")
    return 0
