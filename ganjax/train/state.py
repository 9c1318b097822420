"""The training state: one pytree holding everything that changes from step to step."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from ganjax import rng
from ganjax.config import Config

PyTree = Any


class GANState(struct.PyTreeNode):
  """Step counter, both players' variables and optimizer states.

  The optimizers are static (not leaves): they are code, chosen by the config, and their
  schedules read the step count kept inside the optimizer states.
  """

  step: jax.Array  # int32 scalar: number of completed updates
  g_params: PyTree
  g_batch_stats: PyTree
  d_params: PyTree
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    """The leaves to save: everything but the static optimizers."""
    return {"step": self.step, "g_params": self.g_params, "g_batch_stats": self.g_batch_stats,
            "d_params": self.d_params, "g_opt_state": self.g_opt_state, "d_opt_state": self.d_opt_state}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> GANState:
    return self.replace(**items)


def make_optimizer(config: Config) -> optax.GradientTransformation:
  schedule = optax.constant_schedule(config.lr)
  return optax.adam(schedule, b1=config.b1, b2=config.b2)


def create_state(config: Config, generator: nn.Module, discriminator: nn.Module,
                 image_shape: tuple[int, int, int], seed_key: jax.Array) -> GANState:
  """Initial state; `image_shape` is one image's [H, W, C]."""
  init_key = rng.stream(seed_key, "init")
  z = jnp.zeros((1, config.latent_dim), jnp.float32)
  g_vars = generator.init(rng.stream(init_key, "generator"), z, train=False)
  x = jnp.zeros((1, *image_shape), jnp.float32)
  d_vars = discriminator.init(rng.stream(init_key, "discriminator"), x, train=False)
  g_tx, d_tx = make_optimizer(config), make_optimizer(config)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_vars["params"], g_batch_stats=g_vars.get("batch_stats", {}),
      d_params=d_vars["params"],
      g_opt_state=g_tx.init(g_vars["params"]), d_opt_state=d_tx.init(d_vars["params"]),
      g_tx=g_tx, d_tx=d_tx)
