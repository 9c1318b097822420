import os
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import fusion_traffic  # noqa: E402


def test_shape_bytes_of_arrays_and_tuples():
  assert fusion_traffic.shape_bytes("f32[256,7,7,64]{3,2,1,0}") == 4 * 256 * 7 * 7 * 64
  assert fusion_traffic.shape_bytes("(f32[2,3]{1,0}, u16[8]{0}, s32[])") == 24 + 16 + 4
  assert fusion_traffic.shape_bytes("pred[10]{0}") == 10


def test_the_traffic_of_a_compiled_layer_leaves_out_its_convolution_and_counts_its_activation():
  """A convolution and a LeakyReLU after it: the convolution is not counted; the activation's
  loop reads the convolution's result and writes one of the same size."""

  def layer(x, kernel):
    y = jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.where(y > 0, y, 0.2 * y)

  x = jnp.ones((8, 16, 16, 4), jnp.float32)
  kernel = jnp.ones((3, 3, 4, 32), jnp.float32)
  text = jax.jit(layer).lower(x, kernel).compile().as_text()
  instructions = fusion_traffic.entry_instructions(text)
  assert "convolution" in {i.opcode for i in instructions}
  groups = fusion_traffic.traffic(instructions)
  activation = 4 * 8 * 16 * 16 * 32
  counted = sum(g["written"] for g in groups.values())
  assert activation <= counted < 2 * activation  # the activation, not the convolution's output too
  assert sum(g["read"] for g in groups.values()) >= activation
  assert fusion_traffic.activation_shape(instructions) == (8, 16, 16, 32)
