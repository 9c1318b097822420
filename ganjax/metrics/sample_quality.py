"""Sample-quality reports: FID, KID, IS and precision/recall of generated images vs real ones.

Every number is named after its feature network (`fid_mnist`, never plain "FID") and the
report carries the sample counts, the reference split and the preprocessing, so it can
be reproduced.
"""

from __future__ import annotations

import os

import numpy as np

from ganjax.errors import UsageError
from ganjax.metrics import distribution, mnist_features

FEATURE_NETWORKS = {
    "mnist": "ganjax MnistClassifier (LeNet-style, 99%+ test accuracy): 256-d penultimate ReLU features, "
             "softmax over 10 classes; inputs float [-1, 1], 28x28x1, no resizing",
}


def reference_features(dataset: str, split: str, data_dir: str, num: int | None = None,
                       network: str = "mnist") -> np.ndarray:
  """Features [N, D] of a real split, cached in `<data_dir>/ganjax_reference/` (recomputed if absent)."""
  from ganjax.data.pipeline import load_source, to_model_range  # pylint: disable=g-import-not-at-top

  cache_dir = os.path.join(data_dir, "ganjax_reference")
  path = os.path.join(cache_dir, f"{dataset}_{split}_{network}_{num or 'all'}.npy")
  if os.path.exists(path):
    return np.load(path)
  source = load_source(dataset, split, data_dir)
  indices = np.arange(len(source) if num is None else min(num, len(source)))
  real = to_model_range(source.read(indices)["image"])
  features, _ = mnist_features.features_and_probabilities(real)
  os.makedirs(cache_dir, exist_ok=True)
  np.save(path + ".tmp.npy", features)
  os.replace(path + ".tmp.npy", path)
  return features


def evaluate(fake_images: np.ndarray, real_features: np.ndarray, network: str = "mnist",
             kid_subsets: int = 100, kid_subset_size: int = 1000, k: int = 3, seed: int = 0) -> dict:
  """Metrics of fakes [N, 28, 28, 1] in [-1, 1] against real features [M, D]."""
  if network not in FEATURE_NETWORKS:
    raise UsageError(f"--feature_network={network} is not one of {', '.join(FEATURE_NETWORKS)}.")
  fake_features, probabilities = mnist_features.features_and_probabilities(fake_images)
  n, d = fake_features.shape
  if n <= d or len(real_features) <= d:
    raise UsageError(f"FID on {d}-d features needs more than {d} samples per set, got {n} generated and "
                     f"{len(real_features)} real; raise --num_samples.")
  if min(n, len(real_features)) <= k:
    raise UsageError(f"precision/recall with k={k} needs more than {k} samples per set.")
  suffix = f"_{network}"
  fid = distribution.frechet_distance(*distribution.feature_statistics(fake_features),
                                      *distribution.feature_statistics(real_features))
  kid_mean, kid_std = distribution.kid(fake_features, real_features, kid_subsets, kid_subset_size, seed)
  is_mean, is_std = distribution.inception_score(probabilities, splits=min(10, n))
  precision, recall = distribution.precision_recall(real_features, fake_features, k)
  return {
      f"fid{suffix}": fid, f"kid{suffix}": kid_mean, f"kid{suffix}_std": kid_std,
      f"is{suffix}": is_mean, f"is{suffix}_std": is_std,
      f"precision{suffix}": precision, f"recall{suffix}": recall,
      "num_samples": int(n), "num_reference": int(len(real_features)), "pr_k": k,
      "kid_subsets": kid_subsets, "kid_subset_size": min(kid_subset_size, n, len(real_features)),
      "feature_network": FEATURE_NETWORKS[network],
  }


def label_accuracy(fake_images: np.ndarray, labels: np.ndarray) -> float:
  """Share of a conditional model's fakes [N, 28, 28, 1] that the MNIST classifier assigns
  to the label they were drawn for."""
  _, probabilities = mnist_features.features_and_probabilities(fake_images)
  return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))
