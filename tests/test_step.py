"""The train step: pure, jit-compatible, moves both players, and pmap equals one device."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.config import Config
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import make_train_step
from ganjax.models import build_gan
from ganjax.train.loop import compiled_per_phase, replicate, unreplicate

CONFIG = Config.from_flags(width=8, latent_dim=16)
BATCH = 16


def setup(axis_name):
  generator, discriminator = build_gan(CONFIG, image_shape=(28, 28, 1), axis_name=axis_name)
  state = create_state(CONFIG, generator, discriminator, (28, 28, 1), jax.random.key(0))
  return state, make_train_step(CONFIG, generator, discriminator, axis_name=axis_name)


@pytest.fixture(scope="module")
def batch():
  return {"image": jax.random.uniform(jax.random.key(1), (BATCH, 28, 28, 1), minval=-1.0, maxval=1.0)}


@pytest.mark.slow
def test_step_updates_both_players_and_returns_finite_scalars(batch):
  state, train_step = setup(axis_name=None)
  new_state, metrics = jax.jit(train_step)(state, batch, jax.random.key(7))
  assert int(new_state.step) == 1
  for name in ("g_params", "d_params", "g_batch_stats"):
    before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new_state, name))
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), f"{name} did not change"
  assert {"d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm"} <= set(metrics)
  for value in metrics.values():
    chex.assert_shape(value, ())
  chex.assert_tree_all_finite(metrics)


def test_step_is_a_pure_function_of_its_inputs(batch):
  state, train_step = setup(axis_name=None)
  step = jax.jit(train_step)
  first, m1 = step(state, batch, jax.random.key(7))
  second, m2 = step(state, batch, jax.random.key(7))
  chex.assert_trees_all_equal(first.checkpoint_items(), second.checkpoint_items())
  chex.assert_trees_all_equal(m1, m2)
  other, _ = step(state, batch, jax.random.key(8))  # another seed draws other noise
  assert not np.array_equal(other.g_params["Dense_0"]["kernel"], first.g_params["Dense_0"]["kernel"])


@pytest.mark.slow
def test_pmap_over_four_devices_equals_one_device(batch):
  assert jax.local_device_count() == 4
  key = jax.random.key(7)
  state, single_step = setup(axis_name=None)
  expected, expected_metrics = jax.jit(single_step)(state, batch, key)
  expected, expected_metrics = jax.jit(single_step)(expected, batch, key)  # two steps

  state, sharded_step = setup(axis_name="data")
  devices = jax.local_devices()
  p_step = jax.pmap(sharded_step, axis_name="data", in_axes=(0, 0, None))
  sharded_batch = {"image": batch["image"].reshape(4, BATCH // 4, 28, 28, 1)}
  replicated = replicate(state, devices)
  replicated, _ = p_step(replicated, sharded_batch, key)
  replicated, metrics = p_step(replicated, sharded_batch, key)
  got = unreplicate(replicated)
  chex.assert_trees_all_close(got.checkpoint_items(), expected.checkpoint_items(), atol=2e-5, rtol=2e-5)
  chex.assert_trees_all_close(unreplicate(metrics), expected_metrics, atol=2e-5, rtol=2e-5)
  # Every device holds the same state after the step.
  for leaf in jax.tree.leaves(replicated.checkpoint_items()):
    np.testing.assert_array_equal(np.asarray(leaf)[0], np.asarray(leaf)[-1])


def test_losses_match_their_formulas():
  from ganjax import losses

  real, fake = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
  sigmoid = jax.nn.sigmoid
  d = -jnp.mean(jnp.log(sigmoid(real))) - jnp.mean(jnp.log(1 - sigmoid(fake)))
  g = -jnp.mean(jnp.log(sigmoid(fake)))
  np.testing.assert_allclose(losses.non_saturating_d_loss(real, fake), d, rtol=1e-6)
  np.testing.assert_allclose(losses.non_saturating_g_loss(fake), g, rtol=1e-6)


def test_a_step_is_built_once_per_phase_and_reused():
  """The loop and the benchmarks share `compiled_per_phase`: lazy R1's every-16th step and the
  plain step are two programs, each built on its phase's first step and called from then on."""
  built = []

  def make_step(phase):
    built.append(phase)
    return lambda: phase

  step_for = compiled_per_phase(lambda at_step: at_step % 16 == 0, make_step, lambda step: step)
  calls = [step_for(at_step)() for at_step in range(40)]
  assert built == [True, False]
  assert calls == [at_step % 16 == 0 for at_step in range(40)]
  assert step_for(1) is step_for(39)
