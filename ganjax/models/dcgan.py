"""The DCGAN of the TensorFlow tutorial (Radford et al. 2015 layout) for 28x28 images.

Generator: Dense -> 7x7x(4w), BN, LeakyReLU, ConvT 2w 5x5/1, BN, LeakyReLU,
ConvT w 5x5/2, BN, LeakyReLU, ConvT C 5x5/2, tanh  (w = width, 64 by default).
Discriminator: Conv w 5x5/2, LeakyReLU, Dropout, Conv 2w 5x5/2, [BN], LeakyReLU, Dropout,
Dense 1 (logits).

Options: BatchNorm off in G (`batchnorm=False`), on in D (Radford et al. put it on every D
layer but the first), spectral normalisation of every D layer (Miyato et al. 2018), and
class conditioning (`num_classes`; D by concatenation or projection).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import Dropout, SubPixelConvTranspose, label_channels, label_input, normalized, projection

INITIALIZERS: dict[str, Callable] = {
    "glorot": nn.initializers.glorot_uniform(),  # Keras' default, as in the tutorial
    "dcgan": nn.initializers.normal(0.02),  # Radford et al. 2015
    "he": nn.initializers.he_normal(),
    "lecun": nn.initializers.lecun_normal(),
}


class Generator(nn.Module):
  """z [N, latent] -> images [N, 28, 28, channels] in [-1, 1]."""

  width: int = 64
  channels: int = 1
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

    # Without BatchNorm the layers before it need their biases back.
    x = nn.Dense(7 * 7 * 4 * self.width, use_bias=not self.batchnorm, kernel_init=kinit)(z)
    x = nn.leaky_relu(norm(x), self.leak).reshape(z.shape[0], 7, 7, 4 * self.width)
    for features, stride in ((2 * self.width, 1), (self.width, 2)):
      x = SubPixelConvTranspose(features, (5, 5), (stride, stride), use_bias=not self.batchnorm,
                                kernel_init=kinit)(x)
      x = nn.leaky_relu(norm(x), self.leak)
    x = SubPixelConvTranspose(self.channels, (5, 5), (2, 2), use_bias=False, kernel_init=kinit)(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """images [N, 28, 28, C] in [-1, 1] -> logits [N]."""

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
    for i, features in enumerate((self.width, 2 * self.width)):
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
