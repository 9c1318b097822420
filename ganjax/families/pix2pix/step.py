"""pix2pix's train step: one pure, jitted and pmapped update of its state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from ganjax import rng
from ganjax.config import Config
from ganjax.families.pix2pix.losses import d_loss, g_adversarial_loss, l1_loss
from ganjax.families.pix2pix.state import Pix2pixState
from ganjax.families.players import player_schedules
from ganjax.models.patchgan import PatchDiscriminator
from ganjax.models.unet import UNet
from ganjax.train.task import pmean as mean_over_devices


def make_train_step(config: Config, generator: UNet, discriminator: PatchDiscriminator, axis_name: str | None = "data"):
  """Pure step: (state, {'input', 'target': [b, H, W, C] in [-1, 1]}, seed_key) -> (state, metrics).

  With D on, one D and one G update from one G pass and one D pass on each of the real and
  the fake pairs; G's adversarial gradient goes through D before its update.
  """
  adversarial = config.family.adversarial_weight > 0
  g_schedule, d_schedule = player_schedules(config)

  def pmean(tree):
    return mean_over_devices(tree, axis_name)

  def generate(g_params, g_batch_stats, x, key):
    output, updates = generator.apply(
      {"params": g_params, "batch_stats": g_batch_stats}, x, train=True, rngs={"dropout": key}, mutable=["batch_stats"]
    )
    return output, updates["batch_stats"]

  def discriminate(d_params, d_batch_stats, x, image):
    logits, updates = discriminator.apply(
      {"params": d_params, "batch_stats": d_batch_stats},
      jnp.concatenate([x, image], axis=-1),
      train=True,
      mutable=["batch_stats"],
    )
    return logits, updates["batch_stats"]

  def both_losses(d_params, d_batch_stats, x, target, fake):
    """(D's loss, G's adversarial loss) from one pass each over the real and fake pairs."""
    real_logits, stats = discriminate(d_params, d_batch_stats, x, target)
    fake_logits, stats = discriminate(d_params, stats, x, fake)
    aux = {"d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return (d_loss(real_logits, fake_logits), g_adversarial_loss(fake_logits)), (stats, aux)

  def train_step(state: Pix2pixState, batch: dict, seed_key: jax.Array):
    key = rng.stream(rng.step_key(seed_key, state.step), "dropout")
    x, target = batch["input"], batch["target"]
    fake, g_vjp, g_batch_stats = jax.vjp(
      lambda p: generate(p, state.g_batch_stats, x, key), state.g_params, has_aux=True
    )
    g_l1, l1_cotangent = jax.value_and_grad(l1_loss)(fake, target)
    metrics = {"g_l1": g_l1}
    fake_cotangent = config.family.l1_weight * l1_cotangent
    if adversarial:
      (d_total, g_adv), d_vjp, (d_batch_stats, aux) = jax.vjp(
        lambda d_params, fake: both_losses(d_params, state.d_batch_stats, x, target, fake),
        state.d_params,
        fake,
        has_aux=True,
      )
      one, zero = jnp.ones_like(d_total), jnp.zeros_like(g_adv)
      d_grads, _ = d_vjp((one, zero))
      _, adv_cotangent = d_vjp((zero, one))
      fake_cotangent = fake_cotangent + config.family.adversarial_weight * adv_cotangent
      d_grads, d_batch_stats = pmean((d_grads, d_batch_stats))
      d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
      state = state.replace(
        d_params=optax.apply_updates(state.d_params, d_updates), d_opt_state=d_opt_state, d_batch_stats=d_batch_stats
      )
      metrics.update(d_loss=d_total, g_adversarial=g_adv, d_grad_norm=optax.tree.norm(d_grads), **aux)
      metrics["g_loss"] = config.family.adversarial_weight * g_adv + config.family.l1_weight * g_l1
    else:
      metrics["g_loss"] = config.family.l1_weight * g_l1
    (g_grads,) = g_vjp(fake_cotangent)
    g_grads, g_batch_stats = pmean((g_grads, g_batch_stats))
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    state = state.replace(step=state.step + 1, g_params=g_params, g_opt_state=g_opt_state, g_batch_stats=g_batch_stats)
    metrics.update(
      g_grad_norm=optax.tree.norm(g_grads), g_param_norm=optax.tree.norm(g_params), g_lr=g_schedule(state.step - 1)
    )
    if adversarial:
      metrics["d_lr"] = d_schedule(state.step - 1)
    return state, pmean(metrics)

  return train_step
