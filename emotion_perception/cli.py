"""The `emotion-perception` command: training, evaluation, prediction, weights, bags and the demo.

Each area contributes its sub-commands through a module with ``add_commands(subparsers)``; a command's
handler is stored as ``func`` on its parser and receives the parsed arguments, returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import __version__

COMMAND_MODULES: tuple[str, ...] = (
    "emotion_perception.cli",
    "emotion_perception.gait.cli",
    "emotion_perception.context.cli",
    "emotion_perception.gesture.cli",
    "emotion_perception.face.cli",
    "emotion_perception.export",
    "emotion_perception.run_cli",
    "emotion_perception.ros.cli",
)
"""Modules whose ``add_commands`` register sub-commands (imported lazily, in this order)."""


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """The package-wide commands: weights management and the parameters file."""
    config = subparsers.add_parser("config", help="print the ROS params file with every setting, its default and its meaning")
    config.set_defaults(func=_print_config)
    weights = subparsers.add_parser("weights", help="list or fetch released weights")
    weights_sub = weights.add_subparsers(dest="weights_command", required=True)
    listing = weights_sub.add_parser("list", help="list the released weights this package knows")
    listing.set_defaults(func=_list_weights)
    fetch = weights_sub.add_parser("fetch", help="copy (or download) released weights into the weights dir, sha256-verified")
    fetch.add_argument("names", nargs="*", help="weights to fetch (default: all released weights)")
    fetch.add_argument("--from", dest="source", type=Path, help="local directory holding the released files")
    fetch.add_argument("--dir", type=Path, help="target directory (default: $EMOTION_PERCEPTION_WEIGHTS_DIR or ~/.cache/emotion_perception/weights)")
    fetch.set_defaults(func=_fetch_weights)


def _print_config(args: argparse.Namespace) -> int:
    from .settings import render_params_yaml

    print(render_params_yaml(), end="")
    return 0


def _list_weights(args: argparse.Namespace) -> int:
    from .weights import PUBLISHED, default_weights_dir

    for name, passport in PUBLISHED.items():
        present = (default_weights_dir() / passport.file_name).is_file()
        print(f"{name:28s} {passport.architecture:8s} {'fetched' if present else 'missing':8s} {passport.license}")
    return 0


def _fetch_weights(args: argparse.Namespace) -> int:
    from .weights import PUBLISHED, fetch_published

    for name in args.names or list(PUBLISHED):
        path = fetch_published(name, args.source, args.dir)
        print(f"{name}: {path} (sha256 verified)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotion-perception", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_commands(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"emotion-perception {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
