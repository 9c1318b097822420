"""Layers shared by the model families."""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax import rng
from ganjax.models import initializers

# flax's Conv and Dense with their default initialiser (LeCun normal) drawn the faster way
# (ganjax.models.initializers): the same parameters, bit for bit, and the same names.
Conv = functools.partial(nn.Conv, kernel_init=initializers.lecun_normal())
Dense = functools.partial(nn.Dense, kernel_init=initializers.lecun_normal())


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

  With `conv_backend='onednn'` a layer of several output channels is oneDNN's own transposed
  convolution instead (the data gradient of the 'SAME' convolution it transposes): 1.1-1.7x
  faster there than the sub-pixel form, which computes 36 taps per output for the 25 of a 5x5
  kernel. A layer to one channel (an image) keeps the sub-pixel form, 1.4x faster on oneDNN.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  use_bias: bool = True
  kernel_init: Callable = initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros
  conv_backend: str = "xla"  # or "onednn" (ganjax.kernels.onednn): who computes the convolution

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """x: [N, H, W, C_in] -> [N, H*sh, W*sw, features]."""
    (kh, kw), (sh, sw) = self.kernel_size, self.strides
    kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features))
    if self.conv_backend == "onednn" and self.features > 1:
      return self._onednn_transposed(x, kernel)
    select_h, lo_h, hi_h = _phase_taps(kh, sh)
    select_w, lo_w, hi_w = _phase_taps(kw, sw)
    # Phase filters [th, tw, in, sh, sw, out], flattened so phases become channels.
    phase_kernel = jnp.einsum("atk,bul,klio->tuiabo", select_h, select_w, kernel.astype(x.dtype))
    th, tw = phase_kernel.shape[:2]
    phase_kernel = phase_kernel.reshape(th, tw, x.shape[-1], sh * sw * self.features)
    y = convolution(x, phase_kernel, (1, 1), ((lo_h, hi_h), (lo_w, hi_w)), self.conv_backend)
    n, h, w, _ = y.shape
    y = y.reshape(n, h, w, sh, sw, self.features).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(n, h * sh, w * sw, self.features)
    return self._add_bias(y)

  def _add_bias(self, y: jax.Array) -> jax.Array:
    if self.use_bias:
      y = y + self.param("bias", self.bias_init, (self.features,)).astype(y.dtype)
    return y

  def _onednn_transposed(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
    from ganjax.kernels import onednn

    # nn.ConvTranspose (kernel not flipped) is the data gradient of the 'SAME' convolution from
    # its output back to its input whose kernel is this one mirrored, inputs and outputs swapped.
    n, h, w, _ = x.shape
    out_shape = (n, h * self.strides[0], w * self.strides[1], self.features)
    mirrored = jnp.flip(kernel.astype(jnp.float32), (0, 1)).transpose(0, 1, 3, 2)
    pads = tuple(jax.lax.padtype_to_pads(out_shape[1:3], self.kernel_size, self.strides, "SAME"))
    y = onednn.conv_data_grad(x.astype(jnp.float32), mirrored, out_shape, tuple(self.strides), pads)
    return self._add_bias(y.astype(x.dtype))


_NHWC = ("NHWC", "HWIO", "NHWC")


def convolution(x: jax.Array, kernel: jax.Array, strides, padding, backend: str) -> jax.Array:
  """NHWC x, HWIO kernel, explicit padding: XLA's convolution, or oneDNN's (`backend='onednn'`)."""
  if backend == "onednn":
    from ganjax.kernels import onednn

    return onednn.conv(x, kernel, tuple(strides), tuple(tuple(p) for p in padding)).astype(x.dtype)
  return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=_NHWC)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
  """(output size, low padding) of a 'SAME' convolution along one axis, as XLA pads it."""
  out = -(-size // stride)
  return out, max((out - 1) * stride + kernel - size, 0) // 2


def _input_phase_taps(size: int, kernel: int, stride: int) -> tuple[np.ndarray, int]:
  """For the input gradient of a 'SAME' strided convolution along one axis: which kernel tap
  carries output gradient o to input phase a.

  Forward, y[o] = sum_k w[k] x[stride*o + k - lo]; so input i = stride*m + a receives
  w[k] dy[o] wherever k = stride*(m - o) + a + lo, i.e. dx_a[m] = sum_t w[stride*t + a + lo]
  dy[m - t]: a stride-1 correlation of dy per phase. Returns a one-hot selection
  [stride, taps, kernel] (taps in correlation order) and the low padding of dy.
  """
  _, lo = _same_padding(size, kernel, stride)
  shifts = {(a, k): (k - a - lo) // stride for a in range(stride) for k in range(kernel) if (k - a - lo) % stride == 0}
  t_min, t_max = min(shifts.values()), max(shifts.values())
  select = np.zeros((stride, t_max - t_min + 1, kernel), np.float32)
  for (a, k), t in shifts.items():
    select[a, t_max - t, k] = 1.0
  return select, t_max


def _strided_conv_input_grad(
  dy: jax.Array, kernel: jax.Array, x_shape: tuple[int, ...], strides: tuple[int, int]
) -> jax.Array:
  """dL/dx of `_strided_conv` from dL/dy, as one stride-1 convolution plus depth-to-space."""
  n, h, w, c = x_shape
  (kh, kw), (sh, sw) = kernel.shape[:2], strides
  select_h, lo_h = _input_phase_taps(h, kh, sh)
  select_w, lo_w = _input_phase_taps(w, kw, sw)
  th, tw = select_h.shape[1], select_w.shape[1]
  # Phase filters [th, tw, out_ch, sh, sw, in_ch]: each phase's taps, output channels in.
  phase_kernel = jnp.einsum("atk,bul,klcf->tufabc", select_h, select_w, kernel.astype(dy.dtype))
  phase_kernel = phase_kernel.reshape(th, tw, kernel.shape[-1], sh * sw * c)
  mh, mw = -(-h // sh), -(-w // sw)  # phase rows and columns (the last may overhang x)
  pad_h = (lo_h, mh + th - 2 - lo_h - (dy.shape[1] - 1))
  pad_w = (lo_w, mw + tw - 2 - lo_w - (dy.shape[2] - 1))
  z = jax.lax.conv_general_dilated(dy, phase_kernel, (1, 1), (pad_h, pad_w), dimension_numbers=_NHWC)
  z = z.reshape(n, mh, mw, sh, sw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, mh * sh, mw * sw, c)
  return z[:, :h, :w]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _strided_conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int]) -> jax.Array:
  return jax.lax.conv_general_dilated(x, kernel, strides, "SAME", dimension_numbers=_NHWC)


def _strided_conv_fwd(x, kernel, strides):
  return _strided_conv(x, kernel, strides), (x, kernel)


def _strided_conv_bwd(strides, residuals, dy):
  x, kernel = residuals
  _, kernel_vjp = jax.vjp(
    lambda k: jax.lax.conv_general_dilated(x, k, strides, "SAME", dimension_numbers=_NHWC), kernel
  )
  return _strided_conv_input_grad(dy, kernel, x.shape, strides), kernel_vjp(dy)[0]


_strided_conv.defvjp(_strided_conv_fwd, _strided_conv_bwd)


class StridedConv(nn.Module):
  """`nn.Conv(padding='SAME')` with a stride, whose input gradient avoids a dilated convolution.

  Same parameters (`kernel` [kh, kw, in, out], `bias` [out]), outputs and gradients as
  `nn.Conv` (tests/test_layers.py checks both, and gradients of gradients, which WGAN-GP and
  R1 take). The forward pass and the kernel gradient are XLA's; the input gradient, which
  XLA:CPU computes as a convolution over a zero-dilated gradient (a slow path, about 2.5x
  slower here), is computed as a stride-1 convolution per input phase plus depth-to-space,
  the transposed convolution's sub-pixel form.
  """

  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (2, 2)
  use_bias: bool = True
  kernel_init: Callable = initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros
  conv_backend: str = "xla"  # or "onednn": the forward pass and both gradients on oneDNN

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param("kernel", self.kernel_init, (*self.kernel_size, x.shape[-1], self.features))
    if self.conv_backend == "xla":
      y = _strided_conv(x, kernel.astype(x.dtype), tuple(self.strides))
    else:
      pads = jax.lax.padtype_to_pads(x.shape[1:3], self.kernel_size, self.strides, "SAME")
      y = convolution(x, kernel.astype(x.dtype), self.strides, pads, self.conv_backend)
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
  maps = jnp.broadcast_to(
    jax.nn.one_hot(labels, num_classes, dtype=x.dtype)[:, None, None, :], (*x.shape[:-1], num_classes)
  )
  return jnp.concatenate([x, maps], axis=-1)


def projection(features: jax.Array, labels: jax.Array | None, num_classes: int) -> jax.Array:
  """Miyato & Koyama 2018, eq. 3: the inner product of a class embedding with D's features, [N]."""
  if labels is None:
    raise ValueError("a conditional discriminator needs labels")
  embedding = nn.Embed(num_classes, features.shape[-1], name="label_projection")(labels)
  return jnp.sum(embedding * features, axis=-1)
