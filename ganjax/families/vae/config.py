"""The VAE's flags (`config.family` of --model=vae) and their checks."""

from __future__ import annotations

import dataclasses

from ganjax.config import Config
from ganjax.errors import UsageError

LIKELIHOODS = ("bernoulli", "gaussian")  # the VAE's p(x|z)


@dataclasses.dataclass(frozen=True)
class VAEConfig:
  """Kingma & Welling 2014's VAE, with the beta-VAE's weight on the KL term."""

  latent_dim: int = 100  # size of the latent code z
  likelihood: str = "bernoulli"  # p(x|z) on intensities in [0, 1]: bernoulli, or gaussian with a learned sigma
  beta: float = 1.0  # weight of the KL term (Higgins et al. 2017); 1 is the ELBO


CONFIG = VAEConfig  # the registry finds a family's flags by this name


def validate(config: Config) -> None:
  vae = config.family
  if vae.latent_dim <= 0:
    raise UsageError(f"--latent_dim={vae.latent_dim} must be a positive integer.")
  if vae.likelihood not in LIKELIHOODS:
    raise UsageError(f"--likelihood={vae.likelihood} is not one of {', '.join(LIKELIHOODS)}.")
  if not vae.beta > 0:
    raise UsageError(f"--beta={vae.beta} must be positive; 1 is the ELBO.")
