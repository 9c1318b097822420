import os
import sys

import jax
import numpy as np
import pytest

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


@pytest.mark.onednn
def test_every_onednn_call_of_a_gradient_is_found_and_rebuilt_with_its_shapes():
  """The same for oneDNN's custom calls: the forward call and both gradients' calls of a
  strided convolution, each parsed (target, operand shapes, strides, uneven padding), its
  output shape checked inside the parse, and each rebuilt call computing what lax computes."""
  from ganjax.kernels import onednn

  strides, padding = (2, 2), ((1, 2), (1, 2))

  def loss(x, w):
    return (onednn.conv(x, w, strides, padding) ** 2).sum()

  x = np.random.default_rng(0).standard_normal((4, 14, 14, 3)).astype(np.float32)
  w = np.random.default_rng(1).standard_normal((5, 5, 3, 8)).astype(np.float32)
  hlo = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(x, w).compile().as_text()
  found = dict((call.kind, call) for _, call in conv_share.parse_onednn_calls(hlo))
  assert sorted(found) == ["data_grad", "forward", "weight_grad"]
  assert all(call.strides == strides and call.padding == padding for call in found.values())

  def lax_conv(x, w):
    return jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))

  y, pullback = jax.vjp(lax_conv, x, w)
  dy = np.random.default_rng(2).standard_normal(y.shape).astype(np.float32)
  dx, dw = pullback(dy)
  np.testing.assert_allclose(found["forward"](x, w), y, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(found["data_grad"](dy, w), dx, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(found["weight_grad"](x, dy), dw, rtol=1e-4, atol=1e-3)
