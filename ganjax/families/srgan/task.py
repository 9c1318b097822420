"""SRGAN (Ledig et al. 2017) as a Task: state, the two phases' pure steps, data and sample grids.

Phases, chosen by `Task.phase(step)` against `--pretrain_steps`:
- 'pretrain' (steps before --pretrain_steps): G alone on the pixel MSE, as the paper trains
  SRResNet, which then initialises SRGAN. D is left untouched.
- 'adversarial' (the rest): one D update on HR images against G's outputs, and one G update
  on content_weight * MSE + perceptual_weight * feature MSE + adversarial_weight * G's
  adversarial loss, both from the same D pass (as `ganjax.families.gan.step`'s simultaneous update).
With --pretrain_steps equal to --steps the run is SRResNet.

Both phases report the same metrics (D's are 0 while pre-training) so logs and curves
continue across the switch.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ganjax import images, losses, rng
from ganjax.config import Config
from ganjax.data import sr_pairs
from ganjax.models.srgan import SRDiscriminator, SRResNet
from ganjax.families.srgan import losses as srgan_losses
from ganjax.families.players_state import PlayersState
from ganjax.train.schedules import player_optimizers
from ganjax.train.task import Task, pmean

PyTree = Any
PRETRAIN, ADVERSARIAL = "pretrain", "adversarial"
GRID_EXAMPLES = {"mnist": 16}  # held-out examples in a sample grid; every held-out photograph otherwise
GRID_PHOTO_CROP = 128  # HR pixels of each photograph's centre crop in a grid


class SRGANState(PlayersState):
  """Step counter, G's and D's variables and optimizer states, and the feature network's weights.

  `feature_params` (None without a perceptual loss) are a leaf so that pmap passes them
  to the step as an argument instead of baking VGG19's 80 MB into the program; they are
  fixed and come from their file, so checkpoints leave them out.
  """

  feature_params: PyTree | None = None


def build_models(config: Config, channels: int, axis_name: str | None) -> tuple[nn.Module, nn.Module]:
  generator = SRResNet(
    width=config.width,
    residual_blocks=config.residual_blocks,
    upscale=config.upscale,
    channels=channels,
    axis_name=axis_name,
  )
  return generator, SRDiscriminator(width=config.width, leak=config.leak, axis_name=axis_name)


def create_state(
  config: Config,
  generator: nn.Module,
  discriminator: nn.Module,
  hr_shape: tuple[int, int, int],
  feature_params: PyTree | None,
) -> SRGANState:
  """Initial state for HR crops of `hr_shape` [H, W, C] (D's Dense layer depends on it)."""
  init_key = rng.stream(jax.random.key(config.seed), "init")
  lr = jnp.zeros((1, hr_shape[0] // config.upscale, hr_shape[1] // config.upscale, hr_shape[2]), jnp.float32)
  g_vars = generator.init(rng.stream(init_key, "generator"), lr, train=False)
  d_vars = discriminator.init(rng.stream(init_key, "discriminator"), jnp.zeros((1, *hr_shape)), train=False)
  g_tx, d_tx = player_optimizers(config)
  return SRGANState(
    step=jnp.zeros((), jnp.int32),
    g_params=g_vars["params"],
    g_batch_stats=g_vars["batch_stats"],
    d_params=d_vars["params"],
    d_batch_stats=d_vars["batch_stats"],
    g_opt_state=g_tx.init(g_vars["params"]),
    d_opt_state=d_tx.init(d_vars["params"]),
    feature_params=feature_params,
    g_tx=g_tx,
    d_tx=d_tx,
  )


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
  adversarial = losses.make_loss(config.loss, config.real_label)

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
    return config.content_weight * content + config.perceptual_weight * perceptual, (content, perceptual)

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
    _, sr_adversarial = d_vjp((zero, config.adversarial_weight * one))
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
      "g_loss": reference + config.adversarial_weight * g_adversarial,
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


def super_resolve(generator: nn.Module, host_state: SRGANState, lr: np.ndarray) -> np.ndarray:
  """uint8 LR images [N, h, w, C] -> uint8 SR images [N, h*f, w*f, C] (inference mode, clipped)."""
  variables = {"params": host_state.g_params, "batch_stats": host_state.g_batch_stats}
  sr = _inference(generator, variables, jnp.asarray(lr, jnp.float32) * (2.0 / 255.0) - 1.0)
  return images.to_uint8(jax.device_get(sr))


@functools.partial(jax.jit, static_argnums=0)
def _inference(generator, variables, lr):
  return generator.apply(variables, lr, train=False)


def nearest_upscale(lr: np.ndarray, factor: int) -> np.ndarray:
  """uint8 [N, h, w, C] -> [N, h*f, w*f, C] with each pixel repeated: how the input looks at HR size."""
  return np.repeat(np.repeat(lr, factor, axis=1), factor, axis=2)


def grid_pairs(config: Config) -> tuple[np.ndarray, np.ndarray]:
  """The held-out (LR, HR) uint8 examples a sample grid shows: MNIST's first test digits, or a
  centre crop of each held-out photograph."""
  groups = sr_pairs.held_out_pairs(config)
  if config.dataset == "mnist":
    lr, hr = groups[0]
    return lr[: GRID_EXAMPLES["mnist"]], hr[: GRID_EXAMPLES["mnist"]]
  f, crops = config.upscale, []
  for lr, hr in groups:
    for one_lr, one_hr in zip(lr, hr):
      side = min(GRID_PHOTO_CROP // f, *one_lr.shape[:2])
      top, left = (one_lr.shape[0] - side) // 2, (one_lr.shape[1] - side) // 2
      crops.append(
        (one_lr[top : top + side, left : left + side], one_hr[f * top : f * (top + side), f * left : f * (left + side)])
      )
  return np.stack([lr for lr, _ in crops]), np.stack([hr for _, hr in crops])


def sample_grid(
  generator: nn.Module, host_state: SRGANState, lr: np.ndarray, hr: np.ndarray, factor: int, per_row: int
) -> np.ndarray:
  """uint8 picture of (input | output | target) triples, `per_row` triples to a row."""
  sr = super_resolve(generator, host_state, lr)
  triples = np.stack([nearest_upscale(lr, factor), sr, hr], axis=1).reshape(-1, *hr.shape[1:])
  return images.grid(triples, columns=3 * per_row)


def make_task(config: Config) -> Task:
  source = sr_pairs.load_pairs(config, "train")
  generator, discriminator = build_models(config, source.channels, axis_name="data")
  feature_network = srgan_losses.make_feature_network(config)
  state = create_state(
    config, generator, discriminator, source.hr_shape, feature_network.params if feature_network else None
  )
  grid_lr, grid_hr = grid_pairs(config)
  inference_generator, _ = build_models(config, source.channels, axis_name=None)
  per_row = 4 if config.dataset == "mnist" else 1

  def make_step(phase):
    return make_train_step(config, generator, discriminator, feature_network, phase, axis_name="data")

  def write_samples(host_state: SRGANState, step: int, path: str) -> None:
    images.save_png(path, sample_grid(inference_generator, host_state, grid_lr, grid_hr, config.upscale, per_row))

  data_position = {"seed": config.seed, "dataset": config.dataset, "hr_shape": list(source.hr_shape)}
  return Task(
    state=state,
    source=source,
    make_step=make_step,
    write_samples=write_samples,
    phase=lambda step: phase_at(step, config.pretrain_steps),
    progress=(("psnr", "psnr"), ("d", "d_loss")),
    data_position=data_position,
    curves=(
      ("generator terms", ("content_loss", "perceptual_loss", "adversarial_loss")),
      ("training-batch PSNR (dB)", ("psnr",)),
      ("discriminator loss", ("d_loss",)),
      ("gradient norms", ("d_grad_norm", "g_grad_norm")),
    ),
  )
