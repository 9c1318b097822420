"""The GAN family's train step as the training loop runs it, for the benchmarks.

Import after `ganjax.xla_flags.set_xla_flags()`: this imports JAX.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import numpy as np

from ganjax.config import Config
from ganjax.families.gan.state import GANState, create_state
from ganjax.families.gan.task import step_phases
from ganjax.models import build_gan
from ganjax.train.loop import compiled_per_phase, pmapped, replicate


def pmapped_steps(config: Config, devices, image_shape=(28, 28, 1)) -> tuple[GANState, callable]:
  """(the initial state replicated over `devices`, step_for: i -> the pmapped step that trains
  step i), each pmapped as the loop does (state donated, the key shared). A config with
  phases (lazy R1, progressive growing) gets one compiled step per phase, as in a run."""
  generator, discriminator = build_gan(config, image_shape=image_shape, axis_name="data")
  state = replicate(create_state(config, generator, discriminator, image_shape, jax.random.key(0)), devices)
  phase, make_step = step_phases(config, generator, discriminator)
  return state, compiled_per_phase(phase, make_step, functools.partial(pmapped, devices=devices))


def jitted_steps(config: Config, image_shape=(28, 28, 1)) -> tuple[GANState, callable]:
  """(state, step_for) as `pmapped_steps`, but each phase's step jitted for one device, without
  pmap's per-call work and its cross-device averages."""
  generator, discriminator = build_gan(config, image_shape=image_shape, axis_name=None)
  state = jax.device_put(create_state(config, generator, discriminator, image_shape, jax.random.key(0)))
  phase, make_step = step_phases(config, generator, discriminator, axis_name=None)
  return state, compiled_per_phase(phase, make_step, lambda step: jax.jit(step, donate_argnums=(0,)))


def run_steps(state, step_for, batch: dict, key, first: int, count: int):
  """Calls the steps numbered `first` to `first + count - 1`, each its own phase's program (lazy
  R1's on its steps, as a run calls them), and waits for the last: (state, seconds)."""
  start = time.perf_counter()
  for i in range(first, first + count):
    state, metrics = step_for(i)(state, batch, key)
  jax.block_until_ready(metrics)
  return state, time.perf_counter() - start


def step_caller(config: Config, index: int):
  """A callable that runs the step that trains step `index` of `config` on one device, on a
  fixed random batch, and returns its metrics; each call trains on from the last one's state
  (the step donates it)."""
  state, step_for = pmapped_steps(config, jax.local_devices()[:1])
  step = step_for(index)
  images = config.batch_size * config.family.d_steps
  batch = {"image": np.random.default_rng(0).uniform(-1, 1, (1, images, 28, 28, 1)).astype(np.float32)}
  key = jax.random.key(0)
  current = [state]

  def call():
    current[0], metrics = step(current[0], batch, key)
    return metrics

  call.lower = lambda: step.lower(current[0], batch, key)  # for reading the compiled HLO
  return call


def add_network_arguments(parser: argparse.ArgumentParser, batches: str, steps: int) -> None:
  """`--preset`, `--batches`, `--rounds` and `--steps` of the benchmarks that time
  experiments.dcgan's step in interleaved rounds against variants or parts of it."""
  parser.add_argument("--preset", default="", help="experiments.dcgan's preset (tutorial); empty: its default")
  parser.add_argument("--batches", default=batches, help="a comma list of batch sizes")
  parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the step and its comparisons")
  parser.add_argument("--steps", type=int, default=steps, help="calls timed per round, of the step and of each other")


def network_configs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Config]:
  """experiments.dcgan's config of `--preset` (its default without one) at each of `--batches`;
  an unknown preset exits with status 2."""
  from experiments import dcgan

  if args.preset and args.preset not in dcgan.PRESETS:
    parser.exit(2, f"--preset={args.preset} is not one of {', '.join(dcgan.PRESETS)}.\n")
  base = dcgan.PRESETS[args.preset] if args.preset else dcgan.DEFAULTS
  return [base.replace(batch_size=int(b)) for b in args.batches.split(",") if b]
