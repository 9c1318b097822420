"""Reads tensors saved by PyTorch's `torch.save` (a state dict) into NumPy arrays, without torch.

Both of `torch.save`'s formats are read: the zip archive (PyTorch >= 1.6: `<name>/data.pkl`
plus one raw record `<name>/data/<key>` per storage) and the older single stream (magic
number, protocol, system info, the pickle, its storage keys, then each storage as an int64
element count and raw bytes). The pickle is read by an Unpickler that knows only what a
state dict of tensors contains: tensors rebuilt from (storage, offset, size, stride), typed
storages, and OrderedDict. Anything else (arbitrary classes, code) is refused, so a file
from an untrusted source cannot run code here.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import pickle
import zipfile

import ml_dtypes
import numpy as np

_STORAGE_DTYPES = {
  "FloatStorage": np.float32,
  "DoubleStorage": np.float64,
  "HalfStorage": np.float16,
  "BFloat16Storage": ml_dtypes.bfloat16,
  "LongStorage": np.int64,
  "IntStorage": np.int32,
  "ShortStorage": np.int16,
  "CharStorage": np.int8,
  "ByteStorage": np.uint8,
  "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class TorchFileError(ValueError):
  """The file is not a torch.save file of plain tensors (or is damaged)."""


@dataclasses.dataclass(frozen=True)
class _StorageType:
  dtype: np.dtype


@dataclasses.dataclass(frozen=True)
class _StorageRef:
  """A storage named in the pickle; its bytes are read after unpickling."""

  key: str
  dtype: np.dtype
  numel: int
  view: tuple[int, int] | None = None  # (offset, numel) of a legacy storage view


@dataclasses.dataclass(frozen=True)
class _TensorRef:
  storage: _StorageRef
  offset: int
  size: tuple[int, ...]
  stride: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
  del requires_grad, backward_hooks, metadata  # autograd bookkeeping: meaningless for arrays
  if not isinstance(storage, _StorageRef):
    raise TorchFileError("a tensor's storage is not a storage record")
  return _TensorRef(storage, int(storage_offset), tuple(int(s) for s in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
  del requires_grad, backward_hooks
  return data


_ALLOWED = {
  ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
  ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
  ("collections", "OrderedDict"): collections.OrderedDict,
}


class _Unpickler(pickle.Unpickler):
  """Builds tensor and storage references; refuses every other class."""

  def find_class(self, module, name):
    if (module, name) in _ALLOWED:
      return _ALLOWED[(module, name)]
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(np.dtype(_STORAGE_DTYPES[name]))
    raise TorchFileError(f"it holds a {module}.{name}, which a file of plain tensors never does")

  def persistent_load(self, pid):
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
      raise TorchFileError(f"unknown persistent record {pid!r:.80}")
    _, storage_type, key, _, numel, *view = pid
    view = view[0] if view else None
    return _StorageRef(str(key), storage_type.dtype, int(numel), None if view is None else (int(view[1]), int(view[2])))


def _unpickle(stream: io.BytesIO):
  return _Unpickler(stream).load()


def _as_array(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
  storage = storages[ref.storage.key]
  if ref.storage.view is not None:
    start, numel = ref.storage.view
    storage = storage[start : start + numel]
  if len(ref.size) != len(ref.stride) or min(ref.stride, default=0) < 0 or ref.offset < 0:
    raise TorchFileError("a tensor has an inconsistent size and stride")
  if 0 in ref.size:
    return np.zeros(ref.size, storage.dtype)
  # as_strided reads raw memory: check the last element lies inside the storage first.
  last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride))
  if last >= len(storage):
    raise TorchFileError("a tensor reaches past the end of its storage")
  strides = tuple(s * storage.itemsize for s in ref.stride)
  return np.lib.stride_tricks.as_strided(storage[ref.offset :], ref.size, strides).copy()


def _storage_array(raw: bytes, ref: _StorageRef, little_endian: bool) -> np.ndarray:
  expected = ref.numel * ref.dtype.itemsize
  if len(raw) < expected:
    raise TorchFileError(f"storage {ref.key} holds {len(raw)} bytes, {expected} expected")
  array = np.frombuffer(raw[:expected], ref.dtype.newbyteorder("<" if little_endian else ">"))
  return array.astype(ref.dtype)


def _tensor_refs(obj) -> list[_TensorRef]:
  if isinstance(obj, _TensorRef):
    return [obj]
  if isinstance(obj, dict):
    return [r for v in obj.values() for r in _tensor_refs(v)]
  if isinstance(obj, (list, tuple)):
    return [r for v in obj for r in _tensor_refs(v)]
  return []


def _resolve(obj, storages):
  if isinstance(obj, _TensorRef):
    return _as_array(obj, storages)
  if isinstance(obj, dict):
    return {k: _resolve(v, storages) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return type(obj)(_resolve(v, storages) for v in obj)
  return obj


def _read_zip(archive: zipfile.ZipFile):
  pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") == 1]
  if len(pickles) != 1:
    raise TorchFileError("the zip archive has no single <name>/data.pkl record")
  prefix = pickles[0][: -len("data.pkl")]
  names = set(archive.namelist())
  little = archive.read(f"{prefix}byteorder").decode().strip() != "big" if f"{prefix}byteorder" in names else True
  obj = _unpickle(io.BytesIO(archive.read(pickles[0])))
  storages = {}
  for ref in _tensor_refs(obj):
    key = ref.storage.key
    if key not in storages:
      record = f"{prefix}data/{key}"
      if record not in names:
        raise TorchFileError(f"the storage record {record} is missing")
      storages[key] = _storage_array(archive.read(record), ref.storage, little)
  return _resolve(obj, storages)


def _read_legacy(stream: io.BytesIO):
  if _unpickle(stream) != _LEGACY_MAGIC:
    raise TorchFileError("it is neither a zip archive nor a legacy torch.save stream")
  if _unpickle(stream) != _LEGACY_PROTOCOL:
    raise TorchFileError("its legacy protocol version is not 1001")
  sys_info = _unpickle(stream)
  little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
  obj = _unpickle(stream)
  keys = _unpickle(stream)
  refs = {r.storage.key: r.storage for r in _tensor_refs(obj)}
  storages = {}
  for key in keys:  # the storages follow in this order, each as int64 numel then raw bytes
    numel = int(np.frombuffer(stream.read(8), "<i8" if little else ">i8")[0])
    ref = refs.get(str(key))
    if ref is None:
      raise TorchFileError(f"storage {key} is listed but no tensor uses it")
    storages[str(key)] = _storage_array(
      stream.read(numel * ref.dtype.itemsize), dataclasses.replace(ref, numel=numel), little
    )
  return _resolve(obj, storages)


def load(path: str) -> dict[str, np.ndarray]:
  """A `torch.save`d state dict -> {name: array} (OrderedDict order kept).

  Raises:
    OSError: the file cannot be read.
    TorchFileError: it is not a torch.save file of plain tensors, or is damaged.
  """
  with open(path, "rb") as f:
    data = f.read()
  try:
    if zipfile.is_zipfile(io.BytesIO(data)):
      with zipfile.ZipFile(io.BytesIO(data)) as archive:
        obj = _read_zip(archive)
    else:
      obj = _read_legacy(io.BytesIO(data))
  except TorchFileError:
    raise
  except Exception as e:
    # A damaged pickle or archive can fail inside the unpickler in many ways; all mean "damaged".
    raise TorchFileError(f"it is damaged ({type(e).__name__}: {e})") from e
  if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
    raise TorchFileError("it does not hold a dict of tensors (a state dict)")
  return dict(obj)
