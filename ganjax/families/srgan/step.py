"""SRGAN's train step: one pure, jitted and pmapped update of its state."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganjax import losses
from ganjax.config import Config
from ganjax.families.srgan import losses as srgan_losses
from ganjax.train.task import pmean

PRETRAIN, ADVERSARIAL = "pretrain", "adversarial"  # the run's two phases


def make_train_step(
  config: Config,
  generator: nn.Module,
  discriminator: nn.Module,
  feature_network: srgan_losses.FeatureNetwork | None,
  phase: str,
  axis_name: str | None = "data",
):
  """The pure step of `phase`: (state, {'lr', 'hr'} in [-1, 1], seed_key) -> (state, metrics).

  SRGAN draws no randomness; the seed key is part of the shared step signature.
  """
  adversarial = losses.make_loss(config.family.loss, config.family.real_label)

  def generate(g_params, g_batch_stats, lr):
    sr, updates = generator.apply(
      {"params": g_params, "batch_stats": g_batch_stats}, lr, train=True, mutable=["batch_stats"]
    )
    return sr, updates["batch_stats"]

  def discriminate(d_params, d_batch_stats, x):
    logits, updates = discriminator.apply(
      {"params": d_params, "batch_stats": d_batch_stats}, x, train=True, mutable=["batch_stats"]
    )
    return logits, updates["batch_stats"]

  def reference_terms(state, sr, hr):
    """(weighted content + perceptual loss, its parts): the terms that need no D."""
    content = srgan_losses.content_loss(sr, hr)
    perceptual = jnp.zeros((), jnp.float32)
    if feature_network is not None:
      perceptual = srgan_losses.perceptual_loss(lambda x: feature_network.apply(state.feature_params, x), sr, hr)
    return config.family.content_weight * content + config.family.perceptual_weight * perceptual, (content, perceptual)

  def apply_g_update(state, g_grads, g_batch_stats):
    updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    return state.replace(
      g_params=optax.apply_updates(state.g_params, updates), g_opt_state=g_opt_state, g_batch_stats=g_batch_stats
    )

  def pretrain_step(state, batch, seed_key):
    del seed_key
    lr, hr = batch["lr"], batch["hr"]

    def mse(g_params):
      sr, stats = generate(g_params, state.g_batch_stats, lr)
      return srgan_losses.content_loss(sr, hr), (sr, stats)

    (content, (sr, g_batch_stats)), g_grads = jax.value_and_grad(mse, has_aux=True)(state.g_params)
    g_grads, g_batch_stats = pmean((g_grads, g_batch_stats), axis_name)
    state = apply_g_update(state, g_grads, g_batch_stats).replace(step=state.step + 1)
    zero = jnp.zeros((), jnp.float32)
    metrics = {
      "content_loss": content,
      "perceptual_loss": zero,
      "adversarial_loss": zero,
      "g_loss": content,
      "d_loss": zero,
      "d_real": zero,
      "d_fake": zero,
      "psnr": srgan_losses.batch_psnr(sr, hr),
      "g_grad_norm": optax.tree.norm(g_grads),
      "d_grad_norm": zero,
    }
    return state, pmean(metrics, axis_name)

  def adversarial_step(state, batch, seed_key):
    del seed_key
    lr, hr = batch["lr"], batch["hr"]
    sr, g_vjp, g_batch_stats = jax.vjp(lambda p: generate(p, state.g_batch_stats, lr), state.g_params, has_aux=True)

    def both_adversarial_losses(d_params, sr):
      real_logits, stats = discriminate(d_params, state.d_batch_stats, hr)
      fake_logits, stats = discriminate(d_params, stats, sr)
      belief = jax.nn.sigmoid if adversarial.outputs_logits else (lambda x: x)
      aux = {"d_real": jnp.mean(belief(real_logits)), "d_fake": jnp.mean(belief(fake_logits))}
      return (adversarial.d_loss(real_logits, fake_logits), adversarial.g_loss(fake_logits)), (stats, aux)

    (d_loss, g_adversarial), d_vjp, (d_batch_stats, aux) = jax.vjp(
      both_adversarial_losses, state.d_params, sr, has_aux=True
    )
    one, zero = jnp.ones_like(d_loss), jnp.zeros_like(d_loss)
    d_grads, _ = d_vjp((one, zero))
    _, sr_adversarial = d_vjp((zero, config.family.adversarial_weight * one))
    (reference, (content, perceptual)), sr_reference = jax.value_and_grad(
      lambda x: reference_terms(state, x, hr), has_aux=True
    )(sr)
    (g_grads,) = g_vjp(sr_adversarial + sr_reference)
    d_grads, g_grads, d_batch_stats, g_batch_stats = pmean((d_grads, g_grads, d_batch_stats, g_batch_stats), axis_name)
    d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
    state = state.replace(
      d_params=optax.apply_updates(state.d_params, d_updates), d_opt_state=d_opt_state, d_batch_stats=d_batch_stats
    )
    state = apply_g_update(state, g_grads, g_batch_stats).replace(step=state.step + 1)
    metrics = {
      "content_loss": content,
      "perceptual_loss": perceptual,
      "adversarial_loss": g_adversarial,
      "g_loss": reference + config.family.adversarial_weight * g_adversarial,
      "d_loss": d_loss,
      **aux,
      "psnr": srgan_losses.batch_psnr(sr, hr),
      "g_grad_norm": optax.tree.norm(g_grads),
      "d_grad_norm": optax.tree.norm(d_grads),
    }
    return state, pmean(metrics, axis_name)

  if phase == PRETRAIN:
    return pretrain_step
  if phase == ADVERSARIAL:
    return adversarial_step
  raise ValueError(f"unknown phase {phase!r}")


def phase_at(step: int, pretrain_steps: int) -> str:
  return PRETRAIN if step < pretrain_steps else ADVERSARIAL
