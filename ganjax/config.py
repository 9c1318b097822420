"""One flat, frozen config per run: defaults live in the experiment file, flags override.

It is saved as JSON beside every checkpoint, so `experiments.sample` can rebuild the model
and a resumed run can check that the checkpoint belongs to the same model.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing

from ganjax.errors import UsageError

ACCELERATORS = ("auto", "cpu", "gpu", "tpu")
INITS = ("glorot", "dcgan", "he", "lecun")
LOSSES = ("minimax", "non_saturating", "wgan", "wgan_gp", "lsgan", "hinge")
# Losses whose D is a classifier of real vs fake, so a "real label" below 1 means something.
LABELLED_LOSSES = ("minimax", "non_saturating", "lsgan")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
CONDITIONINGS = ("concat", "projection")
LR_SCHEDULES = ("constant", "inverse_time", "exponential", "warmup_cosine", "cyclical", "linear_decay")


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that defines a run. Flags of the same names override the defaults."""

  # Model
  model: str = "dcgan"
  latent_dim: int = 100
  width: int = 64
  d_width: int = 0  # D's base channels when they differ from G's; 0: --width for both
  leak: float = 0.2
  dropout: float = 0.3
  init: str = "dcgan"
  g_batchnorm: bool = True
  d_batchnorm: bool = False
  spectral_norm: bool = False  # of every D layer (Miyato et al. 2018)
  progressive_steps: int = 0  # >0: grow 7 -> 14 -> 28 pixels, this many steps per stage (Karras et al. 2018)
  num_classes: int = 0  # >0: class-conditional G and D (Mirza & Osindero 2014); 0: unconditional
  d_conditioning: str = "concat"  # how D sees the label: one-hot maps or a projection
  # Loss, regularisers and tricks (0 switches a weight or size off)
  loss: str = "non_saturating"
  real_label: float = 1.0  # one-sided label smoothing below 1 (Salimans et al. 2016)
  d_steps: int = 1  # D updates per G update, all inside one step
  gradient_penalty: float = 0.0  # lambda of WGAN-GP (Gulrajani et al. 2017)
  r1_penalty: float = 0.0  # gamma of R1 on real data (Mescheder et al. 2018)
  clip_weights: float = 0.0  # WGAN's clipping range c (Arjovsky et al. 2017)
  d_l2: float = 0.0  # L2 penalty on D's weights, added to its loss
  d_weight_decay: float = 0.0  # decoupled weight decay of D's optimizer (AdamW)
  instance_noise: float = 0.0  # std of noise on D's inputs, annealed linearly to 0
  instance_noise_steps: int = 0  # over this many steps; 0: over the whole run
  replay_size: int = 0  # past fakes kept for D (Shrivastava et al. 2017)
  replay_share: float = 0.5  # share of each fake batch D sees drawn from them
  ema_decay: float = 0.0  # EMA of G's weights, used for samples and evaluation
  # The EMA's decay ramps up as min(ema_decay, (1 + t) / (10 + t)) at update t, so the initial
  # weights fade out in a few steps (TensorFlow's ExponentialMovingAverage with num_updates).
  # Nothing without --ema_decay, so that --ema_decay=0 alone turns off the default DCGAN's EMA.
  ema_warmup: bool = False
  # Optimisation
  g_optimizer: str = "adam"
  d_optimizer: str = "adam"
  lr: float = 2e-4
  d_lr: float = 0.0  # 0: same as --lr; set it for two time-scale updates (Heusel et al. 2017)
  b1: float = 0.5
  b2: float = 0.999
  lr_schedule: str = "constant"
  decay_steps: int = 1000  # inverse_time / exponential: the time scale of the decay
  decay_rate: float = 0.5
  warmup_steps: int = 0  # warmup_cosine: linear warm-up, then cosine to min_lr_ratio*lr
  cycle_steps: int = 2000  # cyclical: one triangle from min_lr_ratio*lr to lr and back
  min_lr_ratio: float = 0.1
  # CycleGAN (ganjax.families.cyclegan; Zhu et al. 2017). The generators' and PatchGAN Ds' base
  # width is --width (64 in the paper).
  cyclegan_blocks: int = 9  # residual blocks of each generator (paper: 6 at 128x128, 9 at 256x256)
  cycle_weight: float = 10.0  # lambda: weight of the L1 cycle-consistency losses, A->B->A and B->A->B
  identity_ratio: float = 0.5  # identity loss weight as a multiple of --cycle_weight (paper: 0.5); 0: off
  history_pool: int = 50  # past fakes kept for each D (paper: 50); 0: D sees only the latest fakes
  # SRGAN (Ledig et al. 2017; ganjax.families.srgan): --width is G's and D's base channels.
  residual_blocks: int = 16  # B, SRResNet's residual blocks
  upscale: int = 4  # the super-resolution factor, a power of two
  hr_crop_size: int = 0  # HR training crops (LR: this / upscale); 0: the dataset's (96, MNIST 28)
  pretrain_steps: int = 0  # steps of pixel MSE alone first (SRResNet); = --steps trains SRResNet only
  content_weight: float = 1.0  # pixel MSE
  perceptual_weight: float = 0.0  # feature-space MSE on --feature_network (the paper: 0.006 on VGG54)
  # G's adversarial term: SRGAN (the paper: 1e-3 against VGG54) and pix2pix (1; 0 trains the L1-only U-Net).
  adversarial_weight: float = 1e-3
  feature_network: str = "none"  # mnist_classifier | vgg19 | none
  vgg19_weights: str = ""  # Keras' vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5, for vgg19
  # VAE (ganjax.families.vae) and pix2pix (ganjax.families.pix2pix)
  likelihood: str = "bernoulli"  # VAE's p(x|z) on intensities in [0, 1]: bernoulli, or gaussian with a learned sigma
  beta: float = 1.0  # VAE: weight of the KL term (Higgins et al. 2017); 1 is the ELBO
  l1_weight: float = 100.0  # pix2pix: lambda of the L1 term (Isola et al. 2017)
  input_feature: str = "input"  # pix2pix: the paired dataset's condition image
  target_feature: str = "target"  # pix2pix: the paired dataset's image to produce
  # Data
  dataset: str = "mnist"
  image_size: int = 0  # 0: as stored; else centre square resized to this (celeb_a: 64)
  data_dir: str = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets
  batch_size: int = 64  # global, over all devices
  # Run
  steps: int = 4000
  seed: int = 0
  accelerator: str = "auto"
  workdir: str = "runs/dcgan"
  log_every: int = 50
  sample_every: int = 500
  checkpoint_every: int = 500
  keep_checkpoints: int = 3
  # Sample metrics (fid_mnist, ...) every this many steps on this many samples; 0: never.
  eval_every: int = 1000
  eval_samples: int = 1000
  # Faults: keep the old state (only the step moves on) when a loss or gradient is NaN/Inf,
  # instead of stopping; skipped updates are counted in the metrics.
  skip_nonfinite: bool = False
  # Several processes on JAX's distributed runtime: 1 is one process; 0 lets
  # jax.distributed detect the cluster (SLURM, Open MPI, TPU pod, Kubernetes).
  num_processes: int = 1
  process_id: int = 0
  coordinator_address: str = ""  # host:port of process 0 (or $JAX_COORDINATOR_ADDRESS)

  def replace(self, **changes) -> Config:
    return dataclasses.replace(self, **changes)

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, values: dict) -> Config:
    known = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in known})


# The fields every family takes, by their --help section: data, the run, optimisation, several
# processes. The rest belong to one family or some (each family's `config.FIELDS`), and a family
# refuses those it does not take (`ganjax.train.registry.validate`).
RUN_SECTIONS = {
  "data": ("dataset", "image_size", "data_dir", "batch_size"),
  "run": (
    "model",
    "steps",
    "seed",
    "accelerator",
    "workdir",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_every",
    "eval_samples",
    "skip_nonfinite",
    "width",
  ),
  "optimisation": (
    "lr",
    "b1",
    "b2",
    "lr_schedule",
    "decay_steps",
    "decay_rate",
    "warmup_steps",
    "cycle_steps",
    "min_lr_ratio",
  ),
  "several processes": ("num_processes", "process_id", "coordinator_address"),
}
RUN_FIELDS = tuple(field for fields in RUN_SECTIONS.values() for field in fields)
# What every two-player family (G and D, each its own optimiser) takes beyond those.
PLAYER_FIELDS = ("g_optimizer", "d_optimizer", "d_lr", "d_weight_decay")


# Fields that decide the shapes in the state pytree: a checkpoint is only resumable, or
# loadable for sampling, by a config that agrees on all of them.
ARCHITECTURE_FIELDS = (
  "model",
  "latent_dim",
  "width",
  "d_width",
  "dataset",
  "image_size",
  "g_batchnorm",
  "d_batchnorm",
  "spectral_norm",
  "replay_size",
  "g_optimizer",
  "d_optimizer",
  "num_classes",
  "d_conditioning",
  "progressive_steps",
  "cyclegan_blocks",
  "history_pool",
  "residual_blocks",
  "upscale",
  "hr_crop_size",
  "likelihood",
)


def architecture_differences(saved: dict, config: Config) -> list[str]:
  """What keeps `config` from restoring a checkpoint saved with `saved` (an asdict)."""
  current = dataclasses.asdict(config)
  defaults = dataclasses.asdict(Config())
  old = {k: saved.get(k, defaults[k]) for k in ARCHITECTURE_FIELDS}  # fields added later
  diffs = [f"{k}={old[k]!r} in the checkpoint, {current[k]!r} now" for k in ARCHITECTURE_FIELDS if old[k] != current[k]]
  saved_ema = saved.get("ema_decay", 0.0) > 0
  if saved_ema != (config.ema_decay > 0):
    diffs.append(
      f"EMA generator {'on' if saved_ema else 'off'} in the checkpoint, {'on' if config.ema_decay > 0 else 'off'} now"
    )
  return diffs


def check_types(config: Config) -> None:
  """Every field of its declared type, every float finite: the checks below compare values."""
  for name, kind in field_types().items():
    value = getattr(config, name)
    # bool is an int to Python; 3 is a fine float.
    ok = (
      isinstance(value, bool)
      if kind is bool
      else isinstance(value, int) and not isinstance(value, bool)
      if kind is int
      else isinstance(value, (int, float)) and not isinstance(value, bool)
      if kind is float
      else isinstance(value, kind)
    )
    if not ok:
      raise UsageError(f"--{name}={value!r} is not a{'n' if kind is int else ''} {kind.__name__}.")
    if kind is float and not math.isfinite(value):
      raise UsageError(f"--{name}={value} must be a finite number.")


def validate(config: Config) -> Config:
  """Raises UsageError naming the first bad value; returns the config unchanged."""
  from ganjax.train import registry  # it imports this module

  check_types(config)
  choices = {
    "accelerator": ACCELERATORS,
    "init": INITS,
    "loss": LOSSES,
    "model": tuple(registry.models()),
    "g_optimizer": OPTIMIZERS,
    "d_optimizer": OPTIMIZERS,
    "lr_schedule": LR_SCHEDULES,
    "d_conditioning": CONDITIONINGS,
  }
  for name, allowed in choices.items():
    if getattr(config, name) not in allowed:
      raise UsageError(f"--{name}={getattr(config, name)} is not one of {', '.join(allowed)}.")
  positive = (
    "latent_dim",
    "width",
    "batch_size",
    "steps",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "d_steps",
    "decay_steps",
    "cycle_steps",
  )
  for name in positive:
    if getattr(config, name) <= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be a positive integer.")
  if config.eval_every < 0:
    raise UsageError(f"--eval_every={config.eval_every} must be 0 (off) or a positive integer.")
  if config.eval_every and config.eval_samples <= 256:
    raise UsageError(
      f"--eval_samples={config.eval_samples} is too few: fid_mnist on 256-d features needs more than 256."
    )
  if not config.lr > 0:
    raise UsageError(f"--lr={config.lr} must be positive.")
  for name in ("b1", "b2", "dropout"):
    if not 0.0 <= getattr(config, name) < 1.0:
      raise UsageError(f"--{name}={getattr(config, name)} must be in [0, 1).")
  if config.leak < 0:
    raise UsageError(f"--leak={config.leak} must be non-negative.")
  if not config.workdir:
    raise UsageError("--workdir must name a directory.")
  _validate_tricks(config)
  registry.validate(config)  # the family's own checks
  # Faults: values that would fail only later, deep in a run.
  if not 0 <= config.seed < 2**63:
    raise UsageError(f"--seed={config.seed} must be in [0, 2**63).")
  if not config.dataset:
    raise UsageError("--dataset must name a TFDS dataset, such as mnist.")
  if config.num_processes < 0:
    raise UsageError(f"--num_processes={config.num_processes} must be 1 (one process), more, or 0 (detect).")
  if config.num_processes > 1 and not 0 <= config.process_id < config.num_processes:
    raise UsageError(
      f"--process_id={config.process_id} must be in [0, {config.num_processes}) "
      f"for --num_processes={config.num_processes}."
    )
  if config.num_processes > 1 and config.eval_every and config.eval_samples % config.num_processes:
    raise UsageError(
      f"--eval_samples={config.eval_samples} must be a multiple of --num_processes="
      f"{config.num_processes}: each process draws an equal share."
    )
  return config


def _validate_tricks(config: Config) -> None:
  """Ranges of the regularisers and schedules, and the combinations that make no sense."""
  non_negative = (
    "gradient_penalty",
    "r1_penalty",
    "clip_weights",
    "d_l2",
    "d_weight_decay",
    "instance_noise",
    "instance_noise_steps",
    "replay_size",
    "d_width",
    "d_lr",
    "warmup_steps",
    "num_classes",
    "image_size",
    "progressive_steps",
  )
  for name in non_negative:
    if not getattr(config, name) >= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 (off) or positive.")
  if not 0.0 < config.real_label <= 1.0:
    raise UsageError(f"--real_label={config.real_label} must be in (0, 1]; 0.9 is one-sided label smoothing.")
  if config.real_label != 1.0 and config.loss not in LABELLED_LOSSES:
    raise UsageError(
      f"--real_label applies to the {', '.join(LABELLED_LOSSES)} losses, whose D classifies "
      f"real vs fake; --loss={config.loss} has no labels to smooth."
    )
  if config.clip_weights and config.loss != "wgan":
    raise UsageError(f"--clip_weights is WGAN's Lipschitz constraint and needs --loss=wgan, not --loss={config.loss}.")
  if config.loss == "wgan" and not (config.clip_weights or config.spectral_norm or config.gradient_penalty):
    raise UsageError(
      "--loss=wgan needs a Lipschitz constraint on the critic: --clip_weights=0.01, "
      "--spectral_norm=true or --gradient_penalty=10."
    )
  if config.loss == "wgan_gp" and not config.gradient_penalty:
    raise UsageError("--loss=wgan_gp needs --gradient_penalty > 0 (the paper uses 10).")
  if config.gradient_penalty and config.d_batchnorm:
    raise UsageError(
      "The gradient penalty is per example and BatchNorm mixes examples: use "
      "--d_batchnorm=false with it (Gulrajani et al. 2017, section 4)."
    )
  if config.progressive_steps and config.model != "dcgan":
    raise UsageError("--progressive_steps grows the DCGAN (7 -> 14 -> 28 pixels); use it with --model=dcgan.")
  if config.progressive_steps and config.replay_size:
    raise UsageError("--replay_size does not combine with --progressive_steps: past fakes have another resolution.")
  if config.replay_size and config.num_classes:
    raise UsageError(
      "--replay_size does not combine with a conditional model (--num_classes) yet: the buffer keeps no labels."
    )
  if config.replay_size and not 0.0 < config.replay_share < 1.0:
    raise UsageError(f"--replay_share={config.replay_share} must be in (0, 1) when --replay_size is on.")
  if not 0.0 <= config.ema_decay < 1.0:
    raise UsageError(f"--ema_decay={config.ema_decay} must be in [0, 1); 0.999 is typical.")
  if not 0.0 <= config.min_lr_ratio <= 1.0:
    raise UsageError(f"--min_lr_ratio={config.min_lr_ratio} must be in [0, 1].")
  if not config.decay_rate > 0:
    raise UsageError(f"--decay_rate={config.decay_rate} must be positive.")
  if config.lr_schedule == "warmup_cosine" and config.warmup_steps >= config.steps:
    raise UsageError(f"--warmup_steps={config.warmup_steps} must be shorter than the run (--steps={config.steps}).")


def field_types() -> dict[str, type]:
  hints = typing.get_type_hints(Config)
  return {f.name: hints[f.name] for f in dataclasses.fields(Config)}
