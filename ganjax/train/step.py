"""The train step: a pure function `train_step(state, batch, seed_key) -> (state, metrics)`.

Built by `make_train_step` from the config, so every static choice (loss, models, axis) is
made before tracing. Written for one device: with `axis_name='data'` it averages
gradients, batch statistics and metrics over that pmap axis; with `axis_name=None` it can
be jitted and called directly on one device.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganjax import losses, rng
from ganjax.config import Config
from ganjax.train.state import GANState

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def _pmean(tree, axis_name: str | None):
  return jax.lax.pmean(tree, axis_name) if axis_name else tree


def make_train_step(config: Config, generator: nn.Module, discriminator: nn.Module,
                    axis_name: str | None = "data") -> Callable[[GANState, Batch, jax.Array],
                                                                tuple[GANState, Metrics]]:
  """One D update and one G update per call, from a single pass through D on the fakes.

  `generator` and `discriminator` must be built with the same `axis_name`.
  """
  loss = losses.LOSSES[config.loss]

  def train_step(state: GANState, batch: Batch, seed_key: jax.Array) -> tuple[GANState, Metrics]:
    """batch['image']: [b, H, W, C] in [-1, 1]; seed_key: the run's key, same every step."""
    key = rng.step_key(seed_key, state.step)
    real = batch["image"]
    z = rng.example_normal(rng.stream(key, "noise"), (real.shape[0], config.latent_dim), axis_name)

    def generate(g_params):
      fake, updates = generator.apply({"params": g_params, "batch_stats": state.g_batch_stats},
                                      z, train=True, mutable=["batch_stats"])
      return fake, updates["batch_stats"]

    def discriminate(d_params, images, stream_name):
      return discriminator.apply({"params": d_params}, images, train=True,
                                 rngs={"dropout": rng.stream(key, stream_name)})

    def both_losses(d_params, fake):
      real_logits = discriminate(d_params, real, "dropout_real")
      fake_logits = discriminate(d_params, fake, "dropout_fake")
      losses_out = (loss.d_loss(real_logits, fake_logits), loss.g_loss(fake_logits))
      return losses_out, (real_logits, fake_logits)

    # G runs forward once and D once on the fakes; both players' gradients come from
    # these passes by two vector-Jacobian products (XLA drops the halves nobody uses).
    fake, g_vjp, g_batch_stats = jax.vjp(generate, state.g_params, has_aux=True)
    (d_loss, g_loss), d_vjp, (real_logits, fake_logits) = jax.vjp(
        both_losses, state.d_params, fake, has_aux=True)
    one, zero = jnp.ones_like(d_loss), jnp.zeros_like(g_loss)
    d_grads, _ = d_vjp((one, zero))
    _, fake_cotangent = d_vjp((zero, one))
    (g_grads,) = g_vjp(fake_cotangent)
    d_grads, g_grads = _pmean((d_grads, g_grads), axis_name)

    d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    new_state = state.replace(
        step=state.step + 1,
        d_params=optax.apply_updates(state.d_params, d_updates), d_opt_state=d_opt_state,
        g_params=optax.apply_updates(state.g_params, g_updates), g_opt_state=g_opt_state,
        g_batch_stats=g_batch_stats)
    metrics = {
        "d_loss": d_loss, "g_loss": g_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)), "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
        "g_grad_norm": optax.tree.norm(g_grads), "d_grad_norm": optax.tree.norm(d_grads),
        "g_param_norm": optax.tree.norm(new_state.g_params),
        "d_param_norm": optax.tree.norm(new_state.d_params),
    }
    return new_state, _pmean(metrics, axis_name)

  return train_step
