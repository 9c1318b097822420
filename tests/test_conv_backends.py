import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import conv_backends  # noqa: E402

from ganjax.config import Config  # noqa: E402
from ganjax.kernels import onednn  # noqa: E402


def test_every_convolution_of_the_dcgan_is_found_with_explicit_padding():
  config = Config.from_flags(width=8, batch_size=4)
  found = conv_backends.model_convolutions(config)
  assert [player for player, *_ in found] == ["G", "G", "G", "D", "D"]
  # G: 7x7 5x5 stride 1, then the two stride-2 layers' sub-pixel 3x3 forms (four phases as channels).
  assert [(x, w, s) for _, x, w, s, _ in found[:3]] == [
    ((4, 7, 7, 32), (5, 5, 32, 16), (1, 1)),
    ((4, 7, 7, 16), (3, 3, 16, 32), (1, 1)),
    ((4, 14, 14, 8), (3, 3, 8, 4), (1, 1)),
  ]
  # D: 'SAME' stride 2 made explicit, as oneDNN takes it.
  assert found[3][1:] == ((4, 28, 28, 1), (5, 5, 1, 8), (2, 2), ((1, 2), (1, 2)))
  assert found[4][1:] == ((4, 14, 14, 8), (5, 5, 8, 16), (2, 2), ((1, 2), (1, 2)))


@pytest.mark.skipif(onednn.unavailable_reason() is not None, reason="oneDNN is not installed")
def test_both_backends_time_the_same_computation():
  config = Config.from_flags(width=8, batch_size=4)
  rng = np.random.default_rng(0)
  for _, x_shape, w_shape, strides, padding in conv_backends.model_convolutions(config):
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    dy = rng.standard_normal(onednn.output_shape(x_shape, w_shape, strides, padding)).astype(np.float32)
    xla = conv_backends.forward_and_gradients("xla", strides, padding)(x, w, dy)
    ours = conv_backends.forward_and_gradients("onednn", strides, padding)(x, w, dy)
    for a, b in zip(xla, ours):
      np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3)
