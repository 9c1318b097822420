"""Full-reference image quality: PSNR, SSIM, MS-SSIM and pixel-domain VIF.

Papers:
- SSIM: Wang, Bovik, Sheikh, Simoncelli, "Image quality assessment: from error visibility to
  structural similarity", IEEE TIP 2004.
- MS-SSIM: Wang, Simoncelli, Bovik, "Multiscale structural similarity for image quality
  assessment", Asilomar 2003.
- VIF: Sheikh, Bovik, "Image information and visual quality", IEEE TIP 2006 (the pixel-domain
  variant, VIF-P, of the authors' reference code).

Conventions: images are float NHWC arrays in [0, max_val] (any other input is cast to float32
without rescaling, so uint8 images work with max_val=255); every function returns one value
per image, [N] float32, and is jit-compatible (sizes are checked at trace time). SSIM and
MS-SSIM follow `tf.image.ssim` / `tf.image.ssim_multiscale` numerically, including their
choices where the papers leave room: local statistics as E[xy] - E[x]E[y] with Gaussian
weights (biased, no compensation), the 2x2 average-pool downsampling that repeats the last
row/column of odd-sized images, ReLU of the contrast-structure terms, and the MS-SSIM
product taken per channel before channels are averaged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_FILTER_SIZE = 11
_SSIM_FILTER_SIGMA = 1.5
_VIF_SIGMA_N_SQ = 2.0  # variance of the visual noise, in 0-255 greyscale units
_VIF_EPS = 1e-10
_VIF_WINDOWS = (17, 9, 5, 3)  # 2^(4-scale+1)+1 for scales 1..4; sigma = size / 5


def _gaussian_taps(size: int, sigma: float) -> np.ndarray:
  """Normalised 1-D Gaussian [size]; its outer product is MATLAB's fspecial('gaussian')."""
  coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  taps = np.exp(-0.5 * (coords / sigma) ** 2)
  return (taps / taps.sum()).astype(np.float32)


def _filter_valid(x: jax.Array, taps: np.ndarray) -> jax.Array:
  """Separable Gaussian filter of every channel, 'valid': [N, H, W, C] -> [N, H-k+1, W-k+1, C]."""
  channels = x.shape[-1]
  k = taps.shape[0]
  for kernel_shape in ((k, 1, 1, 1), (1, k, 1, 1)):
    kernel = jnp.tile(jnp.asarray(taps).reshape(kernel_shape), (1, 1, 1, channels))
    # HIGHEST: on GPUs the default would use TF32, whose error swamps E[x^2] - E[x]^2.
    x = jax.lax.conv_general_dilated(
      x,
      kernel,
      (1, 1),
      "VALID",
      dimension_numbers=("NHWC", "HWIO", "NHWC"),
      feature_group_count=channels,
      precision=jax.lax.Precision.HIGHEST,
    )
  return x


def _check_images(a: jax.Array, b: jax.Array, min_size: int, what: str) -> None:
  if a.ndim != 4 or a.shape != b.shape:
    raise ValueError(f"{what} needs two image batches [N, H, W, C] of the same shape, got {a.shape} and {b.shape}.")
  if min(a.shape[1:3]) < min_size:
    raise ValueError(f"{what} needs images of at least {min_size}x{min_size} pixels, got {a.shape[1]}x{a.shape[2]}.")


@jax.jit
def psnr(a: jax.Array, b: jax.Array, max_val: float) -> jax.Array:
  """Peak signal-to-noise ratio in dB, [N, H, W, C] x2 -> [N]; +inf for identical images."""
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  mse = jnp.mean(jnp.square(a - b), axis=(1, 2, 3))
  return 10.0 * jnp.log10(jnp.square(max_val) / mse)


def _ssim_terms(a: jax.Array, b: jax.Array, max_val: float) -> tuple[jax.Array, jax.Array]:
  """(SSIM, contrast-structure) per image and channel, each averaged over the valid map: [N, C]."""
  taps = _gaussian_taps(_SSIM_FILTER_SIZE, _SSIM_FILTER_SIGMA)
  c1 = jnp.square(0.01 * max_val)
  c2 = jnp.square(0.03 * max_val)
  mu_a, mu_b = _filter_valid(a, taps), _filter_valid(b, taps)
  mu_ab2 = 2.0 * mu_a * mu_b
  mu_sq = jnp.square(mu_a) + jnp.square(mu_b)
  luminance = (mu_ab2 + c1) / (mu_sq + c1)
  # E[xy] - E[x]E[y] rather than E[(x - mu)(y - mu)]: the same rounding as TF and MATLAB.
  cov2 = 2.0 * _filter_valid(a * b, taps) - mu_ab2
  var_sum = _filter_valid(jnp.square(a) + jnp.square(b), taps) - mu_sq
  cs = (cov2 + c2) / (var_sum + c2)
  return jnp.mean(luminance * cs, axis=(1, 2)), jnp.mean(cs, axis=(1, 2))


@jax.jit
def ssim(a: jax.Array, b: jax.Array, max_val: float) -> jax.Array:
  """Structural similarity, [N, H, W, C] x2 in [0, max_val] -> [N] in (-1, 1].

  11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, 'valid' filtering; computed per
  channel and averaged. H and W must be at least 11.
  """
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  _check_images(a, b, _SSIM_FILTER_SIZE, "ssim")
  return jnp.mean(_ssim_terms(a, b, max_val)[0], axis=-1)


def _ms_ssim_min_size(scales: int) -> int:
  """Smallest H (or W) that still leaves an 11-pixel image after `scales - 1` halvings."""
  size = _SSIM_FILTER_SIZE
  for _ in range(scales - 1):
    size = 2 * size - 1  # ceil(s / 2) >= n  <=>  s >= 2n - 1
  return size


def _halve(x: jax.Array) -> jax.Array:
  """2x2 average pool, [N, H, W, C] -> [N, ceil(H/2), ceil(W/2), C].

  Odd sizes repeat their last row/column first (TF's symmetric padding) instead of dropping it.
  """
  n, h, w, c = x.shape
  x = jnp.pad(x, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="symmetric")
  return jnp.mean(x.reshape(n, (h + 1) // 2, 2, (w + 1) // 2, 2, c), axis=(2, 4))


@jax.jit
def ms_ssim(a: jax.Array, b: jax.Array, max_val: float) -> jax.Array:
  """Multi-scale SSIM over five scales, [N, H, W, C] x2 in [0, max_val] -> [N] in [0, 1].

  Scales 1-4 contribute ReLU(contrast-structure)^w, the coarsest ReLU(SSIM)^w, with Wang et
  al.'s weights w; the product is taken per channel, then channels are averaged. H and W must
  be at least 161, so that the fifth scale is still 11 pixels across.
  """
  a, b = jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)
  _check_images(a, b, _ms_ssim_min_size(len(MS_SSIM_WEIGHTS)), "ms_ssim (five scales)")
  factors = []
  for scale, weight in enumerate(MS_SSIM_WEIGHTS):
    if scale > 0:
      a, b = _halve(a), _halve(b)
    full, cs = _ssim_terms(a, b, max_val)
    last = scale == len(MS_SSIM_WEIGHTS) - 1
    factors.append(jnp.power(jax.nn.relu(full if last else cs), weight))
  return jnp.mean(jnp.prod(jnp.stack(factors), axis=0), axis=-1)


def _vif_min_size() -> int:
  """Smallest H (or W) for which every VIF scale keeps at least one 'valid' window."""
  size = _VIF_WINDOWS[-1]
  for window, next_window in zip(_VIF_WINDOWS[-2::-1], _VIF_WINDOWS[:0:-1]):
    # The next scale is ceil((s - next_window + 1) / 2) pixels, at least `size` iff s >= 2 size + next_window - 2.
    size = max(window, 2 * size + next_window - 2)
  return size


def _vif_scale_sums(ref: jax.Array, dist: jax.Array, taps: np.ndarray) -> tuple[jax.Array, jax.Array]:
  """(information kept, information in the reference) at one scale, summed per image: [N] each."""
  mu1, mu2 = _filter_valid(ref, taps), _filter_valid(dist, taps)
  sigma1_sq = jax.nn.relu(_filter_valid(ref * ref, taps) - mu1 * mu1)
  sigma2_sq = jax.nn.relu(_filter_valid(dist * dist, taps) - mu2 * mu2)
  sigma12 = _filter_valid(ref * dist, taps) - mu1 * mu2
  g = sigma12 / (sigma1_sq + _VIF_EPS)
  sv_sq = sigma2_sq - g * sigma12
  # The reference code's clamps, in its order: flat reference, flat distorted, negative gain.
  flat_ref = sigma1_sq < _VIF_EPS
  g = jnp.where(flat_ref, 0.0, g)
  sv_sq = jnp.where(flat_ref, sigma2_sq, sv_sq)
  sigma1_sq = jnp.where(flat_ref, 0.0, sigma1_sq)
  flat_dist = sigma2_sq < _VIF_EPS
  g = jnp.where(flat_dist, 0.0, g)
  sv_sq = jnp.where(flat_dist, 0.0, sv_sq)
  negative = g < 0
  sv_sq = jnp.where(negative, sigma2_sq, sv_sq)
  g = jnp.where(negative, 0.0, g)
  sv_sq = jnp.maximum(sv_sq, _VIF_EPS)
  num = jnp.log10(1.0 + jnp.square(g) * sigma1_sq / (sv_sq + _VIF_SIGMA_N_SQ))
  den = jnp.log10(1.0 + sigma1_sq / _VIF_SIGMA_N_SQ)
  return jnp.sum(num, axis=(1, 2, 3)), jnp.sum(den, axis=(1, 2, 3))


@jax.jit
def vif_p(reference: jax.Array, distorted: jax.Array, max_val: float) -> jax.Array:
  """Pixel-domain visual information fidelity, [N, H, W, C] x2 in [0, max_val] -> [N] >= 0.

  1 for identical images, lower for lost information; contrast enhancement can exceed 1.
  Colour images are averaged to greyscale and rescaled to 0-255 (sigma_n^2 = 2 assumes that
  range). Four scales with Gaussian windows 17, 9, 5, 3 (sigma = size / 5); each coarser scale
  filters with its own window, then keeps every second pixel. H and W must be at least 41.
  NaN when the reference is flat (no information to keep).
  """
  reference, distorted = jnp.asarray(reference, jnp.float32), jnp.asarray(distorted, jnp.float32)
  _check_images(reference, distorted, _vif_min_size(), "vif_p")
  ref = jnp.mean(reference, axis=-1, keepdims=True) * (255.0 / max_val)
  dist = jnp.mean(distorted, axis=-1, keepdims=True) * (255.0 / max_val)
  # Variances are shift-invariant, and E[x^2] - E[x]^2 loses less of float32 near 0 than near 255.
  ref = ref - jnp.mean(ref, axis=(1, 2, 3), keepdims=True)
  dist = dist - jnp.mean(dist, axis=(1, 2, 3), keepdims=True)
  num, den = 0.0, 0.0
  for i, size in enumerate(_VIF_WINDOWS):
    taps = _gaussian_taps(size, size / 5.0)
    if i > 0:
      ref = _filter_valid(ref, taps)[:, ::2, ::2]
      dist = _filter_valid(dist, taps)[:, ::2, ::2]
    scale_num, scale_den = _vif_scale_sums(ref, dist, taps)
    num, den = num + scale_num, den + scale_den
  return num / den
