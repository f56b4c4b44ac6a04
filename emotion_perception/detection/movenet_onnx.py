"""MoveNet MultiPose in onnxruntime on the CPU: its network and decoding exported once, at fetch time.

On a CPU, onnxruntime runs the same graph about 2.4 times faster than torch eager (docs/movenet.md has the
measurements). ``emotion-perception weights fetch movenet_multipose`` therefore exports the torch port
(the ``movenet_multipose`` export entry, :data:`MOVENET_NETWORK`, its input made the letterboxed float image the
detector feeds),
checks it against torch with onnxruntime, and keeps it beside the two weight files with a stamp: the sha256
of the json and bin it was made from, of the graph itself, the package version and the opset. The detector
uses the graph only when the stamp matches all of these, so a stale or foreign graph is never run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from torch import nn

from .. import __version__
from ..runtime.export import (OPSET, ExportableNetwork, Sizes, check_export, example_generator, export_network,
                              require_packages)
from ..runtime.weights import WeightsError, sha256_of
from .movenet import load_movenet
from .movenet_weights import FILES, WEIGHTS_NAME, movenet_weights_dir

GRAPH_FILE = "movenet-multipose.onnx"
STAMP_FILE = "movenet-multipose.onnx.json"
"""What the graph was made from (written after the graph, so a half-written pair never matches)."""
INPUT = "float32 [1, H, W, 3] letterboxed RGB 0-255, H and W multiples of 32"
CHECK_SIZES = ({"height": 384, "width": 512},)
"""Where the fetched graph is checked against torch (the default input size on a 4:3 camera)."""


def _build(weights: str | None) -> nn.Module:
    """MoveNet from its fetched folder (the released name) or a graph model's .json or folder. Its architecture
    is the graph file's, so there are no random weights."""
    if weights is None:
        raise RuntimeError("movenet_multipose has no random weights (its architecture is read from the graph "
                           "file): give --weights, or none for the fetched ones")
    return load_movenet(movenet_weights_dir() if weights == WEIGHTS_NAME else weights)


def _inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 256, (1, sizes["height"], sizes["width"], 3), dtype=torch.int32,
                          generator=example_generator()),)


MOVENET_NETWORK = ExportableNetwork(
    name="movenet_multipose", summary="Google's MoveNet MultiPose Lightning: an RGB image (1, H, W, 3) int32 "
                                      "0-255, sides multiples of 32 and at least 64 -> people (1, 6, 56): 17 "
                                      "keypoints (y, x, score) and a box normalised to the image, a score",
    build=_build, example_inputs=_inputs, input_names=("image",),
    input_axes=({1: "height", 2: "width"},), output_names=("people",),
    export_sizes={"height": 256, "width": 320},
    check_sizes=({"height": 256, "width": 320}, {"height": 384, "width": 512}),
    default_weights=WEIGHTS_NAME, axis_multiple=32)
"""MoveNet's network and decoding (`emotion-perception export movenet_multipose`)."""


def _expected_stamp(folder: Path) -> dict:
    return {"source_sha256": {name: sha256_of(folder / name) for name in FILES}, "package_version": __version__,
            "opset": OPSET, "input": INPUT}


def graph_problem(folder: Path) -> str:
    """Why the graph in ``folder`` may not be run for the weights there; "" when it may."""
    graph, stamp_path = folder / GRAPH_FILE, folder / STAMP_FILE
    if not graph.is_file() or not stamp_path.is_file():
        return f"no ONNX graph in {folder} (`emotion-perception weights fetch {WEIGHTS_NAME}` makes it)"
    try:
        stamp = json.loads(stamp_path.read_text())
        expected = _expected_stamp(folder)
    except (OSError, ValueError) as exc:
        return f"cannot read the ONNX graph's stamp or its weights in {folder}: {exc}"
    stale = [key for key, value in expected.items() if stamp.get(key) != value]
    if stale:
        return (f"the ONNX graph in {folder} was not made from these weights by this version ({', '.join(stale)} "
                f"differ): run `emotion-perception weights fetch {WEIGHTS_NAME}` to remake it")
    if stamp.get("graph_sha256") != sha256_of(graph):
        return f"{graph} is not the graph its stamp describes: run `emotion-perception weights fetch {WEIGHTS_NAME}`"
    return ""


def _letterboxed_inputs(sizes: dict[str, int]) -> tuple[torch.Tensor, ...]:
    """What the detector feeds: a letterboxed image, float 0-255 (bilinear resampling makes fractions)."""
    return (255 * torch.rand(1, sizes["height"], sizes["width"], 3, generator=torch.Generator().manual_seed(0)),)


def make_graph(folder: Path) -> str:
    """Export and check the graph for the weights in ``folder`` unless a valid one is there; a note for the user.

    RuntimeError when the optional export packages are missing, WeightsError when the check fails (nothing is
    kept then). The graph and its stamp replace any old ones atomically.
    """
    if not graph_problem(folder):
        return f"ONNX graph {folder / GRAPH_FILE} present and valid"
    require_packages("onnx", "onnxscript", "onnxruntime")
    network = dataclasses.replace(MOVENET_NETWORK, example_inputs=_letterboxed_inputs,
                                  check_sizes=CHECK_SIZES)
    module = load_movenet(folder)
    with tempfile.TemporaryDirectory(prefix=".onnx_export_", dir=folder) as scratch:
        graph = export_network(network, module, Path(scratch) / GRAPH_FILE)
        checks = check_export(network, module, graph)
        failed = [check for check in checks if not check.ok]
        if failed:
            raise WeightsError(f"the exported MoveNet graph differs from torch by {failed[0].max_abs_diff:.3g} "
                               f"(allowed {failed[0].allowed:.3g}); not kept")
        stamp = {**_expected_stamp(folder), "graph_sha256": sha256_of(graph)}
        (Path(scratch) / STAMP_FILE).write_text(json.dumps(stamp, indent=1) + "\n")
        (folder / STAMP_FILE).unlink(missing_ok=True)
        os.replace(graph, folder / GRAPH_FILE)
        os.replace(Path(scratch) / STAMP_FILE, folder / STAMP_FILE)
    worst = max(check.max_abs_diff for check in checks)
    return f"ONNX graph {folder / GRAPH_FILE} made (onnxruntime vs torch: max |diff| {worst:.2g})"


class OnnxMoveNet:
    """The exported graph in one onnxruntime CPU session: letterboxed ``[N, h, w, 3]`` float images in, the
    model's ``[N, 6, 56]`` out, as MoveNetMultiPose gives them (images run one at a time: the graph's batch is 1)."""

    def __init__(self, folder: Path, threads: int) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = max(1, threads), 1
        # Idle pool threads sleep rather than spin between calls: spinning took 1.4-1.9x the CPU per frame at 2
        # threads, CPU that the cues' thread needs when the node overlaps the two (docs/front_end.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path = folder / GRAPH_FILE
        self.threads = options.intra_op_num_threads
        self.session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        pixels = images.cpu().numpy().astype(np.float32, copy=False)
        return torch.from_numpy(np.concatenate([self.session.run(None, {self.input_name: pixels[i:i + 1]})[0]
                                                for i in range(len(pixels))]))
