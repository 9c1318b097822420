"""The VAE family as a Task: the ELBO, its state and pure step, sample grids, test-split evaluation.

Images arrive in [-1, 1] and the VAE models intensities x = (image + 1) / 2 in [0, 1]:
- `--likelihood=bernoulli`: -log p(x|z) = sum_i BCE(x_i, sigmoid(logit_i)), the grey levels
  themselves as Bernoulli targets (no binarisation): the usual MNIST convention. For grey
  targets this is a cross-entropy, not a normalised likelihood; it is the number papers
  that report "nats on MNIST" without binarising quote.
- `--likelihood=gaussian`: N(x; sigmoid(output), sigma^2) per pixel with one learned sigma:
  a density, so its negative ELBO can go below zero and is not comparable with the above.

The loss per image is the negative ELBO with the KL weighted by `--beta`:
  -log p(x|z) + beta * KL(q(z|x) || N(0, I)),  z = mean + sigma * eps, eps from the step's key,
and the reported `neg_elbo` is always the beta = 1 bound, in nats per image.
"""

from __future__ import annotations

import math
import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from ganjax import images, rng
from ganjax.config import Config
from ganjax.data.pipeline import load_source, to_model_range
from ganjax.errors import UsageError
from ganjax.models.vae import VAE
from ganjax.train.schedules import make_optimizer, make_schedule
from ganjax.train.task import Task, pmean

PyTree = Any
GRID = 8  # sample grids: 8x8 from fixed noise; reconstructions and interpolations: 8 rows
INTERPOLATION_STEPS = 8  # decoded points between (and including) two test images' codes


# ELBO terms: pure functions of arrays, summed over an image's pixels, [N] per example.


def gaussian_kl(mean: jax.Array, log_variance: jax.Array) -> jax.Array:
  """KL(N(mean, exp(log_variance)) || N(0, I)) in nats, [N, latent] -> [N]."""
  return 0.5 * jnp.sum(jnp.exp(log_variance) + jnp.square(mean) - 1.0 - log_variance, axis=-1)


def bernoulli_nll(x: jax.Array, logits: jax.Array) -> jax.Array:
  """-sum_i [x_i log p_i + (1 - x_i) log(1 - p_i)], p = sigmoid(logits), x in [0, 1]: [N, ...] -> [N]."""
  per_pixel = x * jax.nn.softplus(-logits) + (1.0 - x) * jax.nn.softplus(logits)
  return jnp.sum(per_pixel.reshape(x.shape[0], -1), axis=-1)


def gaussian_nll(x: jax.Array, mean: jax.Array, log_sigma: jax.Array) -> jax.Array:
  """-sum_i log N(x_i; mean_i, exp(log_sigma)^2) in nats, [N, ...] -> [N]; log_sigma a scalar."""
  per_pixel = 0.5 * jnp.square((x - mean) * jnp.exp(-log_sigma)) + log_sigma + 0.5 * math.log(2 * math.pi)
  return jnp.sum(per_pixel.reshape(x.shape[0], -1), axis=-1)


def decoder_mean(outputs: jax.Array) -> jax.Array:
  """E[x|z] in [0, 1] from the decoder's outputs (logits or the Gaussian mean's logits)."""
  return jax.nn.sigmoid(outputs)


def elbo_terms(model: VAE, params: PyTree, x: jax.Array, eps: jax.Array) -> dict[str, jax.Array]:
  """x [N, H, W, C] in [0, 1], eps [N, latent] -> {'nll', 'kl', 'neg_elbo'}, each [N] in nats."""
  outputs, log_sigma, mean, log_variance = model.apply({"params": params}, x, eps)
  nll = bernoulli_nll(x, outputs) if log_sigma is None else gaussian_nll(x, decoder_mean(outputs), log_sigma)
  kl = gaussian_kl(mean, log_variance)
  return {"nll": nll, "kl": kl, "neg_elbo": nll + kl}


def intensities(image: jax.Array) -> jax.Array:
  """[-1, 1] -> [0, 1]."""
  return (image + 1.0) * 0.5


class VAEState(struct.PyTreeNode):
  """Step counter, the VAE's parameters and Adam's state; the optimizer is static."""

  step: jax.Array  # int32 scalar: completed training steps
  params: PyTree
  opt_state: optax.OptState
  tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    return {"step": self.step, "params": self.params, "opt_state": self.opt_state}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> VAEState:
    return self.replace(**items)


def build_model(config: Config, channels: int) -> VAE:
  return VAE(
    latent_dim=config.latent_dim,
    channels=channels,
    width=config.width,
    hidden=16 * config.width,
    gaussian=config.likelihood == "gaussian",
  )


def create_state(config: Config, model: VAE, image_shape: tuple[int, int, int], seed_key: jax.Array) -> VAEState:
  x = jnp.zeros((1, *image_shape), jnp.float32)
  params = model.init(rng.stream(seed_key, "init"), x, jnp.zeros((1, config.latent_dim)))["params"]
  tx = make_optimizer("adam", config, make_schedule(config, config.lr))
  return VAEState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), tx=tx)


def make_train_step(config: Config, model: VAE, axis_name: str | None = "data"):
  """Pure step: (state, {'image': [b, H, W, C] in [-1, 1]}, seed_key) -> (state, metrics)."""
  schedule = make_schedule(config, config.lr)

  def train_step(state: VAEState, batch: dict, seed_key: jax.Array):
    x = intensities(batch["image"])
    # eps per global example index: the same draws on 1 device or 4.
    eps = rng.example_normal(
      rng.stream(rng.step_key(seed_key, state.step), "latent"), (x.shape[0], config.latent_dim), axis_name
    )

    def objective(params):
      terms = elbo_terms(model, params, x, eps)
      return jnp.mean(terms["nll"] + config.beta * terms["kl"]), terms

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


def test_images(config: Config, num: int | None = None) -> np.ndarray:
  """The first `num` (all) test images, float32 [N, H, W, C] in [-1, 1]."""
  source = load_source(config.dataset, "test", config.data_dir or None)
  return to_model_range(source.read(np.arange(min(num or len(source), len(source))))["image"])


GRID_COLUMNS = {"grid": GRID, "reconstructions": GRID, "interpolations": INTERPOLATION_STEPS + 2}


def sample_grids(model: VAE, params: PyTree, noise: jax.Array, examples: jax.Array) -> dict[str, jax.Array]:
  """The grids' images [n, H, W, C] in [-1, 1], row by row (`GRID_COLUMNS` a row), from decoder
  means (no pixel noise); `examples`: GRID * GRID / 2 test images in [-1, 1].
  'grid': decoded `noise`, GRID x GRID;
  'reconstructions': (input | reconstruction from the encoder's mean) pairs, GRID / 2 pairs a row;
  'interpolations': row r decodes the straight line from test image r's code to image r + GRID's,
    endpoints included, with the two images at the row's ends.
  """
  decode = lambda z: 2.0 * decoder_mean(model.apply({"params": params}, z, method=VAE.decode)[0]) - 1.0  # noqa: E731
  mean, _ = model.apply({"params": params}, intensities(examples), method=VAE.encode)
  pairs = jnp.stack([examples, decode(mean)], axis=1).reshape(-1, *examples.shape[1:])
  starts, ends = mean[:GRID], mean[GRID : 2 * GRID]
  t = jnp.linspace(0.0, 1.0, INTERPOLATION_STEPS)[None, :, None]
  path = decode(((1 - t) * starts[:, None] + t * ends[:, None]).reshape(-1, mean.shape[-1]))
  path = path.reshape(GRID, INTERPOLATION_STEPS, *examples.shape[1:])
  rows = jnp.concatenate([examples[:GRID, None], path, examples[GRID : 2 * GRID, None]], axis=1)
  return {"grid": decode(noise), "reconstructions": pairs, "interpolations": rows.reshape(-1, *examples.shape[1:])}


def check_images(config: Config, image_shape: tuple[int, int, int]) -> None:
  if tuple(image_shape[:2]) != (28, 28):
    raise UsageError(
      f"The VAE is built for 28x28 images and --dataset={config.dataset} gives "
      f"{image_shape[0]}x{image_shape[1]}; pass --image_size=28."
    )


def make_task(config: Config) -> Task:
  source = load_source(config.dataset, "train", config.data_dir or None, config.image_size or None)
  check_images(config, source.image_shape)
  model = build_model(config, source.image_shape[-1])
  seed_key = jax.random.key(config.seed)
  state = create_state(config, model, source.image_shape, seed_key)
  noise = jax.random.normal(rng.stream(seed_key, "sample_grid"), (GRID * GRID, config.latent_dim))
  examples = jnp.asarray(test_images(config, GRID * GRID // 2))
  draw_grids = jax.jit(lambda params: sample_grids(model, params, noise, examples))

  def write_samples(host_state: VAEState, step: int, path: str) -> None:
    """`path` gets the samples; reconstructions_<step>.png and interpolations_<step>.png go beside it."""
    del step
    folder, name = os.path.split(path)
    for kind, grid_images in jax.device_get(draw_grids(host_state.params)).items():
      picture = images.grid(images.to_uint8(grid_images), columns=GRID_COLUMNS[kind])
      images.save_png(os.path.join(folder, name.replace("grid", kind)), picture)

  return Task(
    state=state,
    source=source,
    make_step=lambda phase: make_train_step(config, model),
    write_samples=write_samples,
    progress=(("-elbo", "neg_elbo"), ("kl", "kl")),
    curves=(
      ("negative ELBO and its terms (nats per image)", ("neg_elbo", "nll", "kl")),
      ("gradient norm", ("grad_norm",)),
      ("decoder sigma", ("sigma",)),
    ),
    data_position={"seed": config.seed, "image_shape": list(source.image_shape)},
  )
