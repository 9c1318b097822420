"""The PatchGAN discriminator of pix2pix (Isola et al. 2017) and CycleGAN (Zhu et al. 2017).

A fully convolutional D that scores every overlapping patch of its input real or fake
instead of the whole image: C64 - C128 - C256 (4x4, stride 2) - C512 (4x4, stride 1) - a
1-channel 4x4 convolution, LeakyReLU(0.2), no normalisation on the first layer. With three
stride-2 layers each output sees a 70x70 patch of a 256x256 image (the paper's "70x70
PatchGAN"); `downsamples` shortens it for small images (2 for 28x28 MNIST: 7x7 scores).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from ganjax.models import initializers

NORMS = ("batch", "instance", "none")


class PatchDiscriminator(nn.Module):
  """[N, H, W, C] -> logits [N, H', W', 1], one per patch.

  norm: 'batch' (pix2pix), 'instance' (CycleGAN) or 'none'. A conditional D (pix2pix) is
  given its condition and the real-or-fake image concatenated on the channel axis.
  """

  width: int = 64
  downsamples: int = 3
  norm: str = "batch"
  leak: float = 0.2
  axis_name: str | None = None  # BatchNorm statistics averaged over this pmap axis
  kernel_init: initializers.Initializer = initializers.normal(0.02)  # pix2pix: N(0, 0.02)

  def _normalize(self, x: jax.Array, train: bool) -> jax.Array:
    if self.norm == "batch":
      return nn.BatchNorm(use_running_average=not train, momentum=0.9, axis_name=self.axis_name)(x)
    if self.norm == "instance":
      return nn.InstanceNorm(use_bias=True, use_scale=True)(x)
    return x

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    if self.norm not in NORMS:
      raise ValueError(f"norm must be one of {NORMS}, not {self.norm!r}")
    for i in range(self.downsamples + 1):  # the last one keeps the resolution
      stride = 2 if i < self.downsamples else 1
      features = self.width * 2 ** min(i, 3)
      x = nn.Conv(
        features,
        (4, 4),
        (stride, stride),
        padding="SAME",
        use_bias=i == 0 or self.norm == "none",
        kernel_init=self.kernel_init,
      )(x)
      if i > 0:
        x = self._normalize(x, train)
      x = nn.leaky_relu(x, self.leak)
    return nn.Conv(1, (4, 4), (1, 1), padding="SAME", kernel_init=self.kernel_init)(x).astype(jnp.float32)
