"""DCGAN module shapes and ranges."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.config import Config
from ganjax.models import build_gan


@pytest.mark.slow
def test_generator_and_discriminator_shapes_and_ranges():
  config = Config.from_flags(width=16, latent_dim=32)
  generator, discriminator = build_gan(config, image_shape=(28, 28, 1), axis_name=None)
  z = jax.random.normal(jax.random.key(0), (5, 32))
  g_vars = generator.init(jax.random.key(1), z, train=False)
  images, _ = generator.apply(g_vars, z, train=True, mutable=["batch_stats"])
  chex.assert_shape(images, (5, 28, 28, 1))
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  d_vars = discriminator.init(jax.random.key(2), images, train=False)
  logits = discriminator.apply(d_vars, images, train=True, rngs={"dropout": jax.random.key(3)})
  chex.assert_shape(logits, (5,))
  chex.assert_tree_all_finite(logits)


@pytest.mark.slow
def test_generator_layer_sizes_follow_the_tutorial():
  generator, discriminator = build_gan(Config(), image_shape=(28, 28, 1), axis_name=None)
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


def test_d_width_sets_the_discriminator_channels_alone():
  generator, discriminator = build_gan(Config.from_flags(width=8, d_width=24), image_shape=(28, 28, 1), axis_name=None)
  g_shapes = jax.tree.map(jnp.shape, generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)["params"])
  assert g_shapes["Dense_0"] == {"kernel": (100, 7 * 7 * 32)}  # G keeps --width's 4 x 8 channels
  d_vars = discriminator.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)), train=False)
  d_shapes = jax.tree.map(jnp.shape, d_vars["params"])
  assert d_shapes["Conv_0"]["kernel"] == (5, 5, 1, 24)
  assert d_shapes["Conv_1"]["kernel"] == (5, 5, 24, 48)


def test_d_extra_convs_halve_to_4x4_and_double_the_channels():
  config = Config.from_flags(width=8, d_extra_convs=1, d_batchnorm=True)
  _, discriminator = build_gan(config, image_shape=(28, 28, 1), axis_name=None)
  d_vars = discriminator.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)), train=False)
  d_shapes = jax.tree.map(jnp.shape, d_vars["params"])
  assert [d_shapes[f"Conv_{i}"]["kernel"] for i in range(3)] == [(5, 5, 1, 8), (5, 5, 8, 16), (5, 5, 16, 32)]
  assert d_shapes["Dense_0"]["kernel"] == (4 * 4 * 32, 1)  # 28 -> 14 -> 7 -> 4 pixels
  assert sorted(k for k in d_shapes if k.startswith("BatchNorm")) == ["BatchNorm_0", "BatchNorm_1"]
  logits = discriminator.apply(d_vars, jnp.zeros((2, 28, 28, 1)), train=False)
  chex.assert_shape(logits, (2,))


@pytest.mark.slow
@pytest.mark.parametrize("size, start", [(32, 4), (64, 4)])
def test_larger_dcgan_starts_at_4x4x8w_and_halves_channels(size, start):
  config = Config.from_flags(width=8, latent_dim=16)
  generator, discriminator = build_gan(config, image_shape=(size, size, 3), axis_name=None)
  z = jnp.zeros((2, 16))
  g_vars = generator.init(jax.random.key(0), z, train=False)
  assert g_vars["params"]["Dense_0"]["kernel"].shape == (16, start * start * 64)  # 8w = 64
  images = generator.apply(g_vars, z, train=False)
  chex.assert_shape(images, (2, size, size, 3))
  kernels = [g_vars["params"][f"SubPixelConvTranspose_{i}"]["kernel"].shape[-1] for i in range(int(np.log2(size // 4)))]
  assert kernels == [64 // 2 ** (i + 1) for i in range(len(kernels) - 1)] + [3]
  d_vars = discriminator.init(jax.random.key(1), images, train=False)
  convs = sorted(k for k in d_vars["params"] if k.startswith("Conv"))
  assert [d_vars["params"][k]["kernel"].shape[-1] for k in convs] == [8 * 2**i for i in range(len(convs))]
  assert d_vars["params"]["Dense_0"]["kernel"].shape[0] == 4 * 4 * 8 * 2 ** (len(convs) - 1)


def test_dcgan_refuses_sizes_it_cannot_generate():
  from ganjax.errors import UsageError
  from ganjax.models import check_image_shape

  check_image_shape(Config(), (32, 32, 3))
  with pytest.raises(UsageError, match="218x178"):
    check_image_shape(Config.from_flags(dataset="celeb_a"), (218, 178, 3))
