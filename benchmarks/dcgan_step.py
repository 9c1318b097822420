"""The GAN family's train step as the training loop runs it, for the benchmarks.

Import after `ganjax.xla_flags.set_xla_flags()`: this imports JAX.
"""

from __future__ import annotations

import jax

from ganjax.config import Config
from ganjax.families.gan.state import GANState, create_state
from ganjax.families.gan.task import step_phases
from ganjax.models import build_gan
from ganjax.train.loop import replicate


def pmapped_steps(config: Config, devices, image_shape=(28, 28, 1)) -> tuple[GANState, callable]:
  """(the initial state replicated over `devices`, step_for: i -> the pmapped step that trains
  step i), each pmapped as the loop does (state donated, the key shared). A config with
  phases (lazy R1, progressive growing) gets one compiled step per phase, as in a run."""
  generator, discriminator = build_gan(config, image_shape=image_shape, axis_name="data")
  state = replicate(create_state(config, generator, discriminator, image_shape, jax.random.key(0)), devices)
  phase, make_step = step_phases(config, generator, discriminator)
  compiled = {}

  def step_for(i: int):
    if phase(i) not in compiled:
      compiled[phase(i)] = jax.pmap(
        make_step(phase(i)), axis_name="data", in_axes=(0, 0, None), donate_argnums=(0,), devices=devices
      )
    return compiled[phase(i)]

  return state, step_for
