"""CycleGAN's training state (one pytree) and how it starts."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from ganjax import rng
from ganjax.config import Config
from ganjax.families.cyclegan import history_pool
from ganjax.families.cyclegan.history_pool import HistoryPool
from ganjax.families.players import player_optimizers
from ganjax.train.task import PyTree

Images = jax.Array  # [N, H, W, C] in [-1, 1]


class CycleGANState(struct.PyTreeNode):
  """Both generators ('a_to_b' is G, 'b_to_a' is F), both Ds ('a', 'b'), their optimizer
  states and the two history pools (None when `--history_pool=0`).

  pool_a holds fakes in domain A (F's outputs) for D_A; pool_b holds G's for D_B.
  """

  step: jax.Array  # int32 scalar: completed training steps
  g_params: dict
  d_params: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  pool_a: HistoryPool | None
  pool_b: HistoryPool | None
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    items = {
      "step": self.step,
      "g_params": self.g_params,
      "d_params": self.d_params,
      "g_opt_state": self.g_opt_state,
      "d_opt_state": self.d_opt_state,
      "pool_a": self.pool_a,
      "pool_b": self.pool_b,
    }
    return {k: v for k, v in items.items() if v is not None}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> CycleGANState:
    return self.replace(**items)


def create_state(
  config: Config, generator: nn.Module, discriminator: nn.Module, image_shape: tuple[int, int, int], seed_key: jax.Array
) -> CycleGANState:
  """Initial state; `image_shape` is one image's [H, W, C] (both domains share it)."""
  init_key = rng.stream(seed_key, "init")
  x = jnp.zeros((1, *image_shape), jnp.float32)
  g_params = {
    name: generator.init(rng.stream(init_key, f"generator_{name}"), x)["params"] for name in ("a_to_b", "b_to_a")
  }
  d_params = {
    name: discriminator.init(rng.stream(init_key, f"discriminator_{name}"), x, train=False)["params"]
    for name in ("a", "b")
  }
  g_tx, d_tx = player_optimizers(config)
  pool = lambda: history_pool.empty(config.family.history_pool, image_shape) if config.family.history_pool else None  # noqa: E731
  return CycleGANState(
    step=jnp.zeros((), jnp.int32),
    g_params=g_params,
    d_params=d_params,
    g_opt_state=g_tx.init(g_params),
    d_opt_state=d_tx.init(d_params),
    pool_a=pool(),
    pool_b=pool(),
    g_tx=g_tx,
    d_tx=d_tx,
  )
