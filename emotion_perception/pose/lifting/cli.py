"""Lifter sub-commands: train-lifter (train, measure on held-out views, write the checkpoint and its passport)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ...runtime.training import add_options, distributed_run, options_of


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    from .train import LifterTrainConfig

    train = subparsers.add_parser("train-lifter", help="train the 2D→3D lifter on walks seen through random cameras")
    train.add_argument("--out", type=Path, required=True, help="output directory (lifter_mlp.pt/.json, metrics.json)")
    train.add_argument("--step-h5", type=Path, help="a STEP features*.h5 of 3D gaits to add (a third is held out "
                                                    "for the metrics), e.g. ../shared/data/step_sample/features4DCVAEGCN.h5")
    add_options(train, LifterTrainConfig)
    train.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    import torch

    from .train import LifterTrainConfig, train_lifter

    torch.set_num_threads(max(1, torch.get_num_threads()))
    config = options_of(args, LifterTrainConfig)
    command = "emotion-perception " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    path, metrics = train_lifter(config, args.out, args.step_h5, command,
                                 progress=lambda row: print(f"epoch {row['epoch']}: loss {row['train_loss']:.4f}"))
    run = distributed_run()
    if not run.main:
        print(run.not_writing())
        return 0
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    for name, values in metrics.items():
        if isinstance(values, dict):
            print(f"{name}: MPJPE {values['mpjpe_mm']:.0f} mm, PA-MPJPE {values['pa_mpjpe_mm']:.0f} mm, "
                  f"distance error median {100 * values['distance_error_median']:.1f} % ({values['views']} views)")
    print(f"wrote {path} and its passport")
    return 0
