"""The history pool of generated images (Shrivastava et al. 2017; Zhu et al. 2017, section 4).

CycleGAN updates each discriminator on a mix of this step's fakes and older ones, so D does
not chase only G's latest output. The pool keeps up to `size` fakes (50 in the paper). For
each new fake, in order: while the pool is not full, the fake is stored and shown to D;
once it is full, with probability 1/2 a uniformly chosen stored fake is shown instead and
the new one takes its slot, else the new fake is shown and the pool is unchanged.

Pure array code in the state pytree, with explicit keys. Under pmap every device walks the
whole all-gathered global batch in the same order with keys by global example index, so
the pool stays identical on every device and the result does not depend on the device count.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import struct

from ganjax import rng


class HistoryPool(struct.PyTreeNode):
  images: jax.Array  # [size, H, W, C]
  count: jax.Array  # int32 scalar: slots filled so far (at most size)


def empty(size: int, image_shape: tuple[int, ...]) -> HistoryPool:
  return HistoryPool(images=jnp.zeros((size, *image_shape), jnp.float32), count=jnp.zeros((), jnp.int32))


def _visit(pool: HistoryPool, fake: jax.Array, key: jax.Array) -> tuple[HistoryPool, jax.Array]:
  """One fake through the pool: (the pool after it, the image D sees in its place)."""
  size = pool.images.shape[0]
  coin_key, slot_key = jax.random.split(key)
  full = pool.count >= size
  swap = full & jax.random.bernoulli(coin_key, 0.5)
  slot = jnp.where(full, jax.random.randint(slot_key, (), 0, size), pool.count)
  stored = pool.images[slot]
  shown = jnp.where(swap, stored, fake)
  kept = jnp.where(full & ~swap, stored, fake)  # not full: store; swap: replace; else keep
  return pool.replace(images=pool.images.at[slot].set(kept), count=jnp.minimum(pool.count + 1, size)), shown


def query(pool: HistoryPool, fakes: jax.Array, key: jax.Array, axis_name: str | None) -> tuple[HistoryPool, jax.Array]:
  """(the updated pool, the fakes D sees [local_batch, H, W, C]) for this device's `fakes`.

  `key` is the step's key for this pool; global example i draws from `fold_in(key, i)`.
  The images shown are constants to G: no gradient flows through the pool.
  """
  fakes = jax.lax.stop_gradient(fakes)
  if pool.images.shape[0] == 0:
    return pool, fakes
  local = fakes.shape[0]
  everyone = jax.lax.all_gather(fakes, axis_name, tiled=True) if axis_name else fakes
  keys = rng.example_keys(key, everyone.shape[0], None)  # global indices 0 .. B-1
  pool, shown = jax.lax.scan(lambda p, xk: _visit(p, *xk), pool, (everyone, keys))
  offset = jax.lax.axis_index(axis_name) * local if axis_name else 0
  return pool, jax.lax.dynamic_slice_in_dim(shown, offset, local)
