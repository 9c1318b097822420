"""ganjax's initialisers draw flat and reshape: the values must stay flax's, bit for bit."""

import flax.linen as nn
import jax
import numpy as np
import pytest

from ganjax.models import initializers

PAIRS = {
  "normal(0.02)": (initializers.normal(0.02), nn.initializers.normal(0.02)),
  "lecun_normal": (initializers.lecun_normal(), nn.initializers.lecun_normal()),
  "he_normal": (initializers.he_normal(), nn.initializers.he_normal()),
  "glorot_uniform": (initializers.glorot_uniform(), nn.initializers.glorot_uniform()),
  "fan_out normal": (
    initializers.variance_scaling(0.5, "fan_out", "normal"),
    nn.initializers.variance_scaling(0.5, "fan_out", "normal"),
  ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("shape", [(7, 33), (5, 5, 3, 8), (3, 2, 4, 5)])
def test_initializer_gives_flaxs_values_bit_for_bit(name, shape):
  ours, flax_own = PAIRS[name]
  key = jax.random.key(11)
  mine, theirs = np.asarray(ours(key, shape)), np.asarray(flax_own(key, shape))
  assert mine.shape == shape and mine.dtype == theirs.dtype == np.float32
  np.testing.assert_array_equal(mine, theirs)


def test_variance_scaling_refuses_a_vector_and_unknown_modes():
  with pytest.raises(ValueError, match="2 or more axes"):
    initializers.lecun_normal()(jax.random.key(0), (4,))
  with pytest.raises(ValueError, match="fan_geo"):
    initializers.variance_scaling(1.0, "fan_geo", "normal")
