"""Experience replay of past fakes for D (Shrivastava et al. 2017, section 2.3).

A fixed-size ring buffer of the most recent fakes lives in the state pytree. Each D update
shows D a fake batch in which a given share of the examples is drawn uniformly from the
buffer and the rest are fresh, then writes the fresh global batch into the buffer. Everything
is jit-compatible array code, and under pmap the buffer stays identical on every device:
the writes are the all-gathered global batch and the draws use per-global-example keys.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ganjax import rng


class ReplayBuffer(struct.PyTreeNode):
  images: jax.Array  # [size, H, W, C]
  count: jax.Array  # int32 scalar: fakes written so far (the buffer holds min(count, size))


def empty(size: int, image_shape: tuple[int, ...]) -> ReplayBuffer:
  return ReplayBuffer(images=jnp.zeros((size, *image_shape), jnp.float32), count=jnp.zeros((), jnp.int32))


def replay_mask(local_batch: int, share: float, axis_name: str | None) -> jax.Array:
  """bool [local_batch]: which of this device's fakes D sees replaced by past ones.

  Global example i is replaced when floor((i + 1) * share) > floor(i * share): exactly
  floor(B * share) of a global batch B, spread evenly, and the same examples however the
  batch is split over devices.
  """
  offset = jax.lax.axis_index(axis_name) * local_batch if axis_name else 0
  i = (offset + jnp.arange(local_batch)).astype(jnp.float32)
  return jnp.floor((i + 1) * share) > jnp.floor(i * share)


def mix(
  buffer: ReplayBuffer, fakes: jax.Array, replaced: jax.Array, key: jax.Array, axis_name: str | None
) -> jax.Array:
  """`fakes` with the rows where `replaced` is true swapped for random buffer entries.

  While the buffer is still empty the fakes pass through unchanged. The buffer's rows are
  constants: no gradient reaches G through them.
  """
  size = buffer.images.shape[0]
  filled = jnp.minimum(buffer.count, size)
  keys = rng.example_keys(key, fakes.shape[0], axis_name)
  draws = jax.vmap(lambda k: jax.random.randint(k, (), 0, jnp.maximum(filled, 1)))(keys)
  swap = (replaced & (filled > 0)).reshape((-1,) + (1,) * (fakes.ndim - 1))
  return jnp.where(swap, buffer.images[draws], fakes)


def insert(buffer: ReplayBuffer, fakes: jax.Array, axis_name: str | None) -> ReplayBuffer:
  """Writes this step's fakes of the whole global batch (the newest `size` of them)."""
  if axis_name:
    fakes = jax.lax.all_gather(fakes, axis_name, tiled=True)
  size = buffer.images.shape[0]
  fakes = jax.lax.stop_gradient(fakes[-size:])
  positions = (buffer.count + jnp.arange(fakes.shape[0])) % size
  return buffer.replace(images=buffer.images.at[positions].set(fakes), count=buffer.count + fakes.shape[0])
