"""A run interrupted at step k and resumed to n ends bitwise where an uninterrupted run does."""

import chex
import jax
import pytest

from ganjax.train.loop import train_and_evaluate


@pytest.mark.slow
def test_interrupted_and_resumed_run_equals_uninterrupted_run_bitwise(tiny_config, tmp_path):
  uninterrupted = train_and_evaluate(tiny_config.replace(steps=6, workdir=str(tmp_path / "straight")))

  resumed_dir = str(tmp_path / "resumed")
  first = train_and_evaluate(tiny_config.replace(steps=3, checkpoint_every=100, workdir=resumed_dir))
  assert int(first.step) == 3
  resumed = train_and_evaluate(tiny_config.replace(steps=6, workdir=resumed_dir))

  assert int(resumed.step) == int(uninterrupted.step) == 6
  chex.assert_trees_all_equal(
    jax.device_get(resumed.checkpoint_items()), jax.device_get(uninterrupted.checkpoint_items())
  )
