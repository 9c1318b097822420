"""CycleGAN's train step: one pure, jitted and pmapped update of its state."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganjax import rng
from ganjax.config import Config
from ganjax.families.cyclegan import history_pool
from ganjax.families.cyclegan.losses import discriminator_loss, generator_losses
from ganjax.families.cyclegan.state import CycleGANState
from ganjax.families.players import player_schedules
from ganjax.train.task import pmean as mean_over_devices


def make_train_step(config: Config, generator: nn.Module, discriminator: nn.Module, axis_name: str | None = "data"):
  """The pure step `(state, batch, seed_key) -> (state, metrics)`; batch {'a', 'b'}: [b, H, W, C]
  in [-1, 1], unpaired. With `axis_name=None` it can be jitted and called on one device."""
  g_schedule, d_schedule = player_schedules(config)
  identity_weight = config.family.cycle_weight * config.family.identity_ratio

  def pmean(tree):
    return mean_over_devices(tree, axis_name)

  def translator(params):
    return lambda x: generator.apply({"params": params}, x)

  def scorer(params):
    return lambda x: discriminator.apply({"params": params}, x, train=True)

  def through_pool(pool, fakes, key):
    """(the pool after `fakes`, what D sees): the fakes themselves when the pool is off."""
    if pool is None:
      return None, jax.lax.stop_gradient(fakes)
    return history_pool.query(pool, fakes, key, axis_name)

  def train_step(state: CycleGANState, batch: dict, seed_key: jax.Array) -> tuple[CycleGANState, dict]:
    key = rng.step_key(seed_key, state.step)
    real_a, real_b = batch["a"], batch["b"]

    # Update step: G and F against the current Ds
    def g_objective(g_params):
      total, terms, fakes = generator_losses(
        translator(g_params["a_to_b"]),
        translator(g_params["b_to_a"]),
        scorer(state.d_params["a"]),
        scorer(state.d_params["b"]),
        real_a,
        real_b,
        config.family.cycle_weight,
        identity_weight,
      )
      return total, (terms, fakes)

    (g_loss, (terms, (fake_a, fake_b))), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
    g_grads = pmean(g_grads)
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    # Update step: each D on reals and on its pool's answer to this step's fakes
    pool_a, shown_a = through_pool(state.pool_a, fake_a, rng.stream(key, "pool_a"))
    pool_b, shown_b = through_pool(state.pool_b, fake_b, rng.stream(key, "pool_b"))

    def d_objective(d_params):
      outputs = {}
      for name, real, fake in (("a", real_a, shown_a), ("b", real_b, shown_b)):
        score = scorer(d_params[name])
        real_logits, fake_logits = score(real), score(fake)
        outputs[f"d_{name}_loss"] = discriminator_loss(real_logits, fake_logits)
        outputs[f"d_{name}_real"], outputs[f"d_{name}_fake"] = jnp.mean(real_logits), jnp.mean(fake_logits)
      return outputs["d_a_loss"] + outputs["d_b_loss"], outputs

    (d_loss, d_outputs), d_grads = jax.value_and_grad(d_objective, has_aux=True)(state.d_params)
    d_grads = pmean(d_grads)
    d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)

    new_state = state.replace(
      step=state.step + 1,
      g_params=g_params,
      d_params=d_params,
      g_opt_state=g_opt_state,
      d_opt_state=d_opt_state,
      pool_a=pool_a,
      pool_b=pool_b,
    )
    metrics = {
      "g_loss": g_loss,
      "d_loss": d_loss,
      **terms,
      **d_outputs,
      # D's mean scores over both Ds, for the curves' panel (LSGAN: 1 real, 0 fake)
      "d_real": (d_outputs["d_a_real"] + d_outputs["d_b_real"]) / 2,
      "d_fake": (d_outputs["d_a_fake"] + d_outputs["d_b_fake"]) / 2,
      "g_grad_norm": optax.tree.norm(g_grads),
      "d_grad_norm": optax.tree.norm(d_grads),
      "g_param_norm": optax.tree.norm(g_params),
      "d_param_norm": optax.tree.norm(d_params),
      "g_lr": g_schedule(state.step),
      "d_lr": d_schedule(state.step),
    }
    return new_state, pmean({k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()})

  return train_step
