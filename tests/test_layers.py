"""SubPixelConvTranspose and StridedConv compute what nn.ConvTranspose and nn.Conv compute;
Dropout ignores the split."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models.layers import Dropout, StridedConv, SubPixelConvTranspose


@pytest.mark.slow
@pytest.mark.parametrize("kernel,stride,size", [(5, 2, 7), (5, 1, 7), (4, 2, 6), (3, 2, 5), (5, 2, 14), (3, 3, 4)])
def test_subpixel_matches_conv_transpose_outputs_and_gradients(kernel, stride, size):
  x = jax.random.normal(jax.random.key(0), (3, size, size, 5))
  reference = nn.ConvTranspose(4, (kernel, kernel), (stride, stride), padding="SAME")
  subpixel = SubPixelConvTranspose(4, (kernel, kernel), (stride, stride))
  params = reference.init(jax.random.key(1), x)
  params = jax.tree.map(lambda p: p + 0.05, params)  # non-zero bias too
  target = jax.random.normal(jax.random.key(2), (3, size * stride, size * stride, 4))

  def loss(module):
    return lambda p, inputs: jnp.sum(module.apply(p, inputs) * target)

  chex.assert_trees_all_close(subpixel.apply(params, x), reference.apply(params, x), atol=1e-5)
  grads_ref = jax.grad(loss(reference), argnums=(0, 1))(params, x)
  grads_new = jax.grad(loss(subpixel), argnums=(0, 1))(params, x)
  chex.assert_trees_all_close(grads_new, grads_ref, atol=1e-4, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
  "kernel,stride,size,width",
  [(5, 2, 28, 28), (5, 2, 14, 14), (5, 2, 13, 11), (4, 2, 9, 9), (3, 2, 8, 8), (5, 3, 10, 10), (1, 2, 6, 6)],
)
def test_strided_conv_matches_conv_outputs_gradients_and_second_order_gradients(kernel, stride, size, width):
  x = jax.random.normal(jax.random.key(0), (3, size, width, 5))
  reference = nn.Conv(4, (kernel, kernel), (stride, stride), padding="SAME")
  strided = StridedConv(4, (kernel, kernel), (stride, stride))
  params = jax.tree.map(lambda p: p + 0.05, reference.init(jax.random.key(1), x))  # non-zero bias too
  out = reference.apply(params, x)
  target = jax.random.normal(jax.random.key(2), out.shape)

  def loss(module):
    return lambda p, inputs: jnp.sum(jnp.tanh(module.apply(p, inputs)) * target)

  def input_gradient_penalty(module):  # as WGAN-GP and R1 take it: a gradient of the input gradient
    return lambda p: jnp.sum(jax.grad(loss(module), argnums=1)(p, x) ** 2)

  chex.assert_trees_all_close(strided.apply(params, x), out, atol=1e-5)
  chex.assert_trees_all_close(
    jax.grad(loss(strided), argnums=(0, 1))(params, x),
    jax.grad(loss(reference), argnums=(0, 1))(params, x),
    atol=1e-4,
    rtol=1e-5,
  )
  chex.assert_trees_all_close(
    jax.grad(input_gradient_penalty(strided))(params),
    jax.grad(input_gradient_penalty(reference))(params),
    atol=1e-3,
    rtol=1e-4,
  )


def test_dropout_mask_is_the_same_on_one_or_four_devices():
  x = jnp.ones((8, 6, 6, 3))
  key = jax.random.key(3)
  single = Dropout(0.3).apply({}, x, deterministic=False, rngs={"dropout": key})
  sharded = jax.pmap(
    lambda xs: Dropout(0.3, axis_name="data").apply({}, xs, deterministic=False, rngs={"dropout": key}),
    axis_name="data",
  )(x.reshape(4, 2, 6, 6, 3))
  np.testing.assert_array_equal(np.asarray(sharded).reshape(x.shape), np.asarray(single))
  kept = float(jnp.mean(single > 0))
  assert 0.6 < kept < 0.8  # keep probability 0.7
  np.testing.assert_allclose(np.unique(np.asarray(single)), [0.0, 1 / 0.7], rtol=1e-6)


def test_dropout_is_identity_when_deterministic():
  x = jax.random.normal(jax.random.key(0), (4, 5))
  np.testing.assert_array_equal(Dropout(0.5).apply({}, x, deterministic=True), x)
