"""One frozen config per run: the run's own fields, and the chosen family's in `config.family`.

The run's fields (data, the run, optimisation, several processes) mean the same for every
family. Each family's own flags are a frozen dataclass in its package
(`ganjax.families.<name>.config`), which `--model` picks. Flags keep their flat names on the
command line (`--latent_dim`, not `--family.latent_dim`): `Config.from_flags` and `replace`
route each name to its place, and a name the chosen family does not take is an error naming it.

Defaults live in the experiment file, flags override. The config is saved as JSON beside
every checkpoint, so `experiments.sample` can rebuild the model and a resumed run can check
that the checkpoint belongs to the same model; the flat JSON of older workdirs still reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any

from ganjax.errors import UsageError

ACCELERATORS = ("auto", "cpu", "gpu", "tpu")
LR_SCHEDULES = ("constant", "inverse_time", "exponential", "warmup_cosine", "cyclical", "linear_decay")


@dataclasses.dataclass(frozen=True)
class NoFamilyFlags:
  """The `family` of a family that takes no flags of its own (one without a config module)."""


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that defines a run. Flags of the same names override the defaults."""

  # Data
  dataset: str = "mnist"  # a TFDS image dataset: mnist (shipped), fashion_mnist, cifar10, celeb_a, ...
  image_size: int = 0  # 0: as stored; else centre square resized to this (celeb_a: 64)
  data_dir: str = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets
  batch_size: int = 64  # global, over all devices
  data_workers: int = 0  # processes decoding batches (grain); 0: the main process, fastest on a 2-core CPU
  # Run
  model: str = "dcgan"  # the model, and with it the family whose flags the run takes
  width: int = 64  # the networks' base channels
  steps: int = 4000  # training steps (one G update each)
  seed: int = 0  # the one key every random draw of the run derives from
  accelerator: str = "auto"  # auto | cpu | gpu | tpu; auto: the best JAX finds
  workdir: str = "runs/dcgan"  # checkpoints, metrics and images; a run resumes from it
  log_every: int = 50  # steps between metrics.jsonl lines and progress-bar updates
  sample_every: int = 500  # steps between sample grids
  checkpoint_every: int = 500  # steps between checkpoints
  keep_checkpoints: int = 3  # the newest this many are kept
  # Sample metrics (fid_mnist, ...) every this many steps on this many samples; 0: never.
  eval_every: int = 1000  # steps between sample-metric evaluations; 0: never
  eval_samples: int = 1000  # samples each evaluation scores
  # Faults: keep the old state (only the step moves on) when a loss or gradient is NaN/Inf,
  # instead of stopping; skipped updates are counted in the metrics.
  skip_nonfinite: bool = False  # skip an update whose loss or gradient is NaN/Inf instead of stopping
  # Optimisation
  lr: float = 2e-4  # peak learning rate of both players
  b1: float = 0.5  # Adam's beta1
  b2: float = 0.999  # Adam's beta2
  lr_schedule: str = "constant"  # constant | inverse_time | exponential | warmup_cosine | cyclical | linear_decay
  decay_steps: int = 1000  # inverse_time / exponential: the time scale of the decay
  decay_rate: float = 0.5  # inverse_time / exponential: how much the rate falls per decay_steps
  warmup_steps: int = 0  # warmup_cosine: linear warm-up, then cosine to min_lr_ratio*lr
  cycle_steps: int = 2000  # cyclical: one triangle from min_lr_ratio*lr to lr and back
  min_lr_ratio: float = 0.1  # warmup_cosine / cyclical: the lowest rate as a share of lr
  # Several processes on JAX's distributed runtime: 1 is one process; 0 lets
  # jax.distributed detect the cluster (SLURM, Open MPI, TPU pod, Kubernetes).
  num_processes: int = 1  # processes of one run; 0: detect the cluster
  process_id: int = 0  # this process's rank, 0 .. num_processes - 1
  coordinator_address: str = ""  # host:port of process 0 (or $JAX_COORDINATOR_ADDRESS)
  # The chosen family's own flags (ganjax.families.<name>.config); None: that family's defaults.
  family: Any = None

  def __post_init__(self):
    if self.family is None:
      from ganjax.train import registry  # it imports this module

      # An unknown --model keeps None: `validate` names it among the models there are.
      if self.model in registry.models():
        object.__setattr__(self, "family", registry.family_config(self.model)())

  @classmethod
  def from_flags(cls, **flags) -> Config:
    """A config from flat flag names, as the command line gives them: the run's defaults, the
    family's (of `model`, dcgan by default) for the rest."""
    return cls(model=flags.get("model", cls.model)).replace(**flags)

  def replace(self, **changes) -> Config:
    """A copy with `changes`, each a run field, a field of the family, or `family` itself.
    A change of `model` to another family starts from that family's defaults."""
    run_names = set(RUN_FIELDS)
    run = {k: v for k, v in changes.items() if k in run_names}
    own = {k: v for k, v in changes.items() if k not in run_names and k != "family"}
    model, family = run.get("model", self.model), changes.get("family")
    if family is None:
      family = self.family if model == self.model or _same_family(model, self.model) else Config(model=model).family
    if own:
      if family is None:
        from ganjax.train import registry

        raise UsageError(f"--model={model} is not one of {', '.join(registry.models())}.")
      taken = {f.name for f in dataclasses.fields(family)}
      for name in own:
        if name not in taken:
          raise UsageError(f"--{name} is not an option of --model={model}{_family_words(model)}; leave it out.")
      family = dataclasses.replace(family, **own)
    return dataclasses.replace(self, **run, family=family)

  def flat(self) -> dict:
    """Every flag by its command-line name: the run's fields, then the family's."""
    values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "family"}
    if self.family is not None:
      values.update(dataclasses.asdict(self.family))
    return values

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, values: dict) -> Config:
    """The config saved as `values`: nested (`family` a dict) or the flat layout workdirs had
    before families had their own configs. Names this version no longer knows are dropped."""
    flat = flatten(values)
    config = cls(model=flat.get("model", cls.model))
    if config.family is None:
      return config.replace(**{k: v for k, v in flat.items() if k in RUN_FIELDS})
    taken = set(RUN_FIELDS) | {f.name for f in dataclasses.fields(config.family)}
    return config.replace(**{k: v for k, v in flat.items() if k in taken})


def flatten(values: dict) -> dict:
  """A saved config (nested or flat) as one dict of flag names."""
  flat = {k: v for k, v in values.items() if k != "family"}
  flat.update(values.get("family") or {})
  return flat


def _same_family(model: str, other: str) -> bool:
  from ganjax.train import registry

  table = registry.models()
  return model in table and table.get(model) == table.get(other)


def _family_words(model: str) -> str:
  from ganjax.train import registry

  return f" (the {registry.family_name(model)} family)" if model in registry.models() else ""


# The run's fields by their --help section. The rest are the family's (`config.family`).
RUN_SECTIONS = {
  "data": ("dataset", "image_size", "data_dir", "batch_size", "data_workers"),
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


# Flags that decide the shapes in the state pytree: a checkpoint is only resumable, or
# loadable for sampling, by a config that agrees on all of them (the ones its family has).
ARCHITECTURE_FIELDS = (
  "model",
  "latent_dim",
  "width",
  "d_width",
  "d_extra_convs",
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
  """What keeps `config` from restoring a checkpoint saved with `saved` (nested or flat)."""
  current = config.flat()
  # Fields added after the checkpoint was written read as their defaults.
  defaults = Config(model=current["model"]).flat()
  saved = flatten(saved)
  # Only the flags of the current family: a flat config of older workdirs held every family's.
  names = [k for k in ARCHITECTURE_FIELDS if k in current]
  old = {k: saved.get(k, defaults[k]) for k in names}
  diffs = [f"{k}={old[k]!r} in the checkpoint, {current[k]!r} now" for k in names if old[k] != current[k]]
  saved_ema = saved.get("ema_decay", 0.0) > 0
  current_ema = current.get("ema_decay", 0.0) > 0
  if saved_ema != current_ema:
    diffs.append(
      f"EMA generator {'on' if saved_ema else 'off'} in the checkpoint, {'on' if current_ema else 'off'} now"
    )
  return diffs


def field_types(cls: type = Config) -> dict[str, type]:
  """A config dataclass's fields and their types (the run's without `family`)."""
  hints = typing.get_type_hints(cls)
  return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.name != "family"}


def check_types(config: Config) -> None:
  """Every flag of its declared type, every float finite: the checks below compare values."""
  kinds = field_types() | (field_types(type(config.family)) if config.family is not None else {})
  values = config.flat()
  for name, kind in kinds.items():
    value = values[name]
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

  if config.model not in registry.models():
    raise UsageError(f"--model={config.model} is not one of {', '.join(registry.models())}.")
  check_types(config)
  for name, allowed in {"accelerator": ACCELERATORS, "lr_schedule": LR_SCHEDULES}.items():
    if getattr(config, name) not in allowed:
      raise UsageError(f"--{name}={getattr(config, name)} is not one of {', '.join(allowed)}.")
  positive = (
    "width",
    "batch_size",
    "steps",
    "log_every",
    "sample_every",
    "checkpoint_every",
    "keep_checkpoints",
    "decay_steps",
    "cycle_steps",
  )
  for name in positive:
    if getattr(config, name) <= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be a positive integer.")
  for name in ("warmup_steps", "image_size"):
    if getattr(config, name) < 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 (off) or positive.")
  if config.data_workers < 0:
    raise UsageError(
      f"--data_workers={config.data_workers} must be 0 (read in the main process) or a number of worker processes."
    )
  if config.eval_every < 0:
    raise UsageError(f"--eval_every={config.eval_every} must be 0 (off) or a positive integer.")
  if config.eval_every and config.eval_samples <= 256:
    raise UsageError(
      f"--eval_samples={config.eval_samples} is too few: fid_mnist on 256-d features needs more than 256."
    )
  if not config.lr > 0:
    raise UsageError(f"--lr={config.lr} must be positive.")
  for name in ("b1", "b2"):
    if not 0.0 <= getattr(config, name) < 1.0:
      raise UsageError(f"--{name}={getattr(config, name)} must be in [0, 1).")
  if not config.workdir:
    raise UsageError("--workdir must name a directory.")
  if not 0.0 <= config.min_lr_ratio <= 1.0:
    raise UsageError(f"--min_lr_ratio={config.min_lr_ratio} must be in [0, 1].")
  if not config.decay_rate > 0:
    raise UsageError(f"--decay_rate={config.decay_rate} must be positive.")
  if config.lr_schedule == "warmup_cosine" and config.warmup_steps >= config.steps:
    raise UsageError(f"--warmup_steps={config.warmup_steps} must be shorter than the run (--steps={config.steps}).")
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
