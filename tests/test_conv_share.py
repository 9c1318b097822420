import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import conv_share  # noqa: E402


def test_every_convolution_of_a_gradient_is_found_and_rebuilt_with_its_shapes():
  """The forward pass, the input gradient (dilated) and the weight gradient of a strided
  convolution: each parsed from the compiled HLO, rebuilt (its output shape checked inside the
  parse), and computing what the HLO's own convolution computes."""

  def loss(x, w):
    y = jax.lax.conv_general_dilated(x, w, (2, 2), ((1, 2), (1, 2)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return (y**2).sum()

  x = np.random.default_rng(0).standard_normal((4, 14, 14, 3)).astype(np.float32)
  w = np.random.default_rng(1).standard_normal((5, 5, 3, 8)).astype(np.float32)
  hlo = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(x, w).compile().as_text()
  found = conv_share.parse_convolutions(hlo)
  assert len(found) == hlo.count(" convolution(") >= 3
  forward = [conv for _, conv in found if conv.strides == (2, 2)]
  assert len(forward) == 1
  expected = jax.lax.conv_general_dilated(x, w, (2, 2), ((1, 2), (1, 2)), dimension_numbers=("NHWC", "HWIO", "NHWC"))
  np.testing.assert_allclose(forward[0](x, w), expected, rtol=1e-5, atol=1e-5)
