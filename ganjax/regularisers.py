"""Regularisers and training tricks as pure functions of params, images and keys.

The step factory (ganjax.families.gan.step) decides which of these a run uses when it is built.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

PyTree = object


def per_example_input_gradients(critic: Callable[[jax.Array], jax.Array], images: jax.Array) -> jax.Array:
  """d critic(x)_i / d x_i for every example i: [N, ...] like `images`.

  One backward pass of sum_i critic(x)_i: exact per example because the critic treats
  examples independently (no BatchNorm; the config refuses that combination).
  """
  return jax.grad(lambda x: jnp.sum(critic(x)))(images)


def _squared_norms(grads: jax.Array) -> jax.Array:
  return jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=1)


def gradient_penalty(
  critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array, alpha: jax.Array
) -> jax.Array:
  """Gulrajani et al. 2017, eq. 3: E[(||grad critic(x_hat)||_2 - 1)^2].

  x_hat = alpha * real + (1 - alpha) * fake with one alpha ~ U[0, 1] per example (`alpha`:
  [N]). The fakes are constants here: the penalty trains the critic only. A 1e-12 inside
  the square root keeps its gradient finite where the critic's gradient is exactly zero.
  """
  alpha = alpha.reshape((-1,) + (1,) * (real.ndim - 1))
  interpolates = alpha * real + (1.0 - alpha) * jax.lax.stop_gradient(fake)
  norms = jnp.sqrt(_squared_norms(per_example_input_gradients(critic, interpolates)) + 1e-12)
  return jnp.mean((norms - 1.0) ** 2)


def r1_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
  """Mescheder et al. 2018, eq. 9 without gamma/2: E[||grad D(x)||^2] on real data."""
  return jnp.mean(_squared_norms(per_example_input_gradients(critic, real)))


def _is_kernel(path) -> bool:
  return getattr(path[-1], "key", None) == "kernel"


def l2_penalty(params: PyTree) -> jax.Array:
  """Sum of squared weights of every kernel (biases are not penalised)."""
  leaves = jax.tree_util.tree_leaves_with_path(params)
  return sum((jnp.sum(leaf**2) for path, leaf in leaves if _is_kernel(path)), jnp.zeros(()))


def clip_weights(params: PyTree, c: float) -> PyTree:
  """Arjovsky et al. 2017, Algorithm 1: every critic parameter clipped to [-c, c] after its update."""
  return jax.tree.map(lambda p: jnp.clip(p, -c, c), params)


def instance_noise_std(step: jax.Array, initial: float, anneal_steps: int) -> jax.Array:
  """Std of the Gaussian added to D's inputs (Sonderby et al. 2016, Arjovsky & Bottou 2017).

  Starts at `initial` and falls linearly to 0 at `anneal_steps`, where it stays.
  """
  remaining = jnp.clip(1.0 - step.astype(jnp.float32) / anneal_steps, 0.0, 1.0)
  return initial * remaining


def top_k_share(step: jax.Array, final_share: float, anneal_steps: int) -> jax.Array:
  """Share of each fake batch G's loss keeps (Sinha et al. 2020): 1 at step 0, falling
  linearly to `final_share` at `anneal_steps`, where it stays."""
  progress = jnp.clip(step.astype(jnp.float32) / anneal_steps, 0.0, 1.0)
  return 1.0 - (1.0 - final_share) * progress


def top_k_mask(scores: jax.Array, share: jax.Array, eligible: jax.Array) -> jax.Array:
  """Bool [N]: the ceil(share * n) eligible rows with the highest `scores` (at least one),
  where n counts the `eligible` rows. Ties go to the earlier row."""
  count = jnp.sum(eligible)
  k = jnp.maximum(1.0, jnp.ceil(share * count))
  order = jnp.argsort(-jnp.where(eligible, scores, -jnp.inf), stable=True)
  rank = jnp.zeros_like(order).at[order].set(jnp.arange(order.shape[0]))
  return eligible & (rank < k)


def ema_update(ema: PyTree, params: PyTree, decay: float | jax.Array) -> PyTree:
  """ema <- decay * ema + (1 - decay) * params (Yazici et al. 2019; Karras et al. 2018)."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)
