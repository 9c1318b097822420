"""--conv_backend=onednn: oneDNN's convolutions compute XLA's, to float rounding, in every
order of differentiation; the DCGAN and its train step on them equal the XLA ones; and the
flag's misuses are one-line errors."""

import pathlib
import tempfile

import chex
import jax
import jax.numpy as jnp
import pytest

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import make_train_step
from ganjax.kernels import onednn
from ganjax.models import build_gan
from ganjax.train.loop import replicate, unreplicate

pytestmark = pytest.mark.onednn


def xla_conv(x, w, strides, padding):
  return jax.lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))


@pytest.mark.parametrize(
  "x_shape,w_shape,strides,padding",
  [
    ((3, 7, 7, 6), (5, 5, 6, 4), (1, 1), ((2, 2), (2, 2))),  # G's first layer's form
    ((3, 14, 14, 5), (5, 5, 5, 8), (2, 2), ((1, 2), (1, 2))),  # D's stride-2 'SAME'
    ((2, 13, 11, 3), (3, 4, 3, 5), (2, 3), ((0, 1), (2, 0))),  # odd sizes, uneven strides and pads
    ((2, 28, 28, 1), (5, 5, 1, 4), (2, 2), ((1, 2), (1, 2))),  # one input channel
  ],
)
def test_conv_and_its_first_and_second_derivatives_match_xla(x_shape, w_shape, strides, padding):
  x = jax.random.normal(jax.random.key(0), x_shape)
  w = 0.2 * jax.random.normal(jax.random.key(1), w_shape)
  out = xla_conv(x, w, strides, padding)
  target = jax.random.normal(jax.random.key(2), out.shape)

  def loss(conv):
    return lambda x, w: jnp.sum(jnp.tanh(conv(x, w, strides, padding)) * target)

  def input_gradient_penalty(conv):  # R1's and WGAN-GP's form: a gradient of the input gradient
    return lambda x, w: jnp.sum(jax.grad(loss(conv))(x, w) ** 2)

  chex.assert_trees_all_close(onednn.conv(x, w, strides, padding), out, atol=1e-5, rtol=1e-5)
  chex.assert_trees_all_close(
    jax.grad(loss(onednn.conv), (0, 1))(x, w), jax.grad(loss(xla_conv), (0, 1))(x, w), atol=1e-4, rtol=1e-4
  )
  chex.assert_trees_all_close(
    jax.grad(input_gradient_penalty(onednn.conv), (0, 1))(x, w),
    jax.grad(input_gradient_penalty(xla_conv), (0, 1))(x, w),
    atol=1e-3,
    rtol=1e-4,
  )


def test_gradients_of_the_gradient_calls_match_xla():
  # Third order through the data- and weight-gradient calls' own derivatives.
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
  w = 0.3 * jax.random.normal(jax.random.key(1), (3, 3, 3, 4))
  strides, padding = (2, 2), ((1, 1), (1, 1))

  def third(conv):
    first = lambda x, w: jnp.sum(jnp.sin(conv(x, w, strides, padding)))  # noqa: E731
    second = lambda x, w: jnp.sum(jnp.cos(jax.grad(first, 0)(x, w)))  # noqa: E731
    return jax.grad(lambda x, w: jnp.sum(jax.grad(second, 1)(x, w) ** 2), (0, 1))(x, w)

  chex.assert_trees_all_close(third(onednn.conv), third(xla_conv), atol=1e-3, rtol=1e-3)


def test_the_same_inputs_give_the_same_bits():
  # Bitwise resume needs a deterministic kernel.
  x = jax.random.normal(jax.random.key(0), (8, 14, 14, 16))
  w = jax.random.normal(jax.random.key(1), (5, 5, 16, 32))
  step = jax.jit(jax.grad(lambda x, w: jnp.sum(onednn.conv(x, w, (2, 2), ((1, 2), (1, 2))) ** 2), (0, 1)))
  first, second = step(x, w), step(x, w)
  chex.assert_trees_all_equal(first, second)


def gan(backend: str, axis_name=None):
  config = Config.from_flags(width=8, latent_dim=16, r1_penalty=1.0, conv_backend=backend)
  generator, discriminator = build_gan(config, image_shape=(28, 28, 1), axis_name=axis_name)
  state = create_state(config, generator, discriminator, (28, 28, 1), jax.random.key(0))
  return state, make_train_step(config, generator, discriminator, axis_name=axis_name)


def test_the_train_step_on_onednn_equals_xla_and_pmaps_over_four_devices():
  batch = {"image": jax.random.uniform(jax.random.key(1), (16, 28, 28, 1), minval=-1.0, maxval=1.0)}
  key = jax.random.key(7)
  state, xla_step = gan("xla")
  expected, expected_metrics = jax.jit(xla_step)(state, batch, key)
  state, onednn_step = gan("onednn", axis_name="data")
  p_step = jax.pmap(onednn_step, axis_name="data", in_axes=(0, 0, None))
  got, metrics = p_step(replicate(state, jax.local_devices()), {"image": batch["image"].reshape(4, 4, 28, 28, 1)}, key)
  # The same parameters (a checkpoint moves between backends) and the same step, to float rounding.
  chex.assert_trees_all_close(unreplicate(got).checkpoint_items(), expected.checkpoint_items(), atol=2e-5, rtol=2e-5)
  chex.assert_trees_all_close(unreplicate(metrics), expected_metrics, atol=2e-5, rtol=2e-5)


@pytest.mark.parametrize(
  "flags,message",
  [
    (dict(conv_backend="eigen"), "--conv_backend=eigen is not one of xla, onednn, auto."),
    (dict(conv_backend="onednn", model="mlp"), "--model=mlp has none"),
    (dict(conv_backend="onednn", accelerator="gpu"), "use it with --accelerator=cpu"),
  ],
)
def test_misuse_is_one_clear_error(flags, message):
  from ganjax.config import validate

  with pytest.raises(UsageError, match=message.replace(".", r"\.")):
    validate(Config.from_flags(**flags))


def test_without_onednn_installed_the_flag_says_what_to_install(monkeypatch):
  from ganjax.config import validate

  monkeypatch.setattr(onednn, "onednn_prefix", lambda: None)
  with pytest.raises(UsageError, match="pip install onednn-cpu-gomp"):
    validate(Config.from_flags(conv_backend="onednn"))


def test_auto_is_onednn_on_a_cpu_that_has_it_and_xla_without(monkeypatch):
  assert jax.default_backend() == "cpu"
  assert onednn.resolve_backend("auto") == "onednn"
  assert onednn.resolve_backend("xla") == "xla"
  monkeypatch.setattr(onednn, "onednn_prefix", lambda: None)
  assert onednn.resolve_backend("auto") == "xla"
  from ganjax.config import validate

  validate(Config.from_flags(conv_backend="auto"))  # never an error: it falls back


@pytest.mark.parametrize(
  "kernel,stride,size,features", [(5, 2, 7, 4), (5, 1, 7, 3), (4, 2, 6, 2), (3, 2, 5, 4), (3, 3, 4, 2)]
)
def test_the_transposed_convolution_on_onednn_is_flax_s(kernel, stride, size, features):
  import flax.linen as nn

  from ganjax.models.layers import SubPixelConvTranspose

  x = jax.random.normal(jax.random.key(0), (3, size, size, 5))
  reference = nn.ConvTranspose(features, (kernel, kernel), (stride, stride), padding="SAME")
  ours = SubPixelConvTranspose(features, (kernel, kernel), (stride, stride), conv_backend="onednn")
  params = jax.tree.map(lambda p: p + 0.05, reference.init(jax.random.key(1), x))
  target = jax.random.normal(jax.random.key(2), (3, size * stride, size * stride, features))

  def loss(module):
    return lambda p, inputs: jnp.sum(jnp.tanh(module.apply(p, inputs)) * target)

  chex.assert_trees_all_close(ours.apply(params, x), reference.apply(params, x), atol=1e-5)
  chex.assert_trees_all_close(
    jax.grad(loss(ours), (0, 1))(params, x), jax.grad(loss(reference), (0, 1))(params, x), atol=1e-4, rtol=1e-5
  )


def test_kernels_are_built_somewhere_writable(monkeypatch, tmp_path):
  monkeypatch.setenv("GANJAX_CACHE", str(tmp_path / "cache"))
  assert onednn.cache_dir() == tmp_path / "cache" / "kernels"
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  monkeypatch.setenv("GANJAX_CACHE", str(blocker / "cache"))  # under a file: cannot be made
  assert onednn.cache_dir().parent == pathlib.Path(tempfile.gettempdir())
