"""Reader of TensorFlow.js graph models (``model.json`` + its weight shards): the GraphDef and its constants.

A TF.js graph model is a TensorFlow GraphDef written as JSON (``modelTopology.node[i]``: ``name``, ``op``,
``input``, ``attr``) and a ``weightsManifest`` naming the binary shards and, in order, every Const node's
array: its shape, dtype and optional quantization (float16, or uint8/uint16 affine). This module only reads:
what the graph computes is for the model that uses it (see movenet.py).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.weights import WeightsError

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTIZED_DTYPES = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True)
class GraphNode:
    """One GraphDef node; ``inputs`` are node names (``name:k`` for a node's k-th output), control inputs dropped."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any] = field(default_factory=dict)
    """Attribute values decoded: strings as str, lists as lists, ints as int, floats as float, bools as bool."""


@dataclass
class TfjsGraph:
    """A TF.js graph model: its nodes by name (in file order) and its Const nodes' arrays by name."""

    nodes: dict[str, GraphNode]
    constants: dict[str, np.ndarray]
    signature: dict[str, Any]
    source: str

    def node(self, name: str) -> GraphNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise WeightsError(f"{self.source}: the graph has no node {name!r}") from None

    def constant(self, name: str) -> np.ndarray:
        """The value of Const node ``name`` (``name`` may end with ``:0``)."""
        name = name.removesuffix(":0")
        if name not in self.constants:
            raise WeightsError(f"{self.source}: {name!r} is not a constant of the graph")
        return self.constants[name]

    def consumers(self) -> dict[str, list[GraphNode]]:
        """For each node name, the nodes that read one of its outputs."""
        readers: dict[str, list[GraphNode]] = {name: [] for name in self.nodes}
        for node in self.nodes.values():
            for source in node.inputs:
                readers[source_node(source)].append(node)
        return readers


def source_node(reference: str) -> str:
    """The node name in an input reference (``name``, ``name:1``)."""
    name, _, index = reference.rpartition(":")
    return name if name and index.isdigit() else reference


def _attr_value(value: dict[str, Any]) -> Any:
    """A GraphDef AttrValue (JSON form, bytes base64-encoded) as a plain Python value."""
    if "list" in value:
        items = value["list"]
        if "s" in items:
            return [base64.b64decode(item).decode() for item in items["s"]]
        if "i" in items:
            return [int(item) for item in items["i"]]
        if "f" in items:
            return [float(item) for item in items["f"]]
        return []
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "i" in value:
        return int(value["i"])
    if "f" in value:
        return float(value["f"])
    if "b" in value:
        return bool(value["b"])
    if "type" in value:
        return value["type"]
    return value


def _read_weights(manifest: list[dict[str, Any]], directory: Path, source: str) -> dict[str, np.ndarray]:
    """Every manifest entry's array, dequantized to its original dtype (float16 -> float32, exactly)."""
    arrays: dict[str, np.ndarray] = {}
    for group in manifest:
        shards = []
        for shard in group["paths"]:
            path = directory / shard
            if not path.is_file():
                raise WeightsError(f"{source}: weights shard {path} not found (it must lie beside the .json)")
            shards.append(path.read_bytes())
        data, offset = b"".join(shards), 0
        for entry in group["weights"]:
            shape = [int(size) for size in entry["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quantization = entry.get("quantization")
            stored = _QUANTIZED_DTYPES.get(quantization["dtype"]) if quantization else _DTYPES.get(entry["dtype"])
            if stored is None:
                raise WeightsError(f"{source}: {entry['name']}: unsupported dtype {entry.get('dtype')} "
                                   f"{quantization or ''}")
            size = count * np.dtype(stored).itemsize
            if offset + size > len(data):
                raise WeightsError(f"{source}: weights shards end before {entry['name']} (truncated file?)")
            array = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            offset += size
            if quantization and quantization["dtype"] != "float16":  # affine uint8/uint16
                array = array.astype(np.float32) * quantization["scale"] + quantization["min"]
            arrays[entry["name"]] = array.astype(_DTYPES[quantization.get("original_dtype", "float32")]
                                                 if quantization else stored)
        if offset != len(data):
            raise WeightsError(f"{source}: {len(data) - offset} bytes of the weights shards are not in the manifest")
    return arrays


def read_tfjs_graph(path: str | Path) -> TfjsGraph:
    """Read a TF.js graph model from its ``.json`` (shards beside it); WeightsError naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"TF.js graph model not found: {path}")
    try:
        model = json.loads(path.read_text())
        if model.get("format") != "graph-model":
            raise WeightsError(f"{path}: format {model.get('format')!r}, not a TF.js 'graph-model'")
        nodes = {}
        for raw in model["modelTopology"]["node"]:
            inputs = tuple(name for name in raw.get("input", ()) if not name.startswith("^"))
            attrs = {key: _attr_value(value) for key, value in raw.get("attr", {}).items()}
            nodes[raw["name"]] = GraphNode(raw["name"], raw["op"], inputs, attrs)
        constants = _read_weights(model["weightsManifest"], path.parent, str(path))
    except (KeyError, TypeError, ValueError) as exc:  # json errors are ValueErrors
        raise WeightsError(f"{path}: not a readable TF.js graph model ({type(exc).__name__}: {exc})") from exc
    missing = [name for name, node in nodes.items() if node.op == "Const" and name not in constants]
    if missing:
        raise WeightsError(f"{path}: {len(missing)} Const nodes have no weights, e.g. {missing[0]!r}")
    return TfjsGraph(nodes, constants, model.get("signature", {}), str(path))
