"""The noise-to-image GANs (DCGAN, MLP GAN, conditional, WGAN, LSGAN, SNGAN, ...) as a Task."""

from __future__ import annotations

from collections.abc import Callable

import jax

from ganjax import images, rng
from ganjax.config import Config
from ganjax.data.pipeline import load_source
from ganjax.families.gan import evaluate as evaluation
from ganjax.families.gan.state import GANState, create_state
from ganjax.families.gan.step import lazy_r1_due, lazy_r1_on, make_train_step
from ganjax.models import build_gan, check_image_shape, check_labels, progressive
from ganjax.sampling import default_labels, make_sampler, make_sampling_stats, truncate
from ganjax.train.task import Task

GRID_ROWS = 8  # sample grids: 8 rows, same noise every time


def grid_columns(config: Config) -> int:
  """8 columns; a conditional model gets one column per class."""
  return config.family.num_classes or 8


def grid_noise(config: Config) -> jax.Array:
  key = rng.stream(jax.random.key(config.seed), "sample_grid")
  return truncate(
    jax.random.normal(key, (GRID_ROWS * grid_columns(config), config.family.latent_dim)), config.family.truncation
  )


def step_phases(config: Config, generator, discriminator, axis_name: str | None = "data") -> tuple[Callable, Callable]:
  """(phase: step -> which step function trains it, make_step: phase -> that pure step).

  A phase is (the resolution stage when growing progressively, whether lazy R1 is due), each
  None when its trick is off, so a run without either compiles one step. `axis_name` is the
  pmapped axis the steps average over; None for a step jitted on one device.
  """

  def phase(step: int):
    stage = progressive.stage_at(step, config.family.progressive_steps) if config.family.progressive_steps else None
    return stage, (bool(lazy_r1_due(step, config.family.r1_every)) if lazy_r1_on(config.family) else None)

  def make_step(phase):
    stage, r1_due = phase
    return make_train_step(config, generator, discriminator, axis_name=axis_name, stage=stage, r1_due=r1_due)

  return phase, make_step


def make_task(config: Config) -> Task:
  source = load_source(config.dataset, "train", config.data_dir or None, config.image_size or None)
  check_image_shape(config, source.image_shape)
  check_labels(config, source)
  generator, discriminator = build_gan(config, source.image_shape, axis_name="data")
  state = create_state(config, generator, discriminator, source.image_shape, jax.random.key(config.seed))

  phase, make_step = step_phases(config, generator, discriminator)
  sample = make_sampler(config, source.image_shape)
  sampling_stats = make_sampling_stats(config, source.image_shape)
  noise = grid_noise(config)
  labels = default_labels(config, len(noise))  # column c shows class c

  def write_samples(host_state: GANState, step: int, path: str) -> None:
    fakes = sample(
      host_state.sampling_params(),
      sampling_stats(host_state.sampling_params(), host_state.g_batch_stats, step),
      noise,
      labels,
      **progressive.sampling_growth(config.family.progressive_steps, step),
    )
    images.save_png(path, images.grid(images.to_uint8(jax.device_get(fakes)), columns=grid_columns(config)))

  data_position = {"seed": config.seed, "image_shape": list(source.image_shape)}
  make_evaluator = None
  if config.eval_every and evaluation.applies_to(source.image_shape):
    make_evaluator = lambda start_step: evaluation.PeriodicEvaluator(  # noqa: E731
      config, source.image_shape, data_position, start_step
    )
  return Task(
    state=state,
    source=source,
    make_step=make_step,
    write_samples=write_samples,
    phase=phase,
    progress=(("d", "d_loss"), ("g", "g_loss")),
    microbatches=config.family.d_steps,
    data_position=data_position,
    make_evaluator=make_evaluator,
  )
