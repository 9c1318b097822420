"""Sample-set metrics on feature vectors: FID, KID, Inception Score, precision and recall.

Papers:
- FID: Heusel et al., "GANs trained by a two time-scale update rule converge to a local Nash
  equilibrium", NeurIPS 2017 (Frechet distance between Gaussians fitted to the features).
- KID: Binkowski et al., "Demystifying MMD GANs", ICLR 2018 (unbiased MMD^2, cubic kernel).
- IS: Salimans et al., "Improved techniques for training GANs", NeurIPS 2016.
- Precision/recall: Kynkaanniemi et al., "Improved precision and recall metric for assessing
  generative models", NeurIPS 2019.

Conventions: features are [N, D] arrays from whatever network the caller names (report it,
with the sample count and preprocessing, next to every number); probabilities are [N, K]
softmax outputs. FID, KID and IS are computed once per evaluation on the host in float64 with
numpy/scipy, as the reference implementations do: they subtract nearly equal large numbers,
which float32 or an accelerator's TF32 matmuls would perturb. Precision and recall need all
pairwise distances, so they run in JAX (float32, full-precision matmuls) in row blocks.
Every function returns Python floats.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
import scipy.special


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Features [N, D] -> (mean [D], covariance [D, D]), float64, covariance over N - 1."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError(f"feature_statistics needs features [N, D] with N >= 2, got shape {features.shape}.")
  return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(
  mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
  """||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)), in float64; >= 0 up to rounding.

  mu [D], sigma [D, D]. When the product's square root is not finite (near-singular
  covariances, e.g. fewer samples than dimensions), eps * I is added to both covariances.
  """
  mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
  sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
  d = mu1.shape[0]
  if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
    raise ValueError(
      f"frechet_distance needs means [D] and covariances [D, D] of one D, got {mu1.shape}, "
      f"{sigma1.shape}, {mu2.shape}, {sigma2.shape}."
    )
  with warnings.catch_warnings():
    # "Matrix is singular" is routine for ReLU features with dead units; the result is
    # still finite and checked below, and the warning would land inside progress bars.
    warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
  if not np.isfinite(covmean).all():
    offset = eps * np.eye(d)
    covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
  if np.iscomplexobj(covmean):
    # The exact root is real (the product is similar to a PSD matrix); rounding adds a small
    # imaginary part, a large one means the inputs are not covariances.
    imaginary = np.max(np.abs(np.diagonal(covmean).imag))
    if imaginary > 1e-3:
      raise ValueError(
        f"sqrtm(sigma1 @ sigma2) has an imaginary part of {imaginary:.3g} on its diagonal; "
        "the covariances are not symmetric positive semi-definite."
      )
    covmean = covmean.real
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 between [m, D] float64 samples, kernel k(x, y) = (x.y / D + 1)^3."""
  m, d = x.shape
  k_xx = (x @ x.T / d + 1.0) ** 3
  k_yy = (y @ y.T / d + 1.0) ** 3
  k_xy = (x @ y.T / d + 1.0) ** 3
  # Unbiased: the within-sample terms leave out k(x_i, x_i).
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.mean())


@functools.partial(jax.jit, static_argnames=("n", "m", "num_subsets"))
def _subset_rows(key: jax.Array, n: int, m: int, num_subsets: int) -> jax.Array:
  """[num_subsets, m] row indices, each row m distinct draws from range(n)."""
  keys = jax.random.split(key, num_subsets)
  return jax.vmap(lambda k: jax.random.permutation(k, n)[:m])(keys)


def kid(
  features_a: np.ndarray,
  features_b: np.ndarray,
  num_subsets: int = 100,
  subset_size: int = 1000,
  key_or_seed: int | jax.Array = 0,
) -> tuple[float, float]:
  """Kernel Inception Distance: (mean, std) of unbiased MMD^2 over random subsets.

  features [N_a, D] and [N_b, D]. Each subset draws min(subset_size, N_a, N_b) rows from each
  set without replacement; the draws depend only on `key_or_seed` (an int or a JAX key), so a
  number can be reproduced. Near 0 (possibly negative) for one distribution.
  """
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
    raise ValueError(f"kid needs features [N, D] with one D, got shapes {a.shape} and {b.shape}.")
  m = min(subset_size, a.shape[0], b.shape[0])
  if m < 2:
    raise ValueError(f"kid needs subsets of at least 2 samples, got {m}.")
  key = jax.random.key(key_or_seed) if isinstance(key_or_seed, (int, np.integer)) else key_or_seed
  key_a, key_b = jax.random.split(key)
  rows_a = np.asarray(_subset_rows(key_a, a.shape[0], m, num_subsets))
  rows_b = np.asarray(_subset_rows(key_b, b.shape[0], m, num_subsets))
  mmds = [_mmd2_unbiased(a[ia], b[ib]) for ia, ib in zip(rows_a, rows_b)]
  return float(np.mean(mmds)), float(np.std(mmds))


def inception_score(probabilities: np.ndarray, splits: int = 10) -> tuple[float, float]:
  """(mean, std) over `splits` contiguous splits of exp(E_x[KL(p(y|x) || p(y))]), in float64.

  probabilities [N, K], rows summing to 1; p(y) is each split's mean row. In [1, K].
  """
  p = np.asarray(probabilities, np.float64)
  n = p.shape[0]
  if p.ndim != 2 or not 1 <= splits <= n:
    raise ValueError(
      f"inception_score needs probabilities [N, K] with N >= splits, got shape {p.shape} and splits={splits}."
    )
  scores = []
  for i in range(splits):
    part = p[i * n // splits : (i + 1) * n // splits]
    # rel_entr takes 0 log 0 as 0, so one-hot rows are fine.
    kl = scipy.special.rel_entr(part, part.mean(axis=0, keepdims=True)).sum(axis=1)
    scores.append(np.exp(kl.mean()))
  return float(np.mean(scores)), float(np.std(scores))


def _squared_distances(x: jax.Array, y: jax.Array) -> jax.Array:
  """[B, D] x [M, D] -> [B, M] squared Euclidean distances, >= 0."""
  # HIGHEST: TF32 on GPUs would move points across ball boundaries.
  xy = jnp.dot(x, y.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(jnp.sum(x * x, 1)[:, None] + jnp.sum(y * y, 1)[None, :] - 2.0 * xy, 0.0)


@functools.partial(jax.jit, static_argnames="k")
def _kth_neighbour_sq(block: jax.Array, points: jax.Array, k: int) -> jax.Array:
  """Squared distance from each row of `block` (drawn from `points`) to its k-th neighbour but itself."""
  distances = _squared_distances(block, points)
  # The point itself is the nearest (distance 0), so the k-th other neighbour is the (k+1)-th
  # smallest. k passes of "mask the row minimum" beat lax.top_k ~20x on XLA's CPU backend.
  columns = jnp.arange(distances.shape[1])[None, :]
  for _ in range(k):
    distances = jnp.where(columns == jnp.argmin(distances, axis=1)[:, None], jnp.inf, distances)
  return jnp.min(distances, axis=1)


@jax.jit
def _inside(block: jax.Array, centres: jax.Array, radii_sq: jax.Array) -> jax.Array:
  """Whether each row of `block` lies in any ball (centres [M, D], squared radii [M]): [B] bool."""
  return jnp.any(_squared_distances(block, centres) <= radii_sq[None, :], axis=1)


def _manifold_radii_sq(points: jax.Array, k: int, batch_size: int) -> jax.Array:
  return jnp.concatenate(
    [_kth_neighbour_sq(points[i : i + batch_size], points, k) for i in range(0, points.shape[0], batch_size)]
  )


def _inside_all(queries: jax.Array, centres: jax.Array, radii_sq: jax.Array, batch_size: int) -> np.ndarray:
  blocks = range(0, queries.shape[0], batch_size)
  return np.concatenate([np.asarray(_inside(queries[i : i + batch_size], centres, radii_sq)) for i in blocks])


def _fraction_inside(queries: jax.Array, centres: jax.Array, radii_sq: jax.Array, batch_size: int) -> float:
  return int(np.sum(_inside_all(queries, centres, radii_sq, batch_size))) / queries.shape[0]


def inside_real_manifold(
  real_features: np.ndarray, fake_features: np.ndarray, k: int = 3, batch_size: int = 1000
) -> np.ndarray:
  """Whether each fake lies inside the real manifold of `precision_recall` (its mean is the
  precision): [N_fake] bool, to ask which fakes the precision loses."""
  real, fake = jnp.asarray(real_features, jnp.float32), jnp.asarray(fake_features, jnp.float32)
  return _inside_all(fake, real, _manifold_radii_sq(real, k, batch_size), batch_size)


def precision_recall(
  real_features: np.ndarray, fake_features: np.ndarray, k: int = 3, batch_size: int = 1000
) -> tuple[float, float]:
  """Improved precision and recall, each in [0, 1]; features [N_real, D] and [N_fake, D].

  Each set's manifold is the union of balls around its points, of radius the distance to the
  point's k-th nearest other point. Precision is the fraction of fakes inside the real
  manifold (quality), recall the fraction of reals inside the fake manifold (coverage).
  Distances are computed `batch_size` rows at a time: memory is O(batch_size * N), so
  10,000 x 10,000 fits easily.
  """
  real, fake = jnp.asarray(real_features, jnp.float32), jnp.asarray(fake_features, jnp.float32)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError(f"precision_recall needs features [N, D] with one D, got shapes {real.shape} and {fake.shape}.")
  if min(real.shape[0], fake.shape[0]) <= k:
    raise ValueError(
      f"precision_recall with k={k} needs more than {k} samples per set, got "
      f"{real.shape[0]} real and {fake.shape[0]} fake."
    )
  real_radii = _manifold_radii_sq(real, k, batch_size)
  fake_radii = _manifold_radii_sq(fake, k, batch_size)
  precision = _fraction_inside(fake, real, real_radii, batch_size)
  recall = _fraction_inside(real, fake, fake_radii, batch_size)
  return precision, recall
