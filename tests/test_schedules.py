"""Each learning-rate schedule at given steps, and the optimizers it drives."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ganjax.config import Config
from ganjax.families import players
from ganjax.train import schedules

BASE = Config.from_flags(
  lr=1e-3, steps=1000, decay_steps=100, decay_rate=0.5, warmup_steps=100, cycle_steps=200, min_lr_ratio=0.1
)


@pytest.mark.parametrize(
  "name, expected",
  [
    ("constant", {0: 1e-3, 500: 1e-3, 999: 1e-3}),
    ("inverse_time", {0: 1e-3, 100: 1e-3 / 1.5, 300: 1e-3 / 2.5}),
    ("exponential", {0: 1e-3, 100: 5e-4, 200: 2.5e-4, 50: 1e-3 * 0.5**0.5}),
    # linear warm-up 0 -> 1e-3 over 100 steps, then cosine from 1e-3 to 1e-4 by step 1000
    ("warmup_cosine", {0: 0.0, 50: 5e-4, 100: 1e-3, 550: 5.5e-4, 1000: 1e-4}),
    # triangle 1e-4 -> 1e-3 -> 1e-4 every 200 steps
    ("cyclical", {0: 1e-4, 50: 5.5e-4, 100: 1e-3, 150: 5.5e-4, 200: 1e-4, 300: 1e-3}),
  ],
)
def test_schedule_values(name, expected):
  schedule = schedules.make_schedule(BASE.replace(lr_schedule=name), BASE.lr)
  for step, value in expected.items():
    np.testing.assert_allclose(float(schedule(jnp.asarray(step))), value, rtol=1e-4, atol=1e-9)


def test_d_learning_rate_defaults_to_g_and_can_differ():
  g, d = players.player_schedules(BASE)
  assert float(g(0)) == float(d(0)) == 1e-3
  g, d = players.player_schedules(BASE.replace(d_lr=4e-3))  # TTUR
  assert float(d(0)) == pytest.approx(4e-3)


def test_d_schedule_counts_training_steps_when_d_updates_several_times_per_step():
  config = BASE.replace(lr_schedule="exponential", d_steps=5)
  _, d_tx = players.player_optimizers(config, config.family.d_steps)
  params = {"w": jnp.zeros(())}
  state = d_tx.init(params)
  for _ in range(5 * 100):  # 100 training steps of 5 D updates
    _, state = d_tx.update({"w": jnp.ones(())}, state, params)
  updates, _ = d_tx.update({"w": jnp.ones(())}, state, params)
  # Adam's normalised step is ~1 for a constant gradient: the update is -lr(step 100) = -5e-4.
  np.testing.assert_allclose(updates["w"], -5e-4, rtol=1e-3)


def test_decoupled_weight_decay_shrinks_weights_without_gradient():
  tx = schedules.make_optimizer("adam", BASE, optax.constant_schedule(0.1), weight_decay=0.5)
  params = {"w": jnp.array(2.0)}
  updates, _ = tx.update({"w": jnp.array(0.0)}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], -0.1 * 0.5 * 2.0, rtol=1e-6)
