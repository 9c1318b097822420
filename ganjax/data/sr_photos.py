"""`sr_photos`: a small super-resolution dataset built offline from the photographs in scikit-image's wheel.

A `tfds.core.GeneratorBasedBuilder`, so it is read like any TFDS dataset (array_record,
random access). Each example is a high-resolution image `hr` and its x4 bicubic downscale
`lr` (PIL's antialiased bicubic, as MATLAB's `imresize` that DIV2K's LR images come from).

- train: `TRAIN_CROPS` random 96x96 crops (the SRGAN paper's size) of the training photos,
  positions drawn with a fixed seed, so every build holds the same crops.
- test: the held-out photographs whole (cut to a multiple of 4 from the top left): chelsea
  (the cat, 300x448), coffee (400x600) and camera (the cameraman, 512x512, grey as RGB).

Greyscale photographs become RGB by repeating the channel.
"""

from __future__ import annotations

import os

import numpy as np

HR_SIZE = 96
FACTOR = 4
TRAIN_CROPS = 4000
CROP_SEED = 20170425  # fixed: the crops are part of the dataset, not of a run
TRAIN_PHOTOS = (
  "astronaut",
  "rocket",
  "hubble_deep_field",
  "immunohistochemistry",
  "retina",
  "motorcycle_left",
  "moon",
  "coins",
  "brick",
  "grass",
  "gravel",
)
TEST_PHOTOS = ("chelsea", "coffee", "camera")


def bicubic_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
  """uint8 [H, W, C] -> uint8 [height, width, C] with PIL's bicubic filter (antialiased when shrinking)."""
  from PIL import Image

  channels = image.shape[-1]
  pil = Image.fromarray(image[..., 0] if channels == 1 else image)
  return np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC)).reshape(height, width, channels)


def downscale(hr: np.ndarray, factor: int = FACTOR) -> np.ndarray:
  """uint8 [H, W, C] (H, W multiples of `factor`) -> its bicubic downscale [H/factor, W/factor, C]."""
  return bicubic_resize(hr, hr.shape[0] // factor, hr.shape[1] // factor)


def load_photo(name: str) -> np.ndarray:
  """One of scikit-image's bundled photographs as uint8 RGB [H, W, 3]."""
  import skimage.data

  image = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
  image = np.asarray(image)
  if image.ndim == 2:
    image = np.repeat(image[..., None], 3, axis=-1)
  if image.dtype != np.uint8 or image.shape[-1] != 3:
    raise ValueError(f"skimage.data.{name} is {image.dtype} {image.shape}, not a uint8 photograph")
  return image


def train_crops(count: int = TRAIN_CROPS, seed: int = CROP_SEED):
  """(photo name, HR crop [96, 96, 3]) pairs: a photo drawn uniformly, then a position in it."""
  photos = {name: load_photo(name) for name in TRAIN_PHOTOS}
  rng = np.random.default_rng(seed)
  for _ in range(count):
    name = TRAIN_PHOTOS[rng.integers(len(TRAIN_PHOTOS))]
    photo = photos[name]
    top = rng.integers(photo.shape[0] - HR_SIZE + 1)
    left = rng.integers(photo.shape[1] - HR_SIZE + 1)
    yield name, photo[top : top + HR_SIZE, left : left + HR_SIZE]


def held_out(name: str) -> np.ndarray:
  photo = load_photo(name)
  return photo[: photo.shape[0] // FACTOR * FACTOR, : photo.shape[1] // FACTOR * FACTOR]


def _builder_class():
  """Defined on first use: importing TFDS costs seconds that commands not reading photos skip."""
  import tensorflow_datasets as tfds

  class SrPhotos(tfds.core.GeneratorBasedBuilder):
    """scikit-image's photographs: 96x96 training crops and held-out whole images, with x4 bicubic LR."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "4,000 training crops of 11 photographs; 3 held-out photographs."}

    def _info(self):
      return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict(
          {
            "hr": tfds.features.Image(shape=(None, None, 3)),
            "lr": tfds.features.Image(shape=(None, None, 3)),
            "name": tfds.features.Text(),
          }
        ),
        supervised_keys=("lr", "hr"),
      )

    def _split_generators(self, dl_manager):
      del dl_manager  # nothing to download: the photographs ship with scikit-image
      return {"train": self._generate_examples("train"), "test": self._generate_examples("test")}

    def _generate_examples(self, split):
      if split == "train":
        for i, (name, hr) in enumerate(train_crops(TRAIN_CROPS)):
          yield i, {"hr": hr, "lr": downscale(hr), "name": name}
      else:
        for name in TEST_PHOTOS:
          hr = held_out(name)
          yield name, {"hr": hr, "lr": downscale(hr), "name": name}

  return SrPhotos


def register() -> None:
  """Makes `tfds.builder('sr_photos')` find the builder (defining the class registers it)."""
  import tensorflow_datasets as tfds

  try:
    tfds.builder_cls("sr_photos")
  except tfds.core.registered.DatasetNotFoundError:
    _builder_class()


def prepare_sr_photos(data_dir: str | os.PathLike):
  """Builds `sr_photos` (array_record) in `data_dir` once, offline; returns its builder."""
  import tensorflow_datasets as tfds

  register()
  builder = tfds.builder("sr_photos", data_dir=os.fspath(data_dir), file_format="array_record")
  if not builder.is_prepared():
    from ganjax.data.offline_mnist import build_offline

    build_offline(builder, data_dir, "Building sr_photos (scikit-image's photographs)")
  return builder
