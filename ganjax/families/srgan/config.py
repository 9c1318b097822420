"""SRGAN's own flag checks, and the data and feature networks it takes."""

from __future__ import annotations

from ganjax.config import PLAYER_FIELDS, Config
from ganjax.data.sr_pairs import SR_DATASETS
from ganjax.errors import UsageError

FIELDS = PLAYER_FIELDS + (
  "leak",
  "loss",
  "real_label",
  "residual_blocks",
  "upscale",
  "hr_crop_size",
  "pretrain_steps",
  "content_weight",
  "perceptual_weight",
  "adversarial_weight",
  "feature_network",
  "vgg19_weights",
)
FEATURE_NETWORKS = ("none", "mnist_classifier", "vgg19")
SR_LOSSES = ("non_saturating", "minimax", "lsgan", "hinge")  # the ones SRGAN's step needs nothing more for


def validate(config: Config) -> None:
  """SRGAN's flags: sizes that fit the data and the networks, a feature network that fits the images."""
  if config.dataset not in SR_DATASETS:
    raise UsageError(f"--model=srgan trains on --dataset={'|'.join(SR_DATASETS)}, not {config.dataset}.")
  if config.upscale < 2 or config.upscale & (config.upscale - 1):
    raise UsageError(f"--upscale={config.upscale} must be a power of two (2, 4, 8): one pixel shuffle x2 per stage.")
  if config.residual_blocks < 0 or config.pretrain_steps < 0 or config.hr_crop_size < 0:
    raise UsageError("--residual_blocks, --pretrain_steps and --hr_crop_size must be 0 or positive.")
  crop = config.hr_crop_size or (28 if config.dataset == "mnist" else 96)
  if crop % config.upscale:
    raise UsageError(f"--hr_crop_size={crop} must be a multiple of --upscale={config.upscale}.")
  if config.dataset == "mnist" and crop > 28:
    raise UsageError(f"--hr_crop_size={crop} is larger than MNIST's 28x28 digits; use 28 or less.")
  if config.dataset == "sr_photos" and crop > 96:
    raise UsageError(f"--hr_crop_size={crop} is larger than sr_photos' 96x96 training crops; use 96 or less.")
  for name in ("content_weight", "perceptual_weight", "adversarial_weight"):
    if not getattr(config, name) >= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 (off) or positive.")
  if config.feature_network not in FEATURE_NETWORKS:
    raise UsageError(f"--feature_network={config.feature_network} is not one of {', '.join(FEATURE_NETWORKS)}.")
  if config.perceptual_weight and config.feature_network == "none":
    raise UsageError("--perceptual_weight needs a --feature_network (mnist_classifier for MNIST, vgg19 for photos).")
  if config.feature_network == "mnist_classifier" and (config.dataset != "mnist" or crop != 28):
    raise UsageError(
      "--feature_network=mnist_classifier sees whole 28x28 digits: use it with --dataset=mnist and --hr_crop_size=28."
    )
  if config.feature_network == "vgg19" and config.dataset == "mnist":
    raise UsageError("--feature_network=vgg19 takes RGB photographs; use mnist_classifier with --dataset=mnist.")
  if config.feature_network == "vgg19" and not config.vgg19_weights:
    raise UsageError(
      "--feature_network=vgg19 needs ImageNet weights: pass --vgg19_weights=PATH to Keras' "
      "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (ganjax downloads nothing)."
    )
  if crop < 16:
    raise UsageError(f"--hr_crop_size={crop} is too small for the discriminator's four stride-2 blocks; use 16+.")
  if config.loss not in SR_LOSSES:
    raise UsageError(f"--model=srgan takes --loss={'|'.join(SR_LOSSES)}, not {config.loss}.")
