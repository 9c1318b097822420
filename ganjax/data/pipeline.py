"""Batches of images from a TFDS dataset, in an order that is a pure function of (seed, step).

Reading goes through `tfds.data_source` (array_record, random access), so the position of
the iterator is just the number of the next step: resuming at step k reads exactly the
batches an uninterrupted run would have read from step k on. grain reads and decodes them,
in the main process while the device runs the steps already dispatched, or ahead of the
step in worker processes (`--data_workers`), so the device is not kept waiting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence

import grain
import numpy as np

from ganjax.errors import UsageError


@dataclasses.dataclass(frozen=True)
class BatchSpec:
  """How one step's global batch is cut: over processes, then over local devices.

  A step may consume several global batches (`microbatches`, e.g. one per D update); each
  is cut the same way, so its split over devices does not depend on how many there are.
  """

  global_batch: int
  local_devices: int
  process_index: int = 0
  process_count: int = 1
  microbatches: int = 1

  def __post_init__(self):
    shards = self.local_devices * self.process_count
    if self.global_batch <= 0 or self.global_batch % shards:
      raise UsageError(
        f"--batch_size={self.global_batch} does not split evenly over {shards} devices; "
        f"use a positive multiple of {shards}."
      )

  @property
  def per_device(self) -> int:
    return self.global_batch // (self.local_devices * self.process_count)

  @property
  def per_process(self) -> int:
    return self.global_batch // self.process_count


@functools.lru_cache(maxsize=2)  # this epoch's and the next's, where a worker's steps straddle them
def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The order in which epoch `epoch` visits the examples; a new one each epoch. Read-only.

  Kept, not drawn again for every step: drawing it was most of a batch's time from memory
  (MNIST: 1.2 of 1.4 ms per batch of 64; celeb_a's 162,770 cost several ms a step).
  """
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  order.flags.writeable = False  # shared by every step of the epoch
  return order


def batch_indices(num_examples: int, spec: BatchSpec, seed: int, step: int) -> np.ndarray:
  """Example indices this process reads at `step`: [microbatches * per_process] int64.

  Laid out device by device, each device's part holding its share of every microbatch in
  turn. Each epoch is a fresh permutation; the incomplete tail batch of an epoch is dropped so
  every step sees a full global batch.
  """
  step_examples = spec.global_batch * spec.microbatches
  steps_per_epoch = num_examples // step_examples
  epoch, position = divmod(step, steps_per_epoch)
  start = position * step_examples
  step_indices = epoch_permutation(num_examples, seed, epoch)[start : start + step_examples]
  # [microbatch, process, device, example] -> this process's [device, microbatch, example]
  cut = step_indices.reshape(spec.microbatches, spec.process_count, spec.local_devices, spec.per_device)
  return cut[:, spec.process_index].transpose(1, 0, 2).reshape(-1)


def to_model_range(images: np.ndarray) -> np.ndarray:
  """uint8 [..., H, W, C] in [0, 255] -> float32 in [-1, 1]."""
  return images.astype(np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)


CACHE_BYTES = 512 * 2**20  # decoded images a source keeps in memory, at most


class ImageSource:
  """The images (and labels, where the dataset has them) of one split of a TFDS dataset."""

  CACHE_DTYPES = {"image": np.uint8, "label": np.int32}

  def __init__(
    self,
    records: Sequence,
    image_key: str = "image",
    label_key: str | None = "label",
    num_classes: int | None = None,
    image_size: int | None = None,
    cache_bytes: int = CACHE_BYTES,
    decoded_file: DecodedFile | None = None,
  ):
    self.records = records
    self.num_classes = num_classes  # from the dataset's metadata, where it says
    self.image_size = image_size  # square-crop and resize to this, or keep the stored size
    self.image_key = image_key
    self.label_key = label_key
    first = records[0]
    if image_key not in first:
      raise UsageError(f"The dataset has no '{image_key}' feature; pick an image dataset.")
    self.stored_shape = tuple(np.asarray(first[image_key]).shape)
    if len(self.stored_shape) != 3:
      raise UsageError(f"Images of shape {self.stored_shape} are not [H, W, C]; pick an image dataset.")
    self._check_dtype(np.asarray(first[image_key]).dtype)
    self.image_shape = self.stored_shape if not image_size else (image_size, image_size, self.stored_shape[-1])
    if self.label_key not in first:
      self.label_key = None
    # Decoded images are kept once read when they all fit in `cache_bytes` (MNIST: 47 MB):
    # from the second epoch on a batch is a gather, not 64-256 TFDS decodes on the cores the
    # train step needs. The same bytes either way; a larger dataset is read every time.
    self._batched_reads = hasattr(records, "__getitems__")
    self._decoded_file = decoded_file
    self._cache = None
    self._cache_lock = threading.Lock()
    if len(records) * math.prod(self.image_shape) <= cache_bytes:
      self._cache = {
        "filled": np.zeros(len(records), bool),
        "image": np.zeros((len(records), *self.image_shape), self.CACHE_DTYPES["image"]),
      }
      if self.label_key:
        self._cache["label"] = np.zeros(len(records), self.CACHE_DTYPES["label"])
      if decoded_file is not None:
        self._fill_cache(decoded_file)

  def _fill_cache(self, decoded_file: DecodedFile) -> None:
    """Every image decoded before the first batch: read back from `decoded_file`, or decoded
    now and saved there for the next run.

    A cache filled during the first epoch cost that epoch a TFDS decode per image (about 3,600
    images/s on one core of the 2-core CPU) beside the train step; where a step takes
    milliseconds (a GPU) that decode, not the step, would set the pace. Saved, MNIST's train
    split loads in about 0.2 s (benchmarks/loop_costs.py compares the two feeds).
    """
    if decoded_file.load_into(self._cache):
      self._cache["filled"][:] = True
      return
    print(
      f"Decoding the {len(self.records):,} images of {decoded_file.label} into memory, once: "
      f"later runs read them from {decoded_file.path}.",
      flush=True,
    )
    for start in range(0, len(self.records), 4096):
      self.read(np.arange(start, min(start + 4096, len(self.records))))
    decoded_file.save(self._cache)

  def __getstate__(self) -> dict:
    """What a grain worker process receives: no lock, and no decoded images where they are all
    in the decoded file (MNIST: 47 MB per worker through a pipe); the worker reads that instead."""
    state = {k: v for k, v in self.__dict__.items() if k != "_cache_lock"}
    if self._cache is not None and self._decoded_file is not None and self._cache["filled"].all():
      state["_cache"] = {name: values.shape for name, values in self._cache.items()}
    return state

  def __setstate__(self, state: dict) -> None:
    self.__dict__.update(state)
    self._cache_lock = threading.Lock()
    if self._cache is not None and isinstance(self._cache["filled"], tuple):  # shapes: read the decoded file
      shapes = self._cache
      self._cache = {"filled": np.zeros(shapes["filled"], bool)}
      self._cache |= {
        name: np.zeros(shape, self.CACHE_DTYPES[name]) for name, shape in shapes.items() if name != "filled"
      }
      if self._decoded_file.load_into(self._cache):
        self._cache["filled"][:] = True  # else (the file gone since): decoded again as read

  def _check_dtype(self, dtype: np.dtype) -> None:
    # to_model_range maps [0, 255] to [-1, 1]: floats or 16-bit images would train on garbage.
    if dtype != np.uint8:
      raise UsageError(
        f"The dataset's images are {dtype}, not uint8 in [0, 255] as ganjax reads them; convert them to uint8 first."
      )

  def __len__(self) -> int:
    return len(self.records)

  def _sized(self, image: np.ndarray) -> np.ndarray:
    """The image as the model sees it: the stored one, or its centre square resized."""
    if not self.image_size or image.shape == self.image_shape:
      return image
    return center_crop_resize(image, self.image_size)

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    """uint8 images [n, H, W, C] (and int32 labels [n]) of the examples `indices`."""
    indices = np.asarray(indices, np.int64)
    if self._cache is None:
      return self._read_records(indices)
    with self._cache_lock:  # grain's reading threads, where a caller asks for them, may share a source
      missing = np.unique(indices[~self._cache["filled"][indices]])
      if len(missing):
        fresh = self._read_records(missing)
        for name, values in fresh.items():
          self._cache[name][missing] = values
        self._cache["filled"][missing] = True
      return {name: self._cache[name][indices] for name in self._cache if name != "filled"}

  def _read_records(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    # Each record costs TFDS a proto parse and a PNG decode: about 1.4 ms one at a time on
    # the 2-core CPU, 0.4 ms in its batched read. TFDS's mock data sources break on the
    # batched read (TypeError), so they fall back to one record at a time.
    keys = [int(i) for i in indices]
    rows = None
    if self._batched_reads:
      try:
        rows = self.records.__getitems__(keys)
      except TypeError:
        self._batched_reads = False
    if rows is None:
      rows = [self.records[i] for i in keys]
    out = {"image": np.stack([self._sized(np.asarray(r[self.image_key])) for r in rows])}
    if out["image"].shape[1:] != self.image_shape:
      raise UsageError(
        f"The dataset mixes image shapes ({out['image'].shape[1:]} vs {self.image_shape}); "
        "resize it to one shape first."
      )
    self._check_dtype(out["image"].dtype)
    if self.label_key:
      out["label"] = np.asarray([r[self.label_key] for r in rows], dtype=np.int32)
    return out


@dataclasses.dataclass(frozen=True)
class DecodedFile:
  """A split's decoded images (and labels) saved beside its TFDS records, for the next run.

  `fingerprint` names the records they were decoded from (their files and sizes): a file
  saved from other records, or a damaged one, is ignored and written again.
  """

  path: str
  fingerprint: str
  label: str = "the split"  # what the one line printed while decoding calls it

  def load_into(self, cache: dict[str, np.ndarray]) -> bool:
    """Fills `cache`'s arrays from the file; False (cache untouched) if it is missing, stale
    or unreadable."""
    try:
      with np.load(self.path) as saved:
        arrays = {name: saved[name] for name in cache if name != "filled"}
        if str(saved["fingerprint"]) != self.fingerprint:
          return False
    except Exception:  # missing, truncated or not an .npz: decode again, as without the file
      return False
    if any(arrays[name].shape != cache[name].shape or arrays[name].dtype != cache[name].dtype for name in arrays):
      return False
    for name, values in arrays.items():
      cache[name][:] = values
    return True

  def save(self, cache: dict[str, np.ndarray]) -> None:
    """Writes the cache atomically (two runs saving at once leave one whole file); a data
    directory that cannot be written just means the next run decodes again."""
    temporary = f"{self.path}.{os.getpid()}.tmp.npz"
    try:
      np.savez(temporary, fingerprint=self.fingerprint, **{k: v for k, v in cache.items() if k != "filled"})
      os.replace(temporary, self.path)
    except OSError:
      with contextlib.suppress(OSError):
        os.remove(temporary)


def decoded_file_of(builder, split: str, image_size: int | None) -> DecodedFile | None:
  """Where `load_source` keeps `split`'s decoded images: in the builder's prepared directory,
  fingerprinted by its record files; None where there is no such directory (mock data)."""
  directory = os.fspath(builder.data_dir)
  try:
    records = sorted(
      (name, os.path.getsize(os.path.join(directory, name)))
      for name in os.listdir(directory)
      if ".array_record" in name
    )
  except OSError:
    return None
  if not records:
    return None
  name = re.sub(r"\W+", "_", split) + (f"_{image_size}px" if image_size else "")
  return DecodedFile(
    os.path.join(directory, f"ganjax_decoded_{name}.npz"), repr(records), f"{builder.name}'s {split} split"
  )


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
  """uint8 [H, W, C] -> [size, size, C]: the centred square, resized with PIL's antialiased
  bilinear filter (as DCGAN's CelebA preprocessing: 178x178 centre, then 64x64)."""
  from PIL import Image

  h, w = image.shape[:2]
  side = min(h, w)
  top, left = (h - side) // 2, (w - side) // 2
  square = image[top : top + side, left : left + side]
  channels = square.shape[-1]
  pil = Image.fromarray(square[..., 0] if channels == 1 else square)
  resized = np.asarray(pil.resize((size, size), Image.Resampling.BILINEAR))
  return resized.reshape(size, size, channels)


def default_data_dir() -> str:
  return os.environ.get("TFDS_DATA_DIR", os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def open_builder(
  dataset: str,
  data_dir: str | None = None,
  offline: str = "mnist",
  prepare_offline: Callable[[str], object] | None = None,
  known_names: str | None = None,
):
  """The TFDS builder of `dataset` in `data_dir`, prepared: the name checked, the directory
  made, `prepare_offline(data_dir)` run first for the datasets built from bundled files, then
  TFDS's own preparation where the data is not there yet. Every failure is a UsageError that
  suggests `--dataset=<offline>`, which needs no network (an unknown name: `known_names`, if
  given, instead)."""
  import tensorflow_datasets as tfds

  data_dir = data_dir or default_data_dir()
  # A builder by name, not `tfds.list_builders()`: that imports TensorFlow (6 s of every
  # start-up, which restarts after a preemption pay again) just to check a name.
  try:
    tfds.builder(dataset)
  except tfds.core.registered.DatasetNotFoundError:
    raise UsageError(f"--dataset={dataset} is not a TFDS dataset name; try {known_names or offline}.") from None
  try:
    os.makedirs(data_dir, exist_ok=True)
  except OSError as e:
    raise UsageError(f"Cannot create the data directory {data_dir} ({e.strerror}); pass a writable --data_dir.") from e
  if prepare_offline is not None:
    prepare_offline(data_dir)
  builder = tfds.builder(dataset, data_dir=data_dir, file_format="array_record")
  if not builder.is_prepared():
    from ganjax.data.offline_mnist import hide_gpus_from_tensorflow

    hide_gpus_from_tensorflow()
    try:
      builder.download_and_prepare()
    except Exception as e:  # TFDS raises many types for "could not fetch"
      raise UsageError(
        f"TFDS could not prepare {dataset} in {data_dir} ({type(e).__name__}); "
        f"download it there first or use --dataset={offline}."
      ) from e
  return builder


def prepared_builder(dataset: str, data_dir: str | None = None):
  """The TFDS builder of an image dataset, prepared; MNIST offline from the bundled files."""
  prepare_offline = None
  if dataset == "mnist":
    from ganjax.data.offline_mnist import prepare_mnist as prepare_offline
  return open_builder(dataset, data_dir, "mnist", prepare_offline, known_names="mnist, fashion_mnist or cifar10")


def load_source(
  dataset: str, split: str = "train", data_dir: str | None = None, image_size: int | None = None
) -> ImageSource:
  """Opens `dataset` from TFDS by name; MNIST is prepared offline from the bundled files.

  With `image_size`, images are centre-cropped to a square and resized to it.
  """
  builder = prepared_builder(dataset, data_dir)
  features = builder.info.features
  label = features["label"] if "label" in features.keys() else None
  return ImageSource(
    builder.as_data_source(split=split),
    num_classes=getattr(label, "num_classes", None),
    image_size=image_size,
    decoded_file=decoded_file_of(builder, split, image_size),
  )


# Step k's batch is element k of a grain MapDataset, so the iterator needs no end: a run
# stops itself, after --steps.
NO_LAST_STEP = 2**62


def _mark_absl_flags_parsed() -> None:
  """grain 0.2.18 reads one of its absl flags as it starts worker processes and fails in a
  program that never parsed absl flags, as ganjax's argparse CLI (UnparsedFlagAccessError;
  google/grain#1355, fixed after 0.2.18 by #1362). Marked parsed, every absl flag keeps its
  default; a program that parsed them already is left alone."""
  from absl import flags

  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


class Batches:
  """Iterator over training batches from `start_step` on, read through grain.

  From an ImageSource it yields {'image': float32 [local_devices, microbatches * per_device,
  H, W, C] in [-1, 1], 'label': int32 [local_devices, microbatches * per_device]} (label only
  if the data has one); any other source's uint8 arrays become float32 in [-1, 1] likewise.

  The pipeline is grain's: `MapDataset.range(start_step, ...)` mapped by `batch_at` (the
  step's indices, the source's read (decoding, cropping, resizing) and the layout), read in
  the main process, or with `workers` > 0 ahead of the step by that many worker processes
  (grain's `mp_prefetch`: worker i makes steps i, i + workers, ..., the iterator hands them
  out in step order). Element k is a pure function of (seed, k) whoever computes it, so any
  number of workers yields the same batches, and the iterator's position is the step: the
  checkpoint's `next_step` rebuilds it exactly, with any --data_workers.
  """

  def __init__(self, source, spec: BatchSpec, seed: int, start_step: int = 0, workers: int = 0, prefetch: int = 2):
    if len(source) < spec.global_batch * spec.microbatches:
      raise UsageError(
        f"--batch_size={spec.global_batch} times --d_steps={spec.microbatches} is larger than the "
        f"dataset ({len(source)} examples)."
      )
    self.source, self.spec, self.seed = source, spec, seed
    self.next_step = start_step
    steps = grain.MapDataset.range(start_step, NO_LAST_STEP).map(self.batch_at)
    # No reading thread: in the main process the next batch is read while the device runs the
    # steps already dispatched (JAX dispatches asynchronously; the loop keeps 2 in flight),
    # and grain's hand-off from a reading thread costs more than a batch of MNIST from memory
    # (benchmarks/data_pipeline.py, docs/speed.md). Workers read ahead into their buffers of
    # `prefetch` batches.
    batches = steps.to_iter_dataset(grain.ReadOptions(num_threads=0, prefetch_buffer_size=0))
    if workers:
      _mark_absl_flags_parsed()
      batches = batches.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=prefetch))
    self._iterator = iter(batches)

  def batch_at(self, step: int) -> dict[str, np.ndarray]:
    indices = batch_indices(len(self.source), self.spec, self.seed, step)
    raw = self.source.read(indices)
    shape = (self.spec.local_devices, self.spec.microbatches * self.spec.per_device)
    # Every uint8 array is an image (a paired dataset has two); the rest (labels) stay as read.
    return {k: (to_model_range(v) if v.dtype == np.uint8 else v).reshape(shape + v.shape[1:]) for k, v in raw.items()}

  def __getstate__(self) -> dict:
    # What grain pickles into each worker process: what `batch_at` needs, not the iterator.
    return {"source": self.source, "spec": self.spec, "seed": self.seed}

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    batch = next(self._iterator)
    self.next_step += 1
    return batch

  def close(self) -> None:
    """Ends grain's worker processes, if any."""
    self._iterator.close()
