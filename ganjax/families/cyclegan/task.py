"""CycleGAN (Zhu et al. 2017) as a Task: unpaired translation between domains A and B.

Two generators, G: A -> B and F: B -> A (`ganjax.models.cyclegan.ResnetGenerator`), and two
PatchGAN discriminators, D_B (real B vs G's fakes) and D_A (real A vs F's fakes). Each step:

- G and F together minimise the LSGAN terms E[(D_B(G(a)) - 1)^2] + E[(D_A(F(b)) - 1)^2], the
  cycle-consistency L1 losses lambda (|F(G(a)) - a| + |G(F(b)) - b|) and the identity L1
  losses identity_ratio * lambda (|G(b) - b| + |F(a) - a|) (the paper's section 5.2: keeps
  colours, and here the digit, where translation needs no change);
- then each D minimises 1/2 (E[(D(real) - 1)^2] + E[D(fake)^2]) (the paper halves D's
  objective) on the fakes of the step before G's update, each passed through its own history
  pool of 50 past fakes (`ganjax.families.cyclegan.history_pool`).

Both generators share one optimizer, as do both Ds (Adam acts per parameter, so this equals
one optimizer each); with `--lr_schedule=linear_decay` the learning rate is constant for the
first half of `--steps` and falls linearly to 0 over the second (the paper: 100 + 100 epochs).
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax import images, plots
from ganjax.config import Config
from ganjax.data.pipeline import to_model_range
from ganjax.data.unpaired import UnpairedSource, load_domains
from ganjax.errors import UsageError
from ganjax.families.cyclegan.state import CycleGANState, create_state
from ganjax.families.cyclegan.step import make_train_step
from ganjax.models.cyclegan import DOWNSAMPLES, build_cyclegan
from ganjax.train.task import Task

GRID_ROWS = 8  # sample grids: the first 8 test images of each domain, every time


# Loss terms


# The step


# Translation on the host, for samples and evaluation


def make_translate(generator: nn.Module) -> Callable[[dict, np.ndarray], jax.Array]:
  """jitted (generator params, images [N, H, W, C] in [-1, 1]) -> translations, same shape."""
  return jax.jit(lambda params, x: generator.apply({"params": params}, x))


def translate_in_chunks(translate, params, x: np.ndarray, chunk: int = 500) -> np.ndarray:
  """`translate` over `x` a chunk at a time (bounded memory), as float32 numpy."""
  return np.concatenate([np.asarray(translate(params, jnp.asarray(x[i : i + chunk]))) for i in range(0, len(x), chunk)])


def cycle_rows(translate, g_params: dict, a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """The grid's images, row by row: a | G(a) | F(G(a)) | b | F(b) | G(F(b)); [6 * rows, H, W, C]."""
  fake_b = translate(g_params["a_to_b"], a)
  fake_a = translate(g_params["b_to_a"], b)
  columns = [a, fake_b, translate(g_params["b_to_a"], fake_b), b, fake_a, translate(g_params["a_to_b"], fake_a)]
  return np.stack([np.asarray(c) for c in columns], axis=1).reshape(-1, *a.shape[1:])


def check_image_shape(image_shape: tuple[int, int, int]) -> None:
  side = 2**DOWNSAMPLES
  if image_shape[0] % side or image_shape[1] % side:
    raise UsageError(
      f"CycleGAN's generator halves the image {DOWNSAMPLES} times, and images of "
      f"{image_shape[0]}x{image_shape[1]} do not divide by {side}: pass --image_size with a "
      f"multiple of {side}."
    )


def make_task(config: Config) -> Task:
  data_dir, image_size = config.data_dir or None, config.image_size or None
  domain_a, domain_b = load_domains(config.dataset, "train", data_dir, image_size)
  source = UnpairedSource(domain_a, domain_b, config.seed)
  check_image_shape(source.image_shape)
  generator, discriminator = build_cyclegan(config.width, config.family.cyclegan_blocks, source.image_shape)
  state = create_state(config, generator, discriminator, source.image_shape, jax.random.key(config.seed))

  test_a, test_b = load_domains(config.dataset, "test", data_dir, image_size)
  rows = np.arange(min(GRID_ROWS, len(test_a), len(test_b)))
  grid_a, grid_b = (to_model_range(d.read(rows)["image"]) for d in (test_a, test_b))
  translate = make_translate(generator)

  def write_samples(host_state: CycleGANState, step: int, path: str) -> None:
    del step  # the same test images every time
    pictures = cycle_rows(translate, host_state.g_params, grid_a, grid_b)
    images.save_png(path, images.grid(images.to_uint8(pictures), columns=6))

  return Task(
    state=state,
    source=source,
    make_step=lambda phase: make_train_step(config, generator, discriminator),
    write_samples=write_samples,
    progress=(("d", "d_loss"), ("g", "g_loss"), ("cycle", "cycle_a")),
    curves=(*plots.GAN_PANELS, ("cycle and identity L1", ("cycle_a", "cycle_b", "identity_a", "identity_b"))),
    data_position={"seed": config.seed, "image_shape": list(source.image_shape)},
  )
