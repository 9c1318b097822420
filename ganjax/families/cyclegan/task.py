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
import optax
from flax import struct

from ganjax import images, losses, plots, rng
from ganjax.config import Config
from ganjax.data.pipeline import to_model_range
from ganjax.data.unpaired import UnpairedSource, load_domains
from ganjax.errors import UsageError
from ganjax.models.cyclegan import DOWNSAMPLES, build_cyclegan
from ganjax.families.cyclegan import history_pool
from ganjax.families.cyclegan.history_pool import HistoryPool
from ganjax.train.schedules import player_optimizers, player_schedules
from ganjax.train.task import PyTree, Task
from ganjax.train.task import pmean as mean_over_devices

Images = jax.Array  # [N, H, W, C] in [-1, 1]
GRID_ROWS = 8  # sample grids: the first 8 test images of each domain, every time


class CycleGANState(struct.PyTreeNode):
  """Both generators ('a_to_b' is G, 'b_to_a' is F), both Ds ('a', 'b'), their optimizer
  states and the two history pools (None when `--history_pool=0`).

  pool_a holds fakes in domain A (F's outputs) for D_A; pool_b holds G's for D_B.
  """

  step: jax.Array  # int32 scalar: completed training steps
  g_params: dict
  d_params: dict
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  pool_a: HistoryPool | None
  pool_b: HistoryPool | None
  g_tx: optax.GradientTransformation = struct.field(pytree_node=False)
  d_tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self) -> dict[str, PyTree]:
    items = {
      "step": self.step,
      "g_params": self.g_params,
      "d_params": self.d_params,
      "g_opt_state": self.g_opt_state,
      "d_opt_state": self.d_opt_state,
      "pool_a": self.pool_a,
      "pool_b": self.pool_b,
    }
    return {k: v for k, v in items.items() if v is not None}

  def with_checkpoint_items(self, items: dict[str, PyTree]) -> CycleGANState:
    return self.replace(**items)


def create_state(
  config: Config, generator: nn.Module, discriminator: nn.Module, image_shape: tuple[int, int, int], seed_key: jax.Array
) -> CycleGANState:
  """Initial state; `image_shape` is one image's [H, W, C] (both domains share it)."""
  init_key = rng.stream(seed_key, "init")
  x = jnp.zeros((1, *image_shape), jnp.float32)
  g_params = {
    name: generator.init(rng.stream(init_key, f"generator_{name}"), x)["params"] for name in ("a_to_b", "b_to_a")
  }
  d_params = {
    name: discriminator.init(rng.stream(init_key, f"discriminator_{name}"), x, train=False)["params"]
    for name in ("a", "b")
  }
  g_tx, d_tx = player_optimizers(config)
  pool = lambda: history_pool.empty(config.history_pool, image_shape) if config.history_pool else None  # noqa: E731
  return CycleGANState(
    step=jnp.zeros((), jnp.int32),
    g_params=g_params,
    d_params=d_params,
    g_opt_state=g_tx.init(g_params),
    d_opt_state=d_tx.init(d_params),
    pool_a=pool(),
    pool_b=pool(),
    g_tx=g_tx,
    d_tx=d_tx,
  )


# Loss terms


def generator_adversarial_loss(fake_logits: jax.Array) -> jax.Array:
  """The paper's E[(D(G(x)) - 1)^2]: twice `ganjax.losses.least_squares_g_loss` (Mao et al.'s
  form carries a 1/2 that Zhu et al. leave out), so lambda = 10 weighs as in the paper."""
  return 2.0 * losses.least_squares_g_loss(fake_logits)


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """1/2 (E[(D(y) - 1)^2] + E[D(G(x))^2]): LSGAN's D loss, halved as the paper does."""
  return losses.least_squares_d_loss(real_logits, fake_logits)


def l1(x: jax.Array, y: jax.Array) -> jax.Array:
  """Mean absolute difference over every pixel: the cycle and identity losses."""
  return jnp.mean(jnp.abs(x - y))


def generator_losses(
  translate_a_to_b: Callable[[Images], Images],
  translate_b_to_a: Callable[[Images], Images],
  score_a: Callable[[Images], jax.Array],
  score_b: Callable[[Images], jax.Array],
  real_a: Images,
  real_b: Images,
  cycle_weight: float,
  identity_weight: float,
) -> tuple[jax.Array, dict, tuple[Images, Images]]:
  """(G and F's total loss, its terms, (fake_a, fake_b)) for one batch of each domain.

  `score_a`/`score_b` are D_A/D_B; the identity terms are left out when their weight is 0.
  """
  fake_b, fake_a = translate_a_to_b(real_a), translate_b_to_a(real_b)
  terms = {
    "g_adv_b": generator_adversarial_loss(score_b(fake_b)),
    "g_adv_a": generator_adversarial_loss(score_a(fake_a)),
    "cycle_a": l1(translate_b_to_a(fake_b), real_a),
    "cycle_b": l1(translate_a_to_b(fake_a), real_b),
  }
  total = terms["g_adv_b"] + terms["g_adv_a"] + cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
  if identity_weight:
    terms["identity_a"] = l1(translate_b_to_a(real_a), real_a)
    terms["identity_b"] = l1(translate_a_to_b(real_b), real_b)
    total = total + identity_weight * (terms["identity_a"] + terms["identity_b"])
  return total, terms, (fake_a, fake_b)


# The step


def make_train_step(config: Config, generator: nn.Module, discriminator: nn.Module, axis_name: str | None = "data"):
  """The pure step `(state, batch, seed_key) -> (state, metrics)`; batch {'a', 'b'}: [b, H, W, C]
  in [-1, 1], unpaired. With `axis_name=None` it can be jitted and called on one device."""
  g_schedule, d_schedule = player_schedules(config)
  identity_weight = config.cycle_weight * config.identity_ratio

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
        config.cycle_weight,
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
  generator, discriminator = build_cyclegan(config.width, config.cyclegan_blocks, source.image_shape)
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
