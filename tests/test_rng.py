"""The per-example streams: the fused Threefry is JAX's own, and its masks have the right law."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry_2x32

from ganjax import rng


def test_threefry_written_out_gives_jax_words():
  key = jax.random.key_data(jax.random.key(42))
  x0 = jnp.arange(4096, dtype=jnp.uint32) * jnp.uint32(7919)
  x1 = jnp.arange(4096, dtype=jnp.uint32) + jnp.uint32(3)
  first, second = rng.threefry2x32(key[0], key[1], x0, x1)
  reference = threefry_2x32(key, jnp.concatenate([x0, x1]))
  np.testing.assert_array_equal(np.concatenate([first, second]), reference)


def test_example_draws_of_a_row_depend_on_its_global_index_alone():
  key = jax.random.key(3)
  whole = rng.example_uint16(key, (8, 5, 3), None)  # an odd row length: the last word half used
  sharded = jax.pmap(lambda _: rng.example_uint16(key, (2, 5, 3), "data"), axis_name="data")(jnp.zeros(4))
  np.testing.assert_array_equal(np.concatenate(list(sharded)), whole)
  # Row i's elements 2j, 2j+1 are the halves of Threefry's first word for the counters (i, j).
  data = jax.random.key_data(key)
  word, _ = rng.threefry2x32(data[0], data[1], jnp.uint32(5), jnp.uint32(3))
  np.testing.assert_array_equal(
    np.asarray(whole[5]).reshape(-1)[6:8], np.frombuffer(np.uint32(word).tobytes(), np.uint16)
  )


def test_example_bernoulli_has_the_asked_rate_and_no_pattern():
  mask = np.asarray(rng.example_bernoulli(jax.random.key(0), 0.7, (256, 14, 14, 16), None))
  n = mask.size
  assert abs(mask.mean() - 0.7) < 4 * np.sqrt(0.7 * 0.3 / n)
  # Neighbouring elements and rows are uncorrelated (a counter leaking through would show).
  flat = mask.reshape(256, -1).astype(np.float64) - 0.7
  assert abs(np.mean(flat[:, 1:] * flat[:, :-1])) < 4 * 0.21 / np.sqrt(flat[:, 1:].size)
  assert abs(np.mean(flat[1:] * flat[:-1])) < 4 * 0.21 / np.sqrt(flat[1:].size)
  other = np.asarray(rng.example_bernoulli(jax.random.key(1), 0.7, (256, 14, 14, 16), None))
  assert 0.57 < np.mean(mask == other) < 0.59  # independent keys agree with probability 0.58


def test_example_bernoulli_at_rates_within_a_draw_of_one_or_zero_is_constant():
  # A dropout rate of 1e-9 keeps p = 1 - 1e-9, which rounds to 1.0 (the config fuzz found it).
  key = jax.random.key(0)
  assert bool(rng.example_bernoulli(key, 1.0 - 1e-9, (2, 3), None).all())
  assert not bool(rng.example_bernoulli(key, 1e-9, (2, 3), None).any())
  assert rng.example_bernoulli(key, 1.0, (2, 3), None).shape == (2, 3)
