"""Model families, built by name from the config."""

from __future__ import annotations

import flax.linen as nn

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.models import dcgan, mlp


# Image sizes [H, W] each model family generates.
OUTPUT_SIZES = {"dcgan": (28, 28), "mlp": (28, 28)}


def check_image_shape(config: Config, image_shape: tuple[int, ...]) -> None:
  """Raises UsageError when the dataset's images are not the size the model generates."""
  size = OUTPUT_SIZES[config.model]
  if tuple(image_shape[:2]) != size:
    raise UsageError(f"--model={config.model} generates {size[0]}x{size[1]} images but --dataset={config.dataset} "
                     f"has {image_shape[0]}x{image_shape[1]}; pick a {size[0]}x{size[1]} dataset such as "
                     "mnist or fashion_mnist.")


def check_labels(config: Config, source) -> None:
  """Raises UsageError when a conditional model meets data without labels, or too few classes."""
  if not config.num_classes:
    return
  if source.label_key is None:
    raise UsageError(f"--num_classes={config.num_classes} asks for a conditional model but --dataset={config.dataset} "
                     "has no labels; use --num_classes=0.")
  if source.num_classes is not None and source.num_classes != config.num_classes:
    raise UsageError(f"--dataset={config.dataset} has {source.num_classes} classes but --num_classes="
                     f"{config.num_classes}; pass --num_classes={source.num_classes}.")


def build_gan(config: Config, channels: int, axis_name: str | None) -> tuple[nn.Module, nn.Module]:
  """(generator, discriminator) for `config.model`, producing `channels`-channel images."""
  d_options = dict(width=config.width, leak=config.leak, dropout=config.dropout, init_scheme=config.init,
                   batchnorm=config.d_batchnorm, spectral_norm=config.spectral_norm, num_classes=config.num_classes,
                   conditioning=config.d_conditioning, axis_name=axis_name)
  if config.model == "dcgan":
    g = dcgan.Generator(width=config.width, channels=channels, leak=config.leak, init_scheme=config.init,
                        batchnorm=config.g_batchnorm, num_classes=config.num_classes, axis_name=axis_name)
    return g, dcgan.Discriminator(**d_options)
  if config.model == "mlp":
    height, width = OUTPUT_SIZES["mlp"]
    g = mlp.Generator(image_shape=(height, width, channels), width=config.width, leak=config.leak,
                      init_scheme=config.init, batchnorm=config.g_batchnorm, num_classes=config.num_classes,
                      axis_name=axis_name)
    return g, mlp.Discriminator(**d_options)
  raise ValueError(f"unknown model {config.model}")
