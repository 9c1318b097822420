"""The VAE's own flag checks."""

from __future__ import annotations

from ganjax.config import Config
from ganjax.errors import UsageError

LIKELIHOODS = ("bernoulli", "gaussian")  # the VAE's p(x|z)
FIELDS = ("latent_dim", "likelihood", "beta")


def validate(config: Config) -> None:
  if config.likelihood not in LIKELIHOODS:
    raise UsageError(f"--likelihood={config.likelihood} is not one of {', '.join(LIKELIHOODS)}.")
  if not config.beta > 0:
    raise UsageError(f"--beta={config.beta} must be positive; 1 is the ELBO.")
