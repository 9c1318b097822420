"""Scores a trained SRGAN/SRResNet on the held-out images against bicubic upscaling.

PSNR, SSIM and VIF-P (`ganjax.metrics.image_quality`) of each held-out image, averaged
over images, for the model and for PIL's bicubic upscaling of the same LR images. As SR
papers do, photographs are scored on the luma channel Y (ITU-R BT.601, in [16, 235], as
MATLAB's rgb2ycbcr) with `upscale` pixels shaved off each border. MNIST digits are grey:
scored as they are, whole 28x28 (their 4-pixel margins are background), and, since VIF
needs images of at least 41x41, VIF on mosaics of 4x4 digits (112x112) that are the same
for every method. Outputs are clipped and rounded to uint8 first, like any saved image.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ganjax.config import Config
from ganjax.data import sr_pairs, sr_photos
from ganjax.families.srgan import task as srgan
from ganjax.families.srgan.state import SRGANState, build_models
from ganjax.metrics import image_quality

MNIST_MOSAIC = 4  # digits per side of the mosaics VIF is computed on


def luma(images: np.ndarray) -> np.ndarray:
  """uint8 RGB [N, H, W, 3] -> float32 Y [N, H, W, 1] in [16, 235] (BT.601); grey [.., 1] unchanged."""
  x = np.asarray(images, np.float32)
  if x.shape[-1] == 1:
    return x
  return (16.0 + x @ np.array([65.481, 128.553, 24.966], np.float32) / 255.0)[..., None]


def bicubic_upscale(lr: np.ndarray, factor: int) -> np.ndarray:
  """uint8 [N, h, w, C] -> [N, h*f, w*f, C] by PIL's bicubic filter."""
  return np.stack([sr_photos.bicubic_resize(x, x.shape[0] * factor, x.shape[1] * factor) for x in lr])


def mosaics(x: np.ndarray, side: int) -> np.ndarray:
  """[N, H, W, C] -> [N // side^2, side*H, side*W, C]: consecutive images tiled row by row (the rest dropped)."""
  n, h, w, c = x.shape
  m = n // (side * side)
  tiles = x[: m * side * side].reshape(m, side, side, h, w, c).transpose(0, 1, 3, 2, 4, 5)
  return tiles.reshape(m, side * h, side * w, c)


def image_scores(output: np.ndarray, target: np.ndarray, config: Config) -> dict[str, np.ndarray]:
  """Per-image PSNR, SSIM (and VIF, per image or per mosaic) of uint8 [N, H, W, C] images."""
  a, b = luma(output), luma(target)
  if config.dataset != "mnist":
    s = config.family.upscale
    a, b = a[:, s:-s, s:-s], b[:, s:-s, s:-s]
  scores = {
    "psnr": image_quality.psnr(jnp.asarray(a), jnp.asarray(b), 255.0),
    "ssim": image_quality.ssim(jnp.asarray(a), jnp.asarray(b), 255.0),
  }
  if config.dataset == "mnist":
    a, b = mosaics(a, MNIST_MOSAIC), mosaics(b, MNIST_MOSAIC)
  if len(a):
    scores["vif"] = image_quality.vif_p(jnp.asarray(b), jnp.asarray(a), 255.0)
  return {k: np.asarray(v, np.float64) for k, v in scores.items()}


def evaluate(config: Config, host_state: SRGANState) -> dict:
  """{'bicubic': {...}, <model>: {...}, ...} averaged over the held-out images; <model> is
  'srresnet' when the run never left pre-training, else 'srgan'."""
  step = int(host_state.step)
  model = "srresnet" if step <= config.family.pretrain_steps else "srgan"
  collected: dict[str, dict[str, list]] = {"bicubic": {}, model: {}}
  count = 0
  for lr, hr in sr_pairs.held_out_pairs(config):
    generator, _ = build_models(config, hr.shape[-1], axis_name=None)
    outputs = {
      "bicubic": bicubic_upscale(lr, config.family.upscale),
      model: srgan.super_resolve(generator, host_state, lr),
    }
    for name, output in outputs.items():
      for metric, values in image_scores(output, hr, config).items():
        collected[name].setdefault(metric, []).append(values)
    count += len(hr)
  averages = {
    name: {metric: float(np.mean(np.concatenate(v))) for metric, v in metrics.items()}
    for name, metrics in collected.items()
  }
  space = (
    "grey, whole 28x28 digits; vif on 4x4-digit mosaics"
    if config.dataset == "mnist"
    else f"Y (BT.601), {config.family.upscale}-pixel border shaved"
  )
  return {
    "step": step,
    "model": model,
    "dataset": config.dataset,
    "split": sr_pairs.HELD_OUT_SPLIT[config.dataset],
    "images": count,
    "upscale": config.family.upscale,
    "scored_on": space,
    **averages,
  }
