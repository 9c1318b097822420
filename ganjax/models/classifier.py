"""A LeNet-style MNIST classifier: the feature network behind ganjax's `*_mnist` metrics.

conv 32 5x5, ReLU, max-pool 2 -> conv 64 5x5, ReLU, max-pool 2 -> Dense 256, ReLU
(the features) -> Dense 10 (logits). Inputs [N, 28, 28, 1] in [-1, 1], as the GANs emit.
"""

from __future__ import annotations

import flax.linen as nn
import jax

FEATURE_DIM = 256


class MnistClassifier(nn.Module):
  """images [N, 28, 28, 1] in [-1, 1] -> (features [N, 256], logits [N, 10])."""

  dropout: float = 0.3

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, jax.Array]:
    for features in (32, 64):
      x = nn.Conv(features, (5, 5), padding="SAME")(x)
      x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
    x = x.reshape(x.shape[0], -1)
    features = nn.relu(nn.Dense(FEATURE_DIM)(x))
    logits = nn.Dense(10)(nn.Dropout(self.dropout, deterministic=not train)(features))
    return features, logits
