"""ONNX export of the package's networks, each export checked against torch with onnxruntime on the CPU.

Every exportable network is one :class:`ExportableNetwork` entry in :data:`NETWORKS`: how to build it
(with weights, or random ones for tests), example inputs for given sizes of its dynamic axes, and the
names of its inputs and outputs. Adding a network (the face expression network, say) is one more entry.
``emotion-perception export NETWORK -o FILE.onnx`` exports one and checks it.

onnx, onnxruntime and onnxscript are optional (a robot does not need them); the export says which are
missing. A check passes when each output's largest difference is at most the network's tolerance
(``TOLERANCE``, 1e-4, unless its entry says otherwise) times max(1, the output's largest magnitude): fp32 on
both sides, so only the order of floating-point operations differs.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..runtime.acceleration import largest_difference

TOLERANCE = 1e-4
"""Largest |onnxruntime - torch| allowed, relative to max(1, the output's largest magnitude) (fp32)."""
DETECTOR_TOLERANCE = 1e-3
"""Keypoint R-CNN's: its rounded box coordinates set RoIAlign's sampling points for the box and keypoint
heads, so differences pass from stage to stage (measured 4.7e-5 on boxes, 8.1e-5 on keypoint scores)."""
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


def export_and_check(name: str, path: str | Path, weights: str | None = "") -> ExportReport:
    """Build network ``name`` (``weights``: a name or file, "" its released weights, None random), export it
    to ``path`` and check it."""
    network = NETWORKS[name]
    require_packages("onnx", "onnxruntime", *(() if network.tracer else ("onnxscript",)))
    if weights == "":
        if not network.default_weights:
            raise RuntimeError(f"{name} has no released weights: give --weights FILE (our NAME.pt) or --random-weights")
        weights = network.default_weights
    torch.manual_seed(0)
    module = network.build(weights)
    exported = export_network(network, module, path)
    return ExportReport(exported, name, check_export(network, module, exported))


# --- the networks ------------------------------------------------------------------------------------------

def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _gait_builder(architecture: str) -> Callable[[str | None], nn.Module]:
    def build(weights: str | None) -> nn.Module:
        from ..cues.gait.models import build_network, load_gait_model

        if weights is None:
            return build_network(architecture).eval()
        return load_gait_model(weights, architecture).network.eval()

    return build


def _gait_window() -> int:
    from ..cues.gait.stage import GaitConfig

    return GaitConfig().window_frames


def _stgcn_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    # coordinates on the scale of the released weights' training inputs (poses about one unit tall)
    return (0.3 * torch.randn(sizes["batch"], 3, _gait_window(), 16, 1, generator=_generator()),)


def _stgcn_affective_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    from ..cues.gait.features import affective_features_batch

    (joints,) = _stgcn_inputs(sizes)
    return joints, affective_features_batch(joints[..., 0].permute(0, 2, 3, 1)).float()


def _vsgcnn_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    from ..cues.gait.preprocessing import PROXEMO_IMAGE_SIZE

    side = PROXEMO_IMAGE_SIZE
    return (255.0 * torch.rand(sizes["batch"], side, side, 3, generator=_generator()),)


def _emotic_build(weights: str | None) -> nn.Module:
    from ..cues.context.model import emotic_resnet18, load_emotic

    return emotic_resnet18().eval() if weights is None else load_emotic(weights)[0]


def _emotic_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    from ..cues.context.preprocessing import EmoticPreprocessing

    pre, generator = EmoticPreprocessing(), _generator()
    scenes, people = sizes["scenes"], sizes["people"]
    return (torch.randn(scenes, 3, pre.context_size, pre.context_size, generator=generator),
            torch.randn(people, 3, pre.body_size, pre.body_size, generator=generator),
            torch.arange(people) % scenes)


KEYPOINT_RCNN_OUTPUTS = ("boxes", "labels", "scores", "keypoints", "keypoints_scores")


class OneImageKeypointRCNN(nn.Module):
    """Keypoint R-CNN on one (3, H, W) image in [0, 1], its detections as a tuple (ONNX has no list of dicts)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (detections,) = self.model([image])
        return tuple(detections[name] for name in KEYPOINT_RCNN_OUTPUTS)


def _keypoint_rcnn_build(weights: str | None) -> nn.Module:
    """The detector with the default DetectorConfig baked in; random weights keep every box (score threshold
    0), as their scores mean nothing and a check needs detections to compare."""
    from ..detection import DetectorConfig, build_keypoint_rcnn, load_detector_weights

    if weights is None:
        return OneImageKeypointRCNN(build_keypoint_rcnn(DetectorConfig(score_threshold=0.0))).eval()
    model = build_keypoint_rcnn(DetectorConfig())
    model.load_state_dict(load_detector_weights(weights)[0])
    return OneImageKeypointRCNN(model).eval()


def _keypoint_rcnn_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.rand(3, sizes["height"], sizes["width"], generator=_generator()),)


def _movenet_build(weights: str | None) -> nn.Module:
    """MoveNet from its fetched folder (the released name) or a graph model's .json or folder. Its architecture
    is the graph file's, so there are no random weights."""
    from ..detection.movenet import load_movenet
    from ..detection.movenet_weights import WEIGHTS_NAME, movenet_weights_dir

    if weights is None:
        raise RuntimeError("movenet_multipose has no random weights (its architecture is read from the graph "
                           "file): give --weights, or none for the fetched ones")
    return load_movenet(movenet_weights_dir() if weights == WEIGHTS_NAME else weights)


def _movenet_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (torch.randint(0, 256, (1, sizes["height"], sizes["width"], 3), dtype=torch.int32,
                          generator=_generator()),)


def _face_expression_build(weights: str | None) -> nn.Module:
    from ..cues.face.expression import load_expression_model, mini_xception

    return mini_xception().eval() if weights is None else load_expression_model(weights).network.eval()


def _face_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    return (2 * torch.rand(sizes["batch"], 1, 64, 64, generator=_generator()) - 1,)


def _mtcnn_builder(stage: str) -> Callable[[str | None], nn.Module]:
    def build(weights: str | None) -> nn.Module:
        from ..cues.face import mtcnn

        if weights is None:
            return {"pnet": mtcnn.PNet, "rnet": mtcnn.RNet, "onet": mtcnn.ONet}[stage]().eval()
        return getattr(mtcnn.load_mtcnn(weights), stage).to(memory_format=torch.contiguous_format).eval()

    return build


def _mtcnn_inputs(side: int | None) -> Callable[[Sizes], tuple[torch.Tensor, ...]]:
    """R-Net and O-Net take fixed square crops; P-Net any image size (it slides over the pyramid)."""
    def inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
        height, width = (side, side) if side else (sizes["height"], sizes["width"])
        return (2 * torch.rand(sizes.get("batch", 1), 3, height, width, generator=_generator()) - 1,)

    return inputs


def _accm_build(weights: str | None) -> nn.Module:
    from ..cues.gesture.model import accm, load_accm

    return accm().eval() if weights is None else load_accm(weights)[0].eval()


def _accm_inputs(sizes: Sizes) -> tuple[torch.Tensor, ...]:
    from ..cues.gesture.stage import GestureConfig

    return (torch.randn(sizes["batch"], 96, GestureConfig().window_frames, generator=_generator()),)


BATCH_SIZES: tuple[Sizes, ...] = ({"batch": 1}, {"batch": 3})

NETWORKS: dict[str, ExportableNetwork] = {network.name: network for network in (
    ExportableNetwork(
        name="stgcn", summary="STEP's ST-GCN gait classifier: joints (N, 3, T, 16, 1) -> logits (N, 4), the "
                              "weights' label order",
        build=_gait_builder("stgcn"), example_inputs=_stgcn_inputs,
        input_names=("joints",), input_axes=({0: "batch"},), output_names=("logits",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights="step_stgcn_epoch395"),
    ExportableNetwork(
        name="stgcn_affective", summary="STEP's ST-GCN + affective features: joints (N, 3, T, 16, 1), features "
                                        "(N, 27) -> logits (N, 4)",
        build=_gait_builder("stgcn_affective"), example_inputs=_stgcn_affective_inputs,
        input_names=("joints", "features"), input_axes=({0: "batch"}, {0: "batch"}), output_names=("logits",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES),
    ExportableNetwork(
        name="vsgcnn", summary="ProxEmo's VS-GCNN: view images (N, 244, 244, 3) -> scores (N, 16), index "
                               "4 x emotion + view group",
        build=_gait_builder("vsgcnn"), example_inputs=_vsgcnn_inputs,
        input_names=("images",), input_axes=({0: "batch"},), output_names=("scores",),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights="proxemo_vsgcnn_epoch134"),
    ExportableNetwork(
        name="emotic", summary="EMOTIC context network: scenes (M, 3, 224, 224), bodies (N, 3, 128, 128), "
                               "scene_index (N,) -> category scores (N, 26), VAD / 10 (N, 3)",
        build=_emotic_build, example_inputs=_emotic_inputs,
        input_names=("context", "body", "scene_index"), input_axes=({0: "scenes"}, {0: "people"}, {0: "people"}),
        output_names=("categories", "vad"), export_sizes={"scenes": 2, "people": 2},
        check_sizes=({"scenes": 1, "people": 1}, {"scenes": 1, "people": 3}, {"scenes": 2, "people": 3})),
    ExportableNetwork(
        name="keypointrcnn", summary="torchvision Keypoint R-CNN person detector: one image (3, H, W) in [0, 1] "
                                     "-> boxes, labels, scores, COCO-17 keypoints and their scores",
        build=_keypoint_rcnn_build, example_inputs=_keypoint_rcnn_inputs,
        input_names=("image",), input_axes=({1: "height", 2: "width"},), output_names=KEYPOINT_RCNN_OUTPUTS,
        export_sizes={"height": 480, "width": 640},
        check_sizes=({"height": 480, "width": 640}, {"height": 360, "width": 300}),
        default_weights="DEFAULT", tracer=True, tolerance=DETECTOR_TOLERANCE),
    ExportableNetwork(
        name="movenet_multipose", summary="Google's MoveNet MultiPose Lightning: an RGB image (1, H, W, 3) int32 "
                                          "0-255, sides multiples of 32 and at least 64 -> people (1, 6, 56): 17 "
                                          "keypoints (y, x, score) and a box normalised to the image, a score",
        build=_movenet_build, example_inputs=_movenet_inputs, input_names=("image",),
        input_axes=({1: "height", 2: "width"},), output_names=("people",),
        export_sizes={"height": 256, "width": 320},
        check_sizes=({"height": 256, "width": 320}, {"height": 384, "width": 512}),
        default_weights="movenet_multipose", axis_multiple=32),
    ExportableNetwork(
        name="face_expression", summary="mini-XCEPTION facial expressions: grey faces (N, 1, 64, 64) in [-1, 1] "
                                        "-> logits (N, 7), the weights' label order",
        build=_face_expression_build, example_inputs=_face_inputs, input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("logits",), export_sizes={"batch": 2}, check_sizes=BATCH_SIZES,
        default_weights="fer_mini_xception"),
    ExportableNetwork(
        name="mtcnn_pnet", summary="MTCNN P-Net: an image (N, 3, H, W) -> face probability (N, h, w), box "
                                   "regression (N, 4, h, w)",
        build=_mtcnn_builder("pnet"), example_inputs=_mtcnn_inputs(None), input_names=("image",),
        input_axes=({0: "batch", 2: "height", 3: "width"},), output_names=("probability", "regression"),
        export_sizes={"batch": 2, "height": 64, "width": 80},
        check_sizes=({"batch": 1, "height": 48, "width": 48}, {"batch": 3, "height": 120, "width": 90}),
        default_weights="facenet_mtcnn"),
    ExportableNetwork(
        name="mtcnn_rnet", summary="MTCNN R-Net: face candidates (N, 3, 24, 24) -> face probability (N,), box "
                                   "regression (N, 4)",
        build=_mtcnn_builder("rnet"), example_inputs=_mtcnn_inputs(24), input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("probability", "regression"), export_sizes={"batch": 2},
        check_sizes=BATCH_SIZES, default_weights="facenet_mtcnn"),
    ExportableNetwork(
        name="mtcnn_onet", summary="MTCNN O-Net: face candidates (N, 3, 48, 48) -> face probability (N,), box "
                                   "regression (N, 4), landmarks (N, 10)",
        build=_mtcnn_builder("onet"), example_inputs=_mtcnn_inputs(48), input_names=("faces",),
        input_axes=({0: "batch"},), output_names=("probability", "regression", "landmarks"),
        export_sizes={"batch": 2}, check_sizes=BATCH_SIZES, default_weights="facenet_mtcnn"),
    ExportableNetwork(
        name="gesture_accm", summary="FER_BGER's ACCM body-gesture classifier: joint motion (N, 96, W) -> logits "
                                     "(N, labels)",
        build=_accm_build, example_inputs=_accm_inputs, input_names=("motion",), input_axes=({0: "batch"},),
        output_names=("logits",), export_sizes={"batch": 2}, check_sizes=BATCH_SIZES),
)}
"""The exportable networks by name (the `emotion-perception export` choices)."""


# --- the command -------------------------------------------------------------------------------------------

def add_commands(subparsers: argparse._SubParsersAction) -> None:
    export = subparsers.add_parser(
        "export", help="export a network to ONNX and check it against torch with onnxruntime",
        description="Exports NETWORK with example inputs (dynamic batch axes), then runs the file with onnxruntime "
                    "on the CPU and prints the largest difference to torch for each output. Needs the optional "
                    "packages onnx, onnxruntime and onnxscript. Networks: "
                    + "; ".join(f"{n.name}: {n.summary}" for n in NETWORKS.values()))
    export.add_argument("network", choices=list(NETWORKS), help="the network to export")
    export.add_argument("-o", "--output", type=Path, required=True, help="the .onnx file to write")
    weights = export.add_mutually_exclusive_group()
    weights.add_argument("--weights", default="", help="released weights name or file, or our NAME.pt "
                         "(default: the network's released weights where it has some)")
    weights.add_argument("--random-weights", action="store_true", help="random weights (to try the export only)")
    export.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    report = export_and_check(args.network, args.output, None if args.random_weights else args.weights)
    tolerance = NETWORKS[report.network].tolerance
    print(f"{report.network}: wrote {report.path} ({report.path.stat().st_size / 1e6:.1f} MB); onnxruntime vs torch "
          f"(allowed: {tolerance:g} x max(1, largest |output|)):")
    for check in report.checks:
        sizes = ", ".join(f"{axis} {size}" for axis, size in check.sizes.items())
        print(f"  {sizes:<22} {check.output:<18} {str(check.shape):<16} max |diff| {check.max_abs_diff:.3g} "
              f"(allowed {check.allowed:.3g}) {'ok' if check.ok else 'FAILED'}")
    return 0 if report.ok else 1
