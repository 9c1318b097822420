"""The VAE scored once its training ends: the test split's negative ELBO, and the sample
metrics of prior samples (fid_mnist and friends) on MNIST."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ganjax import rng
from ganjax.config import Config
from ganjax.data.pipeline import default_data_dir
from ganjax.families.vae.losses import decoder_mean, elbo_terms, intensities
from ganjax.families.vae.state import VAEState, build_model
from ganjax.families.vae.task import test_images
from ganjax.models.vae import VAE
from ganjax.train.task import PyTree

EVAL_BATCH = 500


def test_neg_elbo(config: Config, model: VAE, params: PyTree, x: np.ndarray) -> dict[str, float]:
  """Mean negative ELBO (and its NLL and KL terms) in nats per image over x [N, H, W, C] in [-1, 1].

  One z per image, eps from the run's 'eval' stream and the image's index: the same
  estimate every time, unbiased for the ELBO (whose Monte Carlo noise averages out over N).
  """
  key = rng.stream(jax.random.key(config.seed), "eval_elbo")
  terms = jax.jit(lambda p, batch, eps: elbo_terms(model, p, intensities(batch), eps))
  sums = {"nll": 0.0, "kl": 0.0, "neg_elbo": 0.0}
  for start in range(0, len(x), EVAL_BATCH):
    batch = jnp.asarray(x[start : start + EVAL_BATCH])
    eps = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), (config.family.latent_dim,)))(
      start + jnp.arange(len(batch))
    )
    for name, value in jax.device_get(terms(params, batch, eps)).items():
      sums[name] += float(np.sum(value, dtype=np.float64))
  return {name: total / len(x) for name, total in sums.items()}


def prior_samples(config: Config, model: VAE, params: PyTree, num: int) -> np.ndarray:
  """`num` decoder means of z ~ N(0, I) from the 'eval' stream, float32 [num, H, W, C] in [-1, 1]."""
  z = rng.example_normal(rng.stream(jax.random.key(config.seed), "eval"), (num, config.family.latent_dim), None)
  decode = jax.jit(lambda p, z: 2.0 * decoder_mean(model.apply({"params": p}, z, method=VAE.decode)[0]) - 1.0)
  return np.concatenate([np.asarray(decode(params, z[i : i + EVAL_BATCH])) for i in range(0, num, EVAL_BATCH)])


def evaluate(config: Config, state: VAEState) -> dict:
  """Test-split negative ELBO in nats and the sample metrics (fid_mnist, ...) of `--eval_samples`
  prior samples against the test split."""
  from ganjax.metrics import sample_quality

  x = test_images(config)
  model = build_model(config, x.shape[-1])
  params = jax.device_get(state.params)
  elbo = test_neg_elbo(config, model, params, x)
  results = {
    "step": int(state.step),
    "likelihood": config.family.likelihood,
    "beta": config.family.beta,
    "test_images": len(x),
    "test_neg_elbo_nats": elbo["neg_elbo"],
    "test_nll_nats": elbo["nll"],
    "test_kl_nats": elbo["kl"],
  }
  if config.dataset == "mnist":
    reference = sample_quality.reference_features("mnist", "test", config.data_dir or default_data_dir())
    samples = prior_samples(config, model, params, config.eval_samples)
    report = sample_quality.evaluate(
      samples, reference, seed=config.seed, kid_subset_size=min(1000, config.eval_samples)
    )
    results.update({k: v for k, v in report.items() if k != "feature_network"})
    results["samples"] = "decoder means of z ~ N(0, I), against the whole test split"
  return results
