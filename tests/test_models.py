"""DCGAN module shapes and ranges."""

import chex
import jax
import jax.numpy as jnp

from ganjax.config import Config
from ganjax.models import build_gan


def test_generator_and_discriminator_shapes_and_ranges():
  config = Config(width=16, latent_dim=32)
  generator, discriminator = build_gan(config, channels=1, axis_name=None)
  z = jax.random.normal(jax.random.key(0), (5, 32))
  g_vars = generator.init(jax.random.key(1), z, train=False)
  images, _ = generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
  chex.assert_shape(images, (5, 28, 28, 1))
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  d_vars = discriminator.init(jax.random.key(2), images, train=False)
  logits = discriminator.apply(d_vars, images, train=True, rngs={"dropout": jax.random.key(3)})
  chex.assert_shape(logits, (5,))
  chex.assert_tree_all_finite(logits)


def test_generator_layer_sizes_follow_the_tutorial():
  generator, discriminator = build_gan(Config(), channels=1, axis_name=None)
  g_vars = generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)
  shapes = jax.tree.map(jnp.shape, g_vars["params"])
  assert shapes["Dense_0"] == {"kernel": (100, 7 * 7 * 256)}  # no bias
  assert shapes["SubPixelConvTranspose_0"]["kernel"] == (5, 5, 256, 128)
  assert shapes["SubPixelConvTranspose_1"]["kernel"] == (5, 5, 128, 64)
  assert shapes["SubPixelConvTranspose_2"]["kernel"] == (5, 5, 64, 1)
  d_vars = discriminator.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)), train=False)
  d_shapes = jax.tree.map(jnp.shape, d_vars["params"])
  assert d_shapes["Conv_0"]["kernel"] == (5, 5, 1, 64)
  assert d_shapes["Conv_1"]["kernel"] == (5, 5, 64, 128)
  assert d_shapes["Dense_0"]["kernel"] == (7 * 7 * 128, 1)
