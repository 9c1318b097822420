"""SRGAN: module shapes, pixel shuffle, each loss term, the two phases' steps, data, evaluation, end to end."""

import json
import os

import chex
import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import srgan as srgan_experiment
from ganjax import losses
from ganjax.config import Config, validate
from ganjax.data import sr_pairs, sr_photos
from ganjax.errors import UsageError
from ganjax.families.srgan import evaluate as srgan_eval
from ganjax.families.srgan import losses as srgan_losses
from ganjax.families.srgan import state as srgan_state
from ganjax.families.srgan import step as srgan_step
from ganjax.models import vgg19
from ganjax.models.srgan import SRDiscriminator, SRResNet, pixel_shuffle
from ganjax.train.loop import train_and_evaluate


@pytest.fixture
def sr_config(mnist_dir, tmp_path) -> Config:
  """A tiny SRGAN on MNIST x4: 2 pre-training steps, then adversarial ones."""
  return Config.from_flags(
    model="srgan",
    dataset="mnist",
    width=4,
    residual_blocks=1,
    upscale=4,
    hr_crop_size=28,
    batch_size=8,
    steps=4,
    pretrain_steps=2,
    lr=1e-3,
    b1=0.9,
    eval_every=0,
    log_every=2,
    sample_every=2,
    checkpoint_every=2,
    data_dir=mnist_dir,
    workdir=str(tmp_path / "run"),
    accelerator="cpu",
  )


# Modules


@pytest.mark.slow
@pytest.mark.parametrize("upscale", [2, 4])
def test_srresnet_upscales_by_its_factor(upscale):
  g = SRResNet(width=8, residual_blocks=2, upscale=upscale, channels=3)
  variables = g.init(jax.random.key(0), jnp.zeros((1, 6, 5, 3)), train=False)
  out, _ = g.apply(variables, jnp.ones((2, 6, 5, 3)), train=True, mutable=["batch_stats"])
  chex.assert_shape(out, (2, 6 * upscale, 5 * upscale, 3))
  blocks = [k for k in variables["params"] if k.startswith("Conv")]
  assert len(blocks) == 1 + 2 * 2 + 1 + int(np.log2(upscale)) + 1  # in, blocks, after blocks, upsampling, out


def test_srresnet_refuses_a_factor_that_is_not_a_power_of_two():
  with pytest.raises(ValueError, match="power of two"):
    SRResNet(width=4, residual_blocks=1, upscale=3).init(jax.random.key(0), jnp.zeros((1, 4, 4, 3)), train=False)


@pytest.mark.slow
@pytest.mark.parametrize("size", [28, 48])
def test_discriminator_gives_one_logit_per_image(size):
  d = SRDiscriminator(width=4)
  variables = d.init(jax.random.key(0), jnp.zeros((1, size, size, 1)), train=False)
  logits, _ = d.apply(variables, jnp.ones((3, size, size, 1)), train=True, mutable=["batch_stats"])
  chex.assert_shape(logits, (3,))
  dense_in = variables["params"]["Dense_0"]["kernel"].shape[0]
  assert dense_in == int(np.ceil(size / 16)) ** 2 * 8 * 4  # four stride-2 blocks, 8w channels
  assert variables["params"]["Dense_0"]["kernel"].shape[1] == 16 * 4


def test_pixel_shuffle_matches_a_numpy_reference():
  r, c = 2, 3
  x = np.random.default_rng(0).normal(size=(2, 4, 5, c * r * r)).astype(np.float32)
  expected = np.zeros((2, 4 * r, 5 * r, c), np.float32)
  for h in range(4):
    for w in range(5):
      for i in range(r):
        for j in range(r):
          expected[:, h * r + i, w * r + j, :] = x[:, h, w, (i * r + j) * c : (i * r + j + 1) * c]
  np.testing.assert_array_equal(np.asarray(pixel_shuffle(jnp.asarray(x), r)), expected)


def test_pixel_shuffle_is_tensorflows_depth_to_space():
  tf = pytest.importorskip("tensorflow")
  x = np.random.default_rng(1).normal(size=(1, 3, 3, 16)).astype(np.float32)
  np.testing.assert_array_equal(np.asarray(pixel_shuffle(jnp.asarray(x), 4)), tf.nn.depth_to_space(x, 4).numpy())


# Loss terms


def test_content_loss_is_the_pixel_mse():
  sr = jnp.array([[[[1.0], [0.0]], [[-1.0], [0.5]]]])
  hr = jnp.array([[[[0.0], [0.0]], [[1.0], [0.5]]]])
  assert float(srgan_losses.content_loss(sr, hr)) == pytest.approx((1.0 + 0.0 + 4.0 + 0.0) / 4)


def test_perceptual_loss_is_the_feature_mse_and_holds_the_target_fixed():
  features = lambda x: jnp.stack([jnp.sum(x, axis=(1, 2, 3)), 2.0 * x[:, 0, 0, 0]], axis=-1)  # noqa: E731
  sr = jnp.array([[[[1.0], [2.0]]]])  # features (3, 2)
  hr = jnp.array([[[[0.0], [1.0]]]])  # features (1, 0)
  assert float(srgan_losses.perceptual_loss(features, sr, hr)) == pytest.approx((4.0 + 4.0) / 2)
  grad_hr = jax.grad(lambda h: srgan_losses.perceptual_loss(features, sr, h))(hr)
  assert float(jnp.abs(grad_hr).sum()) == 0.0


def test_batch_psnr_uses_a_peak_to_peak_of_two():
  sr, hr = jnp.full((1, 2, 2, 1), 0.1), jnp.zeros((1, 2, 2, 1))
  assert float(srgan_losses.batch_psnr(sr, hr)) == pytest.approx(10 * np.log10(4 / 0.01), rel=1e-5)


@pytest.mark.slow
def test_adversarial_step_combines_the_weighted_terms(sr_config):
  config = sr_config.replace(
    content_weight=0.5, perceptual_weight=0.25, adversarial_weight=0.1, feature_network="mnist_classifier"
  )
  g, d = srgan_state.build_models(config, 1, axis_name=None)
  network = srgan_losses.make_feature_network(config)
  state = srgan_state.create_state(config, g, d, (28, 28, 1), network.params)
  hr = jax.random.uniform(jax.random.key(1), (4, 28, 28, 1), minval=-1, maxval=1)
  lr = jax.random.uniform(jax.random.key(2), (4, 7, 7, 1), minval=-1, maxval=1)
  step = jax.jit(srgan_step.make_train_step(config, g, d, network, srgan_step.ADVERSARIAL, axis_name=None))
  new_state, m = step(state, {"lr": lr, "hr": hr}, jax.random.key(0))

  # The same terms by hand, from the state before the step.
  sr, _ = g.apply(
    {"params": state.g_params, "batch_stats": state.g_batch_stats}, lr, train=True, mutable=["batch_stats"]
  )
  variables = {"params": state.d_params, "batch_stats": state.d_batch_stats}
  real_logits, updates = d.apply(variables, hr, train=True, mutable=["batch_stats"])
  fake_logits, _ = d.apply({**variables, **updates}, sr, train=True, mutable=["batch_stats"])
  features = lambda x: network.apply(network.params, x)  # noqa: E731
  content = np.mean((np.asarray(sr) - np.asarray(hr)) ** 2)
  perceptual = np.mean((np.asarray(features(sr)) - np.asarray(features(hr))) ** 2)
  adversarial = np.mean(np.log1p(np.exp(-np.asarray(fake_logits))))  # -log sigmoid(D(G(x)))
  np.testing.assert_allclose(float(m["content_loss"]), content, rtol=1e-4)
  np.testing.assert_allclose(float(m["perceptual_loss"]), perceptual, rtol=1e-4)
  np.testing.assert_allclose(float(m["adversarial_loss"]), adversarial, rtol=1e-4)
  np.testing.assert_allclose(float(m["g_loss"]), 0.5 * content + 0.25 * perceptual + 0.1 * adversarial, rtol=1e-4)
  np.testing.assert_allclose(
    float(m["d_loss"]), float(losses.non_saturating_d_loss(real_logits, fake_logits)), rtol=1e-4
  )
  assert int(new_state.step) == 1
  assert not np.allclose(new_state.d_params["Dense_1"]["kernel"], state.d_params["Dense_1"]["kernel"])


def test_pretraining_moves_only_the_generator_on_the_mse(sr_config):
  g, d = srgan_state.build_models(sr_config, 1, axis_name=None)
  state = srgan_state.create_state(sr_config, g, d, (28, 28, 1), None)
  batch = {"lr": jax.random.uniform(jax.random.key(1), (4, 7, 7, 1)), "hr": jnp.full((4, 28, 28, 1), 0.5)}
  step = jax.jit(srgan_step.make_train_step(sr_config, g, d, None, srgan_step.PRETRAIN, axis_name=None))
  new_state, metrics = step(state, batch, jax.random.key(0))
  chex.assert_trees_all_equal((new_state.d_params, new_state.d_opt_state), (state.d_params, state.d_opt_state))
  assert not np.allclose(new_state.g_params["Conv_0"]["kernel"], state.g_params["Conv_0"]["kernel"])
  assert float(metrics["d_loss"]) == 0.0 and float(metrics["content_loss"]) == float(metrics["g_loss"]) > 0


def test_phase_follows_pretrain_steps():
  assert [srgan_step.phase_at(s, 2) for s in range(4)] == ["pretrain", "pretrain", "adversarial", "adversarial"]
  assert srgan_step.phase_at(0, 0) == "adversarial"


# Data


def test_mnist_pairs_are_bicubic_x4_downscales(sr_config):
  source = sr_pairs.load_pairs(sr_config)
  batch = source.read(np.array([0, 5]))
  chex.assert_shape(batch["lr"], (2, 7, 7, 1))
  chex.assert_shape(batch["hr"], (2, 28, 28, 1))
  assert batch["lr"].dtype == batch["hr"].dtype == np.uint8
  np.testing.assert_array_equal(batch["lr"][1], sr_photos.bicubic_resize(batch["hr"][1], 7, 7))


def test_crops_sit_over_their_lr_and_depend_only_on_seed_and_index():
  hr = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
  lr = np.random.default_rng(1).integers(0, 256, (10, 10, 3), dtype=np.uint8)
  source = sr_pairs.PairSource([{"hr": hr, "lr": lr}], hr_crop=16, factor=4, seed=3, crops_per_record=50)
  batch = source.read(np.arange(50))
  positions = set()
  for crop_lr, crop_hr in zip(batch["lr"], batch["hr"]):
    ((top, left),) = {(t, l) for t in range(7) for l in range(7) if np.array_equal(lr[t : t + 4, l : l + 4], crop_lr)}
    np.testing.assert_array_equal(crop_hr, hr[4 * top : 4 * top + 16, 4 * left : 4 * left + 16])
    positions.add((top, left))
  assert len(positions) > 10
  np.testing.assert_array_equal(source.read(np.array([7]))["hr"][0], batch["hr"][7])


@pytest.fixture(scope="module")
def photos_dir(tmp_path_factory):
  """sr_photos built with a few training crops (the real build makes 4,000)."""
  path = str(tmp_path_factory.mktemp("photos"))
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(sr_photos, "TRAIN_CROPS", 24)
    sr_photos.prepare_sr_photos(path)
  return path


def test_sr_photos_builds_offline_with_whole_held_out_photographs(photos_dir):
  builder = sr_photos.prepare_sr_photos(photos_dir)
  train = builder.as_data_source(split="train")
  assert len(train) == 24
  example = train[3]
  assert example["hr"].shape == (96, 96, 3) and example["lr"].shape == (24, 24, 3)
  np.testing.assert_array_equal(example["lr"], sr_photos.downscale(example["hr"]))
  test = builder.as_data_source(split="test")
  shapes = {test[i]["name"].decode(): test[i]["hr"].shape for i in range(len(test))}
  assert shapes == {"chelsea": (300, 448, 3), "coffee": (400, 600, 3), "camera": (512, 512, 3)}


def test_div2k_loads_by_name_with_mock_data(tmp_path):
  config = Config.from_flags(model="srgan", dataset="div2k", hr_crop_size=16, upscale=4, data_dir=str(tmp_path))
  with tfds.testing.mock_data(num_examples=3):
    source = sr_pairs.load_pairs(config)
    batch = source.read(np.array([0, 150, 299]))
    held_out = sr_pairs.held_out_pairs(config)
  assert len(source) == 3 * sr_pairs.DIV2K_CROPS_PER_IMAGE
  chex.assert_shape(batch["hr"], (3, 16, 16, 3))
  chex.assert_shape(batch["lr"], (3, 4, 4, 3))
  for lr, hr in held_out:
    assert hr.shape[1] == 4 * lr.shape[1] and hr.shape[2] == 4 * lr.shape[2]


# Config


@pytest.mark.parametrize(
  "changes, message",
  [
    ({"feature_network": "vgg19", "perceptual_weight": 0.006}, "needs ImageNet weights"),
    ({"feature_network": "mnist_classifier", "perceptual_weight": 1.0}, "whole 28x28 digits"),
    ({"perceptual_weight": 1.0}, "needs a --feature_network"),
    ({"upscale": 3}, "power of two"),
    ({"hr_crop_size": 50}, "multiple of --upscale"),
    ({"dataset": "cifar10"}, "trains on"),
    ({"loss": "wgan"}, "takes --loss"),
    ({"clip_weights": 0.01}, "--clip_weights is not an option of --model=srgan"),
  ],
)
def test_bad_srgan_flags_are_one_sentence_errors(changes, message):
  with pytest.raises(UsageError, match=message):
    validate(srgan_experiment.DEFAULTS.replace(**changes))


@pytest.mark.slow
def test_vgg19_perceptual_loss_runs_on_a_keras_layout_file(tmp_path):
  """A legacy-layout file written with h5py alone: the loader and the VGG54 features in the loss."""
  params = vgg19.VGG19().init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))["params"]
  path = str(tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
  with h5py.File(path, "w") as f:
    f.attrs["layer_names"] = np.array([n.encode() for n in vgg19.CONV_NAMES])
    for name in vgg19.CONV_NAMES:
      group = f.create_group(name)
      group.attrs["weight_names"] = np.array([f"{name}_W_1:0".encode(), f"{name}_b_1:0".encode()])
      group[f"{name}_W_1:0"] = np.asarray(params[name]["kernel"])
      group[f"{name}_b_1:0"] = np.asarray(params[name]["bias"])
  config = srgan_experiment.DEFAULTS.replace(feature_network="vgg19", perceptual_weight=0.006, vgg19_weights=path)
  network = srgan_losses.make_feature_network(validate(config))
  chex.assert_trees_all_close(network.params, params)
  sr = jax.random.uniform(jax.random.key(1), (1, 16, 16, 3), minval=-1, maxval=1)
  loss, grad = jax.value_and_grad(
    lambda x: srgan_losses.perceptual_loss(lambda y: network.apply(network.params, y), x, jnp.zeros_like(x))
  )(sr)
  assert float(loss) > 0 and float(jnp.abs(grad).sum()) > 0


# Evaluation


def test_luma_is_bt601_and_mosaics_tile_in_order():
  white_black = np.array([[[[255, 255, 255], [0, 0, 0]]]], np.uint8)
  np.testing.assert_allclose(srgan_eval.luma(white_black)[0, 0, :, 0], [235.0, 16.0], atol=1e-3)
  digits = np.arange(5 * 2 * 2).reshape(5, 2, 2, 1)
  tiled = srgan_eval.mosaics(digits, 2)
  assert tiled.shape == (1, 4, 4, 1)
  np.testing.assert_array_equal(tiled[0, 2:, :2, 0], digits[2, :, :, 0])


@pytest.mark.slow
def test_scores_rank_the_exact_image_above_bicubic(sr_config):
  lr, hr = sr_pairs.held_out_pairs(sr_config)[0]
  exact = srgan_eval.image_scores(hr[:32], hr[:32], sr_config)
  bicubic = srgan_eval.image_scores(srgan_eval.bicubic_upscale(lr[:32], 4), hr[:32], sr_config)
  assert np.isinf(exact["psnr"]).all() and np.allclose(exact["ssim"], 1.0) and np.allclose(exact["vif"], 1.0)
  assert 10 < bicubic["psnr"].mean() < 20 and bicubic["ssim"].mean() < 0.9 and len(bicubic["vif"]) == 2


# End to end


@pytest.mark.slow
def test_resumed_run_across_the_phase_switch_equals_the_straight_run(sr_config, tmp_path):
  straight = train_and_evaluate(sr_config.replace(steps=6, workdir=str(tmp_path / "straight")))
  resumed_dir = str(tmp_path / "resumed")
  first = train_and_evaluate(sr_config.replace(steps=3, checkpoint_every=100, workdir=resumed_dir))
  assert int(first.step) == 3
  resumed = train_and_evaluate(sr_config.replace(steps=6, workdir=resumed_dir))
  assert int(resumed.step) == 6
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))
  rows = [json.loads(line) for line in open(os.path.join(resumed_dir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
  assert [r["d_loss"] == 0 for r in rows] == [True, True, False, False, False, False]


@pytest.mark.slow
def test_experiment_trains_writes_grids_and_scores_then_only_rescores(sr_config, capsys, monkeypatch):
  monkeypatch.setattr(sr_pairs, "HELD_OUT_LIMIT", 64)  # the real runs score all 10,000 test digits
  flags = [
    f"--{k}={v}"
    for k, v in sr_config.flat().items()
    if k
    in (
      "dataset",
      "width",
      "residual_blocks",
      "hr_crop_size",
      "batch_size",
      "steps",
      "pretrain_steps",
      "data_dir",
      "workdir",
      "sample_every",
      "checkpoint_every",
      "log_every",
      "accelerator",
    )
  ]
  assert srgan_experiment.main(flags) == 0
  results = json.load(open(os.path.join(sr_config.workdir, "results.json")))
  assert results["model"] == "srgan" and results["images"] == 64 and results["step"] == 4
  assert set(results["bicubic"]) == set(results["srgan"]) == {"psnr", "ssim", "vif"}
  grid = os.path.join(sr_config.workdir, "samples", "grid_000004.png")
  from PIL import Image

  assert Image.open(grid).size == (12 * 30 + 2, 4 * 30 + 2)  # 4 rows of 4 (input | output | target) triples
  out = capsys.readouterr().out
  for method in ("bicubic", "srgan"):  # one line per method with its psnr, ssim and vif
    line = next(line for line in out.splitlines() if line.startswith(f"{method}: psnr "))
    assert ", ssim " in line and ", vif " in line
  mtime = os.path.getmtime(os.path.join(sr_config.workdir, "checkpoints", "4"))
  assert srgan_experiment.main(flags) == 0  # finished: no training, the same scores again
  assert os.path.getmtime(os.path.join(sr_config.workdir, "checkpoints", "4")) == mtime
  assert json.load(open(os.path.join(sr_config.workdir, "results.json"))) == results
  assert "srgan" in capsys.readouterr().out


def test_vgg19_without_weights_exits_with_status_2(capsys):
  assert srgan_experiment.main(["--feature_network=vgg19", "--perceptual_weight=0.006"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "--vgg19_weights=PATH" in err
