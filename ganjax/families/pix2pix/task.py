"""Pix2pix (Isola et al. 2017) as a Task: U-Net G, conditional PatchGAN D, adversarial + lambda * L1.

G maps the condition x (an edge map) to an image; D scores every patch of the channel
concatenation (x, image) real or fake. Objectives, per device, images in [-1, 1]:
  D: 1/2 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]             (the paper halves D's objective)
  G: adversarial_weight * BCE(D(x, G(x)), 1) + l1_weight * mean |y - G(x)|   (non-saturating)
`--adversarial_weight=0` trains G on the L1 term alone, the L1-only U-Net baseline, through
the same code with D left untouched (its parameters stay in the state, never updated, so
both runs' checkpoints have one shape). Dropout in G's decoder is its noise while training;
samples and evaluation run G in inference mode (no dropout, BatchNorm's running averages)
for a deterministic output: the paper keeps dropout on at test time.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ganjax import images, losses, rng
from ganjax.config import Config
from ganjax.data.paired import PairedSource, load_paired_source
from ganjax.data.pipeline import to_model_range
from ganjax.models.patchgan import PatchDiscriminator
from ganjax.models.unet import UNet
from ganjax.families.players_state import PlayersState
from ganjax.train.schedules import player_optimizers, player_schedules
from ganjax.train.task import Task
from ganjax.train.task import pmean as mean_over_devices

PyTree = Any
GRID_ROWS, GRID_TRIPLETS = 8, 4  # sample grids: 8 rows of 4 (input | output | target) triplets


class Pix2pixState(PlayersState):
  """Step counter, G's and D's variables and optimizer states; the optimizers are static."""


def build_models(config: Config, out_channels: int, axis_name: str | None = "data") -> tuple[UNet, PatchDiscriminator]:
  """G and D. D: the PatchGAN with two stride-2 layers for 28x28 images (7x7 patch scores)."""
  generator = UNet(
    out_channels=out_channels, width=config.width, dropout=config.dropout, leak=config.leak, axis_name=axis_name
  )
  discriminator = PatchDiscriminator(
    width=config.width, downsamples=2, norm="batch", leak=config.leak, axis_name=axis_name
  )
  return generator, discriminator


def create_state(
  config: Config,
  generator: UNet,
  discriminator: PatchDiscriminator,
  input_shape: tuple[int, ...],
  target_shape: tuple[int, ...],
  seed_key: jax.Array,
) -> Pix2pixState:
  init_key = rng.stream(seed_key, "init")
  x = jnp.zeros((1, *input_shape), jnp.float32)
  pair = jnp.zeros((1, *input_shape[:-1], input_shape[-1] + target_shape[-1]), jnp.float32)
  g_vars = generator.init(rng.stream(init_key, "generator"), x, train=False)
  d_vars = discriminator.init(rng.stream(init_key, "discriminator"), pair, train=False)
  g_tx, d_tx = player_optimizers(config)
  return Pix2pixState(
    step=jnp.zeros((), jnp.int32),
    g_params=g_vars["params"],
    g_batch_stats=g_vars.get("batch_stats", {}),
    d_params=d_vars["params"],
    d_batch_stats=d_vars.get("batch_stats", {}),
    g_opt_state=g_tx.init(g_vars["params"]),
    d_opt_state=d_tx.init(d_vars["params"]),
    g_tx=g_tx,
    d_tx=d_tx,
  )


def l1_loss(output: jax.Array, target: jax.Array) -> jax.Array:
  """Mean absolute difference over every pixel of the device's batch (images in [-1, 1])."""
  return jnp.mean(jnp.abs(output - target))


def d_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """Half the non-saturating D loss over every patch's logit (Isola et al. 2017, section 3.3)."""
  return 0.5 * losses.non_saturating_d_loss(real_logits.reshape(-1), fake_logits.reshape(-1))


def g_adversarial_loss(fake_logits: jax.Array) -> jax.Array:
  """G's non-saturating loss over every patch's logit."""
  return losses.non_saturating_g_loss(fake_logits.reshape(-1))


def make_train_step(config: Config, generator: UNet, discriminator: PatchDiscriminator, axis_name: str | None = "data"):
  """Pure step: (state, {'input', 'target': [b, H, W, C] in [-1, 1]}, seed_key) -> (state, metrics).

  With D on, one D and one G update from one G pass and one D pass on each of the real and
  the fake pairs; G's adversarial gradient goes through D before its update.
  """
  adversarial = config.adversarial_weight > 0
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
    fake_cotangent = config.l1_weight * l1_cotangent
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
      fake_cotangent = fake_cotangent + config.adversarial_weight * adv_cotangent
      d_grads, d_batch_stats = pmean((d_grads, d_batch_stats))
      d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
      state = state.replace(
        d_params=optax.apply_updates(state.d_params, d_updates), d_opt_state=d_opt_state, d_batch_stats=d_batch_stats
      )
      metrics.update(d_loss=d_total, g_adversarial=g_adv, d_grad_norm=optax.tree.norm(d_grads), **aux)
      metrics["g_loss"] = config.adversarial_weight * g_adv + config.l1_weight * g_l1
    else:
      metrics["g_loss"] = config.l1_weight * g_l1
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


def make_translate(generator: nn.Module):
  """Jitted (g_params, g_batch_stats, x [N, H, W, C] in [-1, 1]) -> G(x) in inference mode."""
  return jax.jit(lambda params, stats, x: generator.apply({"params": params, "batch_stats": stats}, x, train=False))


def load_split(config: Config, split: str) -> PairedSource:
  return load_paired_source(config.dataset, split, config.data_dir or None, config.input_feature, config.target_feature)


def as_three_channels(x: np.ndarray, channels: int) -> np.ndarray:
  """Grey images repeated to `channels` so inputs and outputs of different depths sit in one grid."""
  return np.repeat(x, channels, axis=-1) if x.shape[-1] == 1 and channels > 1 else x


def make_task(config: Config) -> Task:
  source = load_split(config, "train")
  generator, discriminator = build_models(config, source.target_shape[-1])
  seed_key = jax.random.key(config.seed)
  state = create_state(config, generator, discriminator, source.input_shape, source.target_shape, seed_key)
  test = load_split(config, "test")
  shown = {
    k: to_model_range(v)
    for k, v in test.read(np.arange(min(len(test), GRID_ROWS * GRID_TRIPLETS))).items()
    if v.dtype == np.uint8
  }
  generator_for_samples = build_models(config, source.target_shape[-1], axis_name=None)[0]
  translate = make_translate(generator_for_samples)
  channels = max(source.input_shape[-1], source.target_shape[-1])

  def write_samples(host_state: Pix2pixState, step: int, path: str) -> None:
    """Rows of (input | output | target) triplets of the first test examples, G in inference mode."""
    del step
    output = np.asarray(translate(host_state.g_params, host_state.g_batch_stats, shown["input"]))
    triplets = np.stack([as_three_channels(a, channels) for a in (shown["input"], output, shown["target"])], axis=1)
    picture = images.grid(images.to_uint8(triplets.reshape(-1, *triplets.shape[2:])), columns=3 * GRID_TRIPLETS)
    images.save_png(path, picture)

  progress = (("d", "d_loss"), ("l1", "g_l1")) if config.adversarial_weight else (("l1", "g_l1"),)
  return Task(
    state=state,
    source=source,
    make_step=lambda phase: make_train_step(config, generator, discriminator),
    write_samples=write_samples,
    progress=progress,
    curves=(
      ("losses", ("d_loss", "g_loss")),
      ("L1 to the target", ("g_l1",)),
      ("discriminator outputs (mean probability)", ("d_real", "d_fake")),
    ),
    data_position={
      "seed": config.seed,
      "input_shape": list(source.input_shape),
      "target_shape": list(source.target_shape),
    },
  )
