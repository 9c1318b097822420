"""Two unpaired image domains from TFDS: `cycle_gan/<name>` or the offline `mnist_styles`.

Both keep domain A in the splits `trainA`/`testA` and domain B in `trainB`/`testB`
(TFDS's `cycle_gan` layout, which `ganjax.data.mnist_styles` copies). The training source
hands the loop one A image and one B image per example index, drawn independently: there
are no pairs, as CycleGAN assumes.
"""

from __future__ import annotations

import numpy as np

from ganjax.data import mnist_styles
from ganjax.data.pipeline import ImageSource, default_data_dir, load_source
from ganjax.errors import UsageError

SPLITS = ("train", "test")


def is_unpaired(dataset: str) -> bool:
  """Whether `dataset` names a two-domain dataset this module reads."""
  return dataset == mnist_styles.NAME or dataset.startswith("cycle_gan/")


def load_domains(
  dataset: str, split: str = "train", data_dir: str | None = None, image_size: int | None = None
) -> tuple[ImageSource, ImageSource]:
  """(domain A, domain B) of `split` ('train' or 'test'); `mnist_styles` is built offline on first use."""
  if not is_unpaired(dataset):
    raise UsageError(
      f"--dataset={dataset} has no two unpaired domains; use mnist_styles (built offline from "
      "MNIST) or a TFDS cycle_gan dataset such as cycle_gan/horse2zebra."
    )
  if split not in SPLITS:
    raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
  data_dir = data_dir or default_data_dir()
  if dataset == mnist_styles.NAME:
    mnist_styles.prepare_mnist_styles(data_dir)
  a, b = (load_source(dataset, f"{split}{domain}", data_dir, image_size) for domain in "AB")
  if a.image_shape != b.image_shape:
    raise UsageError(
      f"--dataset={dataset}'s domains have images of shapes {a.image_shape} and {b.image_shape}; "
      "pass --image_size to resize both to one square size."
    )
  return a, b


class UnpairedSource:
  """Example i: domain A's image i mod |A| and domain B's image perm(i mod |B|).

  `perm` is a fixed permutation of B drawn from the seed, so whatever order the two splits
  were stored in, the A and B images that share a batch are unrelated. `read` gives uint8
  {'a': [n, H, W, C], 'b': [n, H, W, C]}; labels are left out, training never sees them.
  """

  def __init__(self, domain_a: ImageSource, domain_b: ImageSource, seed: int):
    self.domain_a, self.domain_b = domain_a, domain_b
    self.image_shape = domain_a.image_shape
    self.b_order = np.random.default_rng([seed, len(domain_b)]).permutation(len(domain_b))

  def __len__(self) -> int:
    return max(len(self.domain_a), len(self.domain_b))

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]:
    indices = np.asarray(indices)
    return {
      "a": self.domain_a.read(indices % len(self.domain_a))["image"],
      "b": self.domain_b.read(self.b_order[indices % len(self.domain_b)])["image"],
    }
