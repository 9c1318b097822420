"""The U-Net generator of pix2pix (Isola et al. 2017), sized for small images.

An encoder of 4x4 stride-2 convolutions (BatchNorm but on the first, LeakyReLU 0.2) halves
the image down to 1x1; a decoder of 4x4 stride-2 transposed convolutions (BatchNorm, ReLU)
doubles it back, each decoder level concatenating the encoder's output of the same
resolution (the skip connections), and a last transposed convolution with tanh gives the
image. Channels: width x (1, 2, 4, 8, 8, ...), capped at 8 x width, as the paper's
C64-C128-C256-C512-C512... The first `dropout_levels` decoder levels (the coarsest) apply
dropout: pix2pix's only source of noise, as G takes no z.

For 28x28 MNIST the image is padded with the background value -1 to 32x32, five levels
32 -> 16 -> 8 -> 4 -> 2 -> 1 bring it to 1x1 (the paper's full-depth U-Net, as for 256x256
with eight), and the output is cropped back to 28x28. Any size whose padding to the next
power of two is at least 2 x 2 works.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models import initializers
from ganjax.models.layers import Dropout, SubPixelConvTranspose

MAX_WIDTH_FACTOR = 8


def padded_size(size: int) -> int:
  """The power of two the U-Net pads a side of `size` pixels to."""
  return 1 << max(1, (size - 1).bit_length())


class UNet(nn.Module):
  """[N, H, W, C_in] in [-1, 1] -> [N, H, W, out_channels] in [-1, 1].

  `train` turns on dropout (key from the 'dropout' rng) and BatchNorm's batch statistics.
  """

  out_channels: int = 1
  width: int = 64
  dropout: float = 0.5
  dropout_levels: int = 2
  leak: float = 0.2
  axis_name: str | None = None  # BatchNorm statistics and dropout keys over this pmap axis
  kernel_init: initializers.Initializer = initializers.normal(0.02)  # pix2pix: N(0, 0.02)

  def _norm(self, x: jax.Array, train: bool) -> jax.Array:
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(x)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    n, h, w, _ = x.shape
    side = padded_size(max(h, w))
    top, left = (side - h) // 2, (side - w) // 2
    x = jnp.pad(x, ((0, 0), (top, side - h - top), (left, side - w - left), (0, 0)), constant_values=-1.0)
    levels = side.bit_length() - 1  # halvings down to 1x1
    skips = []
    for i in range(levels):
      x = nn.Conv(
        self.width * min(2**i, MAX_WIDTH_FACTOR),
        (4, 4),
        (2, 2),
        padding="SAME",
        use_bias=i == 0 or i == levels - 1,
        kernel_init=self.kernel_init,
        name=f"down_{i}",
      )(x)
      if 0 < i < levels - 1:  # no BatchNorm on the first layer, nor on the 1x1 bottleneck (one value per map)
        x = self._norm(x, train)
      x = nn.leaky_relu(x, self.leak)
      skips.append(x)
    skips.pop()  # the bottleneck feeds the decoder directly
    for j, skip in enumerate(reversed(skips)):
      i = levels - 2 - j  # the encoder level this decoder level mirrors
      x = SubPixelConvTranspose(
        self.width * min(2**i, MAX_WIDTH_FACTOR),
        (4, 4),
        (2, 2),
        use_bias=False,
        kernel_init=self.kernel_init,
        name=f"up_{i}",
      )(x)
      x = self._norm(x, train)
      if j < self.dropout_levels:
        x = Dropout(self.dropout, self.axis_name)(x, deterministic=not train)
      x = jnp.concatenate([nn.relu(x), skip], axis=-1)
    x = SubPixelConvTranspose(self.out_channels, (4, 4), (2, 2), kernel_init=self.kernel_init, name="out")(x)
    return jnp.tanh(x[:, top : top + h, left : left + w]).astype(jnp.float32)
