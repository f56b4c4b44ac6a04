"""`emotion-perception compare OUT_A OUT_B`: the A/B comparison of two runs (docs/fleet.md).

Fleet runs themselves are `emotion-perception bag process` over many recordings (ros/cli.py); this module also
holds what both commands print.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .compare import REGRESSION_EXIT, CompareSettings


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    compare = subparsers.add_parser(
        "compare", help="compare run B with run A over the same recordings: where the labels differ, the change in "
                        f"agreement with a confidence interval, cue valid shares, speed; exit {REGRESSION_EXIT} when "
                        "agreement regressed")
    compare.add_argument("a", type=Path, metavar="OUT_A", help="the reference run's output (a fleet run's folder, or "
                                                               "one recording's output)")
    compare.add_argument("b", type=Path, metavar="OUT_B", help="the run to judge")
    compare.add_argument("-o", "--out", type=Path, help="where compare.md and compare.json go (default: OUT_B)")
    defaults = CompareSettings()
    compare.add_argument("--max-drop", type=float, default=defaults.max_drop,
                         help=f"tolerated fall in agreement, as a share (default {defaults.max_drop:g} = "
                              f"{100 * defaults.max_drop:g} points)")
    compare.add_argument("--confidence", type=float, default=defaults.confidence,
                         help=f"level of the bootstrap interval (default {defaults.confidence:g})")
    compare.add_argument("--resamples", type=int, default=defaults.resamples, help="bootstrap resamples")
    compare.add_argument("--seed", type=int, default=defaults.seed, help="bootstrap seed")
    compare.set_defaults(func=_compare)


def compare_and_print(a: Path, b: Path, out: Path, settings: CompareSettings = CompareSettings()) -> int:
    """Compare, write compare.md/.json into ``out``, print the overall line; the exit code (REGRESSION_EXIT or 0)."""
    from .compare import compare_runs, write_comparison

    report = compare_runs(a, b, settings)
    written = write_comparison(report, out)
    overall = report["overall"]
    agreement = overall["agreement"]
    if agreement["change"] is None:
        said = "agreement not compared (no recording scored in both runs)"
    else:
        low, high = agreement["ci"]
        said = (f"agreement {100 * agreement['a']:.1f}% -> {100 * agreement['b']:.1f}% "
                f"({100 * agreement['change']:+.1f} points, {100 * settings.confidence:g}% interval "
                f"[{100 * low:+.1f}, {100 * high:+.1f}])")
    share = overall["differing_share"]
    print(f"{len(report['recordings'])} recordings compared: {said}; labels differ on "
          f"{'–' if share is None else f'{100 * share:.1f}%'} of {overall['paired_person_frames']} paired person-frames; "
          f"speed ratio B/A {overall['speed_ratio'] if overall['speed_ratio'] is not None else '–'}")
    print(f"wrote {', '.join(str(path) for path in written)}")
    if report["regression"]:
        print(f"regression: agreement fell by more than {100 * settings.max_drop:g} points (exit {REGRESSION_EXIT})",
              file=sys.stderr)
        return REGRESSION_EXIT
    return 0


def _compare(args: argparse.Namespace) -> int:
    settings = CompareSettings(args.max_drop, args.confidence, args.resamples, args.seed)
    return compare_and_print(args.a, args.b, args.out or args.b, settings)
