"""The VAE's training state (one pytree) and how it starts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import struct

from ganjax import rng
from ganjax.config import Config
from ganjax.models.vae import VAE
from ganjax.train.schedules import make_optimizer, make_schedule
from ganjax.train.task import PyTree


class VAEState(struct.PyTreeNode):
  """Step counter, the VAE's parameters and Adam's state; the optimizer is static."""

  step: jax.Array  # int32 scalar: completed training steps
  params: PyTree
  opt_state: optax.OptState
  tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    return {"step": self.step, "params": self.params, "opt_state": self.opt_state}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> VAEState:
    return self.replace(**items)


def build_model(config: Config, channels: int) -> VAE:
  return VAE(
    latent_dim=config.family.latent_dim,
    channels=channels,
    width=config.width,
    hidden=16 * config.width,
    gaussian=config.family.likelihood == "gaussian",
  )


def create_state(config: Config, model: VAE, image_shape: tuple[int, int, int], seed_key: jax.Array) -> VAEState:
  x = jnp.zeros((1, *image_shape), jnp.float32)
  params = model.init(rng.stream(seed_key, "init"), x, jnp.zeros((1, config.family.latent_dim)))["params"]
  tx = make_optimizer("adam", config, make_schedule(config, config.lr))
  return VAEState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), tx=tx)
