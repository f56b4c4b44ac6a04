"""Where the networks run and with which numerics: one device and one precision for every network.

The pipeline resolves the device once (:func:`resolve_device`: CUDA asked for but absent means CPU, said
once in the log and kept as a note for /diagnostics) and runs every forward pass inside
:func:`inference_context`. Precision:

- ``fp32`` (default, strict): TF32 off for matmuls and cuDNN convolutions. On an H200, cuDNN's default TF32
  moved STEP's logits by 1.3e-2 and VS-GCNN's by 2.0e-2 from the authors' outputs; strict fp32 keeps them
  within 2e-5, as on the CPU.
- ``tf32``: TF32 allowed (faster on Ampere and newer; drift as above).
- ``fp16``: autocast to half precision on CUDA (fastest; the largest drift). On the CPU it is plain fp32.
- ``fp16_detector``: the person detector in fp16 autocast, every cue network strict fp32 (the detector is
  most of a frame's cost; the cues keep the authors' numbers).

The TF32 switches are process-wide in torch; :func:`apply_precision` sets them when a pipeline is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch

PRECISIONS: tuple[str, ...] = ("fp32", "tf32", "fp16", "fp16_detector")


def resolve_device(requested: str, log: Callable[[str], None] = print) -> tuple[torch.device, str]:
    """The device to use and a note for diagnostics ("" when it is the one requested).

    CUDA asked for on a machine without it falls back to the CPU with a warning, never an error.
    """
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            note = f"device {requested!r} requested but CUDA is not available: running on cpu"
            log(note)
            return torch.device("cpu"), note
        if device.index is not None and device.index >= torch.cuda.device_count():
            note = (f"device {requested!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist: "
                    "running on cuda:0")
            log(note)
            return torch.device("cuda", 0), note
    return device, ""


def apply_precision(precision: str) -> None:
    """Set torch's process-wide TF32 switches for ``precision`` (see the module docstring)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    allow_tf32 = precision in ("tf32", "fp16")
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32


def effective_precision(device: torch.device, precision: str, part: str = "cues") -> str:
    """The numerics the networks of ``part`` ("detector" or "cues") run with: on the CPU every precision is
    plain fp32; fp16_detector is fp16 for the detector and strict fp32 for the cues."""
    if device.type != "cuda":
        return "fp32"
    if precision == "fp16_detector":
        return "fp16" if part == "detector" else "fp32"
    return precision


@contextlib.contextmanager
def inference_context(device: torch.device, precision: str, part: str = "cues") -> Iterator[None]:
    """No autograd, and fp16 autocast where :func:`effective_precision` says fp16."""
    half = effective_precision(device, precision, part) == "fp16"
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=half)
    with torch.inference_mode(), autocast:
        yield


def release_memory(device: torch.device) -> None:
    """Return cached GPU memory to the driver (after the networks on ``device`` were dropped)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextlib.contextmanager
def own_stream(device: torch.device, streams: dict[str, torch.cuda.Stream], name: str) -> Iterator[None]:
    """Run the block on the CUDA stream ``name`` of ``streams`` (made on first use), so that work of two
    threads (the detector's and the cues') can overlap on the GPU; nothing on the CPU."""
    if device.type != "cuda":
        yield
        return
    stream = streams.get(name)
    if stream is None or stream.device != device:
        stream = streams[name] = torch.cuda.Stream(device)
    with torch.cuda.stream(stream):
        yield
    stream.synchronize()  # results leave the block as finished host data
