"""Pix2pix (Isola et al. 2017) as a Task: U-Net G, conditional PatchGAN D, adversarial + lambda * L1.

G maps the condition x (an edge map) to an image; D scores every patch of the channel
concatenation (x, image) real or fake. Objectives, per device, images in [-1, 1]:
  D: 1/2 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]             (the paper halves D's objective)
  G: adversarial_weight * BCE(D(x, G(x)), 1) + l1_weight * mean |y - G(x)|   (non-saturating)
`--adversarial_weight=0` trains G on the L1 term alone, the L1-only U-Net baseline, through
the same code with D left untouched (its parameters stay in the state, never updated, so
both runs' checkpoints have one shape). Dropout in G's decoder is its noise while training;
samples and evaluation run G in inference mode (no dropout, BatchNorm's running averages)
for a deterministic output: the paper keeps dropout on at test time.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import numpy as np

from ganjax import images
from ganjax.config import Config
from ganjax.data.paired import PairedSource, load_paired_source
from ganjax.data.pipeline import to_model_range
from ganjax.families.pix2pix.state import Pix2pixState, build_models, create_state
from ganjax.families.pix2pix.step import make_train_step
from ganjax.train.task import Task

PyTree = Any
GRID_ROWS, GRID_TRIPLETS = 8, 4  # sample grids: 8 rows of 4 (input | output | target) triplets


def make_translate(generator: nn.Module):
  """Jitted (g_params, g_batch_stats, x [N, H, W, C] in [-1, 1]) -> G(x) in inference mode."""
  return jax.jit(lambda params, stats, x: generator.apply({"params": params, "batch_stats": stats}, x, train=False))


def load_split(config: Config, split: str) -> PairedSource:
  return load_paired_source(
    config.dataset, split, config.data_dir or None, config.family.input_feature, config.family.target_feature
  )


def as_three_channels(x: np.ndarray, channels: int) -> np.ndarray:
  """Grey images repeated to `channels` so inputs and outputs of different depths sit in one grid."""
  return np.repeat(x, channels, axis=-1) if x.shape[-1] == 1 and channels > 1 else x


def make_task(config: Config) -> Task:
  source = load_split(config, "train")
  generator, discriminator = build_models(config, source.target_shape[-1])
  seed_key = jax.random.key(config.seed)
  state = create_state(config, generator, discriminator, source.input_shape, source.target_shape, seed_key)
  test = load_split(config, "test")
  shown = {
    k: to_model_range(v)
    for k, v in test.read(np.arange(min(len(test), GRID_ROWS * GRID_TRIPLETS))).items()
    if v.dtype == np.uint8
  }
  generator_for_samples = build_models(config, source.target_shape[-1], axis_name=None)[0]
  translate = make_translate(generator_for_samples)
  channels = max(source.input_shape[-1], source.target_shape[-1])

  def write_samples(host_state: Pix2pixState, step: int, path: str) -> None:
    """Rows of (input | output | target) triplets of the first test examples, G in inference mode."""
    del step
    output = np.asarray(translate(host_state.g_params, host_state.g_batch_stats, shown["input"]))
    triplets = np.stack([as_three_channels(a, channels) for a in (shown["input"], output, shown["target"])], axis=1)
    picture = images.grid(images.to_uint8(triplets.reshape(-1, *triplets.shape[2:])), columns=3 * GRID_TRIPLETS)
    images.save_png(path, picture)

  progress = (("d", "d_loss"), ("l1", "g_l1")) if config.family.adversarial_weight else (("l1", "g_l1"),)
  return Task(
    state=state,
    source=source,
    make_step=lambda phase: make_train_step(config, generator, discriminator),
    write_samples=write_samples,
    progress=progress,
    curves=(
      ("losses", ("d_loss", "g_loss")),
      ("L1 to the target", ("g_l1",)),
      ("discriminator outputs (mean probability)", ("d_real", "d_fake")),
    ),
    data_position={
      "seed": config.seed,
      "input_shape": list(source.input_shape),
      "target_shape": list(source.target_shape),
    },
  )
