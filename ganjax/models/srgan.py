"""SRGAN's networks (Ledig et al. 2017): the SRResNet generator and the strided VGG-style discriminator.

Generator (SRResNet, fig. 4 of the paper): conv 9x9 w, PReLU; B residual blocks (conv 3x3 w,
BN, PReLU, conv 3x3 w, BN, + input); conv 3x3 w, BN, + the first PReLU's output; per x2
stage conv 3x3 4w, pixel shuffle x2, PReLU; conv 9x9 C out. The output is linear (no tanh):
it is trained towards images in [-1, 1] and clipped when shown or scored.

Discriminator: conv 3x3 w, LeakyReLU; seven conv 3x3 + BN + LeakyReLU blocks with
(channels, stride) (w, 2), (2w, 1), (2w, 2), (4w, 1), (4w, 2), (8w, 1), (8w, 2); Dense 16w,
LeakyReLU, Dense 1 (a logit). The paper's w is 64 (Dense 1024) and its B 16.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax.models.layers import Conv, Dense


def pixel_shuffle(x: jax.Array, factor: int) -> jax.Array:
  """Depth to space (Shi et al. 2016): [N, H, W, C * r * r] -> [N, H * r, W * r, C].

  Channel (i * r + j) * C + c becomes pixel (r * h + i, r * w + j) of channel c: TensorFlow's
  `depth_to_space` order, the one `SubPixelConvTranspose` uses.
  """
  n, h, w, channels = x.shape
  if channels % (factor * factor):
    raise ValueError(f"pixel_shuffle x{factor} needs channels divisible by {factor * factor}, got {channels}")
  c = channels // (factor * factor)
  x = x.reshape(n, h, w, factor, factor, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, h * factor, w * factor, c)


def upsampling_stages(upscale: int) -> int:
  """How many x2 pixel-shuffle stages make `upscale` (a power of two)."""
  stages = int(np.log2(upscale)) if upscale > 0 else -1
  if stages < 1 or 2**stages != upscale:
    raise ValueError(f"upscale must be a power of two of at least 2, got {upscale}")
  return stages


class SRResNet(nn.Module):
  """Low-resolution images [N, h, w, C] in [-1, 1] -> [N, h * upscale, w * upscale, channels]."""

  width: int = 64
  residual_blocks: int = 16
  upscale: int = 4
  channels: int = 3
  axis_name: str | None = None  # BatchNorm statistics averaged over this pmap axis

  def _bn(self, x: jax.Array, train: bool) -> jax.Array:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(x)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = nn.PReLU()(Conv(self.width, (9, 9), padding="SAME")(x))
    skip = x
    for _ in range(self.residual_blocks):
      y = nn.PReLU()(self._bn(Conv(self.width, (3, 3), padding="SAME", use_bias=False)(x), train))
      x = x + self._bn(Conv(self.width, (3, 3), padding="SAME", use_bias=False)(y), train)
    x = skip + self._bn(Conv(self.width, (3, 3), padding="SAME", use_bias=False)(x), train)
    for _ in range(upsampling_stages(self.upscale)):
      x = nn.PReLU()(pixel_shuffle(Conv(4 * self.width, (3, 3), padding="SAME")(x), 2))
    return Conv(self.channels, (9, 9), padding="SAME")(x).astype(jnp.float32)


# (channel multiple of the width, stride) of the discriminator's blocks after the first conv.
DISCRIMINATOR_BLOCKS = ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2))


class SRDiscriminator(nn.Module):
  """High-resolution images [N, H, W, C] in [-1, 1] -> logits [N] of "real"."""

  width: int = 64
  leak: float = 0.2
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    x = nn.leaky_relu(Conv(self.width, (3, 3), padding="SAME")(x), self.leak)
    for multiple, stride in DISCRIMINATOR_BLOCKS:
      x = Conv(multiple * self.width, (3, 3), (stride, stride), padding="SAME", use_bias=False)(x)
      x = nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(x)
      x = nn.leaky_relu(x, self.leak)
    x = nn.leaky_relu(Dense(16 * self.width)(x.reshape(x.shape[0], -1)), self.leak)
    return Dense(1)(x)[:, 0].astype(jnp.float32)
