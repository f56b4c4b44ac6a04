"""Extract tensors from a torch checkpoint that pickles objects beside its weights, without running them.

ProxEmo's released ``.pth.tar`` stores a ``CrossEntropyLoss`` object next to its ``model_state_dict``,
so ``torch.load(weights_only=True)`` refuses it, and ``weights_only=False`` would execute whatever the
pickle names. This reader uses its own unpickler: it resolves only tensor rebuilding
(``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter``), storage types and ``OrderedDict``;
every other global becomes an inert :class:`DroppedObject` that records its name and is never called.
Both torch file layouts are read: the legacy stream (magic number, storages appended after the
pickle) and the zip archive (``data.pkl`` + ``data/<key>``).
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ...runtime.weights import WeightsError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class DroppedObject:
    """Stand-in for a pickled object we refuse to construct; keeps only the name it was pickled as."""

    qualified_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> DroppedObject:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<dropped {self.qualified_name}>"


@dataclass
class ExtractedCheckpoint:
    """What a restricted load found: the unpickled structure (tensors real, objects inert) and what was dropped."""

    content: Any
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _StorageType:
    dtype: torch.dtype


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple, stride: tuple, *_: Any) -> torch.Tensor:
    return storage.as_strided(tuple(size), tuple(stride), int(offset))


def _rebuild_parameter(tensor: torch.Tensor, *_: Any) -> torch.Tensor:
    return tensor


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: Any, storages: dict[str, torch.Tensor], dropped: list[str]) -> None:
        super().__init__(stream)
        self._storages = storages
        self._dropped = dropped

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        qualified = f"{module}.{name}"
        if qualified not in self._dropped:
            self._dropped.append(qualified)
        return type(name, (DroppedObject,), {"qualified_name": qualified})

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) > 1 and pid[0] == "module":
            return pid[1]  # legacy files record a module's source text beside its class; never used
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) > 5 else None
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        if view is not None:
            raise pickle.UnpicklingError("storage views (torch < 0.4 files) are not supported")
        if key not in self._storages:
            self._storages[key] = torch.empty(int(numel), dtype=storage_type.dtype)
        return self._storages[key]


def _load_legacy(stream: io.BufferedIOBase, dropped: list[str]) -> Any:
    plain = lambda: _RestrictedUnpickler(stream, {}, dropped).load()  # noqa: E731 - tiny local helper
    if plain() != _LEGACY_MAGIC:
        raise WeightsError("not a torch checkpoint (bad magic number)")
    plain()  # protocol version
    plain()  # system info: endianness and type sizes
    storages: dict[str, torch.Tensor] = {}
    content = _RestrictedUnpickler(stream, storages, dropped).load()
    keys = plain()
    for key in keys:
        (numel,) = struct.unpack("<q", stream.read(8))
        base = storages[key]
        if numel != base.numel():
            raise WeightsError(f"storage {key}: {numel} elements on disk, {base.numel()} expected")
        raw = bytearray(stream.read(numel * base.element_size()))
        if numel:
            base.copy_(torch.frombuffer(raw, dtype=base.dtype))
    return content


def _load_zip(archive: zipfile.ZipFile, dropped: list[str]) -> Any:
    names = archive.namelist()
    pickle_name = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
    if pickle_name is None:
        raise WeightsError("zip checkpoint without data.pkl")
    prefix = pickle_name[: -len("data.pkl")]
    storages: dict[str, torch.Tensor] = {}
    content = _RestrictedUnpickler(io.BytesIO(archive.read(pickle_name)), storages, dropped).load()
    for key, base in storages.items():
        raw = bytearray(archive.read(f"{prefix}data/{key}"))
        if base.numel():
            base.copy_(torch.frombuffer(raw, dtype=base.dtype)[: base.numel()])
    return content


def extract_checkpoint(path: str | Path) -> ExtractedCheckpoint:
    """Read a torch checkpoint with tensors materialised and every other pickled object left inert."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    dropped: list[str] = []
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                content = _load_zip(archive, dropped)
        else:
            with open(path, "rb") as stream:
                content = _load_legacy(stream, dropped)
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error, ValueError, RuntimeError) as exc:
        raise WeightsError(f"{path}: cannot read as a torch checkpoint: {exc}") from exc
    return ExtractedCheckpoint(content, dropped)


def extract_state_dict(path: str | Path, key: str = "model_state_dict") -> tuple[dict[str, torch.Tensor], list[str]]:
    """The tensors under ``key`` (a state_dict) as independent copies, and the names of dropped objects."""
    extracted = extract_checkpoint(path)
    content = extracted.content
    state = content.get(key) if isinstance(content, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: no state_dict of tensors under {key!r}")
    return {name: tensor.clone() for name, tensor in state.items()}, extracted.dropped
