"""A run interrupted at step k and resumed to n ends bitwise where an uninterrupted run does."""

import chex
import jax
import pytest

from ganjax.train.loop import train_and_evaluate


@pytest.mark.slow
@pytest.mark.parametrize("conv_backend", ["xla", pytest.param("onednn", marks=pytest.mark.onednn)])  # the default's
def test_interrupted_and_resumed_run_equals_uninterrupted_run_bitwise(tiny_config, tmp_path, conv_backend):
  tiny_config = tiny_config.replace(conv_backend=conv_backend)
  uninterrupted = train_and_evaluate(tiny_config.replace(steps=6, workdir=str(tmp_path / "straight")))

  resumed_dir = str(tmp_path / "resumed")
  first = train_and_evaluate(tiny_config.replace(steps=3, checkpoint_every=100, workdir=resumed_dir))
  assert int(first.step) == 3
  resumed = train_and_evaluate(tiny_config.replace(steps=6, workdir=resumed_dir))

  assert int(resumed.step) == int(uninterrupted.step) == 6
  chex.assert_trees_all_equal(
    jax.device_get(resumed.checkpoint_items()), jax.device_get(uninterrupted.checkpoint_items())
  )


@pytest.mark.slow
def test_a_run_decoding_in_worker_processes_equals_the_run_in_one_process(tiny_config, tmp_path):
  """--data_workers=2 from the command line's config to the loop: the same batches, so the same
  state, and a run resumed with another number of workers continues it exactly."""
  in_process = train_and_evaluate(tiny_config.replace(steps=4, workdir=str(tmp_path / "main")))
  workdir = str(tmp_path / "workers")
  train_and_evaluate(tiny_config.replace(steps=2, data_workers=2, checkpoint_every=100, workdir=workdir))
  in_workers = train_and_evaluate(tiny_config.replace(steps=4, data_workers=1, workdir=workdir))
  chex.assert_trees_all_equal(
    jax.device_get(in_workers.checkpoint_items()), jax.device_get(in_process.checkpoint_items())
  )
