"""Paired images (condition, target) from any TFDS dataset by name, for image-to-image models.

The two features are named by `--input_feature` and `--target_feature`; both must be uint8
images [H, W, C] of one size. `mnist_edges` (ganjax.data.mnist_edges) is built offline here;
any other paired dataset is read from TFDS's data dir like `ganjax.data.pipeline.load_source`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ganjax.data.pipeline import open_builder
from ganjax.errors import UsageError


class PairedSource:
  """`read(indices)` -> {'input': uint8 [n, H, W, C], 'target': uint8 [n, H, W, C'], 'label': int32 [n]
  where the dataset has labels}. The loop's batches turn both images into float32 in [-1, 1]."""

  def __init__(self, records: Sequence, input_feature: str, target_feature: str, dataset: str):
    self.records = records
    self.keys = {"input": input_feature, "target": target_feature}
    first = records[0]
    for name in self.keys.values():
      if name not in first:
        raise UsageError(
          f"--dataset={dataset} has no feature '{name}' (it has {', '.join(sorted(first))}); "
          "name its two images with --input_feature and --target_feature."
        )
      image = np.asarray(first[name])
      if image.ndim != 3 or image.dtype != np.uint8:
        raise UsageError(
          f"The feature '{name}' of --dataset={dataset} is {image.dtype} {image.shape}, not a uint8 "
          "image [H, W, C]; pick two image features."
        )
    shapes = {k: np.asarray(first[name]).shape for k, name in self.keys.items()}
    if shapes["input"][:2] != shapes["target"][:2]:
      raise UsageError(
        f"--dataset={dataset}'s input is {shapes['input'][:2]} and its target {shapes['target'][:2]}; "
        "image-to-image models need one size."
      )
    self.input_shape, self.target_shape = shapes["input"], shapes["target"]
    self.has_labels = "label" in first

  def __len__(self) -> int:
    return len(self.records)

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    rows = [self.records[int(i)] for i in indices]
    out = {k: np.stack([np.asarray(r[name]) for r in rows]) for k, name in self.keys.items()}
    if out["input"].shape[1:] != self.input_shape or out["target"].shape[1:] != self.target_shape:
      raise UsageError("The dataset mixes image shapes; resize it to one shape first.")
    if self.has_labels:
      out["label"] = np.asarray([r["label"] for r in rows], np.int32)
    return out


def load_paired_source(
  dataset: str, split: str, data_dir: str | None, input_feature: str, target_feature: str
) -> PairedSource:
  """Opens `split` of `dataset`; `mnist_edges` is built offline on first use."""
  from ganjax.data import mnist_edges  # registers the builder

  prepare_offline = mnist_edges.prepare_mnist_edges if dataset == "mnist_edges" else None
  builder = open_builder(dataset, data_dir, "mnist_edges", prepare_offline)
  try:
    records = builder.as_data_source(split=split)
  except (KeyError, ValueError) as e:
    raise UsageError(f"--dataset={dataset} has no '{split}' split; image-to-image evaluation needs one.") from e
  return PairedSource(records, input_feature, target_feature, dataset)
