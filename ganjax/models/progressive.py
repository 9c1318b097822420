"""Progressive growing (Karras et al. 2018) of the 28x28 DCGAN: 7x7, then 14x14, then 28x28.

Every `stage_steps` steps the resolution doubles. Each new stage fades in over its first
half: its output is alpha * (new layers) + (1 - alpha) * (the previous stage's output,
upsampled), alpha rising linearly from 0 to 1, and the reals D sees are blended the same
way. Stage and alpha are pure functions of the step, so a run resumed across a stage
boundary continues exactly where it would have been; all layers exist from the start, so
the state's shapes never change.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

RESOLUTIONS = (7, 14, 28)


def stage_at(step: int, stage_steps: int) -> int:
  """Index into RESOLUTIONS of the stage training is in at `step` (a host int)."""
  return min(step // stage_steps, len(RESOLUTIONS) - 1)


def alpha_at(step, stage: int, stage_steps: int):
  """Fade-in weight of `stage`'s new layers at `step`: 0 -> 1 over the stage's first half."""
  if stage == 0:
    return jnp.ones((), jnp.float32)
  into_stage = jnp.asarray(step, jnp.float32) - stage * stage_steps
  return jnp.clip(into_stage / max(stage_steps // 2, 1), 0.0, 1.0)


def downsample(images: jax.Array, factor: int) -> jax.Array:
  """Average pooling by `factor` (NHWC)."""
  n, h, w, c = images.shape
  return images.reshape(n, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))


def upsample(images: jax.Array, factor: int) -> jax.Array:
  """Nearest-neighbour upsampling by `factor` (NHWC)."""
  return jnp.repeat(jnp.repeat(images, factor, axis=1), factor, axis=2)


def reals_at(images: jax.Array, stage: int, alpha) -> jax.Array:
  """Full-size reals as D sees them at `stage`: pooled to its resolution, faded in like G."""
  size = RESOLUTIONS[stage]
  current = downsample(images, images.shape[1] // size)
  if stage == 0:
    return current
  previous = upsample(downsample(current, 2), 2)
  return alpha * current + (1.0 - alpha) * previous


def blend(new: jax.Array, old: jax.Array, alpha) -> jax.Array:
  return alpha * new + (1.0 - alpha) * old


def sampling_growth(stage_steps: int, step: int) -> dict:
  """The generator's arguments for sampling a state that has made `step` updates: the stage
  and fade-in of its last update ({} without progressive growing)."""
  if not stage_steps:
    return {}
  last = max(step - 1, 0)
  stage = stage_at(last, stage_steps)
  return {"stage": stage, "alpha": float(alpha_at(last, stage, stage_steps))}
