"""Google's MoveNet MultiPose Lightning in torch, read from its TensorFlow.js graph model (json + float16 bin).

The graph (tfjs_graph.py reads it) has two parts, ported in two ways:
- the network (MobileNetV2 + FPN + six CenterNet heads): its nodes are turned one by one into torch layers
  (:class:`GraphNetwork`), reading every node's attributes (strides, padding, dilations, fused ops, resize
  modes), so the weights and wiring are the file's own;
- the decoding tail (peaks of the centre heatmap, TopK, GatherNd, a distance-weighted keypoint search, ArgMax)
  is written out as batched torch code (:class:`MoveNetDecoder`) that computes what the graph's 200-odd
  shape and gather nodes compute for one image, with the graph's constants (peak window, people, spread,
  keypoint threshold) read from their nodes. It runs on the network's device.

Input: ``[N, H, W, 3]`` RGB 0-255 (any numeric dtype), H and W multiples of 32. Output: ``[N, 6, 56]``: per
person 17 COCO keypoints (y, x, score) normalised to the input, the box (ymin, xmin, ymax, xmax) normalised,
the person score. Equal to TensorFlow.js within 1e-4 (test/detection/test_movenet.py; docs/movenet.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..runtime.weights import WeightsError
from .tfjs_graph import GraphNode, TfjsGraph, read_tfjs_graph, source_node

MODEL_FILE = "movenet-multipose.json"
"""The graph model's file name (its weights, movenet-multipose.bin, lie beside it)."""
SIDE_MULTIPLE = 32
"""Input sides must be multiples of this (the network's total stride)."""
HEADS = ("center_0", "box_scale_0", "box_offset_0", "kpt_heatmap_0", "kpt_regress_0", "kpt_offset_0")
"""The graph's CenterNet head scopes, in the order the decoder takes their outputs."""
KEYPOINTS = 17


# --- the network: graph nodes as torch layers ---------------------------------------------------------------

class TfConv2d(nn.Module):
    """TF Conv2D or DepthwiseConv2dNative with its fused bias and activation, on NCHW tensors.

    TF 'SAME' pads ``max(k_eff - stride, 0)`` in total when a side is a multiple of the stride, the odd pixel at
    the bottom/right; the model's inputs (sides multiples of 32) make every strided layer's input so.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, stride: tuple[int, int],
                 dilation: tuple[int, int], padding: str, groups: int, activation: str) -> None:
        super().__init__()
        out_channels, _, kernel_h, kernel_w = weight.shape
        pads = []
        for kernel, step, dilate in ((kernel_h, stride[0], dilation[0]), (kernel_w, stride[1], dilation[1])):
            total = max((kernel - 1) * dilate + 1 - step, 0) if padding == "SAME" else 0
            pads.append((total // 2, total - total // 2))
        symmetric = all(before == after for before, after in pads)
        self.conv = nn.Conv2d(weight.shape[1] * groups, out_channels, (kernel_h, kernel_w), stride=stride,
                              padding=tuple(before for before, _ in pads) if symmetric else 0, dilation=dilation,
                              groups=groups, bias=bias is not None)
        self.pad = None if symmetric else (pads[1][0], pads[1][1], pads[0][0], pads[0][1])
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if bias is not None:
                self.conv.bias.copy_(bias)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)  # a new tensor: the activation may overwrite it (no second large allocation)
        if self.activation == "Relu6":
            return F.relu6(x, inplace=True)
        if self.activation == "Relu":
            return F.relu(x, inplace=True)
        return x


class Elementwise(nn.Module):
    """TF Sub / Mul / AddV2 / Cast of tensors and constants (a rank-4 NHWC constant is held NCHW)."""

    def __init__(self, op: str, constant: torch.Tensor | None = None, constant_first: bool = False) -> None:
        super().__init__()
        self.op = op
        self.register_buffer("constant", constant, persistent=False)
        self.constant_first = constant_first

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        if self.op == "Cast":
            return tensors[0].float()
        operands = list(tensors)
        if self.constant is not None:
            operands.insert(0 if self.constant_first else 1, self.constant)
        a, b = operands
        if self.op == "Sub":
            return a - b
        if self.op == "Mul":
            return a * b
        return a + b


class Upsample(nn.Module):
    """TF ResizeBilinear to an integer multiple of the input's size (Keras UpSampling2D, bilinear)."""

    def __init__(self, scale: tuple[int, int], align_corners: bool) -> None:
        super().__init__()
        self.scale = scale
        self.align_corners = align_corners

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=self.align_corners)


def _constant(graph: TfjsGraph, name: str) -> torch.Tensor:
    array = graph.constant(name)
    tensor = torch.from_numpy(np.array(array, dtype=np.float32 if array.dtype.kind == "f" else array.dtype))
    return tensor.permute(0, 3, 1, 2) if tensor.dim() == 4 else tensor


def _tf_pair(values: list[int] | None, node: GraphNode) -> tuple[int, int]:
    """The H and W entries of an NHWC strides / dilations attribute."""
    values = values or [1, 1, 1, 1]
    if node.attrs.get("data_format", "NHWC") != "NHWC" or len(values) != 4 or values[0] != 1 or values[3] != 1:
        raise WeightsError(f"{node.name}: unsupported layout {node.attrs.get('data_format')} {values}")
    return values[1], values[2]


def _convolution(graph: TfjsGraph, node: GraphNode) -> TfConv2d:
    fused = node.attrs.get("fused_ops", [])
    if node.op in ("_FusedConv2D", "FusedDepthwiseConv2dNative"):
        if not fused or fused[0] != "BiasAdd" or len(fused) > 2 or fused[1:] not in ([], ["Relu"], ["Relu6"]):
            raise WeightsError(f"{node.name}: unsupported fused ops {fused}")
        if len(node.inputs) != 3:
            raise WeightsError(f"{node.name}: expected input, filter and bias, got {len(node.inputs)} inputs")
    elif len(node.inputs) != 2:
        raise WeightsError(f"{node.name}: expected input and filter, got {len(node.inputs)} inputs")
    padding = node.attrs.get("padding", "VALID")
    if padding not in ("SAME", "VALID"):
        raise WeightsError(f"{node.name}: unsupported padding {padding}")
    kernel = graph.constant(node.inputs[1])
    if node.op.endswith("DepthwiseConv2dNative"):  # [kh, kw, C, multiplier] -> [C * multiplier, 1, kh, kw]
        channels, multiplier = kernel.shape[2:]
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(2, 3, 0, 1))).reshape(
            channels * multiplier, 1, *kernel.shape[:2])
        groups = channels
    else:  # [kh, kw, Cin, Cout] -> [Cout, Cin, kh, kw]
        weight, groups = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))), 1
    bias = torch.from_numpy(graph.constant(node.inputs[2]).astype(np.float32)) if fused else None
    return TfConv2d(weight.float(), bias, _tf_pair(node.attrs.get("strides"), node),
                    _tf_pair(node.attrs.get("dilations"), node), padding, groups, fused[1] if len(fused) > 1 else "")


def _upsample(graph: TfjsGraph, node: GraphNode) -> Upsample:
    """ResizeBilinear whose size is ``Shape(x)[1:3] * factors`` (how Keras writes UpSampling2D)."""
    size = graph.node(source_node(node.inputs[1]))
    shape_slice = graph.node(source_node(size.inputs[0])) if size.op == "Mul" and len(size.inputs) == 2 else None
    shape = graph.node(source_node(shape_slice.inputs[0])) if shape_slice is not None else None
    if (shape_slice is None or shape_slice.op != "StridedSlice" or shape.op != "Shape"
            or source_node(shape.inputs[0]) != source_node(node.inputs[0])
            or [int(graph.constant(name)[0]) for name in shape_slice.inputs[1:]] != [1, 3, 1]):
        raise WeightsError(f"{node.name}: only resizing by constant factors of the input's size is supported")
    factors = graph.constant(size.inputs[1])
    if node.attrs.get("half_pixel_centers") == node.attrs.get("align_corners"):
        raise WeightsError(f"{node.name}: ResizeBilinear needs exactly one of half_pixel_centers and align_corners")
    return Upsample((int(factors[0]), int(factors[1])), bool(node.attrs.get("align_corners")))


class GraphNetwork(nn.Module):
    """The nodes of a TF graph from its input to ``outputs``, as torch layers run in dependency order.

    Tensors are NCHW throughout (the graph's are NHWC); the input is the graph's Placeholder, given NCHW.
    """

    CONVOLUTIONS = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative", "Conv2D")

    def __init__(self, graph: TfjsGraph, outputs: tuple[str, ...]) -> None:
        super().__init__()
        order: list[GraphNode] = []
        placed: set[str] = set()
        for output in outputs:  # depth-first post-order from each output (iterative: the graph is deep)
            stack = [(graph.node(output), False)]
            while stack:
                node, expanded = stack.pop()
                if node.name in placed:
                    continue
                if expanded:
                    placed.add(node.name)
                    order.append(node)
                    continue
                stack.append((node, True))
                stack.extend((graph.node(source_node(name)), False)
                             for name in reversed(self._tensor_inputs(graph, node)))
        inputs = [node for node in order if node.op == "Placeholder"]
        if len(inputs) != 1:
            raise WeightsError(f"{graph.source}: expected one input (Placeholder), found {len(inputs)}")
        self.input_name = inputs[0].name
        self.output_names = outputs
        self.layers = nn.ModuleList()
        self.step_names: list[str] = []
        self.step_inputs: list[tuple[str, ...]] = []
        for node in order:
            if node.op != "Placeholder":
                self.layers.append(self._layer(graph, node))
                self.step_names.append(node.name)
                self.step_inputs.append(tuple(self._tensor_inputs(graph, node)))
        last_use = {name: index for index, names in enumerate(self.step_inputs) for name in names}
        self.release = [[name for name in names if last_use[name] == index and name not in outputs]
                        for index, names in enumerate(self.step_inputs)]

    @classmethod
    def _tensor_inputs(cls, graph: TfjsGraph, node: GraphNode) -> list[str]:
        """The inputs that are tensors computed by layers (constants are the layer's, shapes its size)."""
        if node.op in cls.CONVOLUTIONS or node.op == "ResizeBilinear":
            return [node.inputs[0]]
        return [name for name in node.inputs if graph.node(source_node(name)).op != "Const"]

    @classmethod
    def _layer(cls, graph: TfjsGraph, node: GraphNode) -> nn.Module:
        if any(name != source_node(name) for name in node.inputs):
            raise WeightsError(f"{node.name}: reads a second output of a node, unsupported in the network part")
        if node.op in cls.CONVOLUTIONS:
            return _convolution(graph, node)
        if node.op == "ResizeBilinear":
            return _upsample(graph, node)
        if node.op == "Cast" and node.attrs.get("DstT") == "DT_FLOAT":
            return Elementwise("Cast")
        if node.op in ("Sub", "Mul", "AddV2") and len(node.inputs) == 2:
            constants = [name for name in node.inputs if graph.node(name).op == "Const"]
            if not constants:
                return Elementwise(node.op)
            if len(constants) == 1:
                return Elementwise(node.op, _constant(graph, constants[0]),
                                   constant_first=constants[0] == node.inputs[0])
        raise WeightsError(f"{node.name}: op {node.op} is not supported in the network part of the graph")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        values = {self.input_name: x}
        for name, layer, inputs, release in zip(self.step_names, self.layers, self.step_inputs, self.release):
            values[name] = layer(*(values[source] for source in inputs))
            for source in release:
                del values[source]
        return tuple(values[name] for name in self.output_names)


def head_outputs(graph: TfjsGraph) -> tuple[str, ...]:
    """The node that ends each of :data:`HEADS`: the one of its scope read by a node outside the scope."""
    readers = graph.consumers()
    outputs = []
    for head in HEADS:
        scope = f"/{head}/"
        ends = [name for name in graph.nodes
                if scope in name and any(scope not in reader.name for reader in readers[name])]
        if len(ends) != 1:
            raise WeightsError(f"{graph.source}: cannot find the one output of head {head} (found {ends})")
        outputs.append(ends[0])
    return tuple(outputs)


# --- the decoding tail ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DecodingConstants:
    """The decoding tail's constants, read from their graph nodes (float16-rounded, as TF.js uses them)."""

    stride: int
    """Input pixels per heatmap cell."""
    peak_window: int
    """Side of the max-pool window a centre peak must top."""
    peak_tolerance: float
    """|centre - its window's max| below this marks a peak."""
    people: int
    """TopK of the centre peaks: the most people per image."""
    keypoint_spread: float
    """The keypoint search weights cells by exp(-d^2 / (spread * min(h, w))) around the regressed keypoint."""
    keypoint_threshold: float
    """Keypoints scoring above this count in the person score (mean of centre x keypoint score)."""

    @classmethod
    def from_graph(cls, graph: TfjsGraph) -> DecodingConstants:
        def scalar(node_name: str) -> float:
            return float(graph.constant(f"StatefulPartitionedCall/{node_name}").reshape(()))

        pool = graph.node("StatefulPartitionedCall/MaxPool")
        if pool.attrs.get("padding") != "SAME" or pool.attrs.get("strides") != [1, 1, 1, 1]:
            raise WeightsError(f"{graph.source}: unexpected centre max-pool {pool.attrs}")
        stride = int(scalar("mul/y"))
        if stride != int(scalar("mul_5/y")):
            raise WeightsError(f"{graph.source}: the box and keypoint strides differ")
        return cls(stride=stride, peak_window=int(pool.attrs["ksize"][1]), peak_tolerance=scalar("Less/y"),
                   people=int(scalar("TopKV2/k")), keypoint_spread=scalar("mul_6/y"),
                   keypoint_threshold=scalar("Greater_1/y"))


class MoveNetDecoder(nn.Module):
    """Heads -> ``[N, people, 56]``, batched; per image the computation of the graph's decoding tail."""

    def __init__(self, constants: DecodingConstants) -> None:
        super().__init__()
        self.constants = constants

    def forward(self, center: torch.Tensor, box_scale: torch.Tensor, box_offset: torch.Tensor,
                heatmap: torch.Tensor, regress: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        c = self.constants
        batch, _, height, width = center.shape
        cells = height * width
        # centre peaks: a cell equal to its window's max; the `people` best. TopKV2 ranks equal values (a flat
        # region, the non-peaks' 0) by index: float64 keys value - index * 2^-54 order cells by (value, -index)
        # exactly for values >= 2^-10 and 0 on maps up to 2^18 cells, whichever TopK runs (torch's, onnxruntime's)
        center = torch.sigmoid(center)
        pooled = F.max_pool2d(center, c.peak_window, stride=1, padding=c.peak_window // 2)
        peaks = (center * ((center - pooled).abs() < c.peak_tolerance).float()).flatten(1)
        rank_key = peaks.double() - torch.arange(cells, dtype=torch.float64, device=peaks.device) * 2.0 ** -54
        index = rank_key.topk(c.people, dim=1).indices
        center_score = peaks.gather(1, index)
        row_index = index // width
        rows, cols = row_index.float(), (index - row_index * width).float()

        def at_peaks(head: torch.Tensor) -> torch.Tensor:  # [N, C, h, w] -> [N, people, C]
            flat = head.flatten(2)
            return flat.gather(2, index[:, None, :].expand(-1, flat.shape[1], -1)).transpose(1, 2)

        # boxes in heatmap cells: centre + offset -/+ half the size, clipped to the map
        shift = at_peaks(box_offset)
        box_center_y, box_center_x = rows + shift[..., 0], cols + shift[..., 1]
        size = at_peaks(box_scale).clamp_min(0.0)
        half_h, half_w = size[..., 0] * 0.5, size[..., 1] * 0.5
        box = torch.stack([(box_center_y - half_h).clamp(max=height).clamp_min(0.0),
                           (box_center_x - half_w).clamp(max=width).clamp_min(0.0),
                           (box_center_y + half_h).clamp(max=height).clamp_min(0.0),
                           (box_center_x + half_w).clamp(max=width).clamp_min(0.0)], dim=2)  # [N, P, 4]
        input_size = torch.stack([torch.full((), height * c.stride, dtype=box.dtype, device=box.device),
                                  torch.full((), width * c.stride, dtype=box.dtype, device=box.device)])
        box_out = (box * float(c.stride) / input_size.repeat(2)).clamp(0.0, 1.0)

        # keypoints: the regressed position from the centre, then the heatmap cell that best combines heat and
        # nearness to it (inside the person's box), refined by that cell's offset
        regressed = at_peaks(regress).reshape(batch, c.people, KEYPOINTS, 2)
        near_y = rows[:, :, None] + regressed[..., 0]  # [N, P, K]
        near_x = cols[:, :, None] + regressed[..., 1]
        grid_y = torch.arange(height, dtype=box.dtype, device=box.device).view(1, 1, 1, height, 1)
        grid_x = torch.arange(width, dtype=box.dtype, device=box.device).view(1, 1, 1, 1, width)
        # [N, P, K, h, w], the decoding's largest tensor, computed in place; -(dy^2 + dx^2) as the sum of the
        # negated small terms (the same bits as negating the sum, one pass less)
        candidates = ((grid_y - near_y[..., None, None]).square_().neg_()
                      + (grid_x - near_x[..., None, None]).square_().neg_())
        candidates.div_(torch.sym_min(height, width) * c.keypoint_spread).exp_()
        inside = ((grid_y >= box[:, :, 0, None, None, None]) & (grid_y < box[:, :, 2, None, None, None])
                  & (grid_x >= box[:, :, 1, None, None, None]) & (grid_x < box[:, :, 3, None, None, None]))
        candidates.mul_(torch.sigmoid(heatmap)[:, None]).mul_(inside.float())
        candidates = candidates.reshape(batch, c.people, KEYPOINTS, cells)
        best = candidates.argmax(dim=3)  # [N, P, K], the first cell on ties like ArgMax
        by_keypoint = best.transpose(1, 2)  # [N, K, P]
        score = candidates.amax(dim=1).gather(2, by_keypoint).transpose(1, 2)  # best over people at that cell
        refined = offset.reshape(batch, KEYPOINTS, 2, cells).gather(
            3, by_keypoint[:, :, None, :].expand(-1, -1, 2, -1)).permute(0, 3, 1, 2)  # [N, P, K, 2]
        best_row = best // width
        cell = torch.stack([best_row.float(), (best - best_row * width).float()], dim=3)
        keypoints = (cell + refined) * (float(c.stride) / input_size)

        counted = score > c.keypoint_threshold
        person = (center_score[:, :, None] * torch.where(counted, score, torch.zeros_like(score))).sum(2)
        person = person * (1.0 / counted.float().sum(2).clamp_min(1.0))
        return torch.cat([torch.cat([keypoints, score[..., None]], dim=3).flatten(2), box_out, person[..., None]],
                         dim=2)


class MoveNetMultiPose(nn.Module):
    """MoveNet MultiPose: ``[N, H, W, 3]`` RGB 0-255 -> ``[N, 6, 56]`` (see the module docstring)."""

    def __init__(self, graph: TfjsGraph) -> None:
        super().__init__()
        self.network = GraphNetwork(graph, head_outputs(graph))
        self.decoder = MoveNetDecoder(DecodingConstants.from_graph(graph))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[3] != 3:
            raise ValueError(f"expected images [N, H, W, 3], got {tuple(images.shape)}")
        if images.shape[1] % SIDE_MULTIPLE or images.shape[2] % SIDE_MULTIPLE:
            raise ValueError(f"image sides must be multiples of {SIDE_MULTIPLE}, "
                             f"got {images.shape[2]}x{images.shape[1]}")
        # the decoding in fp32 even when the network ran under fp16 autocast (positions to a fraction of a cell)
        return self.decoder(*(head.float() for head in self.network(images.permute(0, 3, 1, 2))))


def movenet_model_path(path: str | Path) -> Path:
    """The graph model's .json: ``path`` itself, or :data:`MODEL_FILE` in the directory ``path``."""
    path = Path(path).expanduser()
    return path / MODEL_FILE if path.is_dir() else path


def load_movenet(path: str | Path, device: torch.device | str = "cpu") -> MoveNetMultiPose:
    """MoveNet MultiPose from its TF.js graph model (the .json or its directory), in eval mode on ``device``.

    WeightsError naming the file when it is missing, unreadable or not this model's graph.
    """
    return MoveNetMultiPose(read_tfjs_graph(movenet_model_path(path))).eval().to(device)
