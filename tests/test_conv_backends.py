import os
import sys

import jax
import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import conv_backends  # noqa: E402

from ganjax.config import Config  # noqa: E402


def test_every_convolution_layer_of_the_dcgan_is_found_with_its_input_shape():
  config = Config.from_flags(width=8, batch_size=4)
  found = conv_backends.model_conv_layers(config)
  assert [conv_backends.describe(*layer) for layer in found] == [
    "G transposed 7x7x32 -> 16, stride 1",
    "G transposed 7x7x16 -> 8, stride 2",
    "G transposed 14x14x8 -> 1, stride 2",
    "D conv 28x28x1 -> 8, stride 2",
    "D conv 14x14x8 -> 16, stride 2",
  ]


@pytest.mark.onednn
def test_both_backends_time_the_same_computation():
  config = Config.from_flags(width=8, batch_size=4)
  rng = np.random.default_rng(0)
  for _, layer, x_shape in conv_backends.model_conv_layers(config):
    x = rng.standard_normal(x_shape).astype(np.float32)
    xla, params = conv_backends.forward_and_gradients(layer, "xla", x_shape)
    ours, same_params = conv_backends.forward_and_gradients(layer, "onednn", x_shape)
    dy = rng.standard_normal(layer.apply(params, x).shape).astype(np.float32)
    for a, b in zip(jax.tree.leaves(xla(params, x, dy)), jax.tree.leaves(ours(same_params, x, dy))):
      np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3)
