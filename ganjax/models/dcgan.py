"""The DCGAN of the TensorFlow tutorial for 28x28 images, and Radford et al.'s for 32x32 up.

Generator: Dense -> 7x7x(4w), BN, LeakyReLU, ConvT 2w 5x5/1, BN, LeakyReLU,
ConvT w 5x5/2, BN, LeakyReLU, ConvT C 5x5/2, tanh  (w = width, 64 by default).
Discriminator: Conv w 5x5/2, LeakyReLU, Dropout, Conv 2w 5x5/2, [BN], LeakyReLU, Dropout,
Dense 1 (logits).

Larger images (32x32 CIFAR-10, 64x64 CelebA, ...): G starts at 4x4x8w and doubles the size
while halving the channels; D halves the size with stride-2 convs w, 2w, 4w, ... to 4x4.

Options: BatchNorm off in G (`batchnorm=False`), on in D (Radford et al. put it on every D
layer but the first), spectral normalisation of every D layer (Miyato et al. 2018), and
class conditioning (`num_classes`; D by concatenation or projection).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax.models.layers import Dropout, SubPixelConvTranspose, label_channels, label_input, normalized, projection

INITIALIZERS: dict[str, Callable] = {
    "glorot": nn.initializers.glorot_uniform(),  # Keras' default, as in the tutorial
    "dcgan": nn.initializers.normal(0.02),  # Radford et al. 2015
    "he": nn.initializers.he_normal(),
    "lecun": nn.initializers.lecun_normal(),
}


def upsampling_plan(image_size: int, width: int) -> tuple[int, int, tuple[tuple[int, int], ...]]:
  """(start size, start channels, ((channels, stride) of each hidden transposed conv)).

  28: the tutorial's 7x7x4w, then 2w stride 1, w stride 2 (the output conv doubles again).
  32, 64, ...: Radford et al.'s 4x4x8w start, halving the channels at each doubling.
  """
  if image_size == 28:
    return 7, 4 * width, ((2 * width, 1), (width, 2))
  doublings = int(np.log2(image_size // 4))
  channels = [8 * width // 2 ** i for i in range(doublings)]
  return 4, channels[0], tuple((c, 2) for c in channels[1:])


def downsampling_channels(image_size: int, width: int) -> tuple[int, ...]:
  """D's stride-2 convs: w, 2w for 28x28 (the tutorial); w, 2w, 4w, ... down to 4x4 otherwise."""
  if image_size == 28:
    return (width, 2 * width)
  return tuple(width * 2 ** i for i in range(int(np.log2(image_size // 4))))


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

  @nn.compact
  def __call__(self, z: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
    kinit = INITIALIZERS[self.init_scheme]
    z = label_input(z, labels, self.num_classes)

    def norm(x):
      if not self.batchnorm:
        return x
      return nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name)(x)

    start, start_channels, hidden = upsampling_plan(self.image_size, self.width)
    # Without BatchNorm the layers before it need their biases back.
    x = nn.Dense(start * start * start_channels, use_bias=not self.batchnorm, kernel_init=kinit)(z)
    x = nn.leaky_relu(norm(x), self.leak).reshape(z.shape[0], start, start, start_channels)
    for features, stride in hidden:
      x = SubPixelConvTranspose(features, (5, 5), (stride, stride), use_bias=not self.batchnorm,
                                kernel_init=kinit)(x)
      x = nn.leaky_relu(norm(x), self.leak)
    x = SubPixelConvTranspose(self.channels, (5, 5), (2, 2), use_bias=False, kernel_init=kinit)(x)
    return jnp.tanh(x)


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

  @nn.compact
  def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
    kinit = INITIALIZERS[self.init_scheme]
    if self.num_classes and self.conditioning == "concat":
      x = label_channels(x, labels, self.num_classes)
    for i, features in enumerate(downsampling_channels(x.shape[1], self.width)):
      normalised = self.batchnorm and i > 0
      conv = nn.Conv(features, (5, 5), (2, 2), padding="SAME", use_bias=not normalised, kernel_init=kinit)
      x = normalized(conv, self.spectral_norm, x, train)
      if normalised:
        x = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name)(x)
      x = Dropout(self.dropout, self.axis_name)(nn.leaky_relu(x, self.leak), deterministic=not train)
    features = x.reshape(x.shape[0], -1)
    logits = normalized(nn.Dense(1, kernel_init=kinit), self.spectral_norm, features, train)[:, 0]
    if self.num_classes and self.conditioning == "projection":
      logits = logits + projection(features, labels, self.num_classes)
    return logits
