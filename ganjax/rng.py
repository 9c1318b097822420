"""Keys derived from (seed, step) and per-example streams that ignore how a batch is split.

A step's randomness is `fold_in(seed_key, step)`, split into named streams, so a resumed run
draws exactly what an uninterrupted one would. Within a stream, example i of the global
batch gets `fold_in(stream_key, i)`: the same draws whether the batch runs on one device
or is sharded over many, which is what makes a pmapped step equal a single-device one.

Masks (dropout) are wide: a per-example key and a vmapped draw cost a threefry loop per
layer, which XLA's CPU backend keeps rolled and cannot fuse. `example_uint16` computes the
same generator (Threefry-2x32, Salmon et al. 2011) elementwise on counters (global example,
element), so the bits fuse into the ops that use them.
"""

from __future__ import annotations

import math
import zlib

import jax
import jax.numpy as jnp


def stream(key: jax.Array, name: str) -> jax.Array:
  """A named, independent stream of `key` ('noise', 'dropout', ...)."""
  return jax.random.fold_in(key, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def step_key(seed_key: jax.Array, step: jax.Array) -> jax.Array:
  return jax.random.fold_in(seed_key, step)


def example_keys(key: jax.Array, local_batch: int, axis_name: str | None) -> jax.Array:
  """Keys [local_batch] for the examples this device holds, indexed globally."""
  offset = jax.lax.axis_index(axis_name) * local_batch if axis_name else 0
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(offset + jnp.arange(local_batch))


def example_normal(key: jax.Array, shape: tuple[int, ...], axis_name: str | None) -> jax.Array:
  """Standard normal [shape], row i drawn from global example i's key."""
  keys = example_keys(key, shape[0], axis_name)
  return jax.vmap(lambda k: jax.random.normal(k, shape[1:]))(keys)


def example_bernoulli(key: jax.Array, p: float, shape: tuple[int, ...], axis_name: str | None) -> jax.Array:
  """True with probability `p` (to 2^-17), elementwise [shape]; row i a function of (key,
  global example i) alone."""
  threshold = round(p * 2**16)
  if threshold >= 2**16 or threshold <= 0:  # p within 2^-17 of 1 or 0 (a dropout rate of 1e-9, say)
    return jnp.full(shape, threshold > 0)
  return example_uint16(key, shape, axis_name) < jnp.uint16(threshold)


def example_uint16(key: jax.Array, shape: tuple[int, ...], axis_name: str | None) -> jax.Array:
  """Uniform uint16 [shape]; row i a function of (key, global example i) alone.

  Threefry-2x32 of the counter pair (global example i, j) gives one 32-bit word, the row's
  elements 2j and 2j + 1: reinterpreting a word as two halves is free in XLA, where
  joining both of Threefry's words would cost a copy of the mask.
  """
  offset = jnp.uint32(jax.lax.axis_index(axis_name) * shape[0]) if axis_name else jnp.uint32(0)
  per_row = math.prod(shape[1:])
  words = -(-per_row // 2)
  rows = (offset + jnp.arange(shape[0], dtype=jnp.uint32))[:, None]
  cols = jnp.arange(words, dtype=jnp.uint32)[None, :]
  rows, cols = jnp.broadcast_arrays(rows, cols)
  k0, k1 = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
  word, _ = threefry2x32(k0, k1, rows, cols)
  halves = jax.lax.bitcast_convert_type(word, jnp.uint16).reshape(shape[0], 2 * words)
  return halves[:, :per_row].reshape(shape)


_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k0: jax.Array, k1: jax.Array, x0: jax.Array, x1: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Threefry-2x32 with 20 rounds, elementwise on uint32 (the words of `jax.random`'s
  threefry_2x32, written out so that XLA fuses it; the test compares the two)."""

  def rotate_left(v, r):
    return (v << jnp.uint32(r)) | (v >> jnp.uint32(32 - r))

  k0, k1, x0, x1 = (jnp.asarray(v, jnp.uint32) for v in (k0, k1, x0, x1))  # signed shifts differ
  schedule = (k0, k1, k0 ^ k1 ^ jnp.uint32(0x1BD11BDA))
  x0, x1 = x0 + schedule[0], x1 + schedule[1]
  for i in range(5):
    for r in _ROTATIONS[i % 2]:
      x0 = x0 + x1
      x1 = rotate_left(x1, r) ^ x0
    x0 = x0 + schedule[(i + 1) % 3]
    x1 = x1 + schedule[(i + 2) % 3] + jnp.uint32(i + 1)
  return x0, x1
