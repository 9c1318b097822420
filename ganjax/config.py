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
LOSSES = ("non_saturating",)
MODELS = ("dcgan",)


@dataclasses.dataclass(frozen=True)
class Config:
  """Everything that defines a run. Flags of the same names override the defaults."""

  # Model
  model: str = "dcgan"
  latent_dim: int = 100
  width: int = 64
  leak: float = 0.2
  dropout: float = 0.3
  init: str = "dcgan"
  # Loss and optimisation
  loss: str = "non_saturating"
  lr: float = 2e-4
  b1: float = 0.5
  b2: float = 0.999
  # Data
  dataset: str = "mnist"
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


# Fields that decide the shapes in the state pytree: a checkpoint is only resumable, or
# loadable for sampling, by a config that agrees on all of them.
ARCHITECTURE_FIELDS = ("model", "latent_dim", "width", "dataset")


def architecture_differences(saved: dict, config: Config) -> list[str]:
  current = dataclasses.asdict(config)
  return [f"{k}={saved.get(k)!r} in the checkpoint, {current[k]!r} now"
          for k in ARCHITECTURE_FIELDS if saved.get(k) != current[k]]


def check_types(config: Config) -> None:
  """Every field of its declared type, every float finite: the checks below compare values."""
  for name, kind in field_types().items():
    value = getattr(config, name)
    # bool is an int to Python; 3 is a fine float.
    ok = (isinstance(value, bool) if kind is bool else
          isinstance(value, int) and not isinstance(value, bool) if kind is int else
          isinstance(value, (int, float)) and not isinstance(value, bool) if kind is float else
          isinstance(value, kind))
    if not ok:
      raise UsageError(f"--{name}={value!r} is not a{'n' if kind is int else ''} {kind.__name__}.")
    if kind is float and not math.isfinite(value):
      raise UsageError(f"--{name}={value} must be a finite number.")


def validate(config: Config) -> Config:
  """Raises UsageError naming the first bad value; returns the config unchanged."""
  check_types(config)
  choices = {"accelerator": ACCELERATORS, "init": INITS, "loss": LOSSES, "model": MODELS}
  for name, allowed in choices.items():
    if getattr(config, name) not in allowed:
      raise UsageError(f"--{name}={getattr(config, name)} is not one of {', '.join(allowed)}.")
  positive = ("latent_dim", "width", "batch_size", "steps", "log_every", "sample_every",
              "checkpoint_every", "keep_checkpoints")
  for name in positive:
    if getattr(config, name) <= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be a positive integer.")
  if config.eval_every < 0:
    raise UsageError(f"--eval_every={config.eval_every} must be 0 (off) or a positive integer.")
  if config.eval_every and config.eval_samples <= 256:
    raise UsageError(f"--eval_samples={config.eval_samples} is too few: fid_mnist on 256-d features needs "
                     "more than 256.")
  if not config.lr > 0:
    raise UsageError(f"--lr={config.lr} must be positive.")
  for name in ("b1", "b2", "dropout"):
    if not 0.0 <= getattr(config, name) < 1.0:
      raise UsageError(f"--{name}={getattr(config, name)} must be in [0, 1).")
  if config.leak < 0:
    raise UsageError(f"--leak={config.leak} must be non-negative.")
  if not config.workdir:
    raise UsageError("--workdir must name a directory.")
  # Faults: values that would fail only later, deep in a run.
  if not 0 <= config.seed < 2**63:
    raise UsageError(f"--seed={config.seed} must be in [0, 2**63).")
  if not config.dataset:
    raise UsageError("--dataset must name a TFDS dataset, such as mnist.")
  if config.num_processes < 0:
    raise UsageError(f"--num_processes={config.num_processes} must be 1 (one process), more, or 0 (detect).")
  if config.num_processes > 1 and not 0 <= config.process_id < config.num_processes:
    raise UsageError(f"--process_id={config.process_id} must be in [0, {config.num_processes}) "
                     f"for --num_processes={config.num_processes}.")
  if config.num_processes != 1 and config.eval_every:
    raise UsageError("In-training evaluation runs in one process only: pass --eval_every=0 with "
                     "--num_processes, and run experiments.evaluate on the checkpoints.")
  return config


def field_types() -> dict[str, type]:
  hints = typing.get_type_hints(Config)
  return {f.name: hints[f.name] for f in dataclasses.fields(Config)}
