"""Pix2pix: the edge dataset, U-Net and PatchGAN shapes, the skip wiring, each loss term by hand,
the L1-only baseline, and the experiment end to end with resume."""

import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ganjax.config import Config
from ganjax.data import mnist_edges
from ganjax.families.pix2pix import losses as pix2pix_losses
from ganjax.families.pix2pix import state as pix2pix_state
from ganjax.families.pix2pix import step as pix2pix_step
from ganjax.models.unet import UNet, padded_size


@pytest.fixture
def edges_dir(tmp_path):
  """A data dir where `mnist_edges` answers with TFDS's mock data (random pairs of the real feature
  spec): building the real one takes about a minute of CPU, too long for a unit test."""
  import tensorflow_datasets as tfds

  with tfds.testing.mock_data(num_examples=64):
    yield str(tmp_path / "tfds")


def test_edge_map_is_the_thresholded_sobel_magnitude():
  image = np.zeros((5, 5, 1), np.uint8)
  image[:, 2:] = 255  # a vertical step from black to white
  magnitude = mnist_edges.sobel_magnitude(image)
  np.testing.assert_allclose(magnitude[2, 1:3], [4.0, 4.0])  # |Gx| = 1 + 2 + 1 on both sides of the step
  np.testing.assert_allclose(magnitude[2, 0], 0.0)  # flat black
  np.testing.assert_allclose(magnitude[2, 3], 0.0)  # flat white: the inside of a stroke is no edge
  edges = mnist_edges.edge_map(image)
  assert edges.dtype == np.uint8 and edges.shape == (5, 5, 1)
  np.testing.assert_array_equal(edges[2, :, 0], [0, 255, 255, 0, 255])  # the last: zero padding past the border


def test_mnist_edges_pairs_each_digit_with_its_edge_map(mnist_dir):
  """The builder's examples, from the first real MNIST test records (the whole build is run by hand)."""
  import tensorflow_datasets as tfds

  records = tfds.builder("mnist", data_dir=mnist_dir, file_format="array_record").as_data_source(split="test")
  builder = mnist_edges.MnistEdges(data_dir=mnist_dir)
  assert set(builder.info.features.keys()) == {"input", "target", "label"}
  examples = list(builder._generate_examples([records[i] for i in range(3)]))
  assert [key for key, _ in examples] == [0, 1, 2]
  for (_, example), record in zip(examples, (records[i] for i in range(3))):
    np.testing.assert_array_equal(example["target"], record["image"])
    np.testing.assert_array_equal(example["input"], mnist_edges.edge_map(record["image"]))
    assert example["label"] == record["label"]
    assert example["input"].shape == (28, 28, 1) and set(np.unique(example["input"])) == {0, 255}


@pytest.mark.slow
def test_unet_shapes_and_padding():
  assert [padded_size(s) for s in (28, 32, 33, 2)] == [32, 32, 64, 2]
  model = UNet(out_channels=3, width=4)
  x = jnp.zeros((2, 28, 28, 1))
  variables = model.init(jax.random.key(0), x, train=False)
  chex.assert_shape(model.apply(variables, x, train=False), (2, 28, 28, 3))
  assert [f"down_{i}" in variables["params"] for i in range(5)] == [True] * 5  # 32 -> 1 in five halvings
  assert "down_5" not in variables["params"]


def test_unet_skip_wiring():
  """Each decoder level reads the level below's output concatenated with the encoder's of its resolution."""
  model = UNet(width=4)
  x = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1), minval=-1.0, maxval=1.0)
  variables = model.init(jax.random.key(0), x, train=False)
  params = variables["params"]
  encoder = [params[f"down_{i}"]["kernel"].shape[-1] for i in range(5)]
  assert encoder == [4, 8, 16, 32, 32]
  assert params["up_3"]["kernel"].shape[2] == encoder[4]  # from the 1x1 bottleneck alone
  for i in (2, 1, 0):  # its own input: up_{i+1}'s output next to down_{i+1}'s
    assert params[f"up_{i}"]["kernel"].shape[2] == params[f"up_{i + 1}"]["kernel"].shape[-1] + encoder[i + 1]
  assert params["out"]["kernel"].shape[2] == params["up_0"]["kernel"].shape[-1] + encoder[0]
  # Cut the path through the bottleneck: the output still follows the input, through the skips.
  cut = jax.tree.map(jnp.zeros_like, params["up_3"])
  cut_params = {**params, "up_3": cut}
  a = model.apply({**variables, "params": cut_params}, x, train=False)
  b = model.apply({**variables, "params": cut_params}, -x, train=False)
  assert float(jnp.max(jnp.abs(a - b))) > 1e-4
  # ...and cutting every skip but the innermost as well leaves nothing of the image.
  zero_skips = {**cut_params, **{f"down_{i}": jax.tree.map(jnp.zeros_like, params[f"down_{i}"]) for i in range(5)}}
  a = model.apply({**variables, "params": zero_skips}, x, train=False)
  b = model.apply({**variables, "params": zero_skips}, -x, train=False)
  np.testing.assert_allclose(a, b, atol=1e-6)


def test_unet_dropout_is_noise_in_training_only():
  model = UNet(width=4, dropout=0.5)
  x = jax.random.uniform(jax.random.key(1), (2, 28, 28, 1), minval=-1.0, maxval=1.0)
  variables = model.init(jax.random.key(0), x, train=False)

  def train_output(seed):
    return model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(seed)}, mutable=["batch_stats"])[0]

  assert float(jnp.max(jnp.abs(train_output(0) - train_output(1)))) > 1e-4
  np.testing.assert_array_equal(train_output(0), train_output(0))
  np.testing.assert_array_equal(model.apply(variables, x, train=False), model.apply(variables, x, train=False))


def test_patch_discriminator_on_pairs_of_28x28_images():
  _, discriminator = pix2pix_state.build_models(Config.from_flags(width=4), 1, axis_name=None)
  pair = jnp.zeros((2, 28, 28, 2))
  logits, _ = discriminator.init_with_output(jax.random.key(0), pair, train=False)
  chex.assert_shape(logits, (2, 7, 7, 1))


def test_loss_terms_by_hand():
  np.testing.assert_allclose(pix2pix_losses.l1_loss(jnp.array([[0.5, -1.0]]), jnp.array([[0.0, 1.0]])), 1.25)
  # D: 1/2 [mean softplus(-real) + mean softplus(fake)]; logits 0 everywhere: 1/2 (ln 2 + ln 2)
  zeros = jnp.zeros((2, 7, 7, 1))
  np.testing.assert_allclose(pix2pix_losses.d_loss(zeros, zeros), math.log(2.0), rtol=1e-6)
  real, fake = jnp.array([[math.log(3.0)]]), jnp.array([[-math.log(3.0)]])
  # softplus(-ln 3) = ln(4/3) for both terms
  np.testing.assert_allclose(pix2pix_losses.d_loss(real, fake), math.log(4.0 / 3.0), rtol=1e-6)
  # G: mean softplus(-fake) = ln(1 + 3) = ln 4
  np.testing.assert_allclose(pix2pix_losses.g_adversarial_loss(fake), math.log(4.0), rtol=1e-6)


def tiny_state(config):
  generator, discriminator = pix2pix_state.build_models(config, 1, axis_name=None)
  state = pix2pix_state.create_state(config, generator, discriminator, (28, 28, 1), (28, 28, 1), jax.random.key(0))
  step = jax.jit(pix2pix_step.make_train_step(config, generator, discriminator, axis_name=None))
  keys = jax.random.split(jax.random.key(5), 2)
  batch = {
    "input": jax.random.uniform(keys[0], (4, 28, 28, 1), minval=-1, maxval=1),
    "target": jax.random.uniform(keys[1], (4, 28, 28, 1), minval=-1, maxval=1),
  }
  return state, step, batch


def test_the_step_updates_both_players_and_the_l1_only_baseline_leaves_d_alone():
  config = Config.from_flags(model="pix2pix", width=4, lr=1e-3, adversarial_weight=1.0)
  state, step, batch = tiny_state(config)
  new, metrics = step(state, batch, jax.random.key(0))
  assert int(new.step) == 1
  assert float(optax_diff(new.d_params, state.d_params)) > 0
  assert float(optax_diff(new.g_params, state.g_params)) > 0
  np.testing.assert_allclose(metrics["g_loss"], metrics["g_adversarial"] + 100.0 * metrics["g_l1"], rtol=1e-6)
  assert 0 < float(metrics["d_real"]) < 1

  baseline = config.replace(adversarial_weight=0.0)
  state, step, batch = tiny_state(baseline)
  new, metrics = step(state, batch, jax.random.key(0))
  chex.assert_trees_all_equal(new.d_params, state.d_params)
  chex.assert_trees_all_equal(new.d_opt_state, state.d_opt_state)
  assert "d_loss" not in metrics and float(optax_diff(new.g_params, state.g_params)) > 0


def optax_diff(a, b):
  return optax.tree.norm(jax.tree.map(lambda x, y: x - y, a, b))


@pytest.mark.slow
def test_resumed_pix2pix_run_equals_uninterrupted_run(edges_dir, tmp_path):
  from ganjax.train.loop import train_and_evaluate

  config = Config.from_flags(
    model="pix2pix",
    dataset="mnist_edges",
    width=4,
    batch_size=8,
    steps=6,
    log_every=1,
    sample_every=100,
    checkpoint_every=2,
    eval_every=0,
    data_dir=edges_dir,
    workdir=str(tmp_path / "straight"),
    accelerator="cpu",
  )
  straight = train_and_evaluate(config)
  resumed_dir = str(tmp_path / "resumed")
  assert int(train_and_evaluate(config.replace(steps=3, checkpoint_every=100, workdir=resumed_dir)).step) == 3
  resumed = train_and_evaluate(config.replace(workdir=resumed_dir))
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))


@pytest.mark.slow
@pytest.mark.parametrize("adversarial_weight", ["1", "0"])
def test_pix2pix_experiment_trains_resumes_and_evaluates(adversarial_weight, edges_dir, tmp_path, capsys):
  from PIL import Image

  from experiments import pix2pix as experiment

  workdir = str(tmp_path / adversarial_weight)
  flags = [
    "--width=4",
    "--batch_size=8",
    "--log_every=1",
    "--sample_every=2",
    "--checkpoint_every=2",
    "--eval_samples=300",
    "--accelerator=cpu",
    f"--adversarial_weight={adversarial_weight}",
    f"--data_dir={edges_dir}",
    f"--workdir={workdir}",
  ]
  assert experiment.main(flags + ["--steps=2"]) == 0
  assert experiment.main(flags + ["--steps=3"]) == 0  # resumes at 2
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  assert [r["step"] for r in rows] == [1, 2, 3]
  assert ("d_loss" in rows[0]) == (adversarial_weight == "1")
  grid = np.asarray(Image.open(os.path.join(workdir, "samples", "grid_000002.png")))
  assert grid.shape == (2 + 8 * 30, 2 + 12 * 30)  # 8 rows of 4 (input | output | target) triplets
  with open(os.path.join(workdir, "results.json")) as f:
    results = json.load(f)
  assert results["step"] == 3 and results["test_images"] == 64  # the mock split's size
  assert 0 < results["test_l1"] < 1 and 0 < results["test_ssim"] <= 1 and np.isfinite(results["test_psnr"])
  assert 0 <= results["label_accuracy_mnist"] <= 1
  assert "test_l1:" in capsys.readouterr().out
  assert experiment.main(flags + ["--l1_weight=0", "--adversarial_weight=0", "--steps=4"]) == 2
  assert "nothing to learn" in capsys.readouterr().err
