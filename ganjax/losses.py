"""Adversarial losses as pure functions of the discriminator's outputs.

Each loss is a pair: `d_loss(real_logits, fake_logits)` and `g_loss(fake_logits)`, both
[N] -> scalar (mean over the device's examples). D's output is a logit of "real" for the
classifier losses (minimax, non-saturating) and an unbounded score for the others.
`make_loss(name, real_label)` picks one when the step is built; nothing branches inside
traced code.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
  d_loss: Callable[[jax.Array, jax.Array], jax.Array]
  g_loss: Callable[[jax.Array], jax.Array]
  # D's output is the logit of P(real): report sigmoid(output) as D's belief.
  outputs_logits: bool


def _bce_real_fake(real_logits: jax.Array, fake_logits: jax.Array, real_label: float) -> jax.Array:
  """Binary cross-entropy with target `real_label` for reals and 0 for fakes, on logits.

  -[t log s(x) + (1 - t) log(1 - s(x))] = t softplus(-x) + (1 - t) softplus(x).
  """
  real_term = real_label * jax.nn.softplus(-real_logits) + (1.0 - real_label) * jax.nn.softplus(real_logits)
  return jnp.mean(real_term) + jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_d_loss(real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0) -> jax.Array:
  """Goodfellow et al. 2014: -log D(x) - log(1 - D(G(z))), as binary cross-entropy on logits.

  With `real_label` < 1, the reals' target is smoothed on one side only (Salimans et al.
  2016, section 3.4): the fakes' target stays 0.
  """
  return _bce_real_fake(real_logits, fake_logits, real_label)


def non_saturating_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Goodfellow et al. 2014, section 3: G maximises log D(G(z)) (strong gradients early on)."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def minimax_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Goodfellow et al. 2014, eq. 1: G minimises log(1 - D(G(z))) = -softplus(logit).

  Saturates: when D rejects the fakes confidently the gradient vanishes.
  """
  return -jnp.mean(jax.nn.softplus(fake_logits))


def wasserstein_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Arjovsky et al. 2017: the critic maximises E[f(x)] - E[f(G(z))] over 1-Lipschitz f.

  The Lipschitz constraint is not in the loss: weight clipping, a gradient penalty or
  spectral normalisation supplies it.
  """
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Arjovsky et al. 2017: G minimises -E[f(G(z))]."""
  return -jnp.mean(fake_logits)


def least_squares_d_loss(real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0) -> jax.Array:
  """Mao et al. 2017, eq. 2 with a=0, b=real_label (1), c=1: 1/2 E[(D(x)-b)^2] + 1/2 E[D(G(z))^2]."""
  return 0.5 * jnp.mean((real_logits - real_label) ** 2) + 0.5 * jnp.mean(fake_logits**2)


def least_squares_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Mao et al. 2017, eq. 2: 1/2 E[(D(G(z)) - c)^2] with c = 1."""
  return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


def hinge_d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Lim & Ye 2017; Miyato et al. 2018, eq. 16: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


def hinge_g_loss(fake_logits: jax.Array) -> jax.Array:
  """Miyato et al. 2018, eq. 17: G minimises -E[D(G(z))]."""
  return -jnp.mean(fake_logits)


def make_loss(name: str, real_label: float = 1.0) -> AdversarialLoss:
  """The (D loss, G loss) pair called `name` (see ganjax.config.LOSSES)."""
  if name == "minimax":
    return AdversarialLoss(functools.partial(non_saturating_d_loss, real_label=real_label), minimax_g_loss, True)
  if name == "non_saturating":
    return AdversarialLoss(functools.partial(non_saturating_d_loss, real_label=real_label), non_saturating_g_loss, True)
  if name in ("wgan", "wgan_gp"):  # the same loss; wgan_gp's penalty is a regulariser
    return AdversarialLoss(wasserstein_d_loss, wasserstein_g_loss, False)
  if name == "lsgan":
    return AdversarialLoss(functools.partial(least_squares_d_loss, real_label=real_label), least_squares_g_loss, False)
  if name == "hinge":
    return AdversarialLoss(hinge_d_loss, hinge_g_loss, False)
  raise ValueError(f"unknown loss {name}")
