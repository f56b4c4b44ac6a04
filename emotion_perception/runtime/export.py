"""ONNX export of a network, checked against torch with onnxruntime on the CPU: the machinery.

Every exportable network is one :class:`ExportableNetwork` entry, defined beside its builder: a cue lists
its entries in ``Cue.exportable_networks`` (e.g. cues/gait/export.py), a detector backend in its module's
``EXPORTABLE_NETWORKS``; cues.registry.exportable_networks() and detection.registry.exportable_networks()
collect them, and ``emotion-perception export NETWORK -o FILE.onnx`` (offline/export.py) exports one and
checks it. An entry says how to build the network (with weights, or random ones for tests), example inputs
for given sizes of its dynamic axes, and the names of its inputs and outputs.

onnx, onnxruntime and onnxscript are optional (a robot does not need them); the export says which are
missing. A check passes when each output's largest difference is at most the network's tolerance
(``TOLERANCE``, 1e-4, unless its entry says otherwise) times max(1, the output's largest magnitude): fp32 on
both sides, so only the order of floating-point operations differs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .acceleration import largest_difference

TOLERANCE = 1e-4
"""Largest |onnxruntime - torch| allowed, relative to max(1, the output's largest magnitude) (fp32)."""
OPSET = 18
"""ONNX opset of the exports (Keypoint R-CNN needs >= 11; onnxruntime 1.17+ runs 18)."""

Sizes = dict[str, int]
"""Sizes of a network's dynamic axes by name, e.g. {"batch": 3}."""


@dataclass(frozen=True)
class ExportableNetwork:
    """One network the package can export, and how to feed it."""

    name: str
    summary: str
    build: Callable[[str | None], nn.Module]
    """Weights (a released name or a file) -> eval-mode module on the CPU; None: random weights."""
    example_inputs: Callable[[Sizes], tuple[torch.Tensor, ...]]
    """Seeded example inputs with the given dynamic-axis sizes."""
    input_names: tuple[str, ...]
    input_axes: tuple[dict[int, str], ...]
    """For each input, its dynamic axes: index -> axis name (inputs sharing a name share the size)."""
    output_names: tuple[str, ...]
    export_sizes: Sizes
    """Sizes traced at export (not 0 or 1, which the exporter would fix as constants)."""
    check_sizes: tuple[Sizes, ...]
    """Sizes at which the export is checked against torch."""
    default_weights: str = ""
    """The released weights exported when none are named; empty: the network has none, a file is needed."""
    tracer: bool = False
    """Export with the TorchScript tracer (dynamo=False): for graphs with data-dependent control flow, as
    torchvision's detection models have; otherwise torch.export (dynamo)."""
    tolerance: float = TOLERANCE
    """Allowed |onnxruntime - torch| relative to max(1, the output's largest magnitude)."""
    axis_multiple: int = 1
    """The dynamic axes' sizes are multiples of this (declared so to torch.export; needs ``tracer`` False)."""


@dataclass
class OutputCheck:
    """One output at one set of sizes: torch against onnxruntime."""

    sizes: Sizes
    output: str
    shape: tuple[int, ...]
    max_abs_diff: float
    allowed: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= self.allowed


@dataclass
class ExportReport:
    path: Path
    network: str
    checks: list[OutputCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def require_packages(*names: str) -> None:
    """RuntimeError naming those of the optional packages ``names`` that are not installed."""
    missing = [name for name in names if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(f"ONNX export needs the optional packages {', '.join(missing)} (a robot does not): "
                           f"pip install {' '.join(missing)}")


def export_network(network: ExportableNetwork, module: nn.Module, path: str | Path) -> Path:
    """Write ``module`` (built by ``network.build``) to ``path`` as ONNX, its dynamic axes left free."""
    require_packages("onnx", *(() if network.tracer else ("onnxscript",)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    inputs = network.example_inputs(network.export_sizes)
    options: dict = {"input_names": list(network.input_names), "output_names": list(network.output_names),
                     "opset_version": OPSET, "dynamo": not network.tracer}
    if network.tracer:
        options["dynamic_axes"] = {name: axes for name, axes in zip(network.input_names, network.input_axes) if axes}
    else:
        dims = {axis: torch.export.Dim(axis, min=1) if network.axis_multiple == 1
                else network.axis_multiple * torch.export.Dim(axis, min=2)
                for axes in network.input_axes for axis in axes.values()}
        options["dynamic_shapes"] = tuple({index: dims[axis] for index, axis in axes.items()} or None
                                          for axes in network.input_axes)
        options["external_data"] = False
    torch.onnx.export(module.eval(), inputs, str(path), **options)
    return path


def check_export(network: ExportableNetwork, module: nn.Module, path: str | Path,
                 sizes: Sequence[Sizes] | None = None) -> list[OutputCheck]:
    """Run the exported file with onnxruntime (CPU) and ``module`` with torch on the same example inputs."""
    require_packages("onnxruntime")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = [model_input.name for model_input in session.get_inputs()]
    checks = []
    for case in sizes or network.check_sizes:
        inputs = network.example_inputs(case)
        with torch.no_grad():
            expected = module.eval()(*inputs)
        expected = (expected,) if isinstance(expected, torch.Tensor) else tuple(expected)
        got = session.run(list(network.output_names), {name: x.numpy() for name, x in zip(feeds, inputs)})
        for name, want, have in zip(network.output_names, expected, got):
            if tuple(want.shape) != have.shape:
                raise RuntimeError(f"{network.name} output {name!r} at {case}: onnxruntime shape {have.shape}, "
                                   f"torch {tuple(want.shape)}")
            difference, scale = largest_difference(torch.from_numpy(have), want)  # the compiled paths' measure
            checks.append(OutputCheck(dict(case), name, tuple(want.shape), difference,
                                      network.tolerance * max(1.0, scale)))
    return checks


def export_and_check(network: ExportableNetwork, path: str | Path, weights: str | None = "") -> ExportReport:
    """Build ``network`` (``weights``: a name or file, "" its released weights, None random), export it to
    ``path`` and check it."""
    require_packages("onnx", "onnxruntime", *(() if network.tracer else ("onnxscript",)))
    if weights == "":
        if not network.default_weights:
            raise RuntimeError(f"{network.name} has no released weights: give --weights FILE (our NAME.pt) or "
                               "--random-weights")
        weights = network.default_weights
    torch.manual_seed(0)
    module = network.build(weights)
    exported = export_network(network, module, path)
    return ExportReport(exported, network.name, check_export(network, module, exported))


def example_generator() -> torch.Generator:
    """The seeded generator example inputs draw from, so that an export and its check see the same inputs."""
    return torch.Generator().manual_seed(0)


BATCH_SIZES: tuple[Sizes, ...] = ({"batch": 1}, {"batch": 3})
"""Check sizes of a network whose one dynamic axis is the batch."""
