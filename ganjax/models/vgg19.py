"""VGG19's convolutional layers (Simonyan & Zisserman 2015) in Flax, with a loader for Keras' weight files.

SRGAN's perceptual loss (Ledig et al. 2017, "VGG54") compares the feature maps after the
4th convolution's ReLU before the 5th max-pool: `block5_conv4` in Keras' layer names, which
this module keeps. ganjax neither ships nor downloads ImageNet weights: the user passes
Keras' file (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`, or the one with the top),
in the legacy Keras 2 HDF5 layout, or a Keras 3 `.weights.h5` saved from
`keras.applications.VGG19`. Inputs are what Keras' model takes: `preprocess` gives them.
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax.errors import UsageError

# Keras' layer names, in order: (block, convolutions), channels double per block up to 512.
BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 4, 256), (4, 4, 512), (5, 4, 512))
CONV_NAMES = tuple(f"block{b}_conv{i}" for b, n, _ in BLOCKS for i in range(1, n + 1))
# Keras' 'caffe' preprocessing for VGG: BGR channels minus the ImageNet means, in 0-255.
BGR_MEANS = np.array([103.939, 116.779, 123.68], np.float32)


def preprocess(images: jax.Array) -> jax.Array:
  """RGB [N, H, W, 3] in [-1, 1] -> VGG19's input: BGR in 0-255 less the ImageNet means."""
  rgb = (images + 1.0) * 127.5
  return rgb[..., ::-1] - BGR_MEANS


class VGG19(nn.Module):
  """Preprocessed images [N, H, W, 3] -> the ReLU output of `layer` (default block5_conv4)."""

  layer: str = "block5_conv4"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.layer not in CONV_NAMES:
      raise ValueError(f"layer must be one of {CONV_NAMES}, not {self.layer!r}")
    for block, convs, channels in BLOCKS:
      if block > 1:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for i in range(1, convs + 1):
        name = f"block{block}_conv{i}"
        x = nn.relu(nn.Conv(channels, (3, 3), padding="SAME", name=name)(x))
        if name == self.layer:
          return x
    raise AssertionError("unreachable")


def _legacy_layers(group) -> dict[str, list[np.ndarray]]:
  """Keras 2's layout: attrs 'layer_names', each layer's 'weight_names' in order (kernel, bias)."""
  out = {}
  for raw in group.attrs["layer_names"]:
    name = raw.decode() if isinstance(raw, bytes) else str(raw)
    weight_names = [w.decode() if isinstance(w, bytes) else str(w) for w in group[name].attrs["weight_names"]]
    out[name] = [np.asarray(group[name][w]) for w in weight_names]
  return out


def _keras3_convolutions(group) -> list[list[np.ndarray]]:
  """Keras 3's `.weights.h5`: layers/<class>_<n>/vars/<i>; the convolutions in creation order."""
  convs = []
  for name, layer in group["layers"].items():
    if "vars" in layer and "0" in layer["vars"] and layer["vars"]["0"].ndim == 4:
      index = int(name.rsplit("_", 1)[1]) if name.rsplit("_", 1)[-1].isdigit() else 0
      convs.append((index, [np.asarray(layer["vars"][str(i)]) for i in range(len(layer["vars"]))]))
  return [weights for _, weights in sorted(convs, key=lambda item: item[0])]


def _conv_params(name: str, weights: list[np.ndarray], in_channels: int, channels: int) -> dict:
  kernel = next((w for w in weights if w.ndim == 4), None)
  bias = next((w for w in weights if w.ndim == 1), None)
  if kernel is None or bias is None or kernel.shape != (3, 3, in_channels, channels) or bias.shape != (channels,):
    raise ValueError(
      f"{name} holds {[w.shape for w in weights]}, not a 3x3 kernel {in_channels}->{channels} and its bias"
    )
  return {"kernel": jnp.asarray(kernel, jnp.float32), "bias": jnp.asarray(bias, jnp.float32)}


def load_keras_weights(path: str) -> dict:
  """Flax params of `VGG19` (every convolution) from a Keras VGG19 weight file.

  Raises UsageError, one sentence, when the file is missing, unreadable or not VGG19's.
  """
  import h5py

  if not path:
    raise UsageError(
      "--feature_network=vgg19 needs ImageNet weights: pass --vgg19_weights=PATH to Keras' "
      "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (ganjax downloads nothing)."
    )
  if not os.path.isfile(path):
    raise UsageError(f"--vgg19_weights={path} is not a file; pass the path of Keras' VGG19 weight file (.h5).")
  try:
    with h5py.File(path, "r") as f:
      group = f["model_weights"] if "model_weights" in f else f  # a whole saved model keeps them there
      if "layer_names" in group.attrs:
        layers = _legacy_layers(group)
        convolutions = [layers.get(name) for name in CONV_NAMES]
        if any(c is None for c in convolutions):
          missing = [n for n, c in zip(CONV_NAMES, convolutions) if c is None]
          raise ValueError(f"no layer {missing[0]}")
      elif "layers" in group:
        convolutions = _keras3_convolutions(group)
      else:
        raise ValueError("neither the Keras 2 nor the Keras 3 weight layout")
      if len(convolutions) != len(CONV_NAMES):
        raise ValueError(f"{len(convolutions)} convolutions, VGG19 has {len(CONV_NAMES)}")
      params, in_channels = {}, 3
      channels = [c for _, n, c in BLOCKS for _ in range(n)]
      for name, weights, out_channels in zip(CONV_NAMES, convolutions, channels):
        params[name] = _conv_params(name, weights, in_channels, out_channels)
        in_channels = out_channels
      return params
  except (OSError, KeyError, ValueError) as e:
    raise UsageError(
      f"--vgg19_weights={path} is not a Keras VGG19 weight file ({str(e).splitlines()[0][:120]}); "
      "pass vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5."
    ) from e
