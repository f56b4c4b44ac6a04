"""Gait sub-commands: predict-gait (fidelity checks), train-gait, eval-gait, synth-gait, train-step-gen, sample-step-gen."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from ...runtime.training import add_options, options_of

PREDICT_BATCH = 32
"""Gaits per forward pass of predict-gait (the file-level preprocessing still sees the whole file)."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    predict = subparsers.add_parser("predict-gait", help="run a gait model with its reference preprocessing over a features .h5")
    predict.add_argument("--model", choices=("stgcn", "stgcn_affective", "vsgcnn"), required=True)
    predict.add_argument("--weights", required=True, help="released file, released weights name, or our NAME.pt")
    predict.add_argument("--h5", type=Path, required=True, help="features file in the STEP/ProxEmo layout")
    predict.add_argument("--out", type=Path, required=True, help="output .npz: keys, logits (model's own order), view_outputs (vsgcnn)")
    predict.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    predict.set_defaults(func=_predict)

    from .train import TrainConfig

    train = subparsers.add_parser("train-gait", help="train a gait classifier (checkpoint + evaluation report)")
    _add_data_arguments(train)
    train.add_argument("--out", type=Path, required=True, help="output directory (gait_<architecture>.pt/.json, report.json, confusion.png)")
    train.add_argument("--val-fraction", type=float, default=0.2, help="share of gaits held out for the report")
    add_options(train, TrainConfig)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser("eval-gait", help="evaluate gait weights on a labelled set (report.json + confusion.png)")
    _add_data_arguments(evaluate)
    evaluate.add_argument("--weights", required=True, help="released weights name/file or our NAME.pt")
    evaluate.add_argument("--out", type=Path, required=True, help="output directory")
    evaluate.add_argument("--window-frames", type=int, default=75, help="frames per window [frames] for ST-GCN weights "
                          "without one in their passport (vsgcnn: every gait tiled to the file's longest)")
    evaluate.add_argument("--fps", type=float, default=30.0, help="frame rate of the gaits [Hz]")
    evaluate.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")
    evaluate.set_defaults(func=_evaluate)

    synth = subparsers.add_parser("synth-gait", help="write procedural synthetic gaits in the STEP .h5 layout")
    synth.add_argument("--out", type=Path, required=True, help="features .h5 to write (labels twin beside it)")
    synth.add_argument("--per-class", type=int, default=50, help="gaits per emotion")
    synth.add_argument("--frames", type=int, default=75, help="frames per gait")
    synth.add_argument("--fps", type=float, default=30.0, help="frame rate [Hz]")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.set_defaults(func=_synth)

    from .stepgen import StepGenConfig

    train_gen = subparsers.add_parser("train-step-gen", help="train STEP-Gen (conditional VAE) on labelled gaits")
    _add_data_arguments(train_gen)
    train_gen.add_argument("--out", type=Path, required=True, help="output directory (step_gen.pt/.json, history.json)")
    add_options(train_gen, StepGenConfig)
    train_gen.set_defaults(func=_train_step_gen)

    sample_gen = subparsers.add_parser("sample-step-gen", help="sample labelled gaits from STEP-Gen into the STEP .h5 layout")
    sample_gen.add_argument("--weights", type=Path, required=True, help="our step_gen.pt (passport beside it)")
    sample_gen.add_argument("--per-class", type=int, required=True, help="gaits per emotion")
    sample_gen.add_argument("--out", type=Path, required=True, help="features .h5 to write, named features*.h5 (labels twin beside it)")
    sample_gen.add_argument("--frames", type=int, default=0, help="frames per gait (0 = the model's window) [frames]")
    sample_gen.add_argument("--seed", type=int, default=0, help="seed of the latent draws")
    sample_gen.add_argument("--device", default="cpu", help="torch device: cpu or cuda")
    sample_gen.set_defaults(func=_sample_step_gen)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--h5", type=Path, help="labelled features file (labels twin beside it)")
    source.add_argument("--synthetic", type=int, metavar="PER_CLASS", help="use this many procedural gaits per emotion")
    parser.add_argument("--synthetic-frames", type=int, default=75, help="frames per synthetic gait")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic data and the split")


def _load_labelled(args: argparse.Namespace) -> tuple[list[np.ndarray], np.ndarray, str]:
    from .data import load_h5_gaits
    from .synthetic import synthetic_dataset

    if args.synthetic:
        gaits, labels = synthetic_dataset(args.synthetic, args.synthetic_frames, seed=args.data_seed)
        return list(gaits), labels, f"procedural synthetic gaits ({args.synthetic} per class, seed {args.data_seed})"
    data = load_h5_gaits(args.h5)
    known = data.labels >= 0
    if not known.any():
        raise ValueError(f"{args.h5}: no gait has a label in the four gait emotions")
    return [g for g, k in zip(data.gaits, known) if k], data.labels[known], str(args.h5)


def _file_window(gaits: list[np.ndarray]) -> int:
    """ProxEmo's rule for a file of gaits: every gait is tiled (wrapped) to the file's longest."""
    return max(len(g) for g in gaits)


def _predict(args: argparse.Namespace) -> int:
    import torch

    from .data import load_h5_gaits
    from .features import affective_features
    from .models import load_gait_model
    from .preprocessing import PROXEMO_VIEW_ANGLES_DEG, proxemo_input, step_file_preprocess, to_stgcn_input, view_group
    from .vsgcnn import combine_views

    model = load_gait_model(args.weights, args.model).to(args.device)
    for note in model.notes:
        print(note)
    data = load_h5_gaits(args.h5)
    result: dict[str, np.ndarray] = {"keys": np.asarray(data.keys)}
    batches = [slice(start, start + PREDICT_BATCH) for start in range(0, len(data.gaits), PREDICT_BATCH)]
    with torch.inference_mode():
        if args.model == "vsgcnn":
            views = torch.cat([model.network(proxemo_input(data.gaits[part], _file_window(data.gaits), model.device))
                               for part in batches]).view(len(data.gaits), len(PROXEMO_VIEW_ANGLES_DEG), -1)
            result["view_outputs"] = views.cpu().numpy()
            result["logits"] = combine_views(views, [view_group(a) for a in PROXEMO_VIEW_ANGLES_DEG]).cpu().numpy()
        else:
            inputs = [to_stgcn_input(step_file_preprocess(data.gaits))]
            if args.model == "stgcn_affective":
                inputs.append(torch.from_numpy(np.stack([affective_features(g) for g in data.gaits]).astype(np.float32)))
            result["logits"] = torch.cat([model.network(*(x[part].to(model.device) for x in inputs))
                                          for part in batches]).cpu().numpy()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **result)
    print(f"{len(data.keys)} gaits → {args.out} (logits in label order {model.passport.labels})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .labels import GAIT_EMOTIONS
    from ...runtime.training import classification_report, finish_training
    from .train import TrainConfig, predict, train_classifier, trained_passport

    gaits, labels, source = _load_labelled(args)
    config = options_of(args, TrainConfig)
    if config.architecture == "vsgcnn" and config.window_frames != _file_window(gaits):
        config = dataclasses.replace(config, window_frames=_file_window(gaits))
        print(f"vsgcnn: every gait tiled to the file's longest, {config.window_frames} frames (ProxEmo's rule)")
    order = np.random.default_rng(args.data_seed).permutation(len(labels))
    held = max(1, int(round(len(labels) * args.val_fraction)))
    val, train = order[:held], order[held:]
    model, losses = train_classifier([gaits[i] for i in train], labels[train], config)
    probabilities = predict(model, [gaits[i] for i in val], config.window_frames, config.fps)
    report = classification_report(labels[val], probabilities, GAIT_EMOTIONS)
    report["final_train_loss"] = losses[-1] if losses else None
    print(finish_training(args.out, f"gait_{config.architecture}", model.network,
                          trained_passport(model, config, source), report, split="held-out"))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .labels import GAIT_EMOTIONS
    from ...runtime.training import classification_report, finish_evaluation
    from .models import load_gait_model
    from .train import predict

    gaits, labels, _ = _load_labelled(args)
    model = load_gait_model(args.weights).to(args.device)
    if model.architecture == "vsgcnn":
        window = _file_window(gaits)
    else:
        window = int(model.passport.config.get("window_frames", args.window_frames))
    report = classification_report(labels, predict(model, gaits, window, args.fps), GAIT_EMOTIONS)
    print(finish_evaluation(args.out, report, "gaits"))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .data import save_h5_gaits
    from .synthetic import synthetic_dataset

    gaits, labels = synthetic_dataset(args.per_class, args.frames, args.fps, seed=args.seed)
    path = save_h5_gaits(args.out, gaits, labels)
    print(f"{len(labels)} synthetic gaits → {path}")
    return 0


def _train_step_gen(args: argparse.Namespace) -> int:
    from ...runtime.training import write_history
    from .stepgen import StepGenConfig, save_step_gen, train_step_gen

    gaits, labels, source = _load_labelled(args)
    config = options_of(args, StepGenConfig)
    model, history = train_step_gen(gaits, labels, config)
    checkpoint = save_step_gen(model, config, args.out / "step_gen.pt", source)
    history_path = write_history(history, args.out / "history.json")
    print(f"checkpoint {checkpoint}; loss {history[0]['total']:.3f} → {history[-1]['total']:.3f}; {history_path}")
    return 0


def _sample_step_gen(args: argparse.Namespace) -> int:
    from .data import labels_path_for, save_h5_gaits
    from .stepgen import load_step_gen, sample_gaits

    labels_path_for(args.out)  # refuses a name without "features" before any work
    model, _ = load_step_gen(args.weights, args.device)
    labels = np.repeat(np.arange(model.num_classes), args.per_class)
    gaits = sample_gaits(model, labels, args.frames or None, seed=args.seed)
    path = save_h5_gaits(args.out, gaits, labels)
    print(f"{len(labels)} STEP-Gen gaits ({gaits.shape[1]} frames) → {path} and {labels_path_for(path)}")
    return 0
