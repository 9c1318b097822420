"""Sample-quality reports: FID, KID, IS and precision/recall of generated images vs real ones.

Every number is named after its feature network (`fid_mnist`, `fid_inception`, never plain
"FID") and the report carries the sample counts, the reference split, the preprocessing and,
for Inception, the weights' digest, so it can be reproduced.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable

import numpy as np

from ganjax.errors import UsageError
from ganjax.metrics import distribution, inception, inception_features, mnist_features

FEATURE_NETWORKS = {
  "mnist": "ganjax MnistClassifier (LeNet-style, 99%+ test accuracy): 256-d penultimate ReLU features, "
  "softmax over 10 classes; inputs float [-1, 1], 28x28x1, no resizing",
  "inception": "InceptionV3, pytorch-fid's FID variant with weights {weights} (sha256 {digest}...): 2048-d "
  "pool3 features, softmax over the 1008 logits without bias (for IS); samples quantised to "
  "uint8, grey replicated to RGB, bilinear resize to 299x299 (align_corners=False, no "
  "antialiasing), [0, 1] mapped to [-1, 1]",
}


@dataclasses.dataclass(frozen=True)
class FeatureNetwork:
  """A feature network as the reports use it."""

  name: str  # metric suffix: fid_<name>
  cache_tag: str  # names its cached reference features; changes when its weights do
  description: str
  dim: int  # feature dimension: FID needs more samples than this
  features_and_probabilities: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def feature_network(name: str = "mnist", inception_weights: str = "") -> FeatureNetwork:
  """The named network; `inception` needs the path of pytorch-fid's weights file."""
  if name not in FEATURE_NETWORKS:
    raise UsageError(f"--feature_network={name} is not one of {', '.join(FEATURE_NETWORKS)}.")
  if name == "mnist":
    return FeatureNetwork("mnist", "mnist", FEATURE_NETWORKS["mnist"], 256, mnist_features.features_and_probabilities)
  inception_features.load_variables(inception_weights)  # a missing or wrong file fails here, before any work
  digest = inception_features.weights_digest(inception_weights)
  return FeatureNetwork(
    "inception",
    f"inception-{digest}",
    FEATURE_NETWORKS["inception"].format(weights=os.path.basename(inception_weights), digest=digest),
    inception.POOL3_DIM,
    lambda images: inception_features.features_and_probabilities(images, inception_weights),
  )


def reference_features(
  dataset: str, split: str, data_dir: str, num: int | None = None, network: str | FeatureNetwork = "mnist"
) -> np.ndarray:
  """Features [N, D] of a real split, cached in `<data_dir>/ganjax_reference/` (recomputed if absent);
  an empty `data_dir` is TFDS's default, as for the runs (not the working directory).

  The cache file is named by dataset, split, feature network (with a digest of its weights
  for Inception) and image count.
  """
  from ganjax.data.pipeline import default_data_dir, load_source, to_model_range

  data_dir = data_dir or default_data_dir()
  network = feature_network(network) if isinstance(network, str) else network
  cache_dir = os.path.join(data_dir, "ganjax_reference")
  path = os.path.join(cache_dir, f"{dataset}_{split}_{network.cache_tag}_{num or 'all'}.npy")
  if os.path.exists(path):
    return np.load(path)
  source = load_source(dataset, split, data_dir)
  indices = np.arange(len(source) if num is None else min(num, len(source)))
  real = to_model_range(source.read(indices)["image"])
  features, _ = network.features_and_probabilities(real)
  os.makedirs(cache_dir, exist_ok=True)
  # Several processes of one run (or several runs) may compute the same cache at once: each
  # writes its own temporary file, and the atomic rename lets the last of equal files win.
  # A shared temporary name let one process rename the other's away (a CI failure).
  temporary = f"{path}.{socket.gethostname()}-{os.getpid()}.tmp.npy"  # hosts may share data_dir
  np.save(temporary, features)
  os.replace(temporary, path)
  return features


def evaluate(
  fake_images: np.ndarray,
  real_features: np.ndarray,
  network: str | FeatureNetwork = "mnist",
  kid_subsets: int = 100,
  kid_subset_size: int = 1000,
  k: int = 3,
  seed: int = 0,
  by_class: bool = False,
) -> dict:
  """Metrics of fakes [N, H, W, C] in [-1, 1] (28x28x1 for mnist) against real features [M, D];
  `by_class` adds `precision_by_class` from the same features (the mnist network only)."""
  network = feature_network(network) if isinstance(network, str) else network
  n, d = len(fake_images), network.dim
  if n <= d or len(real_features) <= d:  # checked first: the features of the fakes may take minutes
    raise UsageError(
      f"FID on {d}-d features needs more than {d} samples per set, got {n} generated and "
      f"{len(real_features)} real; raise --num_samples."
    )
  if min(n, len(real_features)) <= k:
    raise UsageError(f"precision/recall with k={k} needs more than {k} samples per set.")
  if by_class and network.name != "mnist":  # experiments.evaluate refuses the flag before any work
    raise ValueError(f"by_class splits by the MNIST classifier's 10 digits, not by {network.name}'s classes.")
  fake_features, probabilities = network.features_and_probabilities(fake_images)
  suffix = f"_{network.name}"
  fid = distribution.frechet_distance(
    *distribution.feature_statistics(fake_features), *distribution.feature_statistics(real_features)
  )
  kid_mean, kid_std = distribution.kid(fake_features, real_features, kid_subsets, kid_subset_size, seed)
  is_mean, is_std = distribution.inception_score(probabilities, splits=min(10, n))
  precision, recall = distribution.precision_recall(real_features, fake_features, k)
  split = precision_by_class(fake_features, probabilities, real_features, k) if by_class else {}
  return {
    f"fid{suffix}": fid,
    f"kid{suffix}": kid_mean,
    f"kid{suffix}_std": kid_std,
    f"is{suffix}": is_mean,
    f"is{suffix}_std": is_std,
    f"precision{suffix}": precision,
    f"recall{suffix}": recall,
    "num_samples": int(n),
    "num_reference": int(len(real_features)),
    "pr_k": k,
    "kid_subsets": kid_subsets,
    "kid_subset_size": min(kid_subset_size, n, len(real_features)),
    "feature_network": network.description,
    **split,
  }


def label_accuracy(fake_images: np.ndarray, labels: np.ndarray) -> float:
  """Share of a conditional model's fakes [N, 28, 28, 1] that the MNIST classifier assigns
  to the label they were drawn for."""
  _, probabilities = mnist_features.features_and_probabilities(fake_images)
  return float(np.mean(np.argmax(probabilities, axis=-1) == np.asarray(labels)))


def precision_by_class(
  fake_features: np.ndarray, probabilities: np.ndarray, real_features: np.ndarray, k: int = 3
) -> dict:
  """Where the precision is lost, on the MNIST classifier (its features [N, 256] and softmax [N,
  10] of the fakes): each fake's class is the classifier's most likely digit, and for each digit
  the report gives the fakes' share and their precision (the share of them inside the real
  manifold; None for a digit no fake is taken for). A precision lost evenly over the digits is a
  matter of fidelity; one lost in a few digits, or shares far from a tenth, points at the modes."""
  inside = distribution.inside_real_manifold(real_features, fake_features, k)
  digits = np.argmax(probabilities, axis=1)
  counts = np.bincount(digits, minlength=10)
  hits = np.bincount(digits, weights=inside.astype(np.float64), minlength=10)
  return {
    "class_share_mnist": [float(c) / len(digits) for c in counts],
    "precision_mnist_by_class": [float(h / c) if c else None for h, c in zip(hits, counts)],
  }
