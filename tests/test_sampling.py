"""Which weights a trained run samples with: the EMA generator's by default, G's own on request."""

import chex
import jax
import numpy as np
import pytest

from ganjax.errors import UsageError
from ganjax.sampling import load_generator
from ganjax.train.loop import train_and_evaluate


def test_generator_flag_picks_the_ema_or_g_weights(tiny_config):
  state = train_and_evaluate(tiny_config.replace(ema_decay=0.5, eval_every=0))
  auto = load_generator(tiny_config.workdir)
  ema = load_generator(tiny_config.workdir, generator="ema")
  own = load_generator(tiny_config.workdir, generator="g")
  assert (auto.weights, ema.weights, own.weights) == ("ema", "ema", "g")
  chex.assert_trees_all_close(auto.g_params, jax.device_get(state.g_ema_params))
  chex.assert_trees_all_close(own.g_params, jax.device_get(state.g_params))
  assert not np.allclose(auto.generate(8), own.generate(8))


def test_asking_for_an_ema_generator_a_run_did_not_keep_is_refused(tiny_config):
  train_and_evaluate(tiny_config.replace(steps=2, eval_every=0))
  assert load_generator(tiny_config.workdir).weights == "g"
  with pytest.raises(UsageError, match="kept no EMA generator"):
    load_generator(tiny_config.workdir, generator="ema")


def test_standing_statistics_are_the_ema_weights_own_batch_statistics(tiny_config):
  """Sampling the EMA weights in inference mode with the standing statistics normalises exactly
  as training mode does on the same noise: those statistics are that batch's own."""
  from ganjax import rng
  from ganjax.models import build_gan
  from ganjax.sampling import STANDING_SAMPLES, make_standing_stats

  config = tiny_config.replace(ema_decay=0.5, eval_every=0, ema_bn_stats="standing")
  train_and_evaluate(config)
  running = load_generator(config.workdir, ema_bn_stats="g")
  standing = load_generator(config.workdir)  # as the run was configured: standing
  chex.assert_trees_all_close(
    standing.g_batch_stats, make_standing_stats(config, running.image_shape)(running.g_params, running.g_batch_stats)
  )
  z = rng.example_normal(
    rng.stream(jax.random.key(0), "standing_stats"), (STANDING_SAMPLES, config.family.latent_dim), axis_name=None
  )
  generator, _ = build_gan(config, running.image_shape, axis_name=None)
  batch_normalised, _ = generator.apply(
    {"params": running.g_params, "batch_stats": running.g_batch_stats}, z, train=True, mutable=["batch_stats"]
  )
  inferred = generator.apply({"params": running.g_params, "batch_stats": standing.g_batch_stats}, z, train=False)
  np.testing.assert_allclose(inferred, batch_normalised, atol=2e-5)
  # G's running averages are another normalisation, and so other images.
  assert not np.allclose(running.generate(8), standing.generate(8), atol=1e-3)


def test_g_own_weights_keep_their_running_statistics_under_standing(tiny_config):
  config = tiny_config.replace(ema_decay=0.5, eval_every=0, ema_bn_stats="standing")
  state = train_and_evaluate(config)
  own = load_generator(config.workdir, generator="g")
  chex.assert_trees_all_close(own.g_batch_stats, jax.device_get(state.g_batch_stats))


def test_an_unknown_ema_bn_stats_is_refused(tiny_config):
  from ganjax.config import validate

  with pytest.raises(UsageError, match="--ema_bn_stats=mean is not one of g, standing"):
    validate(tiny_config.replace(ema_bn_stats="mean"))
