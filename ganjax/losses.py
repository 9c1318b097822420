"""Adversarial losses as pure functions of the discriminator's logits.

Each loss is a pair: `d_loss(real_logits, fake_logits)` and `g_loss(fake_logits)`, both
[N] -> scalar (mean over the device's examples).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
  d_loss: Callable[[jax.Array, jax.Array], jax.Array]
  g_loss: Callable[[jax.Array], jax.Array]


def non_saturating_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Goodfellow et al. 2014: -log D(x) - log(1 - D(G(z))), as binary cross-entropy on logits."""
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Goodfellow et al. 2014, section 3: G maximises log D(G(z)) (strong gradients early on)."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


LOSSES: dict[str, AdversarialLoss] = {
    "non_saturating": AdversarialLoss(non_saturating_d_loss, non_saturating_g_loss),
}
