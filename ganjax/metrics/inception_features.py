"""The standard FID feature network: InceptionV3 with the published FID weights, read from a local file.

The weights are pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (TensorFlow's 2015
Inception, ported to PyTorch); the user downloads it once and passes its path, nothing is
fetched here. It is read without PyTorch (`torch_file`) and mapped onto the Flax module by
name: `Mixed_6b.branch7x7_2.conv.weight` [O, I, H, W] becomes
`params/Mixed_6b/branch7x7_2/conv/kernel` [H, W, I, O], BatchNorm's weight/bias/running
mean/running var become scale/bias and batch_stats mean/var, `fc.weight` is transposed.

The pipeline is the standard one: samples -> uint8 (rounded, clipped) -> float [0, 1] ->
grey replicated to RGB -> bilinear resize to 299x299 -> [-1, 1] -> pool3 (2048-d). Every
number computed on it carries the suffix `_inception`.
"""

from __future__ import annotations

import functools
import hashlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ganjax.errors import UsageError
from ganjax.images import to_uint8
from ganjax.metrics import inception, torch_file

PUBLISHED_NAME = "pt_inception-2015-12-05-6726825d.pth"
PUBLISHED_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{PUBLISHED_NAME}"
# Counters PyTorch's BatchNorm keeps for training; the network never uses them.
_IGNORED_SUFFIXES = (".num_batches_tracked",)


def _torch_name(path: tuple[str, ...]) -> tuple[str, bool]:
  """Flax variable path (collection, module..., leaf) -> (state-dict key, transpose needed)."""
  collection, *modules, leaf = path
  prefix = ".".join(modules)
  if collection == "batch_stats":
    return f"{prefix}.running_{leaf}", False
  if leaf == "kernel":
    return f"{prefix}.weight", True
  return f"{prefix}.{'weight' if leaf == 'scale' else leaf}", False


def _from_torch_layout(array: np.ndarray) -> np.ndarray:
  # Conv weights are [O, I, H, W] in PyTorch and [H, W, I, O] in Flax; Linear is [O, I] vs [I, O].
  return np.transpose(array, (2, 3, 1, 0)) if array.ndim == 4 else array.T


def _torch_shape(flax_shape: tuple[int, ...]) -> tuple[int, ...]:
  return (flax_shape[3], flax_shape[2], flax_shape[0], flax_shape[1]) if len(flax_shape) == 4 else flax_shape[::-1]


def variables_from_state_dict(state_dict: dict[str, np.ndarray], source: str = "The state dict") -> dict:
  """pytorch-fid's state dict {name: array} -> Flax {'params', 'batch_stats'} of `FIDInceptionV3`."""
  template = jax.eval_shape(inception.init_variables, jax.random.key(0))
  flat = {}
  for key_path, leaf in jax.tree_util.tree_flatten_with_path(template)[0]:
    path = tuple(k.key for k in key_path)
    name, transpose = _torch_name(path)
    if name not in state_dict:
      raise UsageError(f"{source} lacks the tensor {name}: it is not pytorch-fid's {PUBLISHED_NAME}.")
    array = np.asarray(state_dict[name])
    expected = _torch_shape(leaf.shape) if transpose else leaf.shape
    if array.shape != expected:
      raise UsageError(
        f"{source} holds {name} with shape {list(array.shape)} where the FID Inception has "
        f"{list(expected)}: it is not pytorch-fid's {PUBLISHED_NAME}."
      )
    flat[path] = np.asarray(_from_torch_layout(array) if transpose else array, np.float32)
  used = {_torch_name(p)[0] for p in flat}
  extra = sorted(k for k in state_dict if k not in used and not k.endswith(_IGNORED_SUFFIXES))
  if extra:
    raise UsageError(
      f"{source} holds tensors the FID Inception does not have ({', '.join(extra[:3])}"
      f"{', ...' if len(extra) > 3 else ''}): it is not pytorch-fid's {PUBLISHED_NAME}."
    )
  return jax.tree_util.tree_map_with_path(lambda kp, _: flat[tuple(k.key for k in kp)], template)


@functools.lru_cache(maxsize=2)
def load_variables(path: str) -> dict:
  """The FID Inception's {'params', 'batch_stats'} from a pytorch-fid .pth file, read once per process."""
  if not path:
    raise UsageError(
      "--feature_network=inception needs --inception_weights=<path to "
      f"{PUBLISHED_NAME}>, downloaded once from {PUBLISHED_URL}."
    )
  if not os.path.exists(path):
    raise UsageError(
      f"The Inception weights file {path} does not exist; download {PUBLISHED_NAME} "
      f"from {PUBLISHED_URL} and pass its path as --inception_weights."
    )
  try:
    state_dict = torch_file.load(path)
  except OSError as e:
    raise UsageError(f"Cannot read the Inception weights file {path} ({e.strerror or e}).") from e
  except torch_file.TorchFileError as e:
    raise UsageError(
      f"The Inception weights file {path} is not a readable PyTorch state dict: {e}; download {PUBLISHED_NAME} again."
    ) from e
  variables = variables_from_state_dict(state_dict, f"The Inception weights file {path}")
  return jax.device_put(variables)  # once, not with every batch


@functools.lru_cache(maxsize=8)
def weights_digest(path: str) -> str:
  """The first 8 hex digits of the file's SHA-256 (the published file's name ends in them: 6726825d)."""
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()[:8]


@jax.jit
def pool3_and_logits(variables: dict, images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """uint8 [N, H, W, 1 or 3] -> (pool3 [N, 2048], logits [N, 1008]); any H, W (resized to 299)."""
  x = images.astype(jnp.float32) / 255.0
  if x.shape[-1] == 1:
    x = jnp.repeat(x, 3, axis=-1)
  return inception.FIDInceptionV3().apply(variables, x)


def check_images(images: np.ndarray) -> None:
  """Raises UsageError unless images are float [N, H, W, 1 or 3] in [-1, 1]."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
    raise UsageError(f"The Inception feature network takes images [N, H, W, 1 or 3], got {images.shape}.")
  if not np.issubdtype(images.dtype, np.floating):
    raise UsageError(f"The Inception feature network takes float images in [-1, 1], got dtype {images.dtype}.")
  low, high = float(np.min(images)), float(np.max(images))
  if low < -1.0 - 1e-3 or high > 1.0 + 1e-3:
    raise UsageError(f"The Inception feature network takes images in [-1, 1], got values in [{low:.3g}, {high:.3g}].")


def uint8_features(images: np.ndarray, variables: dict, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
  """uint8 [N, H, W, 1 or 3] -> (pool3 [N, 2048], logits [N, 1008]) as float32 NumPy arrays.

  Every batch has `batch_size` images (the last one padded) so the network compiles once.
  """
  pool3, logits = [], []
  for start in range(0, len(images), batch_size):
    batch = images[start : start + batch_size]
    padded = np.concatenate([batch, np.zeros((batch_size - len(batch), *batch.shape[1:]), np.uint8)])
    p, l = pool3_and_logits(variables, jnp.asarray(padded))
    pool3.append(np.asarray(p)[: len(batch)])
    logits.append(np.asarray(l)[: len(batch)])
  return np.concatenate(pool3), np.concatenate(logits)


def features_and_probabilities(images: np.ndarray, weights: str, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
  """images float [N, H, W, 1 or 3] in [-1, 1] -> (pool3 [N, 2048], class probabilities [N, 1008])."""
  images = np.asarray(images)
  check_images(images)
  variables = load_variables(weights)
  pool3, logits = uint8_features(to_uint8(images), variables, batch_size)
  # The Inception Score's reference code (Salimans et al. 2016) takes the softmax of pool3
  # times the classifier's weights without its bias; so do we, so IS values compare.
  unbiased = logits.astype(np.float64) - np.asarray(variables["params"]["fc"]["bias"], np.float64)
  return pool3, scipy.special.softmax(unbiased, axis=1)
