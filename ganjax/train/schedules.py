"""Learning-rate schedules (optax schedules: step -> learning rate) and the optimizers.

Schedules count training steps. An optimizer that makes several updates per step (a GAN's D
with --d_steps) reads its schedule at update // updates: `--decay_steps` and the other lengths
mean the same thing for both players (`ganjax.families.players`).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from ganjax.config import Config


def triangular_schedule(low: float, high: float, cycle_steps: int) -> optax.Schedule:
  """Smith 2017's cyclical 'triangular' policy: low -> high -> low linearly every cycle."""

  def schedule(count):
    phase = jnp.mod(jnp.asarray(count, jnp.float32), cycle_steps) / cycle_steps  # in [0, 1)
    return low + (high - low) * (1.0 - jnp.abs(2.0 * phase - 1.0))

  return schedule


def inverse_time_schedule(lr: float, decay_rate: float, decay_steps: int) -> optax.Schedule:
  """lr / (1 + decay_rate * step / decay_steps), as Keras' InverseTimeDecay."""
  return lambda count: lr / (1.0 + decay_rate * jnp.asarray(count, jnp.float32) / decay_steps)


def make_schedule(config: Config, lr: float) -> optax.Schedule:
  """`config.lr_schedule` with peak learning rate `lr`, over `config.steps` steps."""
  name, low = config.lr_schedule, lr * config.min_lr_ratio
  if name == "constant":
    return optax.constant_schedule(lr)
  if name == "inverse_time":
    return inverse_time_schedule(lr, config.decay_rate, config.decay_steps)
  if name == "exponential":
    return optax.exponential_decay(lr, transition_steps=config.decay_steps, decay_rate=config.decay_rate)
  if name == "warmup_cosine":
    return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=lr, warmup_steps=config.warmup_steps, decay_steps=config.steps, end_value=low
    )
  if name == "cyclical":
    return triangular_schedule(low, lr, config.cycle_steps)
  if name == "linear_decay":  # Zhu et al. 2017: constant for the first half, then linearly to 0
    half = config.steps // 2
    return optax.linear_schedule(
      init_value=lr, end_value=0.0, transition_steps=config.steps - half, transition_begin=half
    )
  raise ValueError(f"unknown schedule {name}")


def _scaling(name: str, config: Config) -> optax.GradientTransformation:
  if name == "adam":
    return optax.scale_by_adam(b1=config.b1, b2=config.b2)
  if name == "rmsprop":  # Arjovsky et al. 2017 train WGAN with RMSProp
    return optax.scale_by_rms(decay=0.9, eps=1e-8)
  if name == "sgd":
    return optax.identity()
  raise ValueError(f"unknown optimizer {name}")


def make_optimizer(
  name: str, config: Config, schedule: optax.Schedule, updates_per_step: int = 1, weight_decay: float = 0.0
) -> optax.GradientTransformation:
  """`name` (adam, rmsprop, sgd) at `schedule`, with decoupled weight decay when given.

  Decoupled (Loshchilov & Hutter 2019): the decay lr * wd * w is added after the
  optimizer's scaling, so Adam's normalisation does not rescale it (AdamW for Adam).
  """
  per_update = schedule if updates_per_step == 1 else (lambda count: schedule(count // updates_per_step))
  parts = [_scaling(name, config)]
  if weight_decay:
    parts.append(optax.add_decayed_weights(weight_decay))
  parts.append(optax.scale_by_learning_rate(per_update))
  return optax.chain(*parts)
