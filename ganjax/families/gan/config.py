"""The noise-to-image GANs' flags (`config.family` of --model=dcgan and mlp) and their checks:
the networks, the losses, the regularisers and the tricks."""

from __future__ import annotations

import dataclasses

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.families.players import PlayersConfig, validate_players

INITS = ("glorot", "dcgan", "he", "lecun")
LOSSES = ("minimax", "non_saturating", "wgan", "wgan_gp", "lsgan", "hinge")
# Losses whose D is a classifier of real vs fake, so a "real label" below 1 means something.
LABELLED_LOSSES = ("minimax", "non_saturating", "lsgan")
CONDITIONINGS = ("concat", "projection")
EMA_BN_STATS = ("g", "standing")
CONV_BACKENDS = ("xla", "onednn", "auto")


@dataclasses.dataclass(frozen=True)
class GANConfig(PlayersConfig):
  """G and D, the loss and the tricks (0 switches a weight or size off)."""

  # Networks
  latent_dim: int = 100  # size of G's noise vector
  d_width: int = 0  # D's base channels when they differ from G's; 0: --width for both
  # A deeper DCGAN D: the tutorial's has two stride-2 convs for 28 pixels, Radford et al.'s four.
  d_extra_convs: int = 0  # stride-2 5x5 convs D adds after its own, each doubling the channels
  leak: float = 0.2  # LeakyReLU's negative slope
  dropout: float = 0.3  # in D, after each LeakyReLU; 0: off
  init: str = "dcgan"  # glorot | dcgan (N(0, 0.02)) | he | lecun
  g_batchnorm: bool = True  # BatchNorm in G's hidden layers
  d_batchnorm: bool = False  # BatchNorm in D's hidden layers (not its first)
  spectral_norm: bool = False  # of every D layer (Miyato et al. 2018)
  progressive_steps: int = 0  # >0: grow 7 -> 14 -> 28 pixels, this many steps per stage (Karras et al. 2018)
  num_classes: int = 0  # >0: class-conditional G and D (Mirza & Osindero 2014); 0: unconditional
  d_conditioning: str = "concat"  # how D sees the label: one-hot maps or a projection
  # Loss, regularisers and tricks
  loss: str = "non_saturating"  # minimax | non_saturating | wgan | wgan_gp | lsgan | hinge
  real_label: float = 1.0  # one-sided label smoothing below 1 (Salimans et al. 2016)
  d_steps: int = 1  # D updates per G update, all inside one step
  gradient_penalty: float = 0.0  # lambda of WGAN-GP (Gulrajani et al. 2017)
  r1_penalty: float = 0.0  # gamma of R1 on real data (Mescheder et al. 2018)
  # Lazy regularisation: R1's double backward pass paid on 1 step in k.
  r1_every: int = 1  # R1 on every k-th step only, weighted k (Karras et al. 2020, appendix B)
  clip_weights: float = 0.0  # WGAN's clipping range c (Arjovsky et al. 2017)
  d_l2: float = 0.0  # L2 penalty on D's weights, added to its loss
  instance_noise: float = 0.0  # std of noise on D's inputs, annealed linearly to 0
  instance_noise_steps: int = 0  # over this many steps; 0: over the whole run
  # Top-k training (Sinha et al. 2020): G's loss averages over only the fakes D scores most
  # real, the share falling from all of them to --top_k; the rest carry no gradient to G.
  top_k: float = 1.0  # share of each fake batch G learns from, D's highest-scored; 1: all
  top_k_steps: int = 0  # the share falls linearly from 1 to --top_k over this many steps; 0: the whole run
  replay_size: int = 0  # past fakes kept for D (Shrivastava et al. 2017)
  replay_share: float = 0.5  # share of each fake batch D sees drawn from them
  ema_decay: float = 0.0  # EMA of G's weights, used for samples and evaluation
  # The EMA's decay ramps up as min(ema_decay, (1 + t) / (10 + t)) at update t, so the initial
  # weights fade out in a few steps (TensorFlow's ExponentialMovingAverage with num_updates).
  # It reaches a decay d only after (10d - 1) / (1 - d) updates: 0.999 after 8,990, 0.9995 after
  # 17,990, beyond the default DCGAN's 13,000 steps (pass --ema_warmup=false to test a slower EMA).
  # Nothing without --ema_decay, so that --ema_decay=0 alone turns off the default DCGAN's EMA.
  ema_warmup: bool = False  # the decay min(ema_decay, (1 + t) / (10 + t)) at update t: 0.9995 after 17,990
  # The BatchNorm statistics the EMA generator samples with: "g", G's own running averages (of
  # G's activations, not the EMA's), or "standing", those of the EMA weights' own activations,
  # recomputed from a fixed batch of noise before each use (Brock et al. 2019's standing
  # statistics). Sampling only: training is the same either way.
  ema_bn_stats: str = "g"  # the EMA generator's BatchNorm statistics: g (G's running averages) or standing
  # The truncation trick (Brock et al. 2019): samples, grids and evaluations draw each noise
  # coordinate from the standard normal truncated to (-t, t), trading recall for precision.
  # 0: off, the training distribution. Sampling only: training always draws the full normal.
  truncation: float = 0.0  # sample noise from the normal truncated to (-t, t); 0: off
  # Who computes the DCGAN's convolutions on a CPU: XLA, or oneDNN's kernels through XLA's FFI
  # (ganjax.kernels.onednn; the same convolutions in another float rounding, faster on x86);
  # auto: oneDNN where the run computes on a CPU that has it, XLA elsewhere (a GPU, a Mac).
  conv_backend: str = "xla"  # the convolutions on a CPU: xla | onednn | auto (oneDNN where it can)


CONFIG = GANConfig  # the registry finds a family's flags by this name


def validate(config: Config) -> None:
  """Raises UsageError naming the first bad value of the family's flags."""
  gan = config.family
  validate_players(gan)
  for name, allowed in {
    "init": INITS,
    "loss": LOSSES,
    "d_conditioning": CONDITIONINGS,
    "ema_bn_stats": EMA_BN_STATS,
    "conv_backend": CONV_BACKENDS,
  }.items():
    if getattr(gan, name) not in allowed:
      raise UsageError(f"--{name}={getattr(gan, name)} is not one of {', '.join(allowed)}.")
  for name in ("latent_dim", "d_steps", "r1_every"):
    if getattr(gan, name) <= 0:
      raise UsageError(f"--{name}={getattr(gan, name)} must be a positive integer.")
  if not 0.0 <= gan.dropout < 1.0:
    raise UsageError(f"--dropout={gan.dropout} must be in [0, 1).")
  if gan.leak < 0:
    raise UsageError(f"--leak={gan.leak} must be non-negative.")
  _validate_tricks(config, gan)


def _validate_onednn(config: Config) -> None:
  from ganjax.kernels import onednn

  if config.model != "dcgan":
    raise UsageError(f"--conv_backend=onednn computes the DCGAN's convolutions; --model={config.model} has none.")
  if config.accelerator in ("gpu", "tpu"):
    raise UsageError(f"--conv_backend=onednn runs on the CPU; use it with --accelerator=cpu, not {config.accelerator}.")
  reason = onednn.unavailable_reason()
  if reason:
    raise UsageError(f"--conv_backend=onednn {reason}.")


def _validate_tricks(config: Config, gan: GANConfig) -> None:
  """Ranges of the regularisers, and the combinations that make no sense."""
  non_negative = (
    "truncation",
    "gradient_penalty",
    "r1_penalty",
    "clip_weights",
    "d_l2",
    "instance_noise",
    "instance_noise_steps",
    "top_k_steps",
    "replay_size",
    "d_width",
    "d_extra_convs",
    "num_classes",
    "progressive_steps",
  )
  for name in non_negative:
    if not getattr(gan, name) >= 0:
      raise UsageError(f"--{name}={getattr(gan, name)} must be 0 (off) or positive.")
  if not 0.0 < gan.real_label <= 1.0:
    raise UsageError(f"--real_label={gan.real_label} must be in (0, 1]; 0.9 is one-sided label smoothing.")
  if gan.real_label != 1.0 and gan.loss not in LABELLED_LOSSES:
    raise UsageError(
      f"--real_label applies to the {', '.join(LABELLED_LOSSES)} losses, whose D classifies "
      f"real vs fake; --loss={gan.loss} has no labels to smooth."
    )
  if gan.clip_weights and gan.loss != "wgan":
    raise UsageError(f"--clip_weights is WGAN's Lipschitz constraint and needs --loss=wgan, not --loss={gan.loss}.")
  if gan.loss == "wgan" and not (gan.clip_weights or gan.spectral_norm or gan.gradient_penalty):
    raise UsageError(
      "--loss=wgan needs a Lipschitz constraint on the critic: --clip_weights=0.01, "
      "--spectral_norm=true or --gradient_penalty=10."
    )
  if gan.loss == "wgan_gp" and not gan.gradient_penalty:
    raise UsageError("--loss=wgan_gp needs --gradient_penalty > 0 (the paper uses 10).")
  if gan.gradient_penalty and gan.d_batchnorm:
    raise UsageError(
      "The gradient penalty is per example and BatchNorm mixes examples: use "
      "--d_batchnorm=false with it (Gulrajani et al. 2017, section 4)."
    )
  if gan.conv_backend == "onednn":
    _validate_onednn(config)
  if gan.progressive_steps and config.model != "dcgan":
    raise UsageError("--progressive_steps grows the DCGAN (7 -> 14 -> 28 pixels); use it with --model=dcgan.")
  if gan.d_extra_convs and config.model != "dcgan":
    raise UsageError(f"--d_extra_convs deepens the DCGAN's D; --model={config.model} has no convs.")
  if gan.d_extra_convs and gan.progressive_steps:
    raise UsageError(
      f"--d_extra_convs={gan.d_extra_convs} does not combine with --progressive_steps, whose D grows in three "
      "fixed stages: add --d_extra_convs=0 (the default DCGAN has one extra conv)."
    )
  if gan.progressive_steps and gan.replay_size:
    raise UsageError("--replay_size does not combine with --progressive_steps: past fakes have another resolution.")
  if gan.replay_size and gan.num_classes:
    raise UsageError(
      "--replay_size does not combine with a conditional model (--num_classes) yet: the buffer keeps no labels."
    )
  if gan.replay_size and not 0.0 < gan.replay_share < 1.0:
    raise UsageError(f"--replay_share={gan.replay_share} must be in (0, 1) when --replay_size is on.")
  if not 0.0 < gan.top_k <= 1.0:
    raise UsageError(f"--top_k={gan.top_k} must be in (0, 1]: the share of each fake batch G learns from.")
  if not 0.0 <= gan.ema_decay < 1.0:
    raise UsageError(f"--ema_decay={gan.ema_decay} must be in [0, 1); 0.999 is typical.")
