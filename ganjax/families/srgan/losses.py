"""SRGAN's generator loss terms as pure functions, and the feature networks of its perceptual loss.

Ledig et al. 2017, eq. 3: l_SR = content + 1e-3 * adversarial, with content either the
pixel MSE (SRResNet-MSE, SRGAN-MSE) or the MSE between feature maps of a fixed network
(SRGAN-VGG54: VGG19's block5_conv4, rescaled by 1/12.75, i.e. a weight of about 0.006 on
the plain feature MSE). ganjax keeps both as separate weighted terms
(`--content_weight`, `--perceptual_weight`); the adversarial term is `ganjax.losses`'s
G loss on D's logits (`--loss`, the paper's -log D(G(x)) is `non_saturating`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ganjax.config import Config

PyTree = Any


def content_loss(sr: jax.Array, hr: jax.Array) -> jax.Array:
  """Pixel MSE, [N, H, W, C] x2 in [-1, 1] -> scalar (mean over every pixel and channel)."""
  return jnp.mean(jnp.square(sr.astype(jnp.float32) - hr.astype(jnp.float32)))


def perceptual_loss(features: Callable[[jax.Array], jax.Array], sr: jax.Array, hr: jax.Array) -> jax.Array:
  """MSE between a fixed network's features of the output and of the target: scalar.

  `features` maps images [N, H, W, C] in [-1, 1] to any [N, ...] array; the target's
  features carry no gradient (the network is fixed, the target a constant).
  """
  return jnp.mean(jnp.square(features(sr) - jax.lax.stop_gradient(features(hr))))


def batch_psnr(sr: jax.Array, hr: jax.Array) -> jax.Array:
  """PSNR in dB of the clipped outputs over the whole batch, images in [-1, 1] (a peak-to-peak of 2)."""
  mse = jnp.mean(jnp.square(jnp.clip(sr, -1.0, 1.0) - hr))
  return 10.0 * jnp.log10(4.0 / jnp.maximum(mse, 1e-12))


@dataclasses.dataclass(frozen=True)
class FeatureNetwork:
  """A fixed network for the perceptual loss: `apply(params, images in [-1, 1]) -> features`."""

  name: str
  apply: Callable[[PyTree, jax.Array], jax.Array]
  params: PyTree


def make_feature_network(config: Config) -> FeatureNetwork | None:
  """The network `--feature_network` names, with its weights loaded; None for 'none' or a zero weight."""
  if config.family.feature_network == "none" or not config.family.perceptual_weight:
    return None
  if config.family.feature_network == "mnist_classifier":
    from ganjax.metrics import mnist_features
    from ganjax.models.classifier import MnistClassifier

    def classifier_features(params, images):  # the 256-d penultimate layer behind the *_mnist metrics
      return MnistClassifier().apply({"params": params}, images)[0]

    return FeatureNetwork("mnist_classifier", classifier_features, mnist_features.load_params())
  if config.family.feature_network == "vgg19":
    from ganjax.models import vgg19

    def vgg54(params, images):  # VGG19's block5_conv4 after ReLU, on Keras' preprocessing
      return vgg19.VGG19("block5_conv4").apply({"params": params}, vgg19.preprocess(images))

    return FeatureNetwork("vgg19", vgg54, vgg19.load_keras_weights(config.family.vgg19_weights))
  raise ValueError(f"unknown feature network {config.family.feature_network}")
