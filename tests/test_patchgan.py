"""The PatchGAN discriminator: one logit per patch, each seeing only its own patch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.models.patchgan import PatchDiscriminator


@pytest.mark.slow
@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_scores_one_logit_per_patch(norm):
  d = PatchDiscriminator(width=4, downsamples=2, norm=norm)
  variables = d.init(jax.random.key(0), jnp.zeros((1, 28, 28, 2)), train=False)
  logits, _ = d.apply(variables, jnp.ones((3, 28, 28, 2)), train=True, mutable=["batch_stats"])
  assert logits.shape == (3, 7, 7, 1) and logits.dtype == jnp.float32


def test_a_corner_logit_sees_only_its_patch():
  """The receptive field of 2 stride-2 and 2 stride-1 4x4 convs: a 46-pixel window at most;
  the top-left logit of a 64x64 input is blind to the bottom-right quarter."""
  d = PatchDiscriminator(width=4, downsamples=2, norm="none")
  variables = d.init(jax.random.key(0), jnp.zeros((1, 64, 64, 1)), train=False)
  x = jax.random.normal(jax.random.key(1), (1, 64, 64, 1))
  grad = jax.grad(lambda x: d.apply(variables, x, train=False)[0, 0, 0, 0])(x)
  seen = np.argwhere(np.abs(np.asarray(grad[0, :, :, 0])) > 0)
  assert seen.max() < 32 and len(seen) > 0
