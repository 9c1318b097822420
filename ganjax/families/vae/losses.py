"""The VAE's ELBO terms: pure functions of arrays, summed over an image's pixels, [N] per example."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ganjax.models.vae import VAE
from ganjax.train.task import PyTree


def gaussian_kl(mean: jax.Array, log_variance: jax.Array) -> jax.Array:
  """KL(N(mean, exp(log_variance)) || N(0, I)) in nats, [N, latent] -> [N]."""
  return 0.5 * jnp.sum(jnp.exp(log_variance) + jnp.square(mean) - 1.0 - log_variance, axis=-1)


def bernoulli_nll(x: jax.Array, logits: jax.Array) -> jax.Array:
  """-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)], p = sigmoid(logits), x in [0, 1]: [N, ...] -> [N]."""
  per_pixel = x * jax.nn.softplus(-logits) + (1.0 - x) * jax.nn.softplus(logits)
  return jnp.sum(per_pixel.reshape(x.shape[0], -1), axis=-1)


def gaussian_nll(x: jax.Array, mean: jax.Array, log_sigma: jax.Array) -> jax.Array:
  """-sum_i log N(x_i; mean_i, exp(log_sigma)^2) in nats, [N, ...] -> [N]; log_sigma a scalar."""
  per_pixel = 0.5 * jnp.square((x - mean) * jnp.exp(-log_sigma)) + log_sigma + 0.5 * math.log(2 * math.pi)
  return jnp.sum(per_pixel.reshape(x.shape[0], -1), axis=-1)


def decoder_mean(outputs: jax.Array) -> jax.Array:
  """E[x|z] in [0, 1] from the decoder's outputs (logits or the Gaussian mean's logits)."""
  return jax.nn.sigmoid(outputs)


def elbo_terms(model: VAE, params: PyTree, x: jax.Array, eps: jax.Array) -> dict[str, jax.Array]:
  """x [N, H, W, C] in [0, 1], eps [N, latent] -> {'nll', 'kl', 'neg_elbo'}, each [N] in nats."""
  outputs, log_sigma, mean, log_variance = model.apply({"params": params}, x, eps)
  nll = bernoulli_nll(x, outputs) if log_sigma is None else gaussian_nll(x, decoder_mean(outputs), log_sigma)
  kl = gaussian_kl(mean, log_variance)
  return {"nll": nll, "kl": kl, "neg_elbo": nll + kl}


def intensities(image: jax.Array) -> jax.Array:
  """[-1, 1] -> [0, 1]."""
  return (image + 1.0) * 0.5
