"""The VAE: module shapes, each ELBO term by hand, the ELBO's closed form, the experiment end to end."""

import json
import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from ganjax.config import Config
from ganjax.families.vae import losses as vae_losses
from ganjax.models.vae import VAE, Decoder, Encoder, reparameterize


@pytest.mark.slow
def test_encoder_decoder_and_vae_shapes():
  x = jnp.zeros((2, 28, 28, 1))
  mean, log_variance = Encoder(latent_dim=3, width=4).init_with_output(jax.random.key(0), x)[0]
  chex.assert_shape((mean, log_variance), (2, 3))
  (logits, log_sigma), _ = Decoder(channels=1, width=4).init_with_output(jax.random.key(0), jnp.zeros((2, 3)))
  chex.assert_shape(logits, (2, 28, 28, 1))
  assert log_sigma is None
  model = VAE(latent_dim=3, width=4, gaussian=True)
  outputs, variables = model.init_with_output(jax.random.key(0), x, jnp.zeros((2, 3)))
  chex.assert_shape(outputs[0], (2, 28, 28, 1))
  chex.assert_shape(outputs[1], ())
  chex.assert_shape(outputs[2:], (2, 3))
  assert variables["params"]["decoder"]["log_sigma"].shape == ()


def test_reparameterisation_is_keyed_and_differentiable():
  mean, log_variance = jnp.array([[1.0, -2.0]]), jnp.array([[0.0, math.log(4.0)]])
  key = jax.random.key(3)
  z = reparameterize(key, mean, log_variance)
  np.testing.assert_array_equal(z, reparameterize(key, mean, log_variance))
  eps = jax.random.normal(key, (1, 2))
  np.testing.assert_allclose(z, mean + jnp.array([[1.0, 2.0]]) * eps, rtol=1e-6)
  grad = jax.grad(lambda m: jnp.sum(reparameterize(key, m, log_variance)))(mean)
  np.testing.assert_allclose(grad, jnp.ones_like(mean))


def test_gaussian_kl_by_hand():
  # 0.5 * [(1 + 1 - 1 - 0) + (2 + 0 - 1 - ln 2)] = 1 - ln(2) / 2
  kl = vae_losses.gaussian_kl(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, math.log(2.0)]]))
  np.testing.assert_allclose(kl, [1.0 - math.log(2.0) / 2], rtol=1e-6)
  np.testing.assert_allclose(vae_losses.gaussian_kl(jnp.zeros((1, 5)), jnp.zeros((1, 5))), [0.0], atol=1e-7)


def test_bernoulli_nll_by_hand():
  # p = (0.5, 0.75, 0.5); -[ln 0.5] - [ln 0.25] - [0.5 ln 0.5 + 0.5 ln 0.5] = 4 ln 2
  nll = vae_losses.bernoulli_nll(jnp.array([[1.0, 0.0, 0.5]]), jnp.array([[0.0, math.log(3.0), 0.0]]))
  np.testing.assert_allclose(nll, [4 * math.log(2.0)], rtol=1e-6)


def test_gaussian_nll_is_the_normal_log_density():
  x, mean, log_sigma = np.array([[0.2, 0.9, 0.4]]), np.array([[0.1, 0.5, 0.4]]), math.log(0.3)
  expected = -np.sum(stats.norm.logpdf(x, mean, 0.3))
  np.testing.assert_allclose(
    vae_losses.gaussian_nll(jnp.asarray(x), jnp.asarray(mean), jnp.asarray(log_sigma)), [expected], rtol=1e-5
  )


def test_elbo_equals_its_closed_form_for_a_linear_gaussian_model():
  """p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I) with orthogonal W: the posterior is a diagonal
  Gaussian, and with q equal to it the ELBO is log p(x) = log N(x; b, W W^T + s^2 I).
  The estimate (analytic KL, Monte Carlo reconstruction term) must average to it."""
  w = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # orthogonal columns
  b, s, x = np.array([0.5, -0.5, 0.1]), 0.5, np.array([1.5, 0.3, -0.2])
  precision = np.eye(2) + w.T @ w / s**2  # diagonal
  variance = 1.0 / np.diag(precision)
  mean = variance * (w.T @ (x - b)) / s**2
  log_px = stats.multivariate_normal(b, w @ w.T + s**2 * np.eye(3)).logpdf(x)
  eps = jax.random.normal(jax.random.key(0), (200_000, 2))
  z = mean + np.sqrt(variance) * eps
  nll = vae_losses.gaussian_nll(jnp.broadcast_to(x, (len(z), 3)), z @ w.T + b, jnp.asarray(math.log(s)))
  kl = vae_losses.gaussian_kl(jnp.asarray(mean)[None], jnp.log(jnp.asarray(variance))[None])
  neg_elbo = float(jnp.mean(nll) + kl[0])
  np.testing.assert_allclose(neg_elbo, -log_px, rtol=2e-3)
  # and the exact expectation of the reconstruction term, without sampling
  exact = 1.5 * math.log(2 * math.pi * s**2) + (
    np.sum((x - w @ mean - b) ** 2) + np.sum(variance * np.sum(w**2, axis=0))
  ) / (2 * s**2)
  np.testing.assert_allclose(exact + float(kl[0]), -log_px, rtol=1e-6)


@pytest.fixture
def vae_config(mnist_dir, tmp_path):
  return Config.from_flags(
    model="vae",
    latent_dim=4,
    width=4,
    batch_size=16,
    steps=4,
    log_every=1,
    sample_every=100,
    checkpoint_every=2,
    eval_every=0,
    eval_samples=300,
    lr=1e-3,
    data_dir=mnist_dir,
    workdir=str(tmp_path / "run"),
    accelerator="cpu",
  )


def test_resumed_vae_run_equals_uninterrupted_run(vae_config, tmp_path):
  from ganjax.train.loop import train_and_evaluate

  straight = train_and_evaluate(vae_config.replace(steps=6, workdir=str(tmp_path / "straight")))
  resumed_dir = str(tmp_path / "resumed")
  assert int(train_and_evaluate(vae_config.replace(steps=3, checkpoint_every=100, workdir=resumed_dir)).step) == 3
  resumed = train_and_evaluate(vae_config.replace(steps=6, workdir=resumed_dir))
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_experiment_trains_resumes_and_evaluates(likelihood, mnist_dir, tmp_path, capsys):
  from experiments import vae as experiment

  workdir = str(tmp_path / likelihood)
  flags = [
    "--width=4",
    "--latent_dim=4",
    "--batch_size=16",
    "--log_every=1",
    "--sample_every=2",
    "--checkpoint_every=2",
    "--eval_samples=300",
    "--accelerator=cpu",
    f"--likelihood={likelihood}",
    "--warmup_steps=1",  # the experiment's 200 would not fit in these 2- and 3-step runs
    f"--data_dir={mnist_dir}",
    f"--workdir={workdir}",
  ]
  assert experiment.main(flags + ["--steps=2"]) == 0
  assert experiment.main(flags + ["--steps=3"]) == 0  # resumes at 2
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    assert [json.loads(line)["step"] for line in f] == [1, 2, 3]
  for kind in ("grid", "reconstructions", "interpolations"):
    assert os.path.exists(os.path.join(workdir, "samples", f"{kind}_000002.png"))
  with open(os.path.join(workdir, "results.json")) as f:
    results = json.load(f)
  assert os.path.getsize(os.path.join(workdir, "curves.png")) > 0
  assert results["step"] == 3 and results["test_images"] == 10000
  np.testing.assert_allclose(
    results["test_neg_elbo_nats"], results["test_nll_nats"] + results["test_kl_nats"], rtol=1e-6
  )
  if likelihood == "bernoulli":  # a barely trained model: far above 45.5 nats, the targets' own entropy
    assert 45.5 < results["test_neg_elbo_nats"] < 1000
  assert np.isfinite(results["fid_mnist"]) and results["num_samples"] == 300
  assert "test_neg_elbo_nats:" in capsys.readouterr().out
  assert experiment.main(["--likelihood=poisson", f"--workdir={workdir}2"]) == 2
  assert "--likelihood=poisson is not one of" in capsys.readouterr().err
