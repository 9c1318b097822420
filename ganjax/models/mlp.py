"""The fully connected GAN of the seed tutorial (Goodfellow et al. 2014 on MNIST).

Generator: z -> 4w -> 8w -> 16w -> H*W*C, LeakyReLU(0.2) between, BatchNorm after every
hidden layer but the first (optional), tanh out; with w = 64: 100 -> 256 -> 512 -> 1024 -> 784.
Discriminator: flattened image -> 8w -> 4w -> 1 (512 -> 256 -> 1), LeakyReLU(0.2) and
dropout between, optional spectral normalisation of every layer.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.dcgan import INITIALIZERS
from ganjax.models.layers import Dropout, label_channels, label_input, normalized, projection


class Generator(nn.Module):
  """z [N, latent] -> images [N, *image_shape] in [-1, 1]."""

  image_shape: tuple[int, int, int] = (28, 28, 1)
  width: int = 64
  leak: float = 0.2
  init_scheme: str = "glorot"
  batchnorm: bool = True
  num_classes: int = 0
  axis_name: str | None = None

  @nn.compact
  def __call__(self, z: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
    kinit = INITIALIZERS[self.init_scheme]
    x = label_input(z, labels, self.num_classes)
    for i, features in enumerate((4 * self.width, 8 * self.width, 16 * self.width)):
      normalised = self.batchnorm and i > 0
      # BatchNorm subtracts the mean: a bias before it would only collect rounding noise.
      x = nn.Dense(features, use_bias=not normalised, kernel_init=kinit)(x)
      if normalised:
        x = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name)(x)
      x = nn.leaky_relu(x, self.leak)
    h, w, c = self.image_shape
    return jnp.tanh(nn.Dense(h * w * c, kernel_init=kinit)(x)).reshape(z.shape[0], h, w, c)


class Discriminator(nn.Module):
  """images [N, H, W, C] in [-1, 1] -> logits [N]."""

  width: int = 64
  leak: float = 0.2
  dropout: float = 0.3
  init_scheme: str = "glorot"
  batchnorm: bool = False
  spectral_norm: bool = False
  num_classes: int = 0
  conditioning: str = "concat"
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x: jax.Array, train: bool, labels: jax.Array | None = None) -> jax.Array:
    kinit = INITIALIZERS[self.init_scheme]
    if self.num_classes and self.conditioning == "concat":
      x = label_channels(x, labels, self.num_classes)
    x = x.reshape(x.shape[0], -1)
    for i, features in enumerate((8 * self.width, 4 * self.width)):
      normalised = self.batchnorm and i > 0
      x = normalized(nn.Dense(features, use_bias=not normalised, kernel_init=kinit), self.spectral_norm, x, train)
      if normalised:
        x = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name)(x)
      x = Dropout(self.dropout, self.axis_name)(nn.leaky_relu(x, self.leak), deterministic=not train)
    logits = normalized(nn.Dense(1, kernel_init=kinit), self.spectral_norm, x, train)[:, 0]
    if self.num_classes and self.conditioning == "projection":
      logits = logits + projection(x, labels, self.num_classes)
    return logits
