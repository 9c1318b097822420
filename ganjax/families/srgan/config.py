"""SRGAN's flags (`config.family` of --model=srgan), their checks, and the data and feature
networks it takes. --width is G's and D's base channels."""

from __future__ import annotations

import dataclasses

from ganjax.config import Config
from ganjax.data.sr_pairs import SR_DATASETS
from ganjax.errors import UsageError
from ganjax.families.players import PlayersConfig, validate_players

FEATURE_NETWORKS = ("none", "mnist_classifier", "vgg19")
SR_LOSSES = ("non_saturating", "minimax", "lsgan", "hinge")  # the ones SRGAN's step needs nothing more for


@dataclasses.dataclass(frozen=True)
class SRGANConfig(PlayersConfig):
  """SRResNet G, the SRGAN D and the losses of Ledig et al. 2017."""

  leak: float = 0.2  # D's LeakyReLU slope
  loss: str = "non_saturating"  # D's loss and G's adversarial term: non_saturating | minimax | lsgan | hinge
  real_label: float = 1.0  # one-sided label smoothing below 1 (Salimans et al. 2016)
  residual_blocks: int = 16  # B, SRResNet's residual blocks
  upscale: int = 4  # the super-resolution factor, a power of two
  hr_crop_size: int = 0  # HR training crops (LR: this / upscale); 0: the dataset's (96, MNIST 28)
  pretrain_steps: int = 0  # steps of pixel MSE alone first (SRResNet); = --steps trains SRResNet only
  content_weight: float = 1.0  # pixel MSE
  perceptual_weight: float = 0.0  # feature-space MSE on --feature_network (the paper: 0.006 on VGG54)
  adversarial_weight: float = 1e-3  # G's adversarial term (the paper: 1e-3 against VGG54)
  feature_network: str = "none"  # mnist_classifier | vgg19 | none
  vgg19_weights: str = ""  # Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, for vgg19


CONFIG = SRGANConfig  # the registry finds a family's flags by this name


def validate(config: Config) -> None:
  """SRGAN's flags: sizes that fit the data and the networks, a feature network that fits the images."""
  sr = config.family
  validate_players(sr)
  if not 0.0 < sr.real_label <= 1.0:
    raise UsageError(f"--real_label={sr.real_label} must be in (0, 1]; 0.9 is one-sided label smoothing.")
  if sr.leak < 0:
    raise UsageError(f"--leak={sr.leak} must be non-negative.")
  if config.dataset not in SR_DATASETS:
    raise UsageError(f"--model=srgan trains on --dataset={'|'.join(SR_DATASETS)}, not {config.dataset}.")
  if sr.upscale < 2 or sr.upscale & (sr.upscale - 1):
    raise UsageError(f"--upscale={sr.upscale} must be a power of two (2, 4, 8): one pixel shuffle x2 per stage.")
  if sr.residual_blocks < 0 or sr.pretrain_steps < 0 or sr.hr_crop_size < 0:
    raise UsageError("--residual_blocks, --pretrain_steps and --hr_crop_size must be 0 or positive.")
  crop = sr.hr_crop_size or (28 if config.dataset == "mnist" else 96)
  if crop % sr.upscale:
    raise UsageError(f"--hr_crop_size={crop} must be a multiple of --upscale={sr.upscale}.")
  if config.dataset == "mnist" and crop > 28:
    raise UsageError(f"--hr_crop_size={crop} is larger than MNIST's 28x28 digits; use 28 or less.")
  if config.dataset == "sr_photos" and crop > 96:
    raise UsageError(f"--hr_crop_size={crop} is larger than sr_photos' 96x96 training crops; use 96 or less.")
  for name in ("content_weight", "perceptual_weight", "adversarial_weight"):
    if not getattr(sr, name) >= 0:
      raise UsageError(f"--{name}={getattr(sr, name)} must be 0 (off) or positive.")
  if sr.feature_network not in FEATURE_NETWORKS:
    raise UsageError(f"--feature_network={sr.feature_network} is not one of {', '.join(FEATURE_NETWORKS)}.")
  if sr.perceptual_weight and sr.feature_network == "none":
    raise UsageError("--perceptual_weight needs a --feature_network (mnist_classifier for MNIST, vgg19 for photos).")
  if sr.feature_network == "mnist_classifier" and (config.dataset != "mnist" or crop != 28):
    raise UsageError(
      "--feature_network=mnist_classifier sees whole 28x28 digits: use it with --dataset=mnist and --hr_crop_size=28."
    )
  if sr.feature_network == "vgg19" and config.dataset == "mnist":
    raise UsageError("--feature_network=vgg19 takes RGB photographs; use mnist_classifier with --dataset=mnist.")
  if sr.feature_network == "vgg19" and not sr.vgg19_weights:
    raise UsageError(
      "--feature_network=vgg19 needs ImageNet weights: pass --vgg19_weights=PATH to Keras' "
      "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 (ganjax downloads nothing)."
    )
  if crop < 16:
    raise UsageError(f"--hr_crop_size={crop} is too small for the discriminator's four stride-2 blocks; use 16+.")
  if sr.loss not in SR_LOSSES:
    raise UsageError(f"--model=srgan takes --loss={'|'.join(SR_LOSSES)}, not {sr.loss}.")
