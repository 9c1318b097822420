"""Drawing images from a trained generator: from a checkpoint, in batches, reproducibly."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable

import jax
import numpy as np

from ganjax import checkpoint, rng
from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.models import build_gan, progressive
from ganjax.train import registry


def make_sampler(config: Config, image_shape: tuple[int, int, int]) -> Callable:
  """jitted (g_params, g_batch_stats, z [N, latent], labels [N] or None) -> images [N, H, W, C] in [-1, 1]."""
  generator, _ = build_gan(config, image_shape, axis_name=None)

  @functools.partial(jax.jit, static_argnames="stage")
  def sample(g_params, g_batch_stats, z, labels=None, stage=None, alpha=1.0):
    """`stage`/`alpha`: a progressively grown G's stage, its images upsampled to full size."""
    images = generator.apply(
      {"params": g_params, "batch_stats": g_batch_stats},
      z,
      train=False,
      labels=labels,
      **({} if stage is None else {"stage": stage, "alpha": alpha}),
    )
    return images if stage is None else progressive.upsample(images, image_shape[0] // images.shape[1])

  return sample


def default_labels(config: Config, num: int) -> np.ndarray | None:
  """Labels 0, 1, ..., classes-1, 0, 1, ... for a conditional model (balanced); None otherwise."""
  return np.arange(num, dtype=np.int32) % config.family.num_classes if config.family.num_classes else None


def draw(
  sample: Callable,
  g_params,
  g_batch_stats,
  z: jax.Array,
  batch_size: int = 500,
  labels: np.ndarray | None = None,
  growth: dict | None = None,
) -> np.ndarray:
  """`sample` over z [N, latent] in chunks of `batch_size`: float32 [N, H, W, C] on the host."""
  chunk = lambda a, i: None if a is None else a[i : i + batch_size]  # noqa: E731
  return np.concatenate(
    [
      np.asarray(sample(g_params, g_batch_stats, z[i : i + batch_size], chunk(labels, i), **(growth or {})))
      for i in range(0, z.shape[0], batch_size)
    ]
  )


BEST = "best"  # `step` of `load_generator`: the checkpoint in `<workdir>/best/`


@dataclasses.dataclass(frozen=True)
class TrainedGenerator:
  config: Config
  step: int
  g_params: dict
  g_batch_stats: dict
  image_shape: tuple[int, int, int]
  # Which checkpoint this is, for the user: "the checkpoint at step 4 in <dir>", say.
  source: str = ""
  weights: str = "g"  # "ema": the EMA generator's; "g": G's own

  def generate(self, num: int, seed: int = 0, batch_size: int = 500, labels: np.ndarray | None = None) -> np.ndarray:
    """float32 [num, H, W, C] in [-1, 1]; the same images for the same seed, any batch_size.

    A conditional model draws `labels` [num] (default: every class in turn).
    """
    if self.config.family.num_classes:
      labels = default_labels(self.config, num) if labels is None else np.asarray(labels, np.int32)
      if labels.shape != (num,) or labels.min() < 0 or labels.max() >= self.config.family.num_classes:
        raise UsageError(f"Labels must be {num} integers in [0, {self.config.family.num_classes}).")
    elif labels is not None:
      raise UsageError("This model is unconditional (trained without --num_classes); it takes no labels.")
    sample = make_sampler(self.config, self.image_shape)
    key = rng.stream(jax.random.key(seed), "samples")
    z = rng.example_normal(key, (num, self.config.family.latent_dim), axis_name=None)
    growth = progressive.sampling_growth(self.config.family.progressive_steps, self.step)
    return draw(sample, self.g_params, self.g_batch_stats, z, batch_size, labels, growth)


def load_generator(workdir: str, step: int | str | None = None, generator: str = "auto") -> TrainedGenerator:
  """The generator of `workdir`'s checkpoint at `step` (default: the newest that reads back;
  `BEST`: the one in `<workdir>/best/`, the lowest fid_mnist of the run's evaluations).

  Read-only: a corrupt newest checkpoint is skipped with a warning (training's resume moves
  such directories aside; sampling leaves the workdir as it found it). A checkpoint asked for
  by `step` is read or refused, never replaced by another. `generator`: as
  `checkpoint.restore_generator`.
  """
  if step == BEST:
    return _load_best(workdir, generator)
  if checkpoint.latest_step(workdir) is None:
    raise UsageError(f"No checkpoint in {workdir}; train first (python -m experiments.dcgan --workdir=...).")
  manager = checkpoint.open_manager(workdir, keep=1_000_000)  # never prunes: read only
  try:
    steps = sorted(manager.all_steps(), reverse=True)
    if step is not None and step not in steps:
      raise UsageError(f"No checkpoint at step {step} in {workdir}; it has {sorted(steps)}.")
    for candidate in [step] if step is not None else steps:
      try:
        trained = _read_generator(manager, workdir, candidate, generator)
      except checkpoint.CorruptCheckpoint as e:
        if step is not None or candidate == steps[-1]:
          raise
        checkpoint.warn(
          f"the checkpoint at step {candidate} in {workdir} is corrupt ({type(e.__cause__).__name__}); "
          "using the one before it."
        )
        continue
      return dataclasses.replace(trained, source=f"the checkpoint at step {candidate} in {manager.directory}")
  finally:
    manager.close()
  raise AssertionError("unreachable: the loop returns or raises")


def _load_best(workdir: str, generator: str) -> TrainedGenerator:
  path = checkpoint.best_dir(workdir)
  if not (os.path.isdir(path) and any(n.isdigit() for n in os.listdir(path))):
    raise UsageError(
      f"No best checkpoint in {path}: only runs that evaluate while training (--eval_every) keep "
      "one; leave out --step for the latest checkpoint."
    )
  manager = checkpoint.open_best_manager(workdir)
  try:
    step = manager.best_step()
    try:
      trained = _read_generator(manager, workdir, step, generator)
    except checkpoint.CorruptCheckpoint as e:
      raise checkpoint.CorruptCheckpoint(
        f"The best checkpoint at step {step} in {path} is corrupt or incomplete ({type(e.__cause__).__name__}; "
        "it was left untouched, and the next training run on this workdir moves it aside); leave out --step "
        "for the latest checkpoint."
      ) from e.__cause__
    value = (manager.metrics(step) or {}).get(checkpoint.BEST_METRIC)
    score = f", {checkpoint.BEST_METRIC} {value:.2f}" if value is not None else ""
    return dataclasses.replace(trained, source=f"the best checkpoint (step {step}{score}) in {path}")
  finally:
    manager.close()


def _read_generator(manager, workdir: str, step: int, generator: str) -> TrainedGenerator:
  saved = checkpoint.read_config(manager, step)
  if registry.family_name(saved.get("model", "dcgan")) != "gan":
    raise UsageError(
      f"{workdir} holds a --model={saved['model']} run, not a noise-to-image GAN; "
      f"use python -m experiments.{saved['model']} --workdir={workdir} to evaluate it."
    )
  g_params, g_batch_stats, data_position, saved = checkpoint.restore_generator(manager, step, generator)
  config = Config.from_dict(saved)
  weights = "ema" if generator == "ema" or (generator == "auto" and config.family.ema_decay > 0) else "g"
  return TrainedGenerator(config, step, g_params, g_batch_stats, tuple(data_position["image_shape"]), weights=weights)
