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

import os

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import images, rng
from ganjax.config import Config
from ganjax.data.pipeline import load_source, to_model_range
from ganjax.errors import UsageError
from ganjax.families.vae.losses import decoder_mean, intensities
from ganjax.families.vae.state import VAEState, build_model, create_state
from ganjax.families.vae.step import make_train_step
from ganjax.models.vae import VAE
from ganjax.train.task import PyTree, Task

GRID = 8  # sample grids: 8x8 from fixed noise; reconstructions and interpolations: 8 rows
INTERPOLATION_STEPS = 8  # decoded points between (and including) two test images' codes


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
  noise = jax.random.normal(rng.stream(seed_key, "sample_grid"), (GRID * GRID, config.family.latent_dim))
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
