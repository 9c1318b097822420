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
from ganjax.families.gan import replay
from ganjax.families.gan.replay import ReplayBuffer
from ganjax.families.players_state import initial_players
from ganjax.models import progressive

PyTree = Any


class GANState(struct.PyTreeNode):
  """Step counter, both players' variables and optimizer states, and what tricks carry.

  The optimizers are static (not leaves): they are code, chosen by the config, and their
  schedules read the step count kept inside the optimizer states. `g_ema_params` and
  `replay` are None when their trick is off.
  """

  step: jax.Array  # int32 scalar: number of completed G updates (training steps)
  g_params: PyTree
  g_batch_stats: PyTree  # BatchNorm statistics; {} without BatchNorm
  d_params: PyTree
  d_batch_stats: PyTree  # BatchNorm statistics and spectral-norm power-iteration vectors
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  g_ema_params: PyTree | None = None  # exponential moving average of g_params
  replay: ReplayBuffer | None = None  # past fakes shown to D

  def checkpoint_items(self) -> dict[str, PyTree]:
    """The leaves to save: everything but the static optimizers and the empty parts."""
    items = {
      "step": self.step,
      "g_params": self.g_params,
      "g_batch_stats": self.g_batch_stats,
      "d_params": self.d_params,
      "d_batch_stats": self.d_batch_stats,
      "g_opt_state": self.g_opt_state,
      "d_opt_state": self.d_opt_state,
      "g_ema_params": self.g_ema_params,
      "replay": self.replay,
    }
    return {k: v for k, v in items.items() if v is not None and (k == "step" or jax.tree.leaves(v))}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> GANState:
    return self.replace(**items)

  def sampling_params(self) -> PyTree:
    """The generator weights to sample and evaluate with: the EMA ones when kept."""
    return self.g_params if self.g_ema_params is None else self.g_ema_params


def _every_generator_stage(module, z, train, labels):
  return [module(z, train, labels, stage=s, alpha=0.5) for s in range(len(progressive.RESOLUTIONS))]


def _every_discriminator_stage(module, x, train, labels):
  return [
    module(progressive.downsample(x, x.shape[1] // size), train, labels, stage=s, alpha=0.5)
    for s, size in enumerate(progressive.RESOLUTIONS)
  ]


def create_state(
  config: Config, generator: nn.Module, discriminator: nn.Module, image_shape: tuple[int, int, int], seed_key: jax.Array
) -> GANState:
  """Initial state; `image_shape` is one image's [H, W, C]."""
  init_key = rng.stream(seed_key, "init")
  z = jnp.zeros((1, config.family.latent_dim), jnp.float32)
  labels = jnp.zeros((1,), jnp.int32) if config.family.num_classes else None
  x = jnp.zeros((1, *image_shape), jnp.float32)
  if config.family.progressive_steps:  # every stage's layers, so the state never changes shape
    g_vars = generator.init(
      rng.stream(init_key, "generator"), z, train=False, labels=labels, method=_every_generator_stage
    )
    d_vars = discriminator.init(
      rng.stream(init_key, "discriminator"), x, train=False, labels=labels, method=_every_discriminator_stage
    )
  else:
    g_vars = generator.init(rng.stream(init_key, "generator"), z, train=False, labels=labels)
    d_vars = discriminator.init(rng.stream(init_key, "discriminator"), x, train=False, labels=labels)
  return GANState(
    **initial_players(config, g_vars, d_vars, config.family.d_steps),
    g_ema_params=jax.tree.map(jnp.copy, g_vars["params"]) if config.family.ema_decay else None,
    replay=replay.empty(config.family.replay_size, image_shape) if config.family.replay_size else None,
  )
