"""The fully connected GAN of the seed tutorial on MNIST (Goodfellow et al. 2014).

    python -m experiments.gan_mlp
    python -m experiments.gan_mlp --loss=minimax --workdir=runs/gan_mlp_minimax

G: 100 -> 256 -> 512 -> 1024 -> 784 (tanh), D: 784 -> 512 -> 256 -> 1; run the same
command again to resume. Samples come from an EMA of G's weights (0.999, with its own
BatchNorm statistics), as in the default DCGAN (docs/gan_family.md).
"""

import sys

from experiments import dcgan
from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="mlp",
  dataset="mnist",
  workdir="runs/gan_mlp",
  loss="non_saturating",
  init="glorot",
  width=64,  # hidden sizes 4w, 8w, 16w in G and 8w, 4w in D
  batch_size=64,
  steps=30000,
  lr=2e-4,
  b1=0.5,
  dropout=0.3,
  # Samples from an EMA of G with its own BatchNorm statistics, as the DCGAN's ablation
  # measured (sampling only; docs/gan_family.md has this run with and without).
  **dcgan.EMA_GENERATOR,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
