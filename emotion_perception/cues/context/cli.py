"""Sub-commands of the context (EMOTIC) network: train-context, eval-context, import-context."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .train import TrainConfig

    train = subparsers.add_parser("train-context", help="train the EMOTIC context network (body + scene)",
                                  description="Train on the 'train' split, select the epoch and choose "
                                              "thresholds on 'val'; writes OUT/NAME.pt, its passport and a report.")
    kinds = typing.get_type_hints(TrainConfig)
    for config_field in dataclasses.fields(TrainConfig):
        flag = "--" + config_field.name.replace("_", "-")
        train.add_argument(flag, dest=config_field.name, type=kinds[config_field.name], default=config_field.default,
                           required=config_field.name == "data",
                           help=f"{config_field.metadata['help']} (default: {config_field.default!r})")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval-context", help="evaluate an EMOTIC checkpoint: AP table, mAP, VAD error, plots")
    evaluate.add_argument("--weights", required=True, type=Path, help="our EMOTIC checkpoint NAME.pt")
    evaluate.add_argument("--data", required=True, type=Path, help="folder with the split arrays or split CSVs")
    evaluate.add_argument("--images", default="", help="root of the EMOTIC images for CSV annotations")
    evaluate.add_argument("--split", default="test", help="split to evaluate (default: test)")
    evaluate.add_argument("--out", type=Path, default=Path("runs/context_eval"), help="report folder")
    evaluate.add_argument("--batch-size", type=int, default=52, help="people per batch")
    evaluate.add_argument("--device", default="cpu", help="torch device")
    evaluate.add_argument("--save-thresholds", action="store_true",
                          help="choose per-category thresholds on this split (use val) and write them into the passport")
    evaluate.add_argument("--quiet", action="store_true", help="no progress bar")
    evaluate.set_defaults(func=_evaluate)

    convert = subparsers.add_parser(
        "import-context", help="convert the reference EMOTIC checkpoints (pickled modules) into our format",
        description="Reads the reference implementation's model_body1.pth, model_context1.pth and "
                    "model_emotic1.pth without executing pickled code, and writes OUT/NAME.pt + NAME.json.")
    convert.add_argument("--body", required=True, type=Path, help="the reference body model (e.g. model_body1.pth)")
    convert.add_argument("--context", required=True, type=Path, help="the reference scene model (model_context1.pth)")
    convert.add_argument("--fusion", required=True, type=Path, help="the reference fusion model (model_emotic1.pth)")
    convert.add_argument("--thresholds", required=True, type=Path,
                         help="the 26 thresholds: the reference's val_thresholds.npy, or a text file of 26 numbers")
    convert.add_argument("--out", type=Path, default=Path("."), help="output folder")
    convert.add_argument("--name", default="emotic_reference", help="checkpoint name (NAME.pt, NAME.json)")
    convert.add_argument("--allow-class", action="append", default=[], metavar="MODULE.CLASS",
                         help="another class name the pickles may use, read as inert data (never executed)")
    convert.set_defaults(func=_import)


def _train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    result = train(config, progress=not args.quiet)
    report = result.validation
    print(f"checkpoint: {result.checkpoint} (best epoch {result.best_epoch}); validation mAP "
          f"{report.mean_average_precision:.4f}, VAD MAE "
          + ", ".join(f"{k} {v:.3f}" for k, v in report.vad_mean_absolute_error.items()))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from .data import open_split
    from .losses import EmoticLoss
    from .metrics import choose_thresholds
    from .model import load_emotic
    from .preprocessing import EmoticPreprocessing
    from .train import EvaluationReport, evaluate, write_report

    model, passport = load_emotic(args.weights)
    dataset = open_split(args.data, args.split, EmoticPreprocessing.from_config(passport.config),
                         images_root=args.images)
    predictions = evaluate(model.to(args.device), dataset, args.device, args.batch_size, EmoticLoss().to(args.device),
                           progress=not args.quiet)
    report = EvaluationReport.from_predictions(predictions)
    out = write_report(report, args.out, predictions)
    print(f"{args.split}: {report.count} people, mAP {report.mean_average_precision:.4f}, VAD MAE "
          + ", ".join(f"{k} {v:.3f}" for k, v in report.vad_mean_absolute_error.items()) + f"; report in {out}")
    if args.save_thresholds:
        thresholds = choose_thresholds(predictions.categories, predictions.scores)
        updated = dataclasses.replace(passport, config={**passport.config, "thresholds": thresholds.tolist(),
                                                        "thresholds_from": f"{args.data} split {args.split}"})
        passport_path = Path(args.weights).with_suffix(".json")
        passport_path.write_text(updated.to_json() + "\n")
        print(f"thresholds written to {passport_path}: {np.round(thresholds, 3).tolist()}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from .convert import import_reference, read_thresholds

    extra = set()
    for qualified in args.allow_class:
        module, _, name = qualified.rpartition(".")
        if not module:
            raise ValueError(f"--allow-class wants MODULE.CLASS, got {qualified!r}")
        extra.add((module, name))
    path = import_reference(args.body, args.context, args.fusion, read_thresholds(args.thresholds), args.out,
                            args.name, frozenset(extra))
    print(f"wrote {path} and {path.with_suffix('.json')}; set context.weights to {path}")
    return 0
