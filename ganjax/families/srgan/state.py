"""SRGAN's training state (one pytree) and how it starts."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax import rng
from ganjax.config import Config
from ganjax.families.players_state import PlayersState, initial_players
from ganjax.models.srgan import SRDiscriminator, SRResNet
from ganjax.train.task import PyTree


class SRGANState(PlayersState):
  """Step counter, G's and D's variables and optimizer states, and the feature network's weights.

  `feature_params` (None without a perceptual loss) are a leaf so that pmap passes them
  to the step as an argument instead of baking VGG19's 80 MB into the program; they are
  fixed and come from their file, so checkpoints leave them out.
  """

  feature_params: PyTree | None = None


def build_models(config: Config, channels: int, axis_name: str | None) -> tuple[nn.Module, nn.Module]:
  generator = SRResNet(
    width=config.width,
    residual_blocks=config.family.residual_blocks,
    upscale=config.family.upscale,
    channels=channels,
    axis_name=axis_name,
  )
  return generator, SRDiscriminator(width=config.width, leak=config.family.leak, axis_name=axis_name)


def create_state(
  config: Config,
  generator: nn.Module,
  discriminator: nn.Module,
  hr_shape: tuple[int, int, int],
  feature_params: PyTree | None,
) -> SRGANState:
  """Initial state for HR crops of `hr_shape` [H, W, C] (D's Dense layer depends on it)."""
  init_key = rng.stream(jax.random.key(config.seed), "init")
  lr = jnp.zeros(
    (1, hr_shape[0] // config.family.upscale, hr_shape[1] // config.family.upscale, hr_shape[2]), jnp.float32
  )
  g_vars = generator.init(rng.stream(init_key, "generator"), lr, train=False)
  d_vars = discriminator.init(rng.stream(init_key, "discriminator"), jnp.zeros((1, *hr_shape)), train=False)
  return SRGANState(
    **initial_players(config, g_vars, d_vars),
    feature_params=feature_params,
  )
