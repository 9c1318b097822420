"""The shipped MNIST classifier as a feature network: penultimate features and class probabilities.

The weights (`weights/mnist_classifier.msgpack`, made by `python -m experiments.mnist_classifier`,
its test accuracy in the `.json` beside them) ship with ganjax, so evaluation needs no
training and no network. Every number computed on them carries the suffix `_mnist`.
"""

from __future__ import annotations

import functools
import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError
from ganjax.models.classifier import MnistClassifier

WEIGHTS = os.path.join(os.path.dirname(__file__), "weights", "mnist_classifier.msgpack")


@functools.lru_cache(maxsize=4)
def load_params(path: str = WEIGHTS):
  """The classifier's params, read once per process."""
  # The structure alone (shapes, no values): initialising would draw and compile for nothing.
  template = jax.eval_shape(MnistClassifier().init, jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  try:
    with open(path, "rb") as f:
      return flax.serialization.from_bytes(template, f.read())
  except (OSError, ValueError, KeyError) as e:
    raise UsageError(
      f"Cannot read the MNIST classifier weights {path} ({type(e).__name__}); reinstall "
      "ganjax or rebuild them with python -m experiments.mnist_classifier."
    ) from e


@jax.jit
def _apply(params, images):
  features, logits = MnistClassifier().apply({"params": params}, images)
  return features, jax.nn.softmax(logits)


def check_images(images: np.ndarray) -> None:
  """Raises UsageError unless images are float [N, 28, 28, 1] in [-1, 1]."""
  if images.ndim != 4 or images.shape[1:] != (28, 28, 1):
    raise UsageError(f"The MNIST feature network takes images [N, 28, 28, 1], got {images.shape}.")
  if not np.issubdtype(images.dtype, np.floating):
    raise UsageError(f"The MNIST feature network takes float images in [-1, 1], got dtype {images.dtype}.")
  low, high = float(np.min(images)), float(np.max(images))
  if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
    raise UsageError(f"The MNIST feature network takes images in [-1, 1], got values in [{low:.3g}, {high:.3g}].")


def features_and_probabilities(
  images: np.ndarray, batch_size: int = 1000, path: str = WEIGHTS
) -> tuple[np.ndarray, np.ndarray]:
  """images float [N, 28, 28, 1] in [-1, 1] -> (features [N, 256], probabilities [N, 10])."""
  images = np.asarray(images)
  check_images(images)
  params = load_params(path)
  outputs = [
    _apply(params, jnp.asarray(images[i : i + batch_size], jnp.float32)) for i in range(0, len(images), batch_size)
  ]
  return (np.concatenate([np.asarray(f) for f, _ in outputs]), np.concatenate([np.asarray(p) for _, p in outputs]))
