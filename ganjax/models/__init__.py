"""Model families, built by name from the config."""

from __future__ import annotations

import flax.linen as nn

from ganjax.config import Config
from ganjax.models import dcgan


def build_gan(config: Config, channels: int, axis_name: str | None) -> tuple[nn.Module, nn.Module]:
  """(generator, discriminator) for `config.model`, producing `channels`-channel images."""
  if config.model == "dcgan":
    g = dcgan.Generator(width=config.width, channels=channels, leak=config.leak, init_scheme=config.init,
                        axis_name=axis_name)
    d = dcgan.Discriminator(width=config.width, leak=config.leak, dropout=config.dropout,
                            init_scheme=config.init, axis_name=axis_name)
    return g, d
  raise ValueError(f"unknown model {config.model}")
