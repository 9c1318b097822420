"""The replay buffer's contents over steps and what D is shown from it."""

import jax
import jax.numpy as jnp
import numpy as np

from ganjax.families.gan import replay


def batch(value, n=3):
  return jnp.full((n, 1, 1, 1), float(value))


def contents(buffer):
  return np.asarray(buffer.images[:, 0, 0, 0])


def test_ring_buffer_keeps_the_newest_fakes():
  buffer = replay.empty(5, (1, 1, 1))
  buffer = replay.insert(buffer, batch(1), axis_name=None)
  np.testing.assert_array_equal(contents(buffer), [1, 1, 1, 0, 0])
  buffer = replay.insert(buffer, batch(2), axis_name=None)  # wraps: overwrites the oldest
  np.testing.assert_array_equal(contents(buffer), [2, 1, 1, 2, 2])
  buffer = replay.insert(buffer, batch(3), axis_name=None)
  np.testing.assert_array_equal(contents(buffer), [2, 3, 3, 3, 2])
  assert int(buffer.count) == 9


def test_a_batch_larger_than_the_buffer_keeps_its_newest_rows():
  buffer = replay.insert(replay.empty(2, (1, 1, 1)), jnp.arange(4.0).reshape(4, 1, 1, 1), axis_name=None)
  np.testing.assert_array_equal(sorted(contents(buffer)), [2, 3])


def test_mix_swaps_the_masked_rows_for_buffer_entries_once_there_are_any():
  fakes = batch(7, n=4)
  replaced = jnp.array([True, False, True, False])
  empty = replay.empty(8, (1, 1, 1))
  np.testing.assert_array_equal(replay.mix(empty, fakes, replaced, jax.random.key(0), None), fakes)
  buffer = replay.insert(empty, batch(1, n=2), axis_name=None)  # 2 of 8 slots filled, both 1
  mixed = np.asarray(replay.mix(buffer, fakes, replaced, jax.random.key(0), None))[:, 0, 0, 0]
  np.testing.assert_array_equal(mixed, [1, 7, 1, 7])  # draws only from the filled slots


def test_replay_mask_takes_the_share_evenly_by_global_index():
  np.testing.assert_array_equal(replay.replay_mask(8, 0.25, None), [0, 0, 0, 1, 0, 0, 0, 1])
  np.testing.assert_array_equal(replay.replay_mask(4, 0.5, None), [0, 1, 0, 1])
  assert int(jnp.sum(replay.replay_mask(100, 0.3, None))) == 30
  # The same global examples on 4 devices of 2 as on one device of 8.
  sharded = jax.pmap(lambda _: replay.replay_mask(2, 0.25, "data"), axis_name="data")(jnp.zeros(4))
  np.testing.assert_array_equal(np.asarray(sharded).reshape(-1), replay.replay_mask(8, 0.25, None))
