"""The Flax VGG19 reads Keras' weight files and computes what Keras' VGG19 computes."""

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.errors import UsageError
from ganjax.models import vgg19


@pytest.fixture(scope="module")
def keras_vgg19(tmp_path_factory):
  """Keras' VGG19 with random weights (no download), saved in both Keras layouts."""
  keras = pytest.importorskip("keras")
  legacy = pytest.importorskip("keras.src.legacy.saving.legacy_h5_format")
  model = keras.applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3))
  folder = tmp_path_factory.mktemp("vgg19")
  legacy_path = str(folder / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
  with h5py.File(legacy_path, "w") as f:
    legacy.save_weights_to_hdf5_group(f, model)
  keras3_path = str(folder / "vgg19.weights.h5")
  model.save_weights(keras3_path)
  return model, legacy_path, keras3_path


@pytest.mark.parametrize("layout", ["legacy", "keras3"])
def test_flax_vgg19_matches_keras_activations(keras_vgg19, layout):
  model, legacy_path, keras3_path = keras_vgg19
  params = vgg19.load_keras_weights(legacy_path if layout == "legacy" else keras3_path)
  x = np.random.default_rng(0).uniform(-120, 130, (2, 32, 32, 3)).astype(np.float32)
  expected = np.asarray(model(x))  # include_top=False ends with block5_pool
  ours = vgg19.VGG19().apply({"params": params}, jnp.asarray(x))
  ours = np.asarray(jax.lax.reduce_window(ours, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"))
  assert ours.shape == expected.shape == (2, 1, 1, 512)
  scale = np.abs(expected).max()
  assert scale > 0
  np.testing.assert_allclose(ours / scale, expected / scale, atol=1e-4)


@pytest.mark.slow
def test_an_earlier_layer_stops_there():
  params = vgg19.VGG19().init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))["params"]
  assert vgg19.VGG19("block2_conv2").apply({"params": params}, jnp.zeros((1, 32, 32, 3))).shape == (1, 16, 16, 128)
  assert vgg19.VGG19().apply({"params": params}, jnp.zeros((1, 32, 32, 3))).shape == (1, 2, 2, 512)


def test_preprocess_is_keras_caffe_mode():
  rgb = np.array([[[[255.0, 0.0, 127.5]]]], np.float32)  # 0-255
  ours = np.asarray(vgg19.preprocess(jnp.asarray(rgb / 127.5 - 1.0)))
  np.testing.assert_allclose(ours[0, 0, 0], [127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68], atol=1e-4)


def test_missing_or_wrong_weight_files_are_one_line_errors(tmp_path):
  with pytest.raises(UsageError, match="--vgg19_weights=PATH"):
    vgg19.load_keras_weights("")
  with pytest.raises(UsageError, match="is not a file"):
    vgg19.load_keras_weights(str(tmp_path / "nothing.h5"))
  garbage = tmp_path / "garbage.h5"
  garbage.write_bytes(b"not hdf5")
  with pytest.raises(UsageError, match="not a Keras VGG19 weight file"):
    vgg19.load_keras_weights(str(garbage))
  other = tmp_path / "other.h5"
  with h5py.File(other, "w") as f:
    f.attrs["layer_names"] = np.array([b"dense"])
    f.create_group("dense").attrs["weight_names"] = np.array([b"dense/kernel"])
    f["dense"]["dense/kernel"] = np.zeros((3, 4))
  with pytest.raises(UsageError, match="no layer block1_conv1"):
    vgg19.load_keras_weights(str(other))
