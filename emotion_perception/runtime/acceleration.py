"""Compiled inference paths for the networks, each checked equal to eager within its precision's tolerance.

``pipeline.accelerate`` picks one path for every network the pipeline runs (docs/acceleration.md has the
measurements behind each choice):

- ``eager`` (default): the modules as they are.
- ``compile``: ``torch.compile`` (inductor), the whole network as one graph, with the axes that grow with the
  number of people dynamic and every other axis fixed, so one compiled graph serves every number of people
  from 2 on and batch 1 has its own (torch specialises size 1). Not ``dynamic=True``: with every axis
  symbolic, inductor's index simplification for the face network's 'same' padding ran for over ten minutes
  without finishing. On CUDA, networks whose inputs are fixed apart from the batch axis also run as CUDA
  graphs (``mode="reduce-overhead"``): small networks there are bound by kernel launches, not arithmetic.
- ``tensorrt``: a TensorRT engine from the optional ``torch_tensorrt`` package (its release matching torch's),
  CUDA only, for batches of 1 to :data:`TENSORRT_MAX_BATCH`; larger batches run eager.

A network is compiled when it is accelerated, not on the first frames: it is run at a small batch and at
batch 1 under the pipeline's precision and compared with eager on the same inputs. A
compile that fails or differs by more than :data:`TOLERANCES` leaves the network eager, and the note says
why; a compiled network that fails later hands its calls to eager from then on (:class:`AcceleratedNetwork`),
so no node stops for it.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from collections.abc import Callable, Mapping

import torch
from torch import nn

from .device import effective_precision, inference_context

MODES: tuple[str, ...] = ("eager", "compile", "tensorrt")

TOLERANCES: dict[str, float] = {"fp32": 1e-5, "tf32": 1e-2, "fp16": 2e-2}
"""Largest |compiled - eager| allowed per precision, relative to max(1, the eager output's largest magnitude).
fp32 paths differ only in the order of floating-point operations; TF32 rounds matmul and convolution inputs
to 10 mantissa bits and fp16 rounds every activation as well, differently on each path."""

TENSORRT_MAX_BATCH = 32
"""Largest batch (people or faces of a frame) a TensorRT engine is built for; larger ones run eager."""

ExampleInputs = Callable[[int], tuple[torch.Tensor, ...]]
"""People -> a network's inputs for that many people, on its device, as its stage would feed them."""


class AcceleratedNetwork(nn.Module):
    """A network whose calls go through a compiled path, with the eager module kept beside it.

    It is called like the module, and attributes it does not have are the module's. ``to()`` moves the eager
    module: inputs on another device than the compiled path's (the node parks its networks on the CPU), or
    outside an engine's shape range, run eager. A compiled path that raises where eager does not is dropped,
    with the reason in ``failure``.
    """

    def __init__(self, eager: nn.Module, compiled: Callable, mode: str, device: torch.device,
                 shape_range: list[tuple[tuple[int, ...], tuple[int, ...]]] | None = None) -> None:
        super().__init__()
        self.eager = eager
        # Not a submodule: .to() must not move a TensorRT engine, and torch.compile's wrapper shares eager's weights.
        self.__dict__["compiled"] = compiled
        self.mode = mode
        self.compiled_device = device
        self.shape_range = shape_range
        """Per input, the least and largest shape the compiled path takes; None: any shape."""
        self.failure = ""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "eager":
                raise
            return getattr(self.eager, name)

    def takes(self, inputs: tuple) -> bool:
        """Whether the compiled path was built for ``inputs``: on its device, and within its shape range."""
        tensors = [x for x in inputs if isinstance(x, torch.Tensor)]
        if not all(_same_device(x.device, self.compiled_device) for x in tensors):
            return False
        if self.shape_range is None:
            return True
        return len(tensors) == len(self.shape_range) and all(
            x.dim() == len(least) and all(low <= size <= high for low, size, high in zip(least, x.shape, largest))
            for x, (least, largest) in zip(tensors, self.shape_range))

    def forward(self, *inputs):
        if self.compiled is None or not self.takes(inputs):
            return self.eager(*inputs)
        try:
            return self.compiled(*inputs)
        except Exception as exc:  # whatever the compiled path raises, eager decides whether the call fails
            outputs = self.eager(*inputs)
            self.compiled = None
            self.failure = f"{self.mode} failed at run time ({_first_line(exc)}): eager from now on"
            warnings.warn(self.failure, RuntimeWarning, stacklevel=2)
            return outputs


def accelerate_network(network: nn.Module, example_inputs: ExampleInputs, device: torch.device | str,
                       precision: str, mode: str, *, name: str, cuda_graphs: bool = False,
                       batches: tuple[int, ...] | None = None, cpu_conv_layout: bool = False,
                       part: str = "cues") -> tuple[nn.Module, str]:
    """``network`` on the path ``mode`` names (MODES), and a note for the log ("compile: ...", or why eager).

    ``example_inputs`` gives the network's inputs for a number of people; the compiled path is warmed up and
    checked on them at ``batches`` (default :func:`warm_up_batches`). ``cuda_graphs``: the inputs are fixed apart
    from the batch axis, so on CUDA the compiled network may replay CUDA graphs. ``cpu_conv_layout``: let
    inductor turn the convolutions channels-last on the CPU too; that pays for large images only (the
    detector's backbone: 1.3x against 1.15x without) and costs small networks (ST-GCN 0.85x against 1.0x,
    EMOTIC 0.9x against 1.2x of eager's speed). ``part``: "cues" or "detector", for precisions that treat
    them differently (device.inference_context). Returns ``network`` itself for eager and whenever the path
    is not taken.
    """
    if mode not in MODES:
        raise ValueError(f"acceleration mode must be one of {MODES}, not {mode!r}")
    if mode == "eager":
        return network, f"eager: {name}"
    device = torch.device(device)
    if mode == "tensorrt":
        missing = tensorrt_unavailable(device)
        if missing:
            return network, f"tensorrt unavailable for {name} ({missing}): eager"
    start = time.perf_counter()
    batches = batches or warm_up_batches(example_inputs)
    try:
        if mode == "compile":
            graphs = cuda_graphs and device.type == "cuda"
            options = {"triton.cudagraphs": graphs}  # mode="reduce-overhead", which excludes further options
            if device.type == "cpu":
                options["layout_optimization"] = cpu_conv_layout
            compiled = torch.compile(network, fullgraph=True, options=options)
            example_inputs = with_people_axes_dynamic(example_inputs)
            accelerated = AcceleratedNetwork(network, compiled, mode, device)
            how = "compiled (inductor" + (", CUDA graphs)" if graphs else ")")
            calls = 3 if graphs else 1  # CUDA graph trees run a shape once, record it, then replay it
        else:
            engine, shape_range = _tensorrt_engine(network, example_inputs, batches[0], device,
                                                   effective_precision(device, precision, part))
            accelerated = AcceleratedNetwork(network, engine, mode, device, shape_range)
            how, calls = f"TensorRT engine for batches 1-{TENSORRT_MAX_BATCH}", 1
        tolerance = check_against_eager(accelerated, example_inputs, batches, device, precision, calls, part)
    except Exception as exc:  # a compiler's failure of any kind leaves the network eager, never stops a node
        return network, f"{mode} failed for {name} ({_first_line(exc)}): eager"
    return accelerated, (f"{mode}: {name} {how} in {time.perf_counter() - start:.0f} s; equal to eager within "
                         f"{tolerance:g} ({effective_precision(device, precision, part)})")


def tensorrt_unavailable(device: torch.device) -> str:
    """Why the TensorRT path cannot run on ``device`` ("" when it can)."""
    reasons = []
    if importlib.util.find_spec("torch_tensorrt") is None:
        release = ".".join(torch.__version__.split("+")[0].split(".")[:2])
        reasons.append(f"the torch_tensorrt package is not installed: pip install 'torch-tensorrt=={release}.*'")
    if device.type != "cuda":
        reasons.append(f"it needs a CUDA device, not {device}")
    return "; ".join(reasons)


def warm_up_batches(example_inputs: ExampleInputs) -> tuple[int, int]:
    """The least batch above 1 equal to no axis of the inputs (torch gives equal sizes one symbol, so a batch
    equal to another axis would be fixed along with it), then batch 1 (torch specialises size 1).

    Not the largest batch as well: with it the warm-up took VS-GCNN 6 minutes on the CPU (32 people are 128
    view images, eager and compiled), while only ST-GCN's graph ends early there (at 15 people: its
    convolutions choose another CPU kernel from 16 on), so a 16th person compiles once more at run time."""
    sizes = {size for x in example_inputs(1) for size in x.shape}
    return next(batch for batch in range(2, 2 + len(sizes) + 1) if batch not in sizes), 1


def with_people_axes_dynamic(example_inputs: ExampleInputs) -> ExampleInputs:
    """``example_inputs`` whose axes that differ from batch 1's are marked dynamic for torch.compile (the axes
    that grow with the number of people: a frame's one scene image keeps its size)."""
    def marked(people: int) -> tuple[torch.Tensor, ...]:
        inputs = example_inputs(people)
        if people > 1:
            for x, single in zip(inputs, example_inputs(1)):
                for axis in (axis for axis, (a, b) in enumerate(zip(single.shape, x.shape)) if a != b):
                    torch._dynamo.mark_dynamic(x, axis)
        return inputs

    return marked


def check_against_eager(accelerated: AcceleratedNetwork, example_inputs: ExampleInputs, batches: tuple[int, ...],
                        device: torch.device, precision: str, calls: int = 1, part: str = "cues") -> float:
    """Run the compiled path ``calls`` times per batch (compiling it) and compare it with eager; returns the
    tolerance met, RuntimeError naming the batch where it is not."""
    tolerance = TOLERANCES[effective_precision(device, precision, part)]
    for batch in batches:
        with inference_context(device, precision, part):  # inputs made in inference mode too, as the pipeline makes them
            inputs = example_inputs(batch)
            expected = accelerated.eager(*inputs)
            for _ in range(calls):
                difference, scale = largest_difference(accelerated.compiled(*inputs), expected)
                if difference > tolerance * max(1.0, scale):
                    raise RuntimeError(f"differs from eager by {difference:.3g} at batch {batch} (allowed "
                                       f"{tolerance:g} x max(1, {scale:.3g}))")
    return tolerance


def largest_difference(got, expected) -> tuple[float, float]:
    """Largest |got - expected| over all outputs of two calls (a tensor, a tuple of them or a mapping), and the
    largest |expected| (the scale it is judged against)."""
    got, expected = _tensors(got), _tensors(expected)
    if len(got) != len(expected) or any(a.shape != b.shape for a, b in zip(got, expected)):
        raise RuntimeError(f"outputs {[tuple(a.shape) for a in got]} differ in shape from eager's "
                           f"{[tuple(b.shape) for b in expected]}")
    difference = max((float((a.double() - b.double()).abs().max()) for a, b in zip(got, expected) if b.numel()),
                     default=0.0)
    scale = max((float(b.double().abs().max()) for b in expected if b.numel()), default=0.0)
    return difference, scale


def _tensorrt_engine(network: nn.Module, example_inputs: ExampleInputs, typical_batch: int, device: torch.device,
                     precision: str) -> tuple[nn.Module, list[tuple[tuple[int, ...], tuple[int, ...]]]]:
    """A TensorRT engine of ``network`` (dynamo front end) for 1 to TENSORRT_MAX_BATCH people, and its shape range.

    torch_tensorrt 2.14's dynamo path builds strongly typed engines (its ``enabled_precisions`` no longer
    applies): fp16 is its autocast, TF32 its ``disable_tf32`` switch.
    """
    import torch_tensorrt

    least, typical, largest = (example_inputs(batch) for batch in (1, typical_batch, TENSORRT_MAX_BATCH))
    specs = [torch_tensorrt.Input(min_shape=tuple(a.shape), opt_shape=tuple(b.shape), max_shape=tuple(c.shape),
                                  dtype=a.dtype) for a, b, c in zip(least, typical, largest)]
    numerics = {"fp32": {"disable_tf32": True}, "tf32": {"disable_tf32": False},
                "fp16": {"enable_autocast": True, "autocast_low_precision_type": torch.float16}}[precision]
    engine = torch_tensorrt.compile(network, ir="dynamo", arg_inputs=specs, device=device, **numerics)
    return engine, [(tuple(a.shape), tuple(c.shape)) for a, c in zip(least, largest)]


def _tensors(outputs) -> list[torch.Tensor]:
    """A network's outputs as a list: one tensor, a tuple of them, or a mapping (the detector backbone's)."""
    if isinstance(outputs, torch.Tensor):
        return [outputs]
    return list(outputs.values()) if isinstance(outputs, Mapping) else list(outputs)


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    current = torch.cuda.current_device() if a.type == "cuda" else 0
    return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
