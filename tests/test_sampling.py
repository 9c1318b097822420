"""Which weights a trained run samples with: the EMA generator's by default, G's own on request."""

import chex
import jax
import numpy as np
import pytest

from ganjax.errors import UsageError
from ganjax.sampling import load_generator, truncate
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


def test_truncation_squeezes_the_same_draws_into_its_interval():
  """The truncated normal's quantiles: inside (-t, t), the order of the draws kept, and the
  fraction of draws below x that of the normal truncated at t."""
  from jax.scipy.special import ndtr

  z = jax.random.normal(jax.random.key(0), (200_000,))
  np.testing.assert_array_equal(truncate(z, 0.0), z)
  for threshold in (0.5, 1.0, 2.0):
    squeezed = np.asarray(truncate(z, threshold))
    assert np.abs(squeezed).max() <= threshold
    assert np.all(np.diff(squeezed[np.argsort(np.asarray(z))]) >= 0)  # monotone: ties from rounding only
    edge = float(ndtr(-threshold))
    for x in (-0.4 * threshold, 0.0, 0.7 * threshold):
      expected = (float(ndtr(x)) - edge) / (1 - 2 * edge)
      assert abs((squeezed < x).mean() - expected) < 0.005
  # A wide threshold is nearly no truncation.
  np.testing.assert_allclose(truncate(z[:1000], 6.0), z[:1000], atol=1e-3)


def test_truncation_draws_samples_grids_and_evaluations_from_the_truncated_noise(tiny_config):
  """Sampling only: the same checkpoint draws other images under --truncation, the grid of a
  truncated run too, and the eval.jsonl rows say so."""
  import json
  import os

  config = tiny_config.replace(steps=2, eval_every=2, eval_samples=300, truncation=0.5)
  train_and_evaluate(config)
  truncated, full = load_generator(config.workdir), load_generator(config.workdir, truncation=0.0)
  assert (truncated.config.family.truncation, full.config.family.truncation) == (0.5, 0.0)
  assert not np.allclose(truncated.generate(8), full.generate(8), atol=1e-3)
  np.testing.assert_array_equal(truncated.generate(8), load_generator(config.workdir, truncation=0.5).generate(8))
  with open(os.path.join(config.workdir, "eval.jsonl")) as f:
    assert [json.loads(line)["truncation"] for line in f] == [0.5]
  # The grid's fixed noise is the same draws, squeezed.
  from ganjax.families.gan import task

  full_grid, truncated_grid = task.grid_noise(config.replace(truncation=0.0)), task.grid_noise(config)
  np.testing.assert_array_equal(truncated_grid, truncate(full_grid, 0.5))
  assert np.abs(truncated_grid).max() < 0.5 < np.abs(full_grid).max()

  # The command scores a checkpoint at another threshold, and says which.
  from experiments import evaluate
  from ganjax import cli

  out = os.path.join(config.workdir, "full.json")
  flags = [f"--workdir={config.workdir}", "--num_samples=300", f"--data_dir={config.data_dir}", f"--out={out}"]
  assert cli.run(evaluate.main, [*flags, "--truncation=0"]) == 0
  with open(out) as f:
    assert json.load(f)["truncation"] == 0.0
  assert cli.run(evaluate.main, [*flags, "--truncation=-1"]) == 2


def test_a_negative_truncation_is_refused(tiny_config):
  from ganjax.config import validate

  with pytest.raises(UsageError, match="--truncation=-1.0 must be 0"):
    validate(tiny_config.replace(truncation=-1.0))


def test_d_filter_keeps_the_draws_the_runs_d_scores_highest_in_the_order_drawn(tiny_config):
  from ganjax.models import build_gan

  state = train_and_evaluate(tiny_config.replace(steps=2, eval_every=0))
  filtered = load_generator(tiny_config.workdir, d_filter=0.5)
  pool = load_generator(tiny_config.workdir).generate(20, seed=1)  # the draws it keeps 10 of
  _, discriminator = build_gan(tiny_config, pool.shape[1:], axis_name=None)
  variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}
  scores = np.asarray(discriminator.apply(jax.device_get(variables), pool, train=False))
  np.testing.assert_allclose(filtered.d_scores(pool), scores, rtol=1e-5, atol=1e-6)
  kept = filtered.generate(10, seed=1)
  rows = [int(np.flatnonzero((pool == image).all(axis=(1, 2, 3)))[0]) for image in kept]
  assert rows == sorted(rows) and len(set(rows)) == 10  # draws of the pool, in the order drawn
  dropped = np.setdiff1d(np.arange(20), rows)
  assert scores[rows].min() >= scores[dropped].max()


def test_d_filter_outside_its_range_or_on_a_conditional_run_is_refused(tiny_config, capsys):
  from experiments import evaluate
  from ganjax import cli

  assert cli.run(evaluate.main, [f"--workdir={tiny_config.workdir}", "--d_filter=1.5"]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and err.endswith("must be in (0, 1]: the share of the draws kept; 1 keeps all.")
  with pytest.raises(UsageError, match="must be in"):
    load_generator(tiny_config.workdir, d_filter=0.0)
  train_and_evaluate(tiny_config.replace(steps=2, eval_every=0, num_classes=10))
  with pytest.raises(UsageError, match="ranks an unconditional"):
    load_generator(tiny_config.workdir, d_filter=0.5)
