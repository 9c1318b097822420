"""CycleGAN's loss terms, as pure functions of logits and images."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from ganjax import losses
from ganjax.families.cyclegan.state import Images


def generator_adversarial_loss(fake_logits: jax.Array) -> jax.Array:
  """The paper's E[(D(G(x)) - 1)^2]: twice `ganjax.losses.least_squares_g_loss` (Mao et al.'s
  form carries a 1/2 that Zhu et al. leave out), so lambda = 10 weighs as in the paper."""
  return 2.0 * losses.least_squares_g_loss(fake_logits)


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """1/2 (E[(D(y) - 1)^2] + E[D(G(x))^2]): LSGAN's D loss, halved as the paper does."""
  return losses.least_squares_d_loss(real_logits, fake_logits)


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean absolute difference over every pixel: the cycle and identity losses."""
  return jnp.mean(jnp.abs(x - y))


def generator_losses(
  translate_a_to_b: Callable[[Images], Images],
  translate_b_to_a: Callable[[Images], Images],
  score_a: Callable[[Images], jax.Array],
  score_b: Callable[[Images], jax.Array],
  real_a: Images,
  real_b: Images,
  cycle_weight: float,
  identity_weight: float,
) -> tuple[jax.Array, dict, tuple[Images, Images]]:
  """(G and F's total loss, its terms, (fake_a, fake_b)) for one batch of each domain.

  `score_a`/`score_b` are D_A/D_B; the identity terms are left out when their weight is 0.
  """
  fake_b, fake_a = translate_a_to_b(real_a), translate_b_to_a(real_b)
  terms = {
    "g_adv_b": generator_adversarial_loss(score_b(fake_b)),
    "g_adv_a": generator_adversarial_loss(score_a(fake_a)),
    "cycle_a": l1(translate_b_to_a(fake_b), real_a),
    "cycle_b": l1(translate_a_to_b(fake_a), real_b),
  }
  total = terms["g_adv_b"] + terms["g_adv_a"] + cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
  if identity_weight:
    terms["identity_a"] = l1(translate_b_to_a(real_a), real_a)
    terms["identity_b"] = l1(translate_a_to_b(real_b), real_b)
    total = total + identity_weight * (terms["identity_a"] + terms["identity_b"])
  return total, terms, (fake_a, fake_b)
