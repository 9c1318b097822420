"""The state of a G and a D that both keep BatchNorm statistics: pix2pix's and SRGAN's."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ganjax.config import Config
from ganjax.families.players import player_optimizers

PyTree = Any


class PlayersState(struct.PyTreeNode):
  """Step counter, G's and D's variables and optimizer states; the optimizers are static."""

  step: jax.Array  # int32 scalar: completed training steps
  g_params: PyTree
  g_batch_stats: PyTree
  d_params: PyTree
  d_batch_stats: PyTree
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    return {
      "step": self.step,
      "g_params": self.g_params,
      "g_batch_stats": self.g_batch_stats,
      "d_params": self.d_params,
      "d_batch_stats": self.d_batch_stats,
      "g_opt_state": self.g_opt_state,
      "d_opt_state": self.d_opt_state,
    }

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> PlayersState:
    return self.replace(**items)


def initial_players(config: Config, g_vars: dict, d_vars: dict, d_updates_per_step: int = 1) -> dict[str, Any]:
  """The fields every G-and-D state starts with, from the players' `init` variables: step 0,
  their params and BatchNorm statistics (empty without BatchNorm), fresh optimizer states."""
  g_tx, d_tx = player_optimizers(config, d_updates_per_step)
  return dict(
    step=jnp.zeros((), jnp.int32),
    g_params=g_vars["params"],
    g_batch_stats=g_vars.get("batch_stats", {}),
    d_params=d_vars["params"],
    d_batch_stats=d_vars.get("batch_stats", {}),
    g_opt_state=g_tx.init(g_vars["params"]),
    d_opt_state=d_tx.init(d_vars["params"]),
    g_tx=g_tx,
    d_tx=d_tx,
  )
