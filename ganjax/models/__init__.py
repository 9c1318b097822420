"""Model families, built by name from the config."""

from __future__ import annotations

import flax.linen as nn

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.models import dcgan, mlp

DCGAN_SIZES = (28, 32, 64, 128)


def check_image_shape(config: Config, image_shape: tuple[int, ...]) -> None:
  """Raises UsageError when the model cannot generate the dataset's image size."""
  h, w = image_shape[:2]
  if config.family.progressive_steps and (h, w) != (28, 28):
    raise UsageError(
      f"--progressive_steps grows 7 -> 14 -> 28 pixels, but --dataset={config.dataset} has {h}x{w} "
      "images; use a 28x28 dataset such as mnist."
    )
  if config.model == "dcgan" and not (h == w and h in DCGAN_SIZES):
    raise UsageError(
      f"--model=dcgan generates square images of {', '.join(map(str, DCGAN_SIZES))} pixels but "
      f"--dataset={config.dataset} has {h}x{w}; resize the data or use --model=mlp."
    )


def check_labels(config: Config, source) -> None:
  """Raises UsageError when a conditional model meets data without labels, or too few classes."""
  if not config.family.num_classes:
    return
  if source.label_key is None:
    raise UsageError(
      f"--num_classes={config.family.num_classes} asks for a conditional model but --dataset={config.dataset} "
      "has no labels; use --num_classes=0."
    )
  if source.num_classes is not None and source.num_classes != config.family.num_classes:
    raise UsageError(
      f"--dataset={config.dataset} has {source.num_classes} classes but --num_classes="
      f"{config.family.num_classes}; pass --num_classes={source.num_classes}."
    )


def build_gan(config: Config, image_shape: tuple[int, int, int], axis_name: str | None) -> tuple[nn.Module, nn.Module]:
  """(generator, discriminator) for `config.model`, generating images of `image_shape` [H, W, C]."""
  d_options = dict(
    width=config.family.d_width or config.width,
    leak=config.family.leak,
    dropout=config.family.dropout,
    init_scheme=config.family.init,
    batchnorm=config.family.d_batchnorm,
    spectral_norm=config.family.spectral_norm,
    num_classes=config.family.num_classes,
    conditioning=config.family.d_conditioning,
    axis_name=axis_name,
  )
  g_options = dict(
    width=config.width,
    leak=config.family.leak,
    init_scheme=config.family.init,
    batchnorm=config.family.g_batchnorm,
    num_classes=config.family.num_classes,
    axis_name=axis_name,
  )
  if config.model == "dcgan":
    from ganjax.kernels.onednn import resolve_backend

    backend = resolve_backend(config.family.conv_backend)
    g = dcgan.Generator(channels=image_shape[-1], image_size=image_shape[0], conv_backend=backend, **g_options)
    return g, dcgan.Discriminator(conv_backend=backend, extra_convs=config.family.d_extra_convs, **d_options)
  if config.model == "mlp":
    return mlp.Generator(image_shape=tuple(image_shape), **g_options), mlp.Discriminator(**d_options)
  raise ValueError(f"unknown model {config.model}")
