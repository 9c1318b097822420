"""Progressive growing: the stage schedule, seamless fade-ins, and resume across a stage boundary."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.config import Config
from ganjax.families.gan.state import create_state
from ganjax.models import build_gan, progressive
from ganjax.train.loop import train_and_evaluate

CONFIG = Config.from_flags(width=4, latent_dim=8, progressive_steps=100)


def test_stage_and_fade_in_follow_the_step():
  stages = [progressive.stage_at(s, 100) for s in (0, 99, 100, 199, 200, 10_000)]
  assert stages == [0, 0, 1, 1, 2, 2]
  alphas = [float(progressive.alpha_at(s, progressive.stage_at(s, 100), 100)) for s in (0, 100, 125, 150, 199, 250)]
  np.testing.assert_allclose(alphas, [1.0, 0.0, 0.5, 1.0, 1.0, 1.0])


@pytest.mark.slow
def test_each_fade_in_starts_exactly_where_the_previous_stage_ended():
  generator, discriminator = build_gan(CONFIG, (28, 28, 1), axis_name=None)
  state = create_state(CONFIG, generator, discriminator, (28, 28, 1), jax.random.key(0))
  g_vars = {"params": state.g_params, "batch_stats": state.g_batch_stats}
  d_vars = {"params": state.d_params}
  z = jax.random.normal(jax.random.key(1), (3, 8))
  x = jax.random.uniform(jax.random.key(2), (3, 28, 28, 1), minval=-1, maxval=1)
  for stage in (1, 2):
    size = progressive.RESOLUTIONS[stage]
    before = generator.apply(g_vars, z, train=False, stage=stage - 1, alpha=1.0)
    after = generator.apply(g_vars, z, train=False, stage=stage, alpha=0.0)
    chex.assert_shape(after, (3, size, size, 1))
    np.testing.assert_allclose(after, progressive.upsample(before, 2), atol=1e-6)
    x_stage = progressive.downsample(x, 28 // size)
    d_before = discriminator.apply(d_vars, progressive.downsample(x_stage, 2), train=False, stage=stage - 1)
    d_after = discriminator.apply(d_vars, x_stage, train=False, stage=stage, alpha=0.0)
    np.testing.assert_allclose(d_after, d_before, atol=1e-5)
  # The last stage at full fade-in is the ordinary DCGAN.
  full = generator.apply(g_vars, z, train=False)
  np.testing.assert_allclose(generator.apply(g_vars, z, train=False, stage=2, alpha=1.0), full, atol=1e-6)
  np.testing.assert_allclose(
    discriminator.apply(d_vars, x, train=False, stage=2, alpha=1.0),
    discriminator.apply(d_vars, x, train=False),
    atol=1e-5,
  )


def test_reals_fade_in_like_the_generator():
  x = jax.random.uniform(jax.random.key(0), (2, 28, 28, 1))
  np.testing.assert_allclose(progressive.reals_at(x, 2, 1.0), x, atol=1e-6)
  np.testing.assert_allclose(
    progressive.reals_at(x, 2, 0.0), progressive.upsample(progressive.downsample(x, 2), 2), atol=1e-6
  )
  chex.assert_shape(progressive.reals_at(x, 0, 1.0), (2, 7, 7, 1))


@pytest.mark.slow
def test_run_resumed_across_a_stage_boundary_equals_the_uninterrupted_run(tiny_config, tmp_path):
  config = tiny_config.replace(progressive_steps=2, width=4, latent_dim=8, sample_every=100, log_every=1)
  straight = train_and_evaluate(config.replace(steps=5, workdir=str(tmp_path / "straight")))
  interrupted = str(tmp_path / "interrupted")
  train_and_evaluate(config.replace(steps=3, checkpoint_every=100, workdir=interrupted))  # stops inside stage 1
  resumed = train_and_evaluate(config.replace(steps=5, workdir=interrupted))  # fades into stage 2
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))
  assert float(jnp.abs(straight.g_params["to_rgb_7"]["kernel"]).sum()) > 0
