"""NaN/Inf: stop at the step naming the loss (default), or skip the update with --skip_nonfinite."""

import json
import os
import pathlib

import chex
import jax
import numpy as np
import pytest

from ganjax import checkpoint
from ganjax.config import Config
from ganjax.data.pipeline import Batches
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import make_train_step
from ganjax.models import build_gan
from ganjax.train.guards import skip_nonfinite
from ganjax.train.loop import TrainingDiverged, replicate, train_and_evaluate

CONFIG = Config.from_flags(width=8, latent_dim=16)
BATCH = 8


def setup(axis_name):
  generator, discriminator = build_gan(CONFIG, (28, 28, 1), axis_name=axis_name)
  state = create_state(CONFIG, generator, discriminator, (28, 28, 1), jax.random.key(0))
  return state, make_train_step(CONFIG, generator, discriminator, axis_name=axis_name)


def images(poisoned_rows=()):
  x = np.array(jax.random.uniform(jax.random.key(1), (BATCH, 28, 28, 1), minval=-1.0, maxval=1.0))
  x[list(poisoned_rows)] = np.nan
  return x


def assert_state_kept_but_step_advanced(old, new):
  assert int(new.step) == int(old.step) + 1
  chex.assert_trees_all_equal(
    {k: v for k, v in jax.device_get(new.checkpoint_items()).items() if k != "step"},
    {k: v for k, v in jax.device_get(old.checkpoint_items()).items() if k != "step"},
  )


@pytest.mark.slow
def test_finite_update_is_the_plain_step_and_a_nan_batch_is_skipped():
  state, train_step = setup(axis_name=None)
  guarded = jax.jit(skip_nonfinite(train_step, axis_name=None))
  key = jax.random.key(7)

  plain, plain_metrics = jax.jit(train_step)(state, {"image": images()}, key)
  same, metrics = guarded(state, {"image": images()}, key)
  chex.assert_trees_all_equal(jax.device_get(same.checkpoint_items()), jax.device_get(plain.checkpoint_items()))
  assert float(metrics["skipped"]) == 0.0
  chex.assert_trees_all_equal({k: v for k, v in metrics.items() if k != "skipped"}, plain_metrics)

  kept, metrics = guarded(state, {"image": images(poisoned_rows=[3])}, key)
  assert float(metrics["skipped"]) == 1.0 and not np.isfinite(float(metrics["d_loss"]))
  assert_state_kept_but_step_advanced(state, kept)


@pytest.mark.slow
def test_nan_on_one_device_skips_the_update_on_every_device():
  state, train_step = setup(axis_name="data")
  p_step = jax.pmap(skip_nonfinite(train_step), axis_name="data", in_axes=(0, 0, None))
  batch = {"image": images(poisoned_rows=[7]).reshape(4, BATCH // 4, 28, 28, 1)}  # only device 3's shard
  new, metrics = p_step(replicate(state, jax.local_devices()), batch, jax.random.key(7))
  np.testing.assert_array_equal(np.asarray(metrics["skipped"]), np.ones(4))
  for device in range(4):
    assert_state_kept_but_step_advanced(state, jax.tree.map(lambda x, d=device: x[d], new))


@pytest.fixture
def nan_at_step_3(monkeypatch):
  """The loop's batch for step index 2 (the 3rd update) holds a NaN pixel."""
  original = Batches.batch_at

  def batch_at(self, step):
    batch = original(self, step)
    if step == 2:
      batch["image"][0, 0, 0, 0, 0] = np.nan
    return batch

  monkeypatch.setattr(Batches, "batch_at", batch_at)


@pytest.mark.slow
def test_nan_stops_the_run_naming_step_and_loss_and_keeps_the_last_good_checkpoint(tiny_config, nan_at_step_3):
  config = tiny_config.replace(steps=6, checkpoint_every=2, log_every=1, eval_every=0)
  with pytest.raises(TrainingDiverged, match=r"d_loss, .*became non-finite at step 3; .*--skip_nonfinite"):
    train_and_evaluate(config)
  assert os.listdir(checkpoint.checkpoint_dir(config.workdir)) == ["2"]
  generator, discriminator = build_gan(config, (28, 28, 1), axis_name="data")
  template = create_state(config, generator, discriminator, (28, 28, 1), jax.random.key(0))
  manager = checkpoint.open_manager(config.workdir, config.keep_checkpoints)
  restored, _, _ = checkpoint.restore(manager, 2, template, config)
  manager.close()
  assert int(restored.step) == 2
  chex.assert_tree_all_finite(jax.device_get(restored.checkpoint_items()))


@pytest.mark.slow
def test_skip_nonfinite_drops_that_update_counts_it_and_trains_on(tiny_config, nan_at_step_3):
  config = tiny_config.replace(steps=4, checkpoint_every=2, log_every=1, eval_every=0, skip_nonfinite=True)
  state = train_and_evaluate(config)
  assert int(state.step) == 4
  chex.assert_tree_all_finite(jax.device_get(state.checkpoint_items()))
  rows = [json.loads(line) for line in (pathlib.Path(config.workdir) / "metrics.jsonl").read_text().splitlines()]
  assert [r["skipped"] for r in rows] == [0.0, 0.0, 1.0, 0.0]
  assert not np.isfinite(rows[2]["d_loss"])
