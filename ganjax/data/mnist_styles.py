"""`mnist_styles`: an unpaired two-domain dataset built offline from TFDS's prepared `mnist`.

CycleGAN learns from two unpaired image sets. Offline there is no `cycle_gan/horse2zebra`,
so this builder makes two domains out of MNIST with no pairs between them:

- domain A: digits as they are, from one half of MNIST's training set;
- domain B: thick digits (grey dilation with a 3x3 square, strokes about 2 pixels wider) from
  the other, disjoint half.

Its splits and features follow TFDS's `cycle_gan` datasets (`trainA`, `trainB`, `testA`,
`testB`, each {'image': uint8 [28, 28, 1], 'label'}), so one loader reads both. The label is
the digit's class (0-9), kept for evaluation only: training never sees it. The test splits
are the two halves of MNIST's test set, split the same way.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

NAME = "mnist_styles"
# Which half of a split goes to which domain: a fixed permutation, so the dataset is the
# same on every machine.
SPLIT_SEED = 20170330  # the CycleGAN paper's arXiv date


def dilate(images: np.ndarray, size: int = 3) -> np.ndarray:
  """Grey dilation (a max filter) with a `size` x `size` square: uint8 [..., H, W, C] -> same.

  Each pixel becomes the brightest of its neighbourhood, so white strokes on black grow by
  size - 1 pixels; edges are padded with black (MNIST's background).
  """
  pad = size // 2
  padded = np.pad(images, [(0, 0)] * (images.ndim - 3) + [(pad, pad), (pad, pad), (0, 0)])
  h, w = images.shape[-3:-1]
  out = np.zeros_like(images)
  for dy in range(size):
    for dx in range(size):
      np.maximum(out, padded[..., dy : dy + h, dx : dx + w, :], out=out)
  return out


def domain_halves(num_examples: int) -> tuple[np.ndarray, np.ndarray]:
  """Disjoint index sets (A, B) of a split of `num_examples`, each sorted: half each."""
  order = np.random.default_rng(SPLIT_SEED).permutation(num_examples)
  half = num_examples // 2
  return np.sort(order[:half]), np.sort(order[half : 2 * half])


class MnistStyles(tfds.core.GeneratorBasedBuilder):
  """MNIST digits (domain A) and dilated MNIST digits (domain B), unpaired."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Domain B: 3x3 grey dilation; halves by a fixed permutation."}

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
      builder=self,
      description=__doc__,
      features=tfds.features.FeaturesDict(
        {
          "image": tfds.features.Image(shape=(28, 28, 1)),
          "label": tfds.features.ClassLabel(num_classes=10),
        }
      ),
      supervised_keys=("image", "label"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: built from the prepared mnist beside this dataset
    mnist = tfds.builder("mnist", data_dir=os.fspath(self.data_dir_root), file_format="array_record")
    splits = {}
    for mnist_split, suffix in (("train", "train"), ("test", "test")):
      records = mnist.as_data_source(split=mnist_split)
      half_a, half_b = domain_halves(len(records))
      splits[f"{suffix}A"] = self._generate_examples(records, half_a, thick=False)
      splits[f"{suffix}B"] = self._generate_examples(records, half_b, thick=True)
    return splits

  def _generate_examples(self, records, indices: np.ndarray, thick: bool):
    for i in indices:
      record = records[int(i)]
      image = np.asarray(record["image"], np.uint8)
      yield int(i), {"image": dilate(image) if thick else image, "label": int(record["label"])}


def prepare_mnist_styles(data_dir: str | os.PathLike) -> None:
  """Builds `mnist_styles` (array_record) in `data_dir`, preparing `mnist` there first. Offline."""
  from ganjax.data.offline_mnist import build_offline, prepare_mnist

  data_dir = os.fspath(data_dir)
  builder = MnistStyles(data_dir=data_dir, file_format="array_record")
  if builder.is_prepared():
    return
  prepare_mnist(data_dir)
  build_offline(builder, data_dir, "Building mnist_styles (MNIST's digits, thin and thick)")
