"""Import of the reference EMOTIC checkpoints (whole pickled modules) without running pickled code.

The reference implementation saves ``torch.save(module)`` for its three parts: the body ResNet-18 and the
scene ResNet-18 (each an ``nn.Sequential`` of a ResNet's children without the classifier) and the fusion
module (class ``Emotic``: fc1, bn1, d1, fc_cat, fc_cont). Loading such files normally means unpickling
arbitrary objects, which can run any code. :class:`InertUnpickler` instead:

- resolves only allow-listed names: torch/torchvision module classes (``torch.nn.*``,
  ``torchvision.models.*``) and the reference's ``Emotic`` class become *inert stand-ins* that merely
  record the state pickled for them (their real code is never imported or called);
- rebuilds tensors and parameters itself from the raw storages (no torch rebuild functions are called);
- refuses every other global (``os.system``, ``builtins.eval``, unknown classes) with an error naming it.

The parameters and persistent buffers are then collected from the stand-ins by module path, exactly like
``state_dict()`` would name them. There is no fallback that executes pickled code.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .labels import EMOTIC_CATEGORIES
from ...runtime.weights import WeightsError, WeightsPassport, save_checkpoint
from .model import ARCHITECTURE, VAD_SCALE, emotic_resnet18
from .preprocessing import EmoticPreprocessing

STAND_IN_MODULE_PREFIXES = ("torch.nn.modules.", "torchvision.models.")
"""Modules whose classes may appear in a pickled network; they become inert stand-ins."""
REFERENCE_CLASSES = frozenset({("emotic", "Emotic"), ("__main__", "Emotic")})
"""The reference implementation's own fusion class, as pickled from its module or its main script."""
STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
SEQUENTIAL_TO_RESNET = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
"""Children indices of ``nn.Sequential(*list(resnet18().children())[:-1])`` -> ResNet attribute names."""
REFERENCE_FUSION_NAMES = {"fc1": "fuse", "bn1": "norm", "fc_cat": "categories", "fc_cont": "continuous"}


class InertObject:
    """Stand-in for an allow-listed class: keeps the pickled state, runs none of the class's code."""

    args: tuple[Any, ...] = ()
    state: Any = None

    def __init__(self, *args: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _StorageType:
    """The dtype a pickled ``torch.XxxStorage`` global stands for."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _rebuild_tensor(storage: torch.Tensor, offset: int, size: tuple[int, ...], stride: tuple[int, ...],
                    *_ignored: Any) -> torch.Tensor:
    """Our own version of torch._utils._rebuild_tensor(_v2): a strided view of a flat storage (legacy files
    fill the storages after the object is read, so this must stay a view; the collected state is copied)."""
    return torch.as_strided(storage, tuple(size), tuple(stride), offset)


def _rebuild_parameter(data: torch.Tensor, *_ignored: Any) -> torch.Tensor:
    return data


def _new_stand_in(cls: type, *args: Any) -> Any:
    """copyreg._reconstructor / __newobj__ replacement for the stand-in classes only."""
    if not (isinstance(cls, type) and issubclass(cls, InertObject)):
        raise pickle.UnpicklingError(f"refusing to construct {cls!r}")
    return cls()


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("__builtin__", "set"): set,  # protocol-2 pickles name Python 2's module
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "slice"): slice,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("copyreg", "_reconstructor"): _new_stand_in,
    ("copyreg", "__newobj__"): _new_stand_in,
}


class InertUnpickler(pickle.Unpickler):
    """Unpickles a torch-saved module tree into :class:`InertObject` stand-ins and plain tensors."""

    def __init__(self, file: io.BufferedIOBase, load_storage: Any, extra_classes: frozenset[tuple[str, str]] = frozenset()):
        super().__init__(file)
        self._load_storage = load_storage
        self._extra_classes = REFERENCE_CLASSES | extra_classes
        self._stand_ins: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(STORAGE_DTYPES[name])
        if module.startswith(STAND_IN_MODULE_PREFIXES) or (module, name) in self._extra_classes:
            key = (module, name)
            if key not in self._stand_ins:
                self._stand_ins[key] = type(name, (InertObject,), {"pickled_as": f"{module}.{name}"})
            return self._stand_ins[key]
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}: not an allowed torch module class "
                                     "or tensor; the file may hold code, or a class this importer does not know")

    def persistent_load(self, saved_id: Any) -> torch.Tensor | type:
        if isinstance(saved_id, tuple) and saved_id and saved_id[0] == "module":
            # Legacy files refer to a module class with its source code, which is ignored (never run).
            if isinstance(saved_id[1], type) and issubclass(saved_id[1], InertObject):
                return saved_id[1]
            raise pickle.UnpicklingError(f"unsupported module reference {repr(saved_id[1])[:80]}")
        if not (isinstance(saved_id, tuple) and saved_id and saved_id[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {repr(saved_id)[:80]}")
        storage_type, key, _location, numel = saved_id[1:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return self._load_storage(str(key), storage_type.dtype, int(numel))


def _load_zip(path: Path, extra_classes: frozenset[tuple[str, str]]) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickle_name = next((name for name in names if name.endswith("/data.pkl") or name == "data.pkl"), None)
        if pickle_name is None:
            raise WeightsError(f"{path}: a zip file without data.pkl is not a torch checkpoint")
        prefix = pickle_name[: -len("data.pkl")]
        storages: dict[str, torch.Tensor] = {}

        def load_storage(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
            if key not in storages:
                raw = archive.read(f"{prefix}data/{key}")
                storages[key] = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.zeros(0, dtype=dtype)
            return storages[key]

        return InertUnpickler(io.BytesIO(archive.read(pickle_name)), load_storage, extra_classes).load()


def _load_legacy(path: Path, extra_classes: frozenset[tuple[str, str]]) -> Any:
    """The pre-1.6 format: magic, protocol, sys info, the object, storage keys, then raw storages."""
    with open(path, "rb") as handle:
        def read_record() -> Any:
            return _DataOnlyUnpickler(handle).load()

        if read_record() != LEGACY_MAGIC:
            raise WeightsError(f"{path} is neither a zip nor a legacy torch checkpoint")
        read_record()  # protocol version
        if not read_record().get("little_endian", True):
            raise WeightsError(f"{path} was saved on a big-endian machine; not supported")
        pending: dict[str, tuple[torch.dtype, int, torch.Tensor]] = {}

        def load_storage(key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
            if key not in pending:
                pending[key] = (dtype, numel, torch.empty(numel, dtype=dtype))
            return pending[key][2]

        root = InertUnpickler(handle, load_storage, extra_classes).load()
        keys = read_record()
        for key in keys:
            dtype, numel, target = pending[str(key)]
            (count,) = struct.unpack("<q", handle.read(8))
            raw = handle.read(count * target.element_size())
            target.copy_(torch.frombuffer(bytearray(raw), dtype=dtype)[:numel])
    return root


class _DataOnlyUnpickler(pickle.Unpickler):
    """For the plain-data records around the object in a legacy file: no global resolves."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} in a checkpoint header")


def load_module_state(path: str | Path, extra_classes: frozenset[tuple[str, str]] = frozenset()) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a whole pickled module, named as its state_dict would name them."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"reference checkpoint not found: {path}")
    try:
        root = _load_zip(path, extra_classes) if zipfile.is_zipfile(path) else _load_legacy(path, extra_classes)
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error, ValueError) as exc:
        raise WeightsError(f"cannot import {path}: {exc}") from exc
    if not isinstance(root, InertObject):
        raise WeightsError(f"{path} holds a {type(root).__name__}, not a pickled torch module")
    state: dict[str, torch.Tensor] = {}
    _collect(root, "", state)
    if not state:
        raise WeightsError(f"{path}: the pickled module holds no parameters")
    return state


def _collect(module: InertObject, prefix: str, state: dict[str, torch.Tensor]) -> None:
    fields = module.state if isinstance(module.state, dict) else {}
    if isinstance(module.state, tuple) and len(module.state) == 2 and isinstance(module.state[0], dict):
        fields = module.state[0]  # (dict, slotstate) form
    skipped = set(fields.get("_non_persistent_buffers_set", ()))
    for name, value in {**fields.get("_parameters", {}), **fields.get("_buffers", {})}.items():
        if isinstance(value, torch.Tensor) and name not in skipped:
            state[prefix + name] = value.clone()
    for name, child in fields.get("_modules", {}).items():
        if isinstance(child, InertObject):
            _collect(child, f"{prefix}{name}.", state)


def resnet_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A body/scene state in our ResNet naming, from a pickled ``nn.Sequential`` of ResNet children or a
    whole ResNet; the classifier is dropped."""
    renamed = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        renamed[f"{SEQUENTIAL_TO_RESNET.get(head, head)}.{rest}"] = value
    return {key: value for key, value in renamed.items() if not key.startswith("fc.")}


def fusion_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The reference ``Emotic`` module's state in our EmoticFusion naming."""
    renamed = {}
    for key, value in state.items():
        head, _, rest = key.partition(".")
        renamed[f"{REFERENCE_FUSION_NAMES.get(head, head)}.{rest}"] = value
    return renamed


def read_thresholds(path: str | Path) -> np.ndarray:
    """26 thresholds from a .npy file (the reference's val_thresholds.npy) or a text file of numbers."""
    path = Path(path)
    values = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, delimiter=None)
    values = np.asarray(values, dtype=np.float32).ravel()
    if values.shape != (len(EMOTIC_CATEGORIES),):
        raise ValueError(f"{path}: expected {len(EMOTIC_CATEGORIES)} thresholds, got {values.size}")
    return values


def import_reference(body: str | Path, context: str | Path, fusion: str | Path, thresholds: np.ndarray,
                     out: str | Path, name: str = "emotic_reference",
                     extra_classes: frozenset[tuple[str, str]] = frozenset()) -> Path:
    """Convert the reference's three pickled modules into our checkpoint ``out/NAME.pt`` + passport."""
    model = emotic_resnet18()
    parts = {"body": resnet_state(load_module_state(body, extra_classes)),
             "context": resnet_state(load_module_state(context, extra_classes)),
             "fusion": fusion_state(load_module_state(fusion, extra_classes))}
    for part, state in parts.items():
        try:
            getattr(model, part).load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsError(f"the {part} checkpoint does not fit the EMOTIC ResNet-18 {part}: "
                               f"{str(exc).splitlines()[0]}") from exc
    passport = WeightsPassport(
        name=name, architecture=ARCHITECTURE, labels=EMOTIC_CATEGORIES,
        preprocessing="emotic: scene 224x224 and body crop 128x128 (bilinear), RGB / 255, reference mean/std",
        trained_on="EMOTIC (reference implementation's checkpoints, imported)",
        license="see the licence of the reference EMOTIC implementation and of the EMOTIC data set",
        config={**EmoticPreprocessing().to_config(), "thresholds": np.asarray(thresholds, np.float32).tolist(),
                "vad_scale": VAD_SCALE, "dropout": 0.5,
                "imported_from": [str(Path(p).name) for p in (body, context, fusion)]},
    )
    return save_checkpoint(model.state_dict(), passport, Path(out) / name)
