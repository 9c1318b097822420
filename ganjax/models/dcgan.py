"""The DCGAN of the TensorFlow tutorial for 28x28 images, and Radford et al.'s for 32x32 up.

Generator: Dense -> 7x7x(4w), BN, LeakyReLU, ConvT 2w 5x5/1, BN, LeakyReLU,
ConvT w 5x5/2, BN, LeakyReLU, ConvT C 5x5/2, tanh  (w = width, 64 by default).
Discriminator: Conv w 5x5/2, LeakyReLU, Dropout, Conv 2w 5x5/2, [BN], LeakyReLU, Dropout,
Dense 1 (logits).

Larger images (32x32 CIFAR-10, 64x64 CelebA, ...): G starts at 4x4x8w and doubles the size
while halving the channels; D halves the size with stride-2 convs w, 2w, 4w, ... to 4x4.

Options: BatchNorm off in G (`batchnorm=False`), on in D (Radford et al. put it on every D
layer but the first), a deeper D (`extra_convs` more stride-2 convs, each doubling the
channels: 28 -> 14 -> 7 -> 4 pixels with one; Radford et al.'s D has four convs), spectral
normalisation of every D layer (Miyato et al. 2018), and class conditioning (`num_classes`;
D by concatenation or projection).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax.models import initializers, progressive
from ganjax.models.layers import (
  Dropout,
  StridedConv,
  SubPixelConvTranspose,
  label_channels,
  label_input,
  normalized,
  projection,
)

INITIALIZERS: dict[str, Callable] = {
  "glorot": initializers.glorot_uniform(),  # Keras' default, as in the tutorial
  "dcgan": initializers.normal(0.02),  # Radford et al. 2015
  "he": initializers.he_normal(),
  "lecun": initializers.lecun_normal(),
}


def upsampling_plan(image_size: int, width: int) -> tuple[int, int, tuple[tuple[int, int], ...]]:
  """(start size, start channels, ((channels, stride) of each hidden transposed conv)).

  28: the tutorial's 7x7x4w, then 2w stride 1, w stride 2 (the output conv doubles again).
  32, 64, ...: Radford et al.'s 4x4x8w start, halving the channels at each doubling.
  """
  if image_size == 28:
    return 7, 4 * width, ((2 * width, 1), (width, 2))
  doublings = int(np.log2(image_size // 4))
  channels = [8 * width // 2**i for i in range(doublings)]
  return 4, channels[0], tuple((c, 2) for c in channels[1:])


def downsampling_channels(image_size: int, width: int, extra_convs: int = 0) -> tuple[int, ...]:
  """D's stride-2 convs: w, 2w for 28x28 (the tutorial); w, 2w, 4w, ... down to 4x4 otherwise;
  then `extra_convs` more, each doubling the channels again."""
  convs = 2 if image_size == 28 else int(np.log2(image_size // 4))
  return tuple(width * 2**i for i in range(convs + extra_convs))


class Generator(nn.Module):
  """z [N, latent] -> images [N, image_size, image_size, channels] in [-1, 1]."""

  width: int = 64
  channels: int = 1
  image_size: int = 28  # 28, or a power of two from 8 up
  leak: float = 0.2
  init_scheme: str = "dcgan"
  batchnorm: bool = True
  num_classes: int = 0  # >0: conditional on labels [N] (a learned embedding joins z)
  # Averages batch statistics over this pmap axis, so BatchNorm sees the global batch.
  axis_name: str | None = None
  conv_backend: str = "xla"  # or "onednn": who computes the convolutions (ganjax.kernels.onednn)

  @nn.compact
  def __call__(
    self,
    z: jax.Array,
    train: bool,
    labels: jax.Array | None = None,
    stage: int | None = None,
    alpha: jax.Array | float = 1.0,
  ) -> jax.Array:
    """`stage` (progressive growing, 28x28 only): images at 7, 14 or 28 pixels, the newest
    layers faded in by `alpha`; None: the whole network."""
    kinit = INITIALIZERS[self.init_scheme]
    z = label_input(z, labels, self.num_classes)
    if stage is not None and self.image_size != 28:
      raise ValueError("progressive growing is defined for the 28x28 DCGAN")

    def to_rgb(h, size):  # 1x1 conv to image channels: the output of a not-yet-grown stage
      return jnp.tanh(nn.Conv(self.channels, (1, 1), kernel_init=kinit, name=f"to_rgb_{size}")(h))

    def norm(x):
      if not self.batchnorm:
        return x
      return nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name)(x)

    start, start_channels, hidden = upsampling_plan(self.image_size, self.width)
    # Without BatchNorm the layers before it need their biases back.
    x = nn.Dense(start * start * start_channels, use_bias=not self.batchnorm, kernel_init=kinit)(z)
    x = nn.leaky_relu(norm(x), self.leak).reshape(z.shape[0], start, start, start_channels)
    grown = []  # the features after each hidden layer: 7x7x2w, 14x14xw for 28x28
    for features, stride in hidden:
      if stage is not None and len(grown) > stage:
        break
      x = SubPixelConvTranspose(
        features, (5, 5), (stride, stride), not self.batchnorm, kinit, conv_backend=self.conv_backend
      )(x)
      x = nn.leaky_relu(norm(x), self.leak)
      grown.append(x)
    if stage == 0:
      return to_rgb(grown[0], 7)
    if stage == 1:
      return progressive.blend(to_rgb(grown[1], 14), progressive.upsample(to_rgb(grown[0], 7), 2), alpha)
    out = SubPixelConvTranspose(self.channels, (5, 5), (2, 2), False, kinit, conv_backend=self.conv_backend)(x)
    out = jnp.tanh(out)
    if stage == 2:
      return progressive.blend(out, progressive.upsample(to_rgb(grown[1], 14), 2), alpha)
    return out


class Discriminator(nn.Module):
  """images [N, S, S, C] in [-1, 1] (S = 28 or a power of two) -> logits [N]."""

  width: int = 64
  leak: float = 0.2
  dropout: float = 0.3
  init_scheme: str = "dcgan"
  batchnorm: bool = False
  spectral_norm: bool = False
  num_classes: int = 0  # >0: conditional on labels [N]
  conditioning: str = "concat"  # one-hot label maps as input channels, or "projection"
  axis_name: str | None = None  # for dropout masks by global example and BatchNorm statistics
  conv_backend: str = "xla"  # or "onednn": who computes the convolutions (ganjax.kernels.onednn)
  extra_convs: int = 0  # stride-2 convs after the image size's own, each doubling the channels

  @nn.compact
  def __call__(
    self,
    x: jax.Array,
    train: bool,
    labels: jax.Array | None = None,
    stage: int | None = None,
    alpha: jax.Array | float = 1.0,
  ) -> jax.Array:
    """`stage` (progressive growing, 28x28 only): x is 7, 14 or 28 pixels, the newest block
    faded in by `alpha` (ProGAN's fromRGB path); None: the whole network."""
    kinit = INITIALIZERS[self.init_scheme]
    if self.num_classes and self.conditioning == "concat":
      x = label_channels(x, labels, self.num_classes)
    if stage is not None and self.extra_convs:
      raise ValueError("progressive growing has a fixed three-stage D: extra_convs must be 0")
    channels = downsampling_channels(28 if stage is not None else x.shape[1], self.width, self.extra_convs)

    def block(i, h):
      normalised = self.batchnorm and i > 0
      conv = StridedConv(
        channels[i], (5, 5), (2, 2), not normalised, kinit, conv_backend=self.conv_backend, name=f"Conv_{i}"
      )
      h = normalized(conv, self.spectral_norm, h, train)
      if normalised:
        h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name, name=f"BatchNorm_{i - 1}")(h)
      return Dropout(self.dropout, self.axis_name)(nn.leaky_relu(h, self.leak), deterministic=not train)

    def from_rgb(images, i):  # 1x1 conv into block i's input channels
      features = channels[i - 1] if i > 0 else None
      conv = nn.Conv(features, (1, 1), kernel_init=kinit, name=f"from_rgb_{images.shape[1]}")
      return nn.leaky_relu(normalized(conv, self.spectral_norm, images, train), self.leak)

    if stage is None:
      for i in range(len(channels)):
        x = block(i, x)
    elif stage == 0:  # 7x7: straight into the head's input
      x = from_rgb(x, 2)
    elif stage == 1:  # 14x14 -> block 1 -> 7x7, faded in against 7x7 from_rgb
      x = progressive.blend(block(1, from_rgb(x, 1)), from_rgb(progressive.downsample(x, 2), 2), alpha)
    else:  # 28x28 -> block 0 -> 14x14, faded in against 14x14 from_rgb, then block 1
      x = block(1, progressive.blend(block(0, x), from_rgb(progressive.downsample(x, 2), 1), alpha))
    features = x.reshape(x.shape[0], -1)
    logits = normalized(nn.Dense(1, kernel_init=kinit), self.spectral_norm, features, train)[:, 0]
    if self.num_classes and self.conditioning == "projection":
      logits = logits + projection(features, labels, self.num_classes)
    return logits
