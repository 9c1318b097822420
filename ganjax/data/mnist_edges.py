"""`mnist_edges`: a paired TFDS dataset built offline from the prepared TFDS `mnist`.

Each example pairs a digit's edge map ('input') with the digit itself ('target'), both
uint8 [28, 28, 1], and keeps its class ('label'); train and test are MNIST's own splits
(60,000 and 10,000). The edge operator: the Sobel gradient magnitude of the intensities in
[0, 1] (3x3 kernels [1, 2, 1] x [-1, 0, 1], zero padding), thresholded at `EDGE_THRESHOLD`
(a quarter of a full black-to-white step, whose magnitude is 4), as 255 on 0. A stroke
becomes its outline, so translating back means filling the outline in with the right
thickness and grey levels: pix2pix's edges-to-photo task at MNIST scale.

Importing this module registers the builder with TFDS, so `tfds.builder('mnist_edges')`
works like any TFDS name; `prepare_mnist_edges(data_dir)` builds it (about a minute).
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

EDGE_THRESHOLD = 1.0
_SMOOTH = np.array([1.0, 2.0, 1.0])
_DERIVATIVE = np.array([-1.0, 0.0, 1.0])


def _correlate_3x3(image: np.ndarray, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
  """The separable 3x3 filter rows (x) columns over a zero-padded [H, W] image, same size."""
  padded = np.pad(image, 1)
  h, w = image.shape
  vertical = sum(rows[i] * padded[i : i + h, :] for i in range(3))
  return sum(columns[j] * vertical[:, j : j + w] for j in range(3))


def sobel_magnitude(image: np.ndarray) -> np.ndarray:
  """uint8 [H, W, 1] -> float64 [H, W]: |grad| of the intensities in [0, 1] by the Sobel operator."""
  x = image[..., 0].astype(np.float64) / 255.0
  gx = _correlate_3x3(x, _SMOOTH, _DERIVATIVE)
  gy = _correlate_3x3(x, _DERIVATIVE, _SMOOTH)
  return np.hypot(gx, gy)


def edge_map(image: np.ndarray, threshold: float = EDGE_THRESHOLD) -> np.ndarray:
  """uint8 [H, W, 1] digit -> uint8 [H, W, 1] edges: 255 where the Sobel magnitude >= threshold, else 0."""
  return np.where(sobel_magnitude(image) >= threshold, 255, 0).astype(np.uint8)[..., None]


class MnistEdges(tfds.core.GeneratorBasedBuilder):
  """MNIST digits paired with their Sobel edge maps (see the module docstring)."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Sobel magnitude >= 1.0 on intensities in [0, 1]; MNIST's train and test splits."}

  def _info(self) -> tfds.core.DatasetInfo:
    image = tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8)
    return self.dataset_info_from_configs(
      description="MNIST digits ('target') and their thresholded Sobel edge maps ('input').",
      features=tfds.features.FeaturesDict(
        {"input": image, "target": image, "label": tfds.features.ClassLabel(num_classes=10)}
      ),
      supervised_keys=("input", "target"),
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # nothing to download: the source is the prepared `mnist` beside this dataset
    from ganjax.data.offline_mnist import prepare_mnist

    root = os.fspath(self.data_dir_root)
    prepare_mnist(root)
    mnist = tfds.builder("mnist", data_dir=root, file_format="array_record")
    return {split: self._generate_examples(mnist.as_data_source(split=split)) for split in ("train", "test")}

  def _generate_examples(self, records):
    for index in range(len(records)):
      record = records[index]
      digit = np.asarray(record["image"], np.uint8)
      yield index, {"input": edge_map(digit), "target": digit, "label": int(record["label"])}


def prepare_mnist_edges(data_dir: str | os.PathLike) -> None:
  """Builds `mnist_edges` (array_record) in `data_dir`, and `mnist` first if needed, offline."""
  from ganjax.data.offline_mnist import build_offline, prepare_mnist

  builder = tfds.builder("mnist_edges", data_dir=os.fspath(data_dir), file_format="array_record")
  if builder.is_prepared():
    return
  prepare_mnist(data_dir)  # first, so its own line is not swallowed by the quiet build below
  build_offline(builder, data_dir, "Building mnist_edges (edge maps of MNIST's digits)")
