"""The step with the GAN family's tricks: what each changes, and pmap still equals one device."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax.config import Config, validate
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import lazy_r1_due, make_train_step
from ganjax.models import build_gan
from ganjax.train.loop import replicate, unreplicate

BASE = Config.from_flags(width=8, latent_dim=16, steps=100)
LOCAL = 8


def setup(config, axis_name=None):
  generator, discriminator = build_gan(config, image_shape=(28, 28, 1), axis_name=axis_name)
  state = create_state(config, generator, discriminator, (28, 28, 1), jax.random.key(0))
  return state, make_train_step(config, generator, discriminator, axis_name=axis_name)


def images(n, seed=1):
  return jax.random.uniform(jax.random.key(seed), (n, 28, 28, 1), minval=-1.0, maxval=1.0)


def adam_count(opt_state):
  return int(opt_state[0].count)  # the chain's first part: scale_by_adam


@pytest.mark.slow
def test_d_steps_makes_that_many_d_updates_and_one_g_update():
  config = validate(BASE.replace(loss="wgan_gp", gradient_penalty=10.0, d_steps=5, dropout=0.0))
  state, step = setup(config)
  new_state, metrics = jax.jit(step)(state, {"image": images(5 * LOCAL)}, jax.random.key(3))
  assert adam_count(new_state.d_opt_state) == 5
  assert adam_count(new_state.g_opt_state) == 1
  assert int(new_state.step) == 1
  assert float(metrics["gradient_penalty"]) > 0
  chex.assert_tree_all_finite(metrics)


@pytest.mark.slow
def test_ema_generator_follows_the_closed_form_over_steps():
  config = BASE.replace(ema_decay=0.9)
  state, step = setup(config)
  step = jax.jit(step)
  history = [state.g_params]
  for i in range(3):
    state, _ = step(state, {"image": images(LOCAL, seed=i)}, jax.random.key(3))
    history.append(state.g_params)
  k = 3
  closed = jax.tree.map(
    lambda *ps: 0.9**k * ps[0] + 0.1 * sum(0.9 ** (k - i) * ps[i] for i in range(1, k + 1)), *history
  )
  chex.assert_trees_all_close(state.g_ema_params, closed, rtol=1e-5, atol=1e-7)
  assert state.sampling_params() is state.g_ema_params


def test_ema_warmup_ramps_the_decay_from_a_tenth():
  config = validate(BASE.replace(ema_decay=0.999, ema_warmup=True))
  state, step = setup(config)
  step = jax.jit(step)
  ema = state.g_params
  for t in range(3):
    state, _ = step(state, {"image": images(LOCAL, seed=t)}, jax.random.key(3))
    decay = min(0.999, (1 + t) / (10 + t))  # 0.1, 2/11, 3/12
    ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, ema, state.g_params)
  chex.assert_trees_all_close(state.g_ema_params, ema, rtol=1e-5, atol=1e-7)
  # The default DCGAN warms its EMA up, so `--ema_decay=0` alone turns the EMA off: the
  # warm-up of no EMA is nothing, not an error.
  state, _ = setup(validate(BASE.replace(ema_warmup=True)))
  assert state.g_ema_params is None


@pytest.mark.slow
def test_weight_clipping_bounds_the_critic_after_its_update():
  config = validate(BASE.replace(loss="wgan", clip_weights=0.01, g_optimizer="rmsprop", d_optimizer="rmsprop"))
  state, step = setup(config)
  new_state, _ = jax.jit(step)(state, {"image": images(LOCAL)}, jax.random.key(3))
  assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(new_state.d_params)) <= 0.01


@pytest.mark.slow
def test_label_smoothing_changes_only_ds_loss():
  state, plain = setup(BASE)
  _, smooth = setup(BASE.replace(real_label=0.9))
  batch, key = {"image": images(LOCAL)}, jax.random.key(3)
  _, m_plain = jax.jit(plain)(state, batch, key)
  _, m_smooth = jax.jit(smooth)(state, batch, key)
  assert float(m_plain["g_loss"]) == pytest.approx(float(m_smooth["g_loss"]))
  assert float(m_plain["d_loss"]) != pytest.approx(float(m_smooth["d_loss"]))


@pytest.mark.slow
def test_learning_rates_and_instance_noise_are_logged_every_step():
  config = BASE.replace(lr_schedule="exponential", decay_steps=10, instance_noise=0.1, instance_noise_steps=10)
  state, step = setup(config)
  state = state.replace(step=jnp.asarray(5, jnp.int32))
  _, metrics = jax.jit(step)(state, {"image": images(LOCAL)}, jax.random.key(3))
  np.testing.assert_allclose(metrics["g_lr"], 2e-4 * 0.5**0.5, rtol=1e-5)
  np.testing.assert_allclose(metrics["instance_noise"], 0.05, rtol=1e-5)


@pytest.mark.parametrize("d_steps", [1, 2], ids=["simultaneous", "alternating"])
def test_top_k_changes_only_gs_loss_to_the_mean_over_ds_best_scored_fakes(d_steps):
  """Top-k (Sinha et al. 2020) at its final share: G's loss is the non-saturating loss of
  the half of the fakes D scores highest (the lowest terms, as softplus(-x) falls with x),
  so below the loss over all of them; D's loss and update are untouched."""
  plain_config = validate(BASE.replace(d_steps=d_steps, dropout=0.0, top_k_steps=10))
  state, plain = setup(plain_config)
  _, top_k = setup(validate(plain_config.replace(top_k=0.5)))
  state = state.replace(step=jnp.asarray(10, jnp.int32))
  batch, key = {"image": images(d_steps * LOCAL)}, jax.random.key(3)
  plain_state, m_plain = jax.jit(plain)(state, batch, key)
  top_state, m_top = jax.jit(top_k)(state, batch, key)
  assert float(m_top["top_k_share"]) == 0.5
  assert float(m_top["g_loss"]) < float(m_plain["g_loss"])
  assert float(m_top["d_loss"]) == pytest.approx(float(m_plain["d_loss"]))
  chex.assert_trees_all_close(top_state.d_params, plain_state.d_params)
  assert not np.allclose(*(jax.tree.leaves(s.g_params)[0] for s in (top_state, plain_state)))


def test_top_k_at_share_one_trains_as_without_it():
  state, plain = setup(BASE)
  _, top_k = setup(validate(BASE.replace(top_k=0.5, top_k_steps=10)))  # step 0: the share is still 1
  batch, key = {"image": images(LOCAL)}, jax.random.key(3)
  plain_state, _ = jax.jit(plain)(state, batch, key)
  top_state, metrics = jax.jit(top_k)(state, batch, key)
  assert float(metrics["top_k_share"]) == 1.0
  chex.assert_trees_all_close(top_state.checkpoint_items(), plain_state.checkpoint_items(), rtol=1e-6, atol=1e-7)


def test_batchnorm_and_spectral_norm_options_change_the_variables():
  state, _ = setup(BASE.replace(g_batchnorm=False, d_batchnorm=True, spectral_norm=True))
  assert state.g_batch_stats == {}
  names = str(jax.tree_util.tree_structure(state.d_batch_stats))
  assert "BatchNorm" in names and "SpectralNorm" in names


EVERYTHING = BASE.replace(
  d_steps=2,
  gradient_penalty=5.0,
  r1_penalty=1.0,
  r1_every=2,
  d_l2=1e-4,
  spectral_norm=True,
  replay_size=24,
  replay_share=0.25,
  ema_decay=0.99,
  instance_noise=0.1,
  real_label=0.9,
  d_weight_decay=1e-3,
  lr_schedule="cyclical",
  cycle_steps=4,
  top_k=0.5,  # from the second step on: the pmapped step ranks the global batch
  top_k_steps=1,
)


@pytest.mark.slow
@pytest.mark.parametrize(
  "config", [EVERYTHING, EVERYTHING.replace(d_steps=1, model="mlp")], ids=["dcgan_d_steps_2", "mlp_simultaneous"]
)
def test_tricks_combined_under_pmap_equal_one_device(config):
  validate(config)
  batch, key = {"image": images(config.family.d_steps * 16)}, jax.random.key(7)
  state, single = setup(config)
  expected = state
  for _ in range(3):  # the replay buffer fills, then feeds D
    expected, expected_metrics = jax.jit(single)(expected, batch, key)

  state, sharded = setup(config, axis_name="data")
  devices = jax.local_devices()
  p_step = jax.pmap(sharded, axis_name="data", in_axes=(0, 0, None))
  # Each microbatch of 16 is split over the 4 devices, as the data pipeline lays it out.
  per_device = batch["image"].reshape(config.family.d_steps, 4, 4, 28, 28, 1).transpose(1, 0, 2, 3, 4, 5)
  sharded_batch = {"image": per_device.reshape(4, config.family.d_steps * 4, 28, 28, 1)}
  replicated = replicate(state, devices)
  for _ in range(3):
    replicated, metrics = p_step(replicated, sharded_batch, key)
  got = unreplicate(replicated)
  # Power-iteration vectors are unit vectors: an entry near 0 may move by ~1e-4 for 1e-6 in the weights.
  chex.assert_trees_all_close(got.checkpoint_items(), expected.checkpoint_items(), atol=2e-4, rtol=5e-5)
  chex.assert_trees_all_close(unreplicate(metrics), expected_metrics, atol=5e-5, rtol=5e-5)
  assert int(got.replay.count) == 3 * config.family.d_steps * 16
  chex.assert_tree_all_finite(expected_metrics)


def test_lazy_r1_pays_the_penalty_on_every_kth_step_at_k_times_its_weight():
  """--r1_every=3: steps 0 and 3 carry 3x R1's term, steps 1 and 2 none; the loop's two
  compiled phases (r1_due static) train exactly as the one step that decides with lax.cond."""
  lazy = validate(BASE.replace(r1_penalty=2.0, r1_every=3, dropout=0.0))
  generator, discriminator = build_gan(lazy, image_shape=(28, 28, 1), axis_name=None)
  state = create_state(lazy, generator, discriminator, (28, 28, 1), jax.random.key(0))

  def jitted(config, r1_due=None):
    return jax.jit(make_train_step(config, generator, discriminator, axis_name=None, r1_due=r1_due))

  by_phase = {due: jitted(lazy, due) for due in (True, False)}
  deciding, every_step = jitted(lazy), jitted(lazy.replace(r1_every=1))
  phased = decided = state
  for i in range(4):
    batch, key = {"image": images(LOCAL, seed=i)}, jax.random.key(3)
    _, eager_metrics = every_step(decided, batch, key)
    phased, phased_metrics = by_phase[bool(lazy_r1_due(i, 3))](phased, batch, key)
    decided, decided_metrics = deciding(decided, batch, key)
    chex.assert_trees_all_close(phased.checkpoint_items(), decided.checkpoint_items(), rtol=1e-5, atol=1e-6)
    if i % 3 == 0:
      assert float(eager_metrics["r1_penalty"]) > 0
      np.testing.assert_allclose(decided_metrics["r1_penalty"], 3 * eager_metrics["r1_penalty"], rtol=1e-4)
      np.testing.assert_allclose(phased_metrics["r1_penalty"], decided_metrics["r1_penalty"], rtol=1e-5)
    else:
      assert float(decided_metrics["r1_penalty"]) == 0.0 == float(phased_metrics["r1_penalty"])
