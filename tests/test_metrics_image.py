"""PSNR, SSIM and MS-SSIM agree with TensorFlow; VIF-P with a direct numpy transcription of the paper."""

import chex
import numpy as np
import pytest
import scipy.ndimage

from ganjax.metrics import ms_ssim, psnr, ssim, vif_p


@pytest.fixture(scope="module")
def tf():
  import tensorflow as tf

  return tf


def _structured(h: int, w: int, c: int, seed: int) -> np.ndarray:
  """[1, h, w, c] in [0, 1]: a sine, a ramp, stripes and smoothed noise, one per channel in turn."""
  yy, xx = np.mgrid[:h, :w] / max(h, w)
  noise = scipy.ndimage.gaussian_filter(np.random.default_rng(seed).uniform(size=(h, w)), 2.0)
  patterns = [
    0.5 + 0.4 * np.sin(9 * xx + 4 * yy),
    (xx + yy) / 2,
    ((xx * 12).astype(int) % 2) * 0.8 + 0.1,
    (noise - noise.min()) / (noise.max() - noise.min()),
  ]
  return np.stack([patterns[(i + seed) % 4] for i in range(c)], -1)[None].astype(np.float32)


def _noisy(x: np.ndarray, scale: float, seed: int, max_val: float = 1.0) -> np.ndarray:
  noise = np.random.default_rng(seed).normal(scale=scale * max_val, size=x.shape)
  return np.clip(x + noise, 0, max_val).astype(np.float32)


def _blurred(x: np.ndarray, sigma: float) -> np.ndarray:
  return scipy.ndimage.gaussian_filter(x, (0, sigma, sigma, 0)).astype(np.float32)


def test_psnr_known_values_and_tf(tf):
  a = np.zeros((2, 8, 8, 3), np.float32)
  b = np.full((2, 8, 8, 3), 0.1, np.float32)
  np.testing.assert_allclose(psnr(a, b, 1.0), [20.0, 20.0], rtol=1e-5)  # mse 0.01
  assert np.all(np.isposinf(psnr(a, a, 1.0)))
  x = np.random.default_rng(0).uniform(0, 255, (3, 16, 12, 1)).astype(np.float32)
  y = _noisy(x, 0.05, 1, 255.0)
  np.testing.assert_allclose(psnr(x, y, 255.0), tf.image.psnr(x, y, 255.0).numpy(), rtol=1e-5)


@pytest.mark.parametrize("shape,max_val", [((3, 32, 27, 3), 1.0), ((2, 11, 11, 1), 1.0), ((2, 40, 33, 2), 255.0)])
def test_ssim_matches_tf_on_random_images(tf, shape, max_val):
  a = np.random.default_rng(0).uniform(0, max_val, shape).astype(np.float32)
  b = _noisy(a, 0.1, 1, max_val)
  ours = ssim(a, b, max_val)
  chex.assert_shape(ours, (shape[0],))
  theirs = tf.image.ssim(a, b, max_val, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
  np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("distort", ["noise", "blur", "contrast", "invert", "shift"])
def test_ssim_matches_tf_on_structured_images(tf, distort):
  a = np.concatenate([_structured(48, 40, 3, seed) for seed in range(2)])
  b = {
    "noise": lambda: _noisy(a, 0.03, 2),
    "blur": lambda: _blurred(a, 1.5),
    "contrast": lambda: (0.5 + 0.6 * (a - 0.5)).astype(np.float32),
    "invert": lambda: 1.0 - a,
    "shift": lambda: np.roll(a, 3, axis=2),
  }[distort]()
  theirs = tf.image.ssim(a, b, 1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
  np.testing.assert_allclose(ssim(a, b, 1.0), theirs, atol=1e-5)


def test_ssim_of_identical_images_is_one_and_small_images_are_refused():
  a = _structured(20, 20, 3, 0)
  np.testing.assert_allclose(ssim(a, a, 1.0), [1.0], atol=1e-6)
  with pytest.raises(ValueError, match="at least 11x11"):
    ssim(a[:, :10], a[:, :10], 1.0)


@pytest.mark.parametrize("shape", [(2, 161, 170, 3), (1, 192, 192, 1), (1, 175, 163, 2)])
def test_ms_ssim_matches_tf(tf, shape):
  """Odd sizes exercise TF's padding before each 2x2 average pool."""
  rng = np.random.default_rng(sum(shape))
  a = np.clip(0.6 * _blurred(rng.uniform(size=shape), 1.0) + 0.4 * _structured(*shape[1:], 1), 0, 1)
  a = a.astype(np.float32)
  for b in (_noisy(a, 0.1, 3), _blurred(a, 2.0), np.roll(a, 2, axis=1)):
    ours = ms_ssim(a, b, 1.0)
    chex.assert_shape(ours, (shape[0],))
    theirs = tf.image.ssim_multiscale(a, b, 1.0, filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_ms_ssim_clamps_negative_structure_to_zero_like_tf(tf):
  a = _structured(161, 161, 1, 0)
  np.testing.assert_allclose(ms_ssim(a, 1.0 - a, 1.0), tf.image.ssim_multiscale(a, 1.0 - a, 1.0).numpy(), atol=1e-6)
  np.testing.assert_allclose(ms_ssim(a, a, 1.0), [1.0], atol=1e-5)


def test_ms_ssim_names_the_minimum_size():
  a = np.zeros((1, 160, 200, 1), np.float32)
  with pytest.raises(ValueError, match="at least 161x161"):
    ms_ssim(a, a, 1.0)


def _vif_reference(ref: np.ndarray, dist: np.ndarray) -> float:
  """Sheikh and Bovik's pixel-domain VIF, transcribed loop by loop in float64: [H, W] in 0-255."""
  ref, dist = ref.astype(np.float64), dist.astype(np.float64)

  def filt(x, win):  # 2-D 'valid' correlation with the full (non-separable) window
    return np.einsum("ijkl,kl->ij", np.lib.stride_tricks.sliding_window_view(x, win.shape), win)

  num = den = 0.0
  for scale in range(1, 5):
    n = 2 ** (4 - scale + 1) + 1
    coords = np.arange(n) - (n - 1) / 2
    win = np.exp(-(coords[:, None] ** 2 + coords[None, :] ** 2) / (2 * (n / 5) ** 2))
    win /= win.sum()
    if scale > 1:
      ref, dist = filt(ref, win)[::2, ::2], filt(dist, win)[::2, ::2]
    mu1, mu2 = filt(ref, win), filt(dist, win)
    s1 = np.maximum(filt(ref * ref, win) - mu1**2, 0)
    s2 = np.maximum(filt(dist * dist, win) - mu2**2, 0)
    s12 = filt(ref * dist, win) - mu1 * mu2
    for v1, v2, v12 in zip(s1.ravel(), s2.ravel(), s12.ravel()):
      g = v12 / (v1 + 1e-10)
      sv = v2 - g * v12
      if v1 < 1e-10:
        g, sv, v1 = 0.0, v2, 0.0
      if v2 < 1e-10:
        g, sv = 0.0, 0.0
      if g < 0:
        g, sv = 0.0, v2
      sv = max(sv, 1e-10)
      num += np.log10(1 + g * g * v1 / (sv + 2.0))
      den += np.log10(1 + v1 / 2.0)
  return num / den


@pytest.fixture(scope="module")
def vif_images() -> np.ndarray:
  """[2, 64, 56, 3] in [0, 1], textured everywhere so VIF's denominator is well away from 0."""
  rng = np.random.default_rng(7)
  return np.clip(
    0.5 * _blurred(rng.uniform(size=(2, 64, 56, 3)), 1.0)
    + 0.5 * np.concatenate([_structured(64, 56, 3, s) for s in range(2)]),
    0,
    1,
  ).astype(np.float32)


def test_vif_p_matches_numpy_reference(vif_images):
  cases = [
    _noisy(vif_images, 0.05, 4),
    _blurred(vif_images, 1.0),
    np.roll(vif_images, 1, axis=1),
    (0.25 + 0.5 * vif_images).astype(np.float32),
  ]
  for distorted in cases:
    ours = vif_p(vif_images, distorted, 1.0)
    chex.assert_shape(ours, (2,))
    expected = [_vif_reference(255 * r.mean(-1), 255 * d.mean(-1)) for r, d in zip(vif_images, distorted)]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


def test_vif_p_is_one_for_identical_images_and_ignores_the_value_scale(vif_images):
  np.testing.assert_allclose(vif_p(vif_images, vif_images, 1.0), [1.0, 1.0], atol=1e-5)
  distorted = _noisy(vif_images, 0.05, 5)
  np.testing.assert_allclose(
    vif_p(255 * vif_images, 255 * distorted, 255.0), vif_p(vif_images, distorted, 1.0), rtol=1e-5
  )


def test_vif_p_decreases_with_noise_and_blur(vif_images):
  noise = np.random.default_rng(6).normal(size=vif_images.shape).astype(np.float32)
  by_noise = np.stack([vif_p(vif_images, vif_images + s * noise, 1.0) for s in (0.01, 0.03, 0.1, 0.3)])
  by_blur = np.stack([vif_p(vif_images, _blurred(vif_images, s), 1.0) for s in (0.5, 1.0, 2.0, 4.0)])
  for values in (by_noise, by_blur):
    assert np.all(np.diff(values, axis=0) < 0), values
    assert np.all(values < 1) and np.all(values > 0), values


def test_vif_p_exceeds_one_for_contrast_enhancement(vif_images):
  flat = (0.3 + 0.4 * vif_images).astype(np.float32)
  enhanced = (0.5 + 1.2 * (flat - 0.5)).astype(np.float32)  # still in [0, 1]
  assert np.all(np.asarray(vif_p(flat, enhanced, 1.0)) > 1.0)


def test_vif_p_names_the_minimum_size():
  a = np.zeros((1, 40, 64, 1), np.float32)
  with pytest.raises(ValueError, match="at least 41x41"):
    vif_p(a, a, 1.0)
