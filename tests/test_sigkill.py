"""SIGKILL at random moments, saves included: each restart resumes from an intact checkpoint,
and the final parameters equal an uninterrupted run's bitwise (same machine, same devices)."""

import pathlib

import chex
import jax
import pytest
import sigkill

from ganjax import checkpoint
from ganjax.config import Config
from ganjax.families.gan.state import create_state
from ganjax.models import build_gan
from ganjax.train.loop import train_and_evaluate

STEPS = 40  # the suite's run; the soak passes its own


def flags_of(config: Config) -> list[str]:
  """The `experiments.dcgan` flags that train `config`: every field where it differs from the
  experiment's defaults, and the run's own paths and sizes."""
  from experiments import dcgan

  always = ("width", "latent_dim", "batch_size", "steps", "workdir", "data_dir", "accelerator")
  defaults = dcgan.DEFAULTS.flat()
  return [f"--{name}={value}" for name, value in config.flat().items() if name in always or value != defaults[name]]


def final_checkpoint(config: Config):
  generator, discriminator = build_gan(config, (28, 28, 1), axis_name="data")
  template = create_state(config, generator, discriminator, (28, 28, 1), jax.random.key(config.seed))
  manager = checkpoint.open_manager(config.workdir, config.keep_checkpoints)
  try:
    state, _, _ = checkpoint.restore(manager, config.steps, template, config)
  finally:
    manager.close()
  return jax.device_get(state.checkpoint_items())


def kill_resume_and_compare(config: Config, tmp_path: pathlib.Path, kills: int, seed: int) -> list:
  logs = tmp_path / "logs"
  logs.mkdir()
  env = sigkill.child_env(tmp_path / "jax_cache")
  flags = flags_of(config)
  history = sigkill.kill_repeatedly(flags, pathlib.Path(config.workdir), logs, kills, seed, env)
  sigkill.run_to_completion(flags, logs, env)

  straight = train_and_evaluate(config.replace(workdir=str(tmp_path / "straight"), checkpoint_every=config.steps))
  chex.assert_trees_all_equal(final_checkpoint(config), jax.device_get(straight.checkpoint_items()))
  return history


def tiny_kill_config(config: Config, steps: int) -> Config:
  # A save every 2 steps, so kills land during writes often; batch 8 over the 4 test devices.
  return config.replace(
    batch_size=8, steps=steps, checkpoint_every=2, log_every=1, sample_every=100000, eval_every=0, keep_checkpoints=3
  )


@pytest.mark.slow
def test_three_sigkills_one_during_a_save_lose_nothing(tiny_config, tmp_path):
  history = kill_resume_and_compare(tiny_kill_config(tiny_config, STEPS), tmp_path, kills=3, seed=3)
  assert [k.mode for k in history] == ["training", "training", "saving"]
  assert any(k.saving for k in history)  # a save every 2 steps: one is caught in flight
