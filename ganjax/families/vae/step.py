"""The VAE's train step: one pure, jitted and pmapped update of its state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from ganjax import rng
from ganjax.config import Config
from ganjax.families.vae.losses import elbo_terms, intensities
from ganjax.families.vae.state import VAEState
from ganjax.models.vae import VAE
from ganjax.train.schedules import make_schedule
from ganjax.train.task import pmean


def make_train_step(config: Config, model: VAE, axis_name: str | None = "data"):
  """Pure step: (state, {'image': [b, H, W, C] in [-1, 1]}, seed_key) -> (state, metrics)."""
  schedule = make_schedule(config, config.lr)

  def train_step(state: VAEState, batch: dict, seed_key: jax.Array):
    x = intensities(batch["image"])
    # eps per global example index: the same draws on 1 device or 4.
    eps = rng.example_normal(
      rng.stream(rng.step_key(seed_key, state.step), "latent"), (x.shape[0], config.family.latent_dim), axis_name
    )

    def objective(params):
      terms = elbo_terms(model, params, x, eps)
      return jnp.mean(terms["nll"] + config.family.beta * terms["kl"]), terms

    (loss, terms), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
    grads = pmean(grads, axis_name)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {
      "loss": loss,
      "neg_elbo": jnp.mean(terms["neg_elbo"]),
      "nll": jnp.mean(terms["nll"]),
      "kl": jnp.mean(terms["kl"]),
      "grad_norm": optax.tree.norm(grads),
      "param_norm": optax.tree.norm(params),
      "lr": schedule(state.step),
    }
    if model.gaussian:
      metrics["sigma"] = jnp.exp(params["decoder"]["log_sigma"])
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), pmean(metrics, axis_name)

  return train_step
