"""Drawing images from a trained generator: from a checkpoint, in batches, reproducibly."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import checkpoint, rng
from ganjax.config import Config, validate
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


# Noise draws whose activations give the EMA generator's standing BatchNorm statistics. On the
# default DCGAN's 3 seeds, fid_mnist moved by up to 1.2 between two draws of 1,024 and by at
# most 0.1 between 4,096 and 16,384 (docs/dcgan_quality.md).
STANDING_SAMPLES = 4096
# The running averages' start in the probe pass below: large, so that the momentum it reveals
# is exact to float rounding whatever the batch statistics' size.
_PROBE = 1024.0
_PROBE_SAMPLES = 8


def make_standing_stats(config: Config, image_shape: tuple[int, int, int]) -> Callable:
  """jitted (g_params, g_batch_stats, stage=None, alpha=1.0) -> the BatchNorm statistics of
  `g_params`' own activations on a fixed batch of noise (Brock et al. 2019's standing statistics).

  G's running averages follow G's weights. An EMA of those weights computes other activations,
  so sampling it with G's statistics normalises by the wrong mean and variance: at one
  checkpoint of a default run that took fid_mnist from about 20 to 59.9 (docs/dcgan_quality.md).

  Flax's BatchNorm updates each average as m * old + (1 - m) * batch in training mode. A pass
  from averages of 0 gives (1 - m) * batch. Two passes over a few draws, from 0 and from
  _PROBE, differ by m * _PROBE: the momentum, whatever its value per layer. A statistic that no
  layer of this stage updates (m = 1) keeps its value.
  """
  generator, _ = build_gan(config, image_shape, axis_name=None)
  key = rng.stream(jax.random.key(0), "standing_stats")
  z = rng.example_normal(key, (STANDING_SAMPLES, config.family.latent_dim), axis_name=None)
  labels = default_labels(config, STANDING_SAMPLES)

  @functools.partial(jax.jit, static_argnames="stage")
  def standing(g_params, g_batch_stats, stage=None, alpha=1.0):
    def updated(start, num):
      _, updates = generator.apply(
        {"params": g_params, "batch_stats": jax.tree.map(lambda a: jnp.full_like(a, start), g_batch_stats)},
        z[:num],
        train=True,
        labels=None if labels is None else labels[:num],
        mutable=["batch_stats"],
        **({} if stage is None else {"stage": stage, "alpha": alpha}),
      )
      return updates["batch_stats"]

    probe_low, probe_high = updated(0.0, _PROBE_SAMPLES), updated(_PROBE, _PROBE_SAMPLES)
    from_zero = updated(0.0, STANDING_SAMPLES)

    def solve(path, old, low, high, batch):
      if getattr(path[-1], "key", None) not in ("mean", "var"):
        return old
      momentum = (high - low) / _PROBE
      return jnp.where(momentum < 1.0, batch / jnp.maximum(1.0 - momentum, 1e-12), old)

    return jax.tree_util.tree_map_with_path(solve, g_batch_stats, probe_low, probe_high, from_zero)

  return standing


def make_sampling_stats(config: Config, image_shape: tuple[int, int, int], weights: str = "") -> Callable:
  """(sampling weights, G's batch_stats, step) -> the BatchNorm statistics that `weights` ("ema"
  or "g"; empty: the run's own, the EMA's when it keeps one) draw samples and evaluations with:
  standing ones for the EMA generator under --ema_bn_stats=standing, G's own otherwise."""
  weights = weights or ("ema" if config.family.ema_decay > 0 else "g")
  if not (weights == "ema" and config.family.ema_bn_stats == "standing"):
    return lambda g_params, g_batch_stats, step: g_batch_stats
  standing = make_standing_stats(config, image_shape)

  def stats_for(g_params, g_batch_stats, step):
    if not jax.tree.leaves(g_batch_stats):  # a G without BatchNorm
      return g_batch_stats
    return standing(g_params, g_batch_stats, **progressive.sampling_growth(config.family.progressive_steps, step))

  return stats_for


def truncate(z: jax.Array, threshold: float) -> jax.Array:
  """Standard normal draws `z` mapped into (-threshold, threshold): the standard normal truncated
  there, each draw through the two distributions' quantiles (z -> F_t^-1(Phi(z))). Monotone, so
  every threshold squeezes the same draws and paired comparisons hold; 0 leaves `z` as it is."""
  if not threshold:
    return z
  edge = jax.scipy.special.ndtr(-jnp.float32(threshold))  # the mass below -threshold
  quantile = edge + jax.scipy.special.ndtr(z) * (1.0 - 2.0 * edge)
  return jnp.clip(jax.scipy.special.ndtri(quantile), -threshold, threshold)


def sampling_noise(config: Config, key: jax.Array, num: int) -> jax.Array:
  """The noise [num, latent] that samples and evaluations draw from: row i a function of (key, i),
  truncated as --truncation says."""
  z = rng.example_normal(key, (num, config.family.latent_dim), axis_name=None)
  return truncate(z, config.family.truncation)


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
  # Discriminator filtering: keep this share of the draws, those the run's own D scores most
  # real (a hard form of Azadi et al. 2019's rejection sampling); 1: every draw.
  d_filter: float = 1.0
  d_variables: dict | None = None  # D's {"params", "batch_stats"} from the same checkpoint, when filtering

  def generate(self, num: int, seed: int = 0, batch_size: int = 500, labels: np.ndarray | None = None) -> np.ndarray:
    """float32 [num, H, W, C] in [-1, 1]; the same images for the same seed, any batch_size.

    A conditional model draws `labels` [num] (default: every class in turn). With `d_filter`
    below 1 it draws ceil(num / d_filter) images (the first num are those drawn without it) and
    keeps the num that D scores highest, in the order drawn.
    """
    if self.d_filter < 1.0:
      pool = self._draw(int(np.ceil(num / self.d_filter)), seed, batch_size, labels)
      scores = self.d_scores(pool, batch_size)
      return pool[np.sort(np.argsort(-scores, kind="stable")[:num])]
    return self._draw(num, seed, batch_size, labels)

  def d_scores(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """D's outputs [N] on `images`, in inference mode (its running BatchNorm averages)."""
    if self.d_variables is None:
      raise ValueError("This generator was loaded without its discriminator (load_generator's d_filter).")
    _, discriminator = build_gan(self.config, self.image_shape, axis_name=None)
    score = jax.jit(lambda x: discriminator.apply(self.d_variables, x, train=False))
    return np.concatenate([np.asarray(score(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])

  def _draw(self, num: int, seed: int, batch_size: int, labels: np.ndarray | None) -> np.ndarray:
    if self.config.family.num_classes:
      labels = default_labels(self.config, num) if labels is None else np.asarray(labels, np.int32)
      if labels.shape != (num,) or labels.min() < 0 or labels.max() >= self.config.family.num_classes:
        raise UsageError(f"Labels must be {num} integers in [0, {self.config.family.num_classes}).")
    elif labels is not None:
      raise UsageError("This model is unconditional (trained without --num_classes); it takes no labels.")
    sample = make_sampler(self.config, self.image_shape)
    z = sampling_noise(self.config, rng.stream(jax.random.key(seed), "samples"), num)
    growth = progressive.sampling_growth(self.config.family.progressive_steps, self.step)
    return draw(sample, self.g_params, self.g_batch_stats, z, batch_size, labels, growth)


def load_generator(
  workdir: str,
  step: int | str | None = None,
  generator: str = "auto",
  ema_bn_stats: str = "",
  truncation: float | None = None,
  d_filter: float = 1.0,
) -> TrainedGenerator:
  """The generator of `workdir`'s checkpoint at `step` (default: the newest that reads back;
  `BEST`: the one in `<workdir>/best/`, the lowest fid_mnist of the run's evaluations).

  Read-only: a corrupt newest checkpoint is skipped with a warning (training's resume moves
  such directories aside; sampling leaves the workdir as it found it). A checkpoint asked for
  by `step` is read or refused, never replaced by another. `generator`: as
  `checkpoint.restore_generator`. `ema_bn_stats`: the EMA generator's BatchNorm statistics,
  "g" or "standing" (see `make_standing_stats`); empty: as the run was configured.
  `truncation`: the noise's truncation threshold (see `truncate`; 0 off); None: as configured.
  `d_filter`: the share of draws `generate` keeps, D's best-scored (1: all; see TrainedGenerator).
  """
  if not 0.0 < d_filter <= 1.0:
    raise UsageError(f"--d_filter={d_filter} must be in (0, 1]: the share of the draws kept; 1 keeps all.")
  overrides = {"ema_bn_stats": ema_bn_stats, "truncation": truncation}
  if step == BEST:
    return _load_best(workdir, generator, overrides, d_filter)
  if checkpoint.latest_step(workdir) is None:
    raise UsageError(f"No checkpoint in {workdir}; train first (python -m experiments.dcgan --workdir=...).")
  manager = checkpoint.open_manager(workdir, keep=1_000_000)  # never prunes: read only
  try:
    steps = sorted(manager.all_steps(), reverse=True)
    if step is not None and step not in steps:
      raise UsageError(f"No checkpoint at step {step} in {workdir}; it has {sorted(steps)}.")
    for candidate in [step] if step is not None else steps:
      try:
        trained = _read_generator(manager, workdir, candidate, generator, overrides, d_filter)
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


def _load_best(workdir: str, generator: str, overrides: dict, d_filter: float) -> TrainedGenerator:
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
      trained = _read_generator(manager, workdir, step, generator, overrides, d_filter)
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


def _read_generator(
  manager, workdir: str, step: int, generator: str, overrides: dict, d_filter: float = 1.0
) -> TrainedGenerator:
  """`overrides`: sampling flags ({"ema_bn_stats": ..., "truncation": ...}) that replace the
  run's own; an empty or None value keeps the run's."""
  saved = checkpoint.read_config(manager, step)
  if registry.family_name(saved.get("model", "dcgan")) != "gan":
    raise UsageError(
      f"{workdir} holds a --model={saved['model']} run, not a noise-to-image GAN; "
      f"use python -m experiments.{saved['model']} --workdir={workdir} to evaluate it."
    )
  g_params, g_batch_stats, data_position, saved = checkpoint.restore_generator(manager, step, generator)
  config = Config.from_dict(saved)
  d_variables = None
  if d_filter < 1.0:
    if config.family.num_classes or config.family.progressive_steps:
      raise UsageError(
        "--d_filter ranks an unconditional, fixed-resolution model's draws; this run is "
        f"{'conditional (--num_classes)' if config.family.num_classes else 'grown progressively'}."
      )
    d_params, d_batch_stats = checkpoint.restore_discriminator(manager, step)
    d_variables = {"params": d_params, "batch_stats": d_batch_stats}
  given = {k: v for k, v in overrides.items() if v not in ("", None)}
  if given:
    # The same checks as the training flags: a bad value is one sentence and exit status 2.
    config = validate(config.replace(**given))
  weights = "ema" if generator == "ema" or (generator == "auto" and config.family.ema_decay > 0) else "g"
  image_shape = tuple(data_position["image_shape"])
  g_batch_stats = make_sampling_stats(config, image_shape, weights)(g_params, g_batch_stats, step)
  return TrainedGenerator(
    config, step, g_params, g_batch_stats, image_shape, weights=weights, d_filter=d_filter, d_variables=d_variables
  )
