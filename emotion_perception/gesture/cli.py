"""Gesture sub-commands: train-gesture, eval-gesture, synth-gesture (see docs/gesture.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path


def add_options(parser: argparse.ArgumentParser, config_class: type) -> None:
    """One --option per field of a settings dataclass, with its type, default and help."""
    for config_field in dataclasses.fields(config_class):
        parser.add_argument(f"--{config_field.name.replace('_', '-')}", type=type(config_field.default),
                            default=config_field.default, help=config_field.metadata["help"])


def options_of(args: argparse.Namespace, config_class: type):
    """The settings dataclass filled from the options :func:`add_options` added."""
    return config_class(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_class)})


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .synthetic import TRACKING_GAP_RATE
    from .train import FitSettings, GestureTrainConfig

    train = subparsers.add_parser("train-gesture", help="train ACCM on labelled skeleton sequences (checkpoint + validation report)")
    _add_data_arguments(train)
    train.add_argument("--out", type=Path, required=True, help="output directory (NAME.pt/.json, report.json, confusion.png, history.json)")
    train.add_argument("--name", default="gesture_accm", help="checkpoint name")
    train.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    add_options(train, GestureTrainConfig)
    add_options(train, FitSettings)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval-gesture", help="evaluate ACCM weights on a labelled set (report.json + confusion.png)")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--weights", type=Path, required=True, help="our NAME.pt (passport NAME.json beside it)")
    evaluate.add_argument("--out", type=Path, required=True, help="output directory")
    evaluate.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
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
    from ..gait.train import write_report
    from .train import FitSettings, GestureTrainConfig, classification_report, save_model, train_gesture

    data, source = _load(args)
    config, settings = options_of(args, GestureTrainConfig), options_of(args, FitSettings)
    network, passport, fit = train_gesture(data, config, settings, args.device, progress=True, trained_on=source)
    checkpoint = save_model(network, passport, args.out / f"{args.name}.pt")
    report = classification_report(fit.val_labels, fit.val_probabilities, passport.labels)
    report.update(split="validation", best_epoch=fit.best_epoch, train_seconds=round(fit.seconds, 2))
    json_path, png_path = write_report(report, args.out)
    (args.out / "history.json").write_text(json.dumps(fit.history, indent=2) + "\n")
    print(f"checkpoint {checkpoint}; best epoch {fit.best_epoch}; validation accuracy {report['accuracy']:.1%} "
          f"on {report['n']}; {fit.seconds:.1f} s; {json_path}, {png_path}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from ..gait.train import write_report
    from .model import load_accm
    from .train import evaluate_gesture

    data, _ = _load(args)
    network, passport = load_accm(args.weights, args.device)
    report = evaluate_gesture(network, passport, data, args.device)
    json_path, png_path = write_report(report, args.out)
    print(f"accuracy {report['accuracy']:.1%} on {report['n']} sequences; {json_path}, {png_path}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .data import save_gesture_set
    from .synthetic import synthetic_gestures

    sequences, labels = synthetic_gestures(args.per_class, args.frames, args.fps, args.seed, args.missing_rate,
                                           args.repeat_rate)
    path = save_gesture_set(args.out, sequences, labels, fps=args.fps)
    print(f"{len(labels)} generated gesture sequences ({args.frames} frames at {args.fps:g} Hz) → {path}")
    return 0
