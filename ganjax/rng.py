"""Keys derived from (seed, step) and per-example streams that ignore how a batch is split.

A step's randomness is `fold_in(seed_key, step)`, split into named streams, so a resumed run
draws exactly what an uninterrupted one would. Within a stream, example i of the global
batch gets `fold_in(stream_key, i)`: the same draws whether the batch runs on one device
or is sharded over many, which is what makes a pmapped step equal a single-device one.
"""

from __future__ import annotations

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
  keys = example_keys(key, shape[0], axis_name)
  return jax.vmap(lambda k: jax.random.bernoulli(k, p, shape[1:]))(keys)
