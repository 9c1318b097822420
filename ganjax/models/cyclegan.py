"""CycleGAN's ResNet-block generator (Zhu et al. 2017, appendix 7.2; Johnson et al. 2016).

c7s1-k, d2k, d4k, R4k x blocks, u2k, uk, c7s1-C, tanh: a 7x7 convolution, two stride-2 3x3
downsampling convolutions, residual blocks of two 3x3 convolutions at a quarter of the
resolution, two stride-2 upsamplings and a 7x7 convolution back to C channels. Instance
normalisation and ReLU follow every convolution but the last; the 7x7 and residual
convolutions pad by reflection, as in the paper. The paper uses k = 64 with 6 blocks at
128x128 and 9 at 256x256; ganjax's MNIST defaults are far smaller (see experiments/cyclegan.py).

Upsampling is the paper's fractionally strided 3x3 convolution, computed in its sub-pixel
form (`ganjax.models.layers.SubPixelConvTranspose`: the same outputs and parameters as
`nn.ConvTranspose(padding='SAME')`, faster to differentiate on CPU). The discriminators are
`ganjax.models.patchgan.PatchDiscriminator(norm='instance')`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models import initializers
from ganjax.models.layers import SubPixelConvTranspose
from ganjax.models.patchgan import PatchDiscriminator

DOWNSAMPLES = 2  # the generator's stride-2 steps: images need sides divisible by 4
INIT = initializers.normal(0.02)  # Zhu et al.'s code: N(0, 0.02) weights


def reflect_pad(x: jax.Array, pad: int) -> jax.Array:
  """[N, H, W, C] -> [N, H + 2 pad, W + 2 pad, C], mirrored at the edges (no border artefacts)."""
  return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


def instance_norm(x: jax.Array) -> jax.Array:
  """Per example and channel over H, W, with a learned scale and shift."""
  return nn.InstanceNorm(use_bias=True, use_scale=True)(x)


class ResidualBlock(nn.Module):
  """x + (reflect-pad, 3x3 conv, IN, ReLU, reflect-pad, 3x3 conv, IN)(x): the R-k block."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    features = x.shape[-1]
    y = nn.Conv(features, (3, 3), padding="VALID", use_bias=False, kernel_init=INIT)(reflect_pad(x, 1))
    y = nn.relu(instance_norm(y))
    y = nn.Conv(features, (3, 3), padding="VALID", use_bias=False, kernel_init=INIT)(reflect_pad(y, 1))
    return x + instance_norm(y)


class ResnetGenerator(nn.Module):
  """Image to image of the same shape: [N, H, W, C] in [-1, 1] -> [N, H, W, channels] in (-1, 1).

  width: k, the first layer's channels (64 in the paper); blocks: residual blocks (6 or 9
  in the paper). H and W must be divisible by 4.
  """

  width: int = 64
  blocks: int = 9
  channels: int | None = None  # output channels; None: as many as the input has

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = self.channels or x.shape[-1]
    if x.shape[1] % 2**DOWNSAMPLES or x.shape[2] % 2**DOWNSAMPLES:
      raise ValueError(f"image sides must be divisible by {2**DOWNSAMPLES}, got {x.shape[1:3]}")
    y = nn.Conv(self.width, (7, 7), padding="VALID", use_bias=False, kernel_init=INIT)(reflect_pad(x, 3))
    y = nn.relu(instance_norm(y))
    for i in range(1, DOWNSAMPLES + 1):  # d2k, d4k
      y = nn.Conv(self.width * 2**i, (3, 3), (2, 2), padding=((1, 1), (1, 1)), use_bias=False, kernel_init=INIT)(y)
      y = nn.relu(instance_norm(y))
    for _ in range(self.blocks):
      y = ResidualBlock()(y)
    for i in reversed(range(DOWNSAMPLES)):  # u2k, uk
      y = SubPixelConvTranspose(self.width * 2**i, (3, 3), (2, 2), use_bias=False, kernel_init=INIT)(y)
      y = nn.relu(instance_norm(y))
    y = nn.Conv(channels, (7, 7), padding="VALID", kernel_init=INIT)(reflect_pad(y, 3))
    return jnp.tanh(y).astype(jnp.float32)


def discriminator_downsamples(image_side: int) -> int:
  """The PatchGAN's stride-2 layers: 3 (the paper's 70x70 patches) from 64 pixels up, else 2
  (28x28 MNIST: 7x7 scores, each seeing a 46-pixel window)."""
  return 3 if image_side >= 64 else 2


def build_cyclegan(
  width: int, blocks: int, image_shape: tuple[int, int, int]
) -> tuple[ResnetGenerator, PatchDiscriminator]:
  """One generator and one discriminator module; CycleGAN applies each with two sets of params
  (A -> B and B -> A; D_A and D_B)."""
  generator = ResnetGenerator(width=width, blocks=blocks, channels=image_shape[-1])
  discriminator = PatchDiscriminator(
    width=width, downsamples=discriminator_downsamples(min(image_shape[:2])), norm="instance"
  )
  return generator, discriminator
