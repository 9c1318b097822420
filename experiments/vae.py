"""Convolutional VAE on MNIST (Kingma & Welling 2014), then its test-split negative ELBO and sample metrics.

    python -m experiments.vae                                  # Bernoulli likelihood, beta 1
    python -m experiments.vae --likelihood=gaussian --workdir=runs/vae_gaussian
    python -m experiments.vae --beta=4 --workdir=runs/beta_vae

Trains, then writes <workdir>/results.json and prints one line per metric: the negative
ELBO in nats per test image (one z per image), its reconstruction and KL terms, and
fid_mnist, kid_mnist, is_mnist, precision/recall_mnist of 10,000 prior samples (decoder
means) against the 10,000 test images. Grids in <workdir>/samples/: grid_<step>.png (prior
samples), reconstructions_<step>.png (input | reconstruction), interpolations_<step>.png.
Run the same command on a finished workdir to re-evaluate; on an unfinished one to resume.
"""

import sys

from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="vae",
  dataset="mnist",
  workdir="runs/vae",
  likelihood="bernoulli",
  beta=1.0,
  latent_dim=32,
  width=32,
  batch_size=128,
  # About 13 epochs; Adam 1e-3, cosine decay to 1e-4.
  steps=6000,
  lr=1e-3,
  b1=0.9,
  b2=0.999,
  lr_schedule="warmup_cosine",
  warmup_steps=200,
  min_lr_ratio=0.1,
  eval_samples=10000,  # evaluated once, after training
  eval_every=0,
  log_every=100,
  sample_every=1000,
  checkpoint_every=1000,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
