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

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax import images
from ganjax.config import Config
from ganjax.data import sr_pairs
from ganjax.families.srgan import losses as srgan_losses
from ganjax.families.srgan.state import SRGANState, build_models, create_state
from ganjax.families.srgan.step import make_train_step, phase_at
from ganjax.train.task import Task

GRID_EXAMPLES = {"mnist": 16}  # held-out examples in a sample grid; every held-out photograph otherwise
GRID_PHOTO_CROP = 128  # HR pixels of each photograph's centre crop in a grid


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
  f, crops = config.family.upscale, []
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
    images.save_png(
      path, sample_grid(inference_generator, host_state, grid_lr, grid_hr, config.family.upscale, per_row)
    )

  data_position = {"seed": config.seed, "dataset": config.dataset, "hr_shape": list(source.hr_shape)}
  return Task(
    state=state,
    source=source,
    make_step=make_step,
    write_samples=write_samples,
    phase=lambda step: phase_at(step, config.family.pretrain_steps),
    progress=(("psnr", "psnr"), ("d", "d_loss")),
    data_position=data_position,
    curves=(
      ("generator terms", ("content_loss", "perceptual_loss", "adversarial_loss")),
      ("training-batch PSNR (dB)", ("psnr",)),
      ("discriminator loss", ("d_loss",)),
      ("gradient norms", ("d_grad_norm", "g_grad_norm")),
    ),
  )
