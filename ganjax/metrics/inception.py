"""InceptionV3 as FID computes it: pytorch-fid's `fid_inception_v3` variant, in Flax Linen.

The standard FID weights (`pt_inception-2015-12-05`) are TensorFlow's 2015 Inception graph
ported to PyTorch, and that graph differs from torchvision's InceptionV3 in three places,
which this module reproduces so that the ported weights give the published features:

- the average pools inside the Mixed_5*, Mixed_6b-e and Mixed_7b blocks leave the zero
  padding out of the mean (PyTorch's `count_include_pad=False`);
- the pool branch of the last block (Mixed_7c) takes a 3x3 max, not a mean;
- the classifier has 1008 classes (1000 ImageNet classes plus TensorFlow's spares).

BatchNorm always uses its stored statistics (eps 0.001): this is a fixed feature network,
never trained, so it has no `train` argument. Submodule names follow the PyTorch state dict
(`Mixed_6b.branch7x7_2.conv`), so the weight loader maps names without a table.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

INPUT_SIZE = 299
POOL3_DIM = 2048
NUM_CLASSES = 1008
# FID must not depend on whether an accelerator rounds float32 convolutions to TF32.
_PRECISION = jax.lax.Precision.HIGHEST


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
  """[out_size, in_size] weights of PyTorch's bilinear resize with align_corners=False.

  Pixel centres are aligned (source = (dst + 0.5) * in / out - 0.5, clamped at 0) and there
  is no antialiasing when shrinking: exactly `F.interpolate(mode='bilinear')`, which
  pytorch-fid uses, and unlike `jax.image.resize`, which antialiases. The positions are
  rounded as PyTorch's x86 build rounds them: scale = in / out in float32, then one fused
  multiply-add (one rounding to float32); this makes the weights bit-identical to its.
  Computed in float64 instead they differ by up to 3e-5, which shows in the features.
  """
  f32 = np.float32
  scale = np.float64(f32(in_size) / f32(out_size))
  # float32 * float32 is exact in float64, so one rounding at the end is the FMA's.
  source = (scale * (np.arange(out_size) + 0.5) - 0.5).astype(f32)
  source = np.maximum(source, f32(0.0))
  low = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
  high = np.minimum(low + 1, in_size - 1)
  frac = source - low.astype(f32)
  matrix = np.zeros((out_size, in_size), f32)
  rows = np.arange(out_size)
  np.add.at(matrix, (rows, low), f32(1.0) - frac)
  np.add.at(matrix, (rows, high), frac)
  return matrix


def resize_bilinear(images: jax.Array, size: int = INPUT_SIZE) -> jax.Array:
  """[N, H, W, C] -> [N, size, size, C], PyTorch's bilinear resize (see `bilinear_matrix`)."""
  _, h, w, _ = images.shape
  if h != size:
    images = jnp.einsum("oh,nhwc->nowc", bilinear_matrix(h, size), images, precision=_PRECISION)
  if w != size:
    images = jnp.einsum("ow,nhwc->nhoc", bilinear_matrix(w, size), images, precision=_PRECISION)
  return images


class BasicConv(nn.Module):
  """Convolution without bias, BatchNorm (eps 0.001, stored statistics), ReLU."""

  features: int
  kernel: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x):
    (ph, pw), s = self.padding, self.strides
    x = nn.Conv(
      self.features,
      self.kernel,
      strides=(s, s),
      padding=((ph, ph), (pw, pw)),
      use_bias=False,
      precision=_PRECISION,
      name="conv",
    )(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
    return nn.relu(x)


def _avg_pool_3x3(x):
  # TensorFlow's average pool, which the weights were trained with, leaves padding out of the mean.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_stride2(x):
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding="VALID")


class InceptionA(nn.Module):
  """Mixed_5b-d: 1x1, 5x5, double 3x3 and average-pool branches."""

  pool_features: int

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
    b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
    b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
    b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
    b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
    bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: grid reduction 35 -> 17."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(384, (3, 3), strides=2, name="branch3x3")(x)
    bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = BasicConv(96, (3, 3), strides=2, name="branch3x3dbl_3")(bd)
    return jnp.concatenate([b3, bd, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-e: factorised 7x7 branches."""

  channels_7x7: int

  @nn.compact
  def __call__(self, x):
    c = self.channels_7x7
    b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
    b7 = BasicConv(c, (1, 1), name="branch7x7_1")(x)
    b7 = BasicConv(c, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
    bd = BasicConv(c, (1, 1), name="branch7x7dbl_1")(x)
    bd = BasicConv(c, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
    bd = BasicConv(c, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
    bd = BasicConv(c, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
    bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
    bp = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool_3x3(x))
    return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: grid reduction 17 -> 8."""

  @nn.compact
  def __call__(self, x):
    b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
    b3 = BasicConv(320, (3, 3), strides=2, name="branch3x3_2")(b3)
    b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
    b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
    b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
    b7 = BasicConv(192, (3, 3), strides=2, name="branch7x7x3_4")(b7)
    return jnp.concatenate([b3, b7, _max_pool_3x3_stride2(x)], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b (average-pool branch) and Mixed_7c (`max_pool=True`, as in the TF graph)."""

  max_pool: bool = False

  @nn.compact
  def __call__(self, x):
    b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
    b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
    b3 = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
      ],
      axis=-1,
    )
    bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
    bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
    bd = jnp.concatenate(
      [
        BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
        BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
      ],
      axis=-1,
    )
    if self.max_pool:
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3(x)
    bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
  """images float [N, H, W, 3] in [0, 1] -> (pool3 [N, 2048], logits [N, 1008]).

  Like pytorch-fid's `InceptionV3` wrapper: any H, W is resized to 299x299 (bilinear,
  align_corners=False), then mapped to [-1, 1].
  """

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = 2.0 * resize_bilinear(images) - 1.0
    x = BasicConv(32, (3, 3), strides=2, name="Conv2d_1a_3x3")(x)
    x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
    x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_3x3_stride2(x)
    x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
    x = _max_pool_3x3_stride2(x)
    x = InceptionA(32, name="Mixed_5b")(x)
    x = InceptionA(64, name="Mixed_5c")(x)
    x = InceptionA(64, name="Mixed_5d")(x)
    x = InceptionB(name="Mixed_6a")(x)
    for name, channels in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
      x = InceptionC(channels, name=name)(x)
    x = InceptionD(name="Mixed_7a")(x)
    x = InceptionE(name="Mixed_7b")(x)
    x = InceptionE(max_pool=True, name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_CLASSES, precision=_PRECISION, name="fc")(pool3)
    return pool3, logits


def init_variables(key: jax.Array, image_shape: Sequence[int] = (INPUT_SIZE, INPUT_SIZE, 3)) -> dict:
  """Random {'params', 'batch_stats'} with the real weights' structure (a template to load into)."""
  return FIDInceptionV3().init(key, jnp.zeros((1, *image_shape), jnp.float32))
