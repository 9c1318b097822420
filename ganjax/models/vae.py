"""The convolutional VAE (Kingma & Welling 2014): encoder q(z|x), decoder p(x|z), reparameterisation.

For 28x28x1 images. Encoder: Conv 32 and 64 (4x4, stride 2, ReLU), Dense 512 (ReLU) -> Dense
to the mean and log-variance of a diagonal Gaussian over z. Decoder: Dense 512 and Dense to
7x7x64 (ReLU), transposed convolutions 32 (4x4, stride 2, ReLU) and 1 (4x4, stride 2) to
per-pixel logits, computed in their sub-pixel form (`SubPixelConvTranspose`, fast on CPU).
`width` scales the channels (32 above), `hidden` the dense layer.
No BatchNorm: the ELBO of an image should not depend on the rest of its batch.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models.layers import Conv, Dense, SubPixelConvTranspose


class Encoder(nn.Module):
  """[N, 28, 28, C] in [0, 1] -> (mean [N, latent], log-variance [N, latent]) of q(z|x)."""

  latent_dim: int
  width: int = 32
  hidden: int = 512

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = nn.relu(Conv(self.width, (4, 4), (2, 2), padding="SAME")(x))
    x = nn.relu(Conv(2 * self.width, (4, 4), (2, 2), padding="SAME")(x))
    x = nn.relu(Dense(self.hidden)(x.reshape(x.shape[0], -1)))
    return Dense(self.latent_dim, name="mean")(x), Dense(self.latent_dim, name="log_variance")(x)


class Decoder(nn.Module):
  """z [N, latent] -> per-pixel outputs [N, 28, 28, C]: Bernoulli logits, or Gaussian means' logits.

  With `gaussian`, also a learned log standard deviation shared by all pixels (a scalar
  parameter `log_sigma`), returned beside the outputs; None otherwise.
  """

  channels: int = 1
  width: int = 32
  hidden: int = 512
  gaussian: bool = False

  @nn.compact
  def __call__(self, z: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    x = nn.relu(Dense(self.hidden)(z))
    x = nn.relu(Dense(7 * 7 * 2 * self.width)(x)).reshape(z.shape[0], 7, 7, 2 * self.width)
    x = nn.relu(SubPixelConvTranspose(self.width, (4, 4), (2, 2))(x))
    logits = SubPixelConvTranspose(self.channels, (4, 4), (2, 2))(x)
    log_sigma = self.param("log_sigma", nn.initializers.zeros, ()) if self.gaussian else None
    return logits, log_sigma


def reparameterize(key: jax.Array, mean: jax.Array, log_variance: jax.Array) -> jax.Array:
  """z = mean + sigma * eps with eps ~ N(0, I) from `key`, so z is differentiable in (mean, log_variance).

  One key per example (`ganjax.rng.example_keys`) keeps a sharded batch's draws equal to an
  unsharded one's: pass `eps` via `reparameterize_with` when the caller draws it.
  """
  return reparameterize_with(jax.random.normal(key, mean.shape, mean.dtype), mean, log_variance)


def reparameterize_with(eps: jax.Array, mean: jax.Array, log_variance: jax.Array) -> jax.Array:
  """z = mean + exp(log_variance / 2) * eps, eps [N, latent] standard normal."""
  return mean + jnp.exp(0.5 * log_variance) * eps


class VAE(nn.Module):
  """Encoder and decoder as one module; `decode` and `encode` are its methods for sampling."""

  latent_dim: int
  channels: int = 1
  width: int = 32
  hidden: int = 512
  gaussian: bool = False

  def setup(self):
    self.encoder = Encoder(self.latent_dim, self.width, self.hidden)
    self.decoder = Decoder(self.channels, self.width, self.hidden, self.gaussian)

  def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    return self.encoder(x)

  def decode(self, z: jax.Array) -> tuple[jax.Array, jax.Array | None]:
    return self.decoder(z)

  def __call__(self, x: jax.Array, eps: jax.Array) -> tuple[jax.Array, jax.Array | None, jax.Array, jax.Array]:
    """x [N, 28, 28, C] in [0, 1], eps [N, latent] ~ N(0, I) -> (outputs, log_sigma, mean, log_variance)."""
    mean, log_variance = self.encode(x)
    outputs, log_sigma = self.decode(reparameterize_with(eps, mean, log_variance))
    return outputs, log_sigma, mean, log_variance
