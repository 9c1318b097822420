"""Layers shared by the model families."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax import rng


def _phase_taps(kernel: int, stride: int) -> tuple[np.ndarray, int, int]:
  """For a 'SAME' transposed convolution along one axis, which kernel tap feeds which phase.

  `lax.conv_transpose` (as `nn.ConvTranspose` calls it, kernel not flipped) computes
  out[o] = sum_k w[k] * xd[o + k - pad], xd the input dilated by `stride`. Output
  o = stride*m + a only meets real inputs where (a + k - pad) % stride == 0, at input
  m + (a + k - pad) // stride. Returns a one-hot selection [stride, taps, kernel] mapping
  each phase's stride-1 filter taps to original kernel taps, plus the low/high padding.
  """
  pad_len = kernel + stride - 2
  pad = kernel - 1 if stride > kernel - 1 else int(np.ceil(pad_len / 2))
  offsets = {}
  for a in range(stride):
    for k in range(kernel):
      if (a + k - pad) % stride == 0:
        offsets[(a, k)] = (a + k - pad) // stride
  lo, hi = min(offsets.values()), max(offsets.values())
  select = np.zeros((stride, hi - lo + 1, kernel), np.float32)
  for (a, k), t in offsets.items():
    select[a, t - lo, k] = 1.0
  return select, -lo, hi


class SubPixelConvTranspose(nn.Module):
  """`nn.ConvTranspose(padding='SAME')` computed as a stride-1 conv plus depth-to-space.

  Same parameters (`kernel` [kh, kw, in, out], `bias` [out]), same outputs and gradients
  as `nn.ConvTranspose` with those parameters (tests/test_layers.py checks both), but
  no dilated input: XLA's CPU backward pass of a strided transposed convolution is several
  times slower than that of a plain convolution over the un-dilated input.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  use_bias: bool = True
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [N, H, W, C_in] -> [N, H*sh, W*sw, features]."""
    (kh, kw), (sh, sw) = self.kernel_size, self.strides
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
    select_h, lo_h, hi_h = _phase_taps(kh, sh)
    select_w, lo_w, hi_w = _phase_taps(kw, sw)
    # Phase filters [th, tw, in, sh, sw, out], flattened so phases become channels.
    phase_kernel = jnp.einsum("atk,bul,klio->tuiabo", select_h, select_w, kernel.astype(x.dtype))
    th, tw = phase_kernel.shape[:2]
    phase_kernel = phase_kernel.reshape(th, tw, x.shape[-1], sh * sw * self.features)
    y = jax.lax.conv_general_dilated(
        x, phase_kernel, window_strides=(1, 1), padding=((lo_h, hi_h), (lo_w, hi_w)),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    n, h, w, _ = y.shape
    y = y.reshape(n, h, w, sh, sw, self.features).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(n, h * sh, w * sw, self.features)
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,)).astype(y.dtype)
    return y


class Dropout(nn.Module):
  """Inverted dropout whose mask for an example depends on its global index, not the split.

  `nn.Dropout` draws one mask for the device's whole shard, so the same global batch gets
  different masks on 1 and on 4 devices; here example i always gets the same mask.
  """

  rate: float
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, deterministic: bool) -> jax.Array:
    if deterministic or self.rate == 0.0:
      return x
    keep = rng.example_bernoulli(self.make_rng("dropout"), 1.0 - self.rate, x.shape, self.axis_name)
    return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros_like(x))


def normalized(layer: nn.Module, spectral_norm: bool, x: jax.Array, train: bool) -> jax.Array:
  """`layer(x)`, with its kernel divided by its largest singular value when asked.

  Miyato et al. 2018: one power iteration per call, its vector kept in the 'batch_stats'
  collection (updated in training, read in evaluation).
  """
  if spectral_norm:
    # A named layer names its wrapper, so the wrapper's statistics keep their place in the
    # tree whatever else a call builds first (progressive growing calls layers in varying order).
    name = f"SpectralNorm_{layer.name}" if layer.name else None
    return nn.SpectralNorm(layer, name=name)(x, update_stats=train)
  return layer(x)


def label_input(z: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """G's input: z, joined by a learned embedding of the labels when conditional.

  Mirza & Osindero 2014 feed the label into G's first layer beside z; an embedding of
  `num_classes` dimensions is a learned one-hot.
  """
  if not num_classes:
    return z
  if labels is None:
    raise ValueError("a conditional generator needs labels")
  embedding = nn.Embed(num_classes, num_classes, name="label_embedding")(labels)
  return jnp.concatenate([z, embedding.astype(z.dtype)], axis=-1)


def label_channels(x: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """Images [N, H, W, C] with the one-hot label appended as constant maps: [N, H, W, C + classes]."""
  if labels is None:
    raise ValueError("a conditional discriminator needs labels")
  maps = jnp.broadcast_to(jax.nn.one_hot(labels, num_classes, dtype=x.dtype)[:, None, None, :],
                          (*x.shape[:-1], num_classes))
  return jnp.concatenate([x, maps], axis=-1)


def projection(features: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """Miyato & Koyama 2018, eq. 3: the inner product of a class embedding with D's features, [N]."""
  if labels is None:
    raise ValueError("a conditional discriminator needs labels")
  embedding = nn.Embed(num_classes, features.shape[-1], name="label_projection")(labels)
  return jnp.sum(embedding * features, axis=-1)
