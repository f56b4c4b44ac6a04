"""The `emotion-perception export NETWORK -o FILE.onnx` command: ONNX export of one of the networks, checked
against torch with onnxruntime on the CPU (the machinery: runtime/export.py).

The networks are every cue's ``Cue.exportable_networks`` and every detector backend's ``EXPORTABLE_NETWORKS``,
collected through the two registries, so a registered cue's networks are choices here without an edit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..runtime.export import ExportableNetwork, export_and_check


def exportable_networks() -> dict[str, ExportableNetwork]:
    """Every network the package can export, by name: the cues' (registry order), then the detectors'."""
    from ..cues.registry import exportable_networks as cue_networks
    from ..detection.registry import exportable_networks as detector_networks

    cues, detectors = cue_networks(), detector_networks()
    clash = sorted(set(cues) & set(detectors))
    if clash:
        raise ValueError(f"export entries {', '.join(clash)} are named by a cue and by a detector")
    return {**cues, **detectors}


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    networks = exportable_networks()
    export = subparsers.add_parser(
        "export", help="export a network to ONNX and check it against torch with onnxruntime",
        description="Exports NETWORK with example inputs (dynamic batch axes), then runs the file with onnxruntime "
                    "on the CPU and prints the largest difference to torch for each output. Needs the optional "
                    "packages onnx, onnxruntime and onnxscript. Networks: "
                    + "; ".join(f"{n.name}: {n.summary}" for n in networks.values()))
    export.add_argument("network", choices=list(networks), help="the network to export")
    export.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    weights = export.add_mutually_exclusive_group()
    weights.add_argument("--weights", default="", help="released weights name or file, or our NAME.pt "
                         "(default: the network's released weights where it has some)")
    weights.add_argument("--random-weights", action="store_true", help="random weights (to try the export only)")
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    network = exportable_networks()[args.network]
    report = export_and_check(network, args.output, None if args.random_weights else args.weights)
    print(f"{report.network}: wrote {report.path} ({report.path.stat().st_size / 1e6:.1f} MB); onnxruntime vs torch "
          f"(allowed: {network.tolerance:g} x max(1, largest |output|)):")
    for check in report.checks:
        sizes = ", ".join(f"{axis} {size}" for axis, size in check.sizes.items())
        print(f"  {sizes:<22} {check.output:<18} {str(check.shape):<16} max |diff| {check.max_abs_diff:.3g} "
              f"(allowed {check.allowed:.3g}) {'ok' if check.ok else 'FAILED'}")
    return 0 if report.ok else 1
