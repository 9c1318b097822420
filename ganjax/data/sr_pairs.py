"""Pairs of low- and high-resolution images for super-resolution, from TFDS by dataset name.

- `sr_photos`: scikit-image's photographs, built offline (`ganjax.data.sr_photos`); stored
  96x96 HR training crops with their x4 bicubic LR, held-out whole photographs in 'test'.
- `mnist` at x4: the 28x28 digits are the HR images, their LR images are PIL bicubic
  downscales (antialiased: each LR pixel a cubic-weighted mean of a 16x16 neighbourhood),
  made when read: 7x7 for x4. Held out: the 10,000 test digits.
- `div2k` (TFDS `div2k/bicubic_x2` or `bicubic_x4`): DIV2K's 800 training photographs with
  the LR images the challenge made with MATLAB's bicubic `imresize`; held out: its 100
  validation photographs. TFDS downloads it (about 4 GB) when the user runs it with a network.

Training reads random HR crops of `hr_crop_size` and the LR crops under them: crop
positions are a pure function of (seed, example index), so a run's batches stay a function
of (seed, step) and resume exactly. Images stay uint8; the loop maps them to [-1, 1].
"""

from __future__ import annotations

import os

import numpy as np

from ganjax.config import Config
from ganjax.data import sr_photos
from ganjax.data.pipeline import default_data_dir, open_builder, prepared_builder
from ganjax.errors import UsageError

HELD_OUT_SPLIT = {"sr_photos": "test", "mnist": "test", "div2k": "validation"}
DEFAULT_HR_CROP = {"sr_photos": sr_photos.HR_SIZE, "mnist": 28, "div2k": 96}
# DIV2K's crops per training photograph and epoch: its 800 photographs are 2K wide, so one
# fixed crop each would waste them; the virtual index picks a fresh position for each.
DIV2K_CROPS_PER_IMAGE = 100
EVAL_BATCH = 500  # equal-sized held-out images (MNIST digits) scored this many at a time
HELD_OUT_LIMIT: int | None = None  # the first this many held-out images only (tests); None: all

SR_DATASETS = ("sr_photos", "mnist", "div2k")  # the datasets with low/high-resolution pairs


def hr_crop_size(config: Config) -> int:
  return config.family.hr_crop_size or DEFAULT_HR_CROP[config.dataset]


class PairSource:
  """Random-access training pairs: read(indices) -> {'lr': uint8 [n, c/f, c/f, C], 'hr': uint8 [n, c, c, C]}.

  `records[i]` holds an HR image under `hr_key` and, when `lr_key` is given, its stored LR
  image (else LR is the bicubic downscale of the HR crop). Example index k reads record
  k // crops_per_record at a crop position drawn from (seed, k).
  """

  def __init__(
    self,
    records,
    hr_crop: int,
    factor: int,
    seed: int,
    hr_key: str = "hr",
    lr_key: str | None = "lr",
    crops_per_record: int = 1,
  ):
    self.records, self.hr_crop, self.factor, self.seed = records, hr_crop, factor, seed
    self.hr_key, self.lr_key, self.crops_per_record = hr_key, lr_key, crops_per_record
    first = np.asarray(records[0][hr_key])
    if first.ndim != 3 or first.dtype != np.uint8:
      raise UsageError(f"The dataset's '{hr_key}' images are {first.dtype} {first.shape}, not uint8 [H, W, C].")
    self.channels = first.shape[-1]
    self.hr_shape = (hr_crop, hr_crop, self.channels)
    self.lr_shape = (hr_crop // factor, hr_crop // factor, self.channels)

  def __len__(self) -> int:
    return len(self.records) * self.crops_per_record

  def _pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
    record = self.records[index // self.crops_per_record]
    hr = np.asarray(record[self.hr_key])
    lr = np.asarray(record[self.lr_key]) if self.lr_key else None
    f, lr_crop = self.factor, self.hr_crop // self.factor
    # Positions on the LR grid, so the HR crop sits exactly over the LR one.
    room = np.array(hr.shape[:2]) // f if lr is None else np.minimum(np.array(hr.shape[:2]) // f, lr.shape[:2])
    if (room < lr_crop).any():
      raise UsageError(
        f"An image of {hr.shape[0]}x{hr.shape[1]} is smaller than --hr_crop_size={self.hr_crop}; "
        "pass a smaller --hr_crop_size."
      )
    top, left = np.random.default_rng([self.seed, index]).integers(room - lr_crop + 1)
    hr = hr[f * top : f * (top + lr_crop), f * left : f * (left + lr_crop)]
    lr = sr_photos.downscale(hr, f) if lr is None else lr[top : top + lr_crop, left : left + lr_crop]
    return lr, hr

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    pairs = [self._pair(int(i)) for i in indices]
    return {"lr": np.stack([lr for lr, _ in pairs]), "hr": np.stack([hr for _, hr in pairs])}


def _div2k_builder(config: Config, data_dir: str):
  return open_builder(f"div2k/bicubic_x{config.family.upscale}", data_dir, "sr_photos")


def _records(config: Config, split: str):
  """(records, hr key, lr key or None) of `split` of config.dataset."""
  data_dir = config.data_dir or default_data_dir()
  if config.dataset == "mnist":
    # The raw records, not load_source's ImageSource: that decodes the whole split into memory
    # first (16 s for MNIST's train split in a new data dir), and PairSource reads records.
    return prepared_builder("mnist", data_dir).as_data_source(split=split), "image", None
  if config.dataset == "sr_photos":
    return sr_photos.prepare_sr_photos(data_dir).as_data_source(split=split), "hr", "lr"
  if config.dataset == "div2k":
    return _div2k_builder(config, data_dir).as_data_source(split=split), "hr", "lr"
  raise UsageError(f"--dataset={config.dataset} has no super-resolution pairs; use one of {', '.join(SR_DATASETS)}.")


def load_pairs(config: Config, split: str = "train") -> PairSource:
  """The training pairs of config.dataset at x config.family.upscale, HR crops of `hr_crop_size(config)`."""
  try:
    os.makedirs(config.data_dir or default_data_dir(), exist_ok=True)
  except OSError as e:
    raise UsageError(f"Cannot create the data directory ({e.strerror}); pass a writable --data_dir.") from e
  records, hr_key, lr_key = _records(config, split)
  if config.dataset == "sr_photos" and config.family.upscale != sr_photos.FACTOR:
    lr_key = None  # the stored LR images are x4; other factors downscale the HR crops
  crops = DIV2K_CROPS_PER_IMAGE if config.dataset == "div2k" else 1
  return PairSource(records, hr_crop_size(config), config.family.upscale, config.seed, hr_key, lr_key, crops)


def held_out_pairs(config: Config) -> list[tuple[np.ndarray, np.ndarray]]:
  """The held-out images whole, as (lr uint8 [n, h, w, C], hr uint8 [n, h*f, w*f, C]) groups of one size.

  HR images are cut to a multiple of the factor from the top left; LR are the stored ones
  (sr_photos at x4, DIV2K) or bicubic downscales.
  """
  records, hr_key, lr_key = _records(config, HELD_OUT_SPLIT[config.dataset])
  if config.dataset == "sr_photos" and config.family.upscale != sr_photos.FACTOR:
    lr_key = None
  f = config.family.upscale
  pairs = []
  for i in range(min(len(records), HELD_OUT_LIMIT or len(records))):
    record = records[i]
    hr = np.asarray(record[hr_key])
    hr = hr[: hr.shape[0] // f * f, : hr.shape[1] // f * f]
    lr = (
      sr_photos.downscale(hr, f)
      if lr_key is None
      else np.asarray(record[lr_key])[: hr.shape[0] // f, : hr.shape[1] // f]
    )
    pairs.append((lr, hr))
  groups: dict[tuple, list] = {}
  for lr, hr in pairs:
    groups.setdefault(hr.shape, []).append((lr, hr))
  out = []
  for members in groups.values():
    for start in range(0, len(members), EVAL_BATCH):
      chunk = members[start : start + EVAL_BATCH]
      out.append((np.stack([lr for lr, _ in chunk]), np.stack([hr for _, hr in chunk])))
  return out
