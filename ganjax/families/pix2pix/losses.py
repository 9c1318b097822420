"""pix2pix's loss terms, as pure functions of logits and images."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ganjax import losses


def l1_loss(output: jax.Array, target: jax.Array) -> jax.Array:
  """Mean absolute difference over every pixel of the device's batch (images in [-1, 1])."""
  return jnp.mean(jnp.abs(output - target))


def d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Half the non-saturating D loss over every patch's logit (Isola et al. 2017, section 3.3)."""
  return 0.5 * losses.non_saturating_d_loss(real_logits.reshape(-1), fake_logits.reshape(-1))


def g_adversarial_loss(fake_logits: jax.Array) -> jax.Array:
  """G's non-saturating loss over every patch's logit."""
  return losses.non_saturating_g_loss(fake_logits.reshape(-1))
