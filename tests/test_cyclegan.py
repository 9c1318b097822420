"""CycleGAN: module shapes, the history pool, each loss term, the step, the data and the experiment."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments import cyclegan as experiment
from ganjax.config import Config, validate
from ganjax.data import mnist_styles
from ganjax.data.unpaired import UnpairedSource, load_domains
from ganjax.errors import UsageError
from ganjax.families.cyclegan import history_pool
from ganjax.families.cyclegan import losses as cyclegan_losses
from ganjax.families.cyclegan import state as cyclegan_state
from ganjax.families.cyclegan import step as cyclegan_step
from ganjax.models.cyclegan import ResidualBlock, ResnetGenerator, build_cyclegan
from ganjax.train.loop import train_and_evaluate
from ganjax.train.schedules import make_schedule

# The step test and the end-to-end test share these sizes, so the persistent compilation cache
# compiles their pmapped step once. The constant schedule lets a 3-step run resume into a 6-step one.
TINY = dict(width=4, cyclegan_blocks=1, batch_size=4, history_pool=3, lr_schedule="constant", accelerator="cpu")
SHAPE = (28, 28, 1)


# Modules


@pytest.mark.slow
@pytest.mark.parametrize("shape", [(2, 28, 28, 1), (1, 16, 16, 3)])
def test_generator_keeps_the_image_shape_and_range(shape):
  generator = ResnetGenerator(width=4, blocks=2)
  x = jax.random.uniform(jax.random.key(0), shape, minval=-1, maxval=1)
  variables = generator.init(jax.random.key(1), x)
  y = generator.apply(variables, x)
  chex.assert_shape(y, shape)
  assert y.dtype == jnp.float32 and float(jnp.max(jnp.abs(y))) < 1.0
  # two stride-2 convolutions down and two up: kernels of c7s1-4, d8, d16, R16 x 2, u8, u4, c7s1-C
  kernels = {k: v["kernel"].shape for k, v in variables["params"].items() if "kernel" in v}
  assert kernels["Conv_0"] == (7, 7, shape[-1], 4) and kernels["Conv_2"] == (3, 3, 8, 16)
  assert kernels["SubPixelConvTranspose_1"] == (3, 3, 8, 4) and kernels["Conv_3"] == (7, 7, 4, shape[-1])
  assert sum(k.startswith("ResidualBlock") for k in variables["params"]) == 2


def test_residual_block_is_shape_preserving_and_residual():
  x = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
  block = ResidualBlock()
  variables = block.init(jax.random.key(1), x)
  zeroed = jax.tree.map(jnp.zeros_like, variables)  # IN scale 0: the block is the identity
  chex.assert_shape(block.apply(variables, x), x.shape)
  np.testing.assert_allclose(block.apply(zeroed, x), x)


def test_generator_refuses_sides_not_divisible_by_4():
  with pytest.raises(ValueError, match="divisible by 4"):
    ResnetGenerator(width=4, blocks=1).init(jax.random.key(0), jnp.zeros((1, 30, 30, 1)))


@pytest.mark.slow
@pytest.mark.parametrize("side, patches", [(28, 7), (64, 8)])
def test_patch_discriminators_score_patches(side, patches):
  _, discriminator = build_cyclegan(4, 1, (side, side, 3))
  variables = discriminator.init(jax.random.key(0), jnp.zeros((1, side, side, 3)), train=False)
  chex.assert_shape(discriminator.apply(variables, jnp.zeros((2, side, side, 3)), train=True), (2, patches, patches, 1))


# History pool


def distinct_fakes(n, start=0):
  """[n, 1, 1, 1] images whose value is their number, so a test can tell them apart."""
  return jnp.arange(start, start + n, dtype=jnp.float32).reshape(n, 1, 1, 1)


def test_pool_returns_and_stores_fakes_until_full():
  pool = history_pool.empty(5, (1, 1, 1))
  pool, shown = history_pool.query(pool, distinct_fakes(3), jax.random.key(0), None)
  np.testing.assert_array_equal(shown, distinct_fakes(3))
  assert int(pool.count) == 3
  pool, shown = history_pool.query(pool, distinct_fakes(2, 3), jax.random.key(1), None)
  np.testing.assert_array_equal(shown, distinct_fakes(2, 3))
  np.testing.assert_array_equal(pool.images, distinct_fakes(5))
  assert int(pool.count) == 5


def test_full_pool_swaps_half_the_time_and_keeps_what_it_returns_or_stores():
  pool, _ = history_pool.query(history_pool.empty(4, (1, 1, 1)), distinct_fakes(4), jax.random.key(0), None)
  new = distinct_fakes(400, 100)
  after, shown = history_pool.query(pool, new, jax.random.key(1), None)
  swapped = np.asarray(shown != new).reshape(-1)
  assert 0.4 < swapped.mean() < 0.6  # p = 1/2 per fake
  # A shown old image came from the pool or from an earlier fake of this batch, never a later one.
  for i in np.flatnonzero(swapped):
    assert float(shown[i, 0, 0, 0]) < 4 or 100 <= float(shown[i, 0, 0, 0]) < 100 + i
  # The pool now holds the most recently stored fakes: all from this batch, none repeated.
  held = np.asarray(after.images).reshape(-1)
  assert int(after.count) == 4 and len(set(held)) == 4 and (held >= 100).all()
  assert float(shown.reshape(-1)[~swapped].sum()) == float(new.reshape(-1)[~swapped].sum())


def test_pool_is_independent_of_the_device_count():
  pool, _ = history_pool.query(history_pool.empty(3, (1, 1, 1)), distinct_fakes(3), jax.random.key(0), None)
  new = distinct_fakes(8, 10)
  one_pool, one_shown = history_pool.query(pool, new, jax.random.key(1), None)
  replicated = jax.tree.map(lambda x: jnp.broadcast_to(x, (4, *x.shape)), pool)
  four_pool, four_shown = jax.pmap(lambda p, f: history_pool.query(p, f, jax.random.key(1), "data"), axis_name="data")(
    replicated, new.reshape(4, 2, 1, 1, 1)
  )
  np.testing.assert_array_equal(four_shown.reshape(new.shape), one_shown)
  for device in range(4):
    np.testing.assert_array_equal(four_pool.images[device], one_pool.images)


# Losses


def test_each_loss_term_against_hand_computed_values():
  assert float(cyclegan_losses.generator_adversarial_loss(jnp.array([0.5, 1.0]))) == pytest.approx(0.125)
  # 1/2 (mean((1 - 1)^2, (0 - 1)^2) + mean(0.5^2, 0^2)) = 1/2 (0.5 + 0.125)
  assert float(cyclegan_losses.discriminator_loss(jnp.array([1.0, 0.0]), jnp.array([0.5, 0.0]))) == pytest.approx(
    0.3125
  )
  zeros = jnp.zeros((1, 2, 2, 1))
  total, terms, (fake_a, fake_b) = cyclegan_losses.generator_losses(
    lambda x: x + 0.5,
    lambda x: x - 0.25,
    lambda x: x,
    lambda x: x,
    zeros,
    zeros,
    cycle_weight=10.0,
    identity_weight=5.0,
  )
  expected = {
    "g_adv_b": 0.25,
    "g_adv_a": 1.5625,
    "cycle_a": 0.25,
    "cycle_b": 0.25,
    "identity_a": 0.25,
    "identity_b": 0.5,
  }
  assert {k: pytest.approx(v) for k, v in expected.items()} == {k: float(v) for k, v in terms.items()}
  assert float(total) == pytest.approx(0.25 + 1.5625 + 10 * 0.5 + 5 * 0.75)
  np.testing.assert_allclose(fake_b, zeros + 0.5)
  np.testing.assert_allclose(fake_a, zeros - 0.25)
  _, no_identity, _ = cyclegan_losses.generator_losses(
    lambda x: x + 0.5, lambda x: x - 0.25, lambda x: x, lambda x: x, zeros, zeros, 10.0, 0.0
  )
  assert "identity_a" not in no_identity


def test_cycle_and_identity_losses_are_zero_for_identity_generators():
  real_a, real_b = (jax.random.uniform(jax.random.key(i), (3, 8, 8, 1), minval=-1, maxval=1) for i in (0, 1))
  identity, score = (lambda x: x), (lambda x: jnp.mean(x, axis=(1, 2, 3)))
  _, terms, _ = cyclegan_losses.generator_losses(identity, identity, score, score, real_a, real_b, 10.0, 5.0)
  for name in ("cycle_a", "cycle_b", "identity_a", "identity_b"):
    assert float(terms[name]) == 0.0
  assert float(terms["g_adv_b"]) > 0.0


def test_linear_decay_holds_for_the_first_half_then_falls_to_zero():
  schedule = make_schedule(Config.from_flags(lr_schedule="linear_decay", steps=100), 2e-4)
  assert [float(schedule(s)) for s in (0, 50, 75, 100)] == pytest.approx([2e-4, 2e-4, 1e-4, 0.0])


# The step


@pytest.mark.slow
def test_step_on_four_devices_equals_the_step_on_one():
  """Per-example pool keys and pmean-ed gradients: the global batch, not its split, decides."""
  config = experiment.DEFAULTS.replace(**TINY)
  generator, discriminator = build_cyclegan(4, 1, SHAPE)
  state = cyclegan_state.create_state(config, generator, discriminator, SHAPE, jax.random.key(0))
  batch = {k: jax.random.uniform(jax.random.key(i), (4, *SHAPE), minval=-1, maxval=1) for i, k in enumerate("ab")}
  seed_key = jax.random.key(3)
  one, one_metrics = jax.jit(cyclegan_step.make_train_step(config, generator, discriminator, axis_name=None))(
    state, batch, seed_key
  )
  replicated = jax.tree.map(lambda x: jnp.broadcast_to(x, (4, *x.shape)), state)
  per_device = jax.tree.map(lambda x: x.reshape(4, 1, *SHAPE), batch)
  four, four_metrics = jax.pmap(
    cyclegan_step.make_train_step(config, generator, discriminator), axis_name="data", in_axes=(0, 0, None)
  )(replicated, per_device, seed_key)
  first = jax.tree.map(lambda x: x[0], four)
  assert int(one.step) == int(first.step) == 1 and int(one.pool_a.count) == 3
  for name in ("g_params", "d_params", "pool_a", "pool_b"):  # the optimizer moments differ by rounding only
    chex.assert_trees_all_close(getattr(first, name), getattr(one, name), rtol=1e-4, atol=1e-5)
  assert float(four_metrics["g_loss"][0]) == pytest.approx(float(one_metrics["g_loss"]), rel=1e-5)
  moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), one.g_params, state.g_params)
  assert max(jax.tree.leaves(moved)) > 0  # the generators trained


def test_without_a_pool_the_state_has_none_and_the_step_traces():
  config = experiment.DEFAULTS.replace(**{**TINY, "history_pool": 0, "identity_ratio": 0.0})
  generator, discriminator = build_cyclegan(4, 1, SHAPE)
  state = cyclegan_state.create_state(config, generator, discriminator, SHAPE, jax.random.key(0))
  assert state.pool_a is None and "pool_a" not in state.checkpoint_items()
  batch = {k: jax.ShapeDtypeStruct((2, *SHAPE), jnp.float32) for k in "ab"}
  new_state, metrics = jax.eval_shape(
    cyclegan_step.make_train_step(config, generator, discriminator, axis_name=None), state, batch, jax.random.key(0)
  )
  assert new_state.pool_b is None and "identity_a" not in metrics and metrics["cycle_b"].shape == ()


# Data


def test_dilation_thickens_strokes():
  image = np.zeros((5, 5, 1), np.uint8)
  image[2, 2, 0] = 200
  thick = mnist_styles.dilate(image)
  assert (thick[1:4, 1:4, 0] == 200).all() and thick.sum() == 9 * 200


def test_domains_are_disjoint_halves():
  a, b = mnist_styles.domain_halves(11)
  assert len(a) == len(b) == 5 and not set(a) & set(b)


def test_builder_keeps_domain_a_and_dilates_domain_b_with_labels(tmp_path):
  rng = np.random.default_rng(0)
  records = [{"image": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8), "label": i % 10} for i in range(9)]
  builder = mnist_styles.MnistStyles(data_dir=str(tmp_path))
  indices = np.array([0, 7])
  for thick in (False, True):
    examples = list(builder._generate_examples(records, indices, thick))
    assert [key for key, _ in examples] == [0, 7] and [e["label"] for _, e in examples] == [0, 7]
    for (_, example), i in zip(examples, indices):
      original = records[i]["image"]
      np.testing.assert_array_equal(example["image"], mnist_styles.dilate(original) if thick else original)


def test_horse2zebra_loads_by_name_as_two_domains():
  with tfds.testing.mock_data(num_examples=6):
    domain_a, domain_b = load_domains("cycle_gan/horse2zebra", "train", image_size=16)
    source = UnpairedSource(domain_a, domain_b, seed=0)
    batch = source.read(np.arange(4))
  assert len(source) == 6 and sorted(batch) == ["a", "b"]
  chex.assert_shape([batch["a"], batch["b"]], (4, 16, 16, 3))
  assert batch["a"].dtype == np.uint8


def test_paired_datasets_and_gan_options_are_refused(tmp_path):
  with pytest.raises(UsageError, match="two unpaired domains"):
    load_domains("mnist")
  with pytest.raises(UsageError, match="--loss=lsgan"):
    validate(experiment.DEFAULTS.replace(loss="non_saturating"))
  with pytest.raises(UsageError, match="--d_steps"):
    validate(experiment.DEFAULTS.replace(d_steps=2))
  assert experiment.main(["--history_pool=-1", f"--workdir={tmp_path}"]) == 2


# The experiment, end to end


@pytest.mark.slow
def test_experiment_trains_resumes_exactly_and_evaluates(tmp_path):
  """On mock mnist_styles: a 3 + 3-step run (resumed by the command) ends bitwise where a 6-step one does."""
  # --eval_samples below the 16 mock test digits per domain: the evaluation scores that many.
  flags = {**TINY, "log_every": 2, "sample_every": 3, "checkpoint_every": 100, "eval_samples": 5}
  flags["data_dir"] = str(tmp_path / "tfds")
  argv = [f"--{k}={v}" for k, v in flags.items()]
  config = experiment.DEFAULTS.replace(**flags)
  with tfds.testing.mock_data(num_examples=16):
    straight = train_and_evaluate(config.replace(steps=6, workdir=str(tmp_path / "straight")))
    resumed_dir = str(tmp_path / "resumed")
    first = train_and_evaluate(config.replace(steps=3, workdir=resumed_dir))
    assert int(first.step) == 3
    # The command itself on the interrupted run: resumes to 6, then evaluates.
    assert experiment.main([*argv, "--steps=6", f"--workdir={resumed_dir}"]) == 0
    resumed = train_and_evaluate(config.replace(steps=6, workdir=resumed_dir))  # finished: returns at once
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))
  with open(os.path.join(resumed_dir, "results.json")) as f:
    results = json.load(f)
  assert results["step"] == 6 and 0 <= results["cycle_l1_a"] <= 2
  assert results["test_images_a"] == results["test_images_b"] == 5
  assert 0 <= results["class_agreement_a_to_b"] <= 1 and "ink_fake_b" in results
  assert os.path.exists(os.path.join(resumed_dir, "samples", "grid_000006.png"))
  rows = [json.loads(line) for line in open(os.path.join(resumed_dir, "metrics.jsonl"))]
  assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and all(r["g_lr"] > 0 for r in rows)
