"""pix2pix's training state (one pytree) and how it starts."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ganjax import rng
from ganjax.config import Config
from ganjax.families.players_state import PlayersState, initial_players
from ganjax.models.patchgan import PatchDiscriminator
from ganjax.models.unet import UNet


class Pix2pixState(PlayersState):
  """Step counter, G's and D's variables and optimizer states; the optimizers are static."""


def build_models(config: Config, out_channels: int, axis_name: str | None = "data") -> tuple[UNet, PatchDiscriminator]:
  """G and D. D: the PatchGAN with two stride-2 layers for 28x28 images (7x7 patch scores)."""
  generator = UNet(
    out_channels=out_channels,
    width=config.width,
    dropout=config.family.dropout,
    leak=config.family.leak,
    axis_name=axis_name,
  )
  discriminator = PatchDiscriminator(
    width=config.width, downsamples=2, norm="batch", leak=config.family.leak, axis_name=axis_name
  )
  return generator, discriminator


def create_state(
  config: Config,
  generator: UNet,
  discriminator: PatchDiscriminator,
  input_shape: tuple[int, ...],
  target_shape: tuple[int, ...],
  seed_key: jax.Array,
) -> Pix2pixState:
  init_key = rng.stream(seed_key, "init")
  x = jnp.zeros((1, *input_shape), jnp.float32)
  pair = jnp.zeros((1, *input_shape[:-1], input_shape[-1] + target_shape[-1]), jnp.float32)
  g_vars = generator.init(rng.stream(init_key, "generator"), x, train=False)
  d_vars = discriminator.init(rng.stream(init_key, "discriminator"), pair, train=False)
  return Pix2pixState(
    **initial_players(config, g_vars, d_vars),
  )
