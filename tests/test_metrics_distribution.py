"""FID, KID, IS and precision/recall against closed forms and direct numpy computations."""

import chex
import jax
import numpy as np
import pytest
import scipy.stats

from ganjax.metrics import feature_statistics, frechet_distance, inception_score, kid, precision_recall


def _random_covariance(d: int, seed: int) -> np.ndarray:
  a = np.random.default_rng(seed).normal(size=(d, d))
  return a @ a.T / d + 0.1 * np.eye(d)


def test_feature_statistics_are_float64_mean_and_unbiased_covariance():
  features = np.random.default_rng(0).normal(size=(50, 6)).astype(np.float32)
  mu, sigma = feature_statistics(features)
  chex.assert_shape([mu, sigma], [(6,), (6, 6)])
  assert mu.dtype == np.float64 and sigma.dtype == np.float64
  centred = features.astype(np.float64) - features.mean(0)
  np.testing.assert_allclose(sigma, centred.T @ centred / 49, rtol=1e-10)
  with pytest.raises(ValueError, match="N >= 2"):
    feature_statistics(features[:1])


def test_frechet_distance_is_zero_for_identical_statistics():
  mu, sigma = np.arange(8.0), _random_covariance(8, 1)
  assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-8


def test_frechet_distance_matches_closed_form_for_diagonal_covariances():
  rng = np.random.default_rng(2)
  a, b = rng.uniform(0.1, 3, 10), rng.uniform(0.1, 3, 10)
  mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
  expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2) + np.sum((mu1 - mu2) ** 2)
  np.testing.assert_allclose(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)), expected, rtol=1e-10)


def test_frechet_distance_is_symmetric_and_matches_eigenvalue_form():
  rng = np.random.default_rng(3)
  mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
  s1, s2 = _random_covariance(12, 4), _random_covariance(12, 5)
  forward, backward = frechet_distance(mu1, s1, mu2, s2), frechet_distance(mu2, s2, mu1, s1)
  np.testing.assert_allclose(forward, backward, rtol=1e-10)
  # s1 s2 is similar to a PSD matrix, so Tr sqrtm(s1 s2) is the sum of its eigenvalues' roots.
  trace_root = np.sum(np.sqrt(np.linalg.eigvals(s1 @ s2).real))
  expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_root
  np.testing.assert_allclose(forward, expected, rtol=1e-8)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_frechet_distance_with_singular_covariances_is_finite():
  rng = np.random.default_rng(6)
  # Fewer samples than dimensions: both covariances have rank 5 of 32.
  mu1, s1 = feature_statistics(rng.normal(size=(6, 32)))
  mu2, s2 = feature_statistics(rng.normal(size=(6, 32)) + 1.0)
  value = frechet_distance(mu1, s1, mu2, s2)
  assert np.isfinite(value) and value > 0
  assert np.isfinite(frechet_distance(mu1, np.zeros((32, 32)), mu2, np.zeros((32, 32))))


def test_frechet_distance_refuses_non_covariances():
  with pytest.raises(ValueError, match="imaginary part"):
    frechet_distance(np.zeros(2), np.diag([-1.0, 1.0]), np.zeros(2), np.eye(2))
  with pytest.raises(ValueError, match="one D"):
    frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def _mmd2_direct(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 written term by term: mean over i != j within sets, over all pairs across."""
  d = x.shape[1]
  kernel = lambda u, v: (u @ v.T / d + 1) ** 3
  off_diagonal = ~np.eye(len(x), dtype=bool)
  return kernel(x, x)[off_diagonal].mean() + kernel(y, y)[off_diagonal].mean() - 2 * kernel(x, y).mean()


def test_kid_matches_direct_mmd_on_one_subset():
  rng = np.random.default_rng(7)
  a, b = rng.normal(size=(40, 8)), rng.normal(0.3, 1.2, size=(40, 8))
  # One subset of every sample is a permutation of each set, which MMD^2 does not see.
  mean, std = kid(a, b, num_subsets=1, subset_size=1000)
  np.testing.assert_allclose(mean, _mmd2_direct(a, b), rtol=1e-10)
  assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_grows_with_a_shift():
  rng = np.random.default_rng(8)
  a, b = rng.normal(size=(400, 16)), rng.normal(size=(300, 16))
  same, _ = kid(a, b, num_subsets=10, subset_size=100)
  shifted, shifted_std = kid(a, b + 0.5, num_subsets=10, subset_size=100)
  further, _ = kid(a, b + 1.0, num_subsets=10, subset_size=100)
  assert shifted > 3 * shifted_std > 0
  assert abs(same) < 0.05 * shifted
  assert further > shifted


def test_kid_is_reproducible_from_its_seed_or_key():
  rng = np.random.default_rng(9)
  a, b = rng.normal(size=(60, 4)), rng.normal(size=(50, 4))
  first = kid(a, b, num_subsets=5, subset_size=20, key_or_seed=3)
  assert kid(a, b, num_subsets=5, subset_size=20, key_or_seed=3) == first
  assert kid(a, b, num_subsets=5, subset_size=20, key_or_seed=jax.random.key(3)) == first
  assert kid(a, b, num_subsets=5, subset_size=20, key_or_seed=4) != first


def test_inception_score_of_uniform_predictions_is_one():
  mean, std = inception_score(np.full((100, 10), 0.1), splits=10)
  np.testing.assert_allclose([mean, std], [1.0, 0.0], atol=1e-12)


def test_inception_score_of_confident_balanced_predictions_is_the_class_count():
  # Every split of 20 rows holds each of the 5 classes 4 times.
  labels = np.tile(np.arange(5), 40)
  mean, std = inception_score(np.eye(5)[labels], splits=10)
  np.testing.assert_allclose([mean, std], [5.0, 0.0], atol=1e-10)


def test_inception_score_matches_numpy_reference_with_uneven_splits():
  probabilities = np.random.default_rng(10).dirichlet(np.full(7, 0.3), size=101)
  scores = []
  for part in np.split(probabilities, [33, 67]):  # rows [n*i//splits, n*(i+1)//splits)
    marginal = part.mean(0)
    scores.append(np.exp(np.mean([scipy.stats.entropy(p, marginal) for p in part])))
  np.testing.assert_allclose(inception_score(probabilities, splits=3), (np.mean(scores), np.std(scores)), rtol=1e-10)


def _precision_recall_direct(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
  def radii(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

  def covered(queries, centres):
    d = np.linalg.norm(queries[:, None] - centres[None], axis=-1)
    return np.mean(np.any(d <= radii(centres)[None], axis=1))

  return covered(fake, real), covered(real, fake)


def test_precision_recall_of_identical_and_of_far_apart_sets():
  x = np.random.default_rng(11).normal(size=(64, 5))
  assert precision_recall(x, x, k=3) == (1.0, 1.0)
  assert precision_recall(x, x + 100.0, k=3) == (0.0, 0.0)


def test_precision_recall_detects_mode_collapse_and_matches_direct_computation():
  rng = np.random.default_rng(12)
  centres = 10.0 * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
  real = np.concatenate([c + rng.normal(size=(100, 3)) for c in centres])
  fake = centres[0] + rng.normal(size=(60, 3))  # only the first of four modes
  precision, recall = precision_recall(real, fake, k=3, batch_size=16)  # uneven last block too
  assert precision > 0.9 and recall < 0.35
  np.testing.assert_allclose((precision, recall), _precision_recall_direct(real, fake, 3), atol=1e-12)
  assert precision_recall(real, fake, k=3, batch_size=1000) == (precision, recall)


def test_frechet_distance_retries_with_eps_when_the_root_is_not_finite(monkeypatch):
  import scipy.linalg

  products = []
  real_sqrtm = scipy.linalg.sqrtm

  def flaky_sqrtm(product):
    products.append(product)
    return np.full_like(product, np.inf) if len(products) == 1 else real_sqrtm(product)

  monkeypatch.setattr(scipy.linalg, "sqrtm", flaky_sqrtm)
  value = frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), 4 * np.eye(3), eps=0.5)
  np.testing.assert_allclose(products[1], 1.5 * 4.5 * np.eye(3))
  np.testing.assert_allclose(value, 3 + 12 - 2 * 3 * np.sqrt(1.5 * 4.5))
