"""The `emotion-perception` command: training, evaluation, prediction, weights, bags and the demo.

Each area contributes its sub-commands through a module with ``add_commands(subparsers)``: this module's own,
each registered cue's (cues.registry, plug-ins included), then the tools' (``TOOL_COMMAND_MODULES``). A
command's handler is stored as ``func`` on its parser and receives the parsed arguments, returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from pathlib import Path

from . import __version__

TOOL_COMMAND_MODULES: tuple[str, ...] = (
    "emotion_perception.pose.lifting.cli",
    "emotion_perception.offline.export",
    "emotion_perception.offline.run_cli",
    "emotion_perception.offline.cli",
    "emotion_perception.ros.cli",
)
"""The package-wide tools' modules whose ``add_commands`` register sub-commands (imported lazily, in this
order, after this module's own commands and every registered cue's, cues.base.Cue.add_commands)."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """The package-wide commands: weights management and the parameters file."""
    config = subparsers.add_parser("config", help="print the ROS params file with every setting, its default and its meaning")
    config.set_defaults(func=_print_config)
    weights = subparsers.add_parser("weights", help="list or fetch released weights")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True)
    listing = weights_sub.add_parser("list", help="list the released weights this package knows")
    listing.set_defaults(func=_list_weights)
    fetch = weights_sub.add_parser("fetch", help="copy (or download) released weights into the weights dir, sha256-verified")
    fetch.add_argument("names", nargs="*", help="weights to fetch (default: every released set but the detector's; "
                                                "'keypointrcnn' caches torchvision's person detector for offline robots)")
    fetch.add_argument("--from", dest="source", type=Path, help="local directory holding the released files")
    fetch.add_argument("--dir", type=Path, help="target directory (default: $EMOTION_PERCEPTION_WEIGHTS_DIR or ~/.cache/emotion_perception/weights)")
    fetch.set_defaults(func=_fetch_weights)


def _print_config(args: argparse.Namespace) -> int:
    from .settings import render_params_yaml

    print(render_params_yaml(), end="")
    return 0


def _list_weights(args: argparse.Namespace) -> int:
    from .cues.registry import released_weights
    from .detection.registry import released_weights as detector_weights
    from .runtime.weights import default_weights_dir

    rows = [(name, passport.architecture, (default_weights_dir() / passport.file_name).is_file(), passport.license)
            for name, passport in released_weights().items()]
    rows += [(name, entry.passport.architecture, entry.location().is_file(), entry.passport.license)
             for name, entry in detector_weights().items()]
    width = max(len(architecture) for _, architecture, _, _ in rows)
    for name, architecture, present, licence in rows:
        print(f"{name:28s} {architecture:{width}s} {'fetched' if present else 'missing':8s} {licence}")
    return 0


def _fetch_weights(args: argparse.Namespace) -> int:
    """Every cue's released weights by default; a detector's only when named (they are large, and each backend
    keeps them its own way: detection.base.DetectorWeights)."""
    from .cues.registry import released_weights
    from .detection.registry import released_weights as detector_weights
    from .runtime.weights import fetch_published

    cues, detectors = released_weights(), detector_weights()
    known = [*cues, *detectors]
    unknown = [name for name in args.names if name not in known]
    if unknown:
        raise ValueError(f"unknown weights {', '.join(unknown)}; known: {', '.join(known)}")
    for name in args.names or list(cues):
        if name in detectors:
            detectors[name].fetch(args.source, args.dir)
            continue
        path = fetch_published(cues[name], args.source, args.dir, released=cues.values())
        print(f"{name}: {path} (sha256 verified)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotion-perception", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_commands(subparsers)
    from .cues.registry import cue_classes

    for cue in cue_classes():
        cue.add_commands(subparsers)
    for module_name in TOOL_COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(subparsers)
    return parser


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (like KeyboardInterrupt for SIGINT) so that a command's clean-up runs:
    unfinished output folders are removed. A BaseException, so that no ``except Exception`` swallows it."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated


INTERRUPTED_EXIT = {KeyboardInterrupt: ("SIGINT", 128 + signal.SIGINT), Terminated: ("SIGTERM", 128 + signal.SIGTERM)}
"""Exit status of a command stopped by a signal, as a shell reports it: 130 (SIGINT), 143 (SIGTERM)."""


def main(argv: list[str] | None = None) -> int:
    """Run one command. Errors print one line and exit 2; SIGINT and SIGTERM stop it cleanly (exit 130, 143)."""
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        return int(args.func(args) or 0)
    except (KeyboardInterrupt, Terminated) as exc:
        name, code = INTERRUPTED_EXIT[type(exc)]
        print(f"emotion-perception {args.command}: stopped by {name}", file=sys.stderr)
        return code
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"emotion-perception {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
