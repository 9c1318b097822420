"""SN-GAN on MNIST: hinge loss and spectral normalisation of every D layer (Miyato et al. 2018).

    python -m experiments.sngan
    python -m experiments.sngan --d_steps=5 --lr=1e-4 --b2=0.9 --workdir=runs/sngan_a  # setting A

Defaults are the paper's setting C (Table 1): Adam(2e-4, beta1=0.5, beta2=0.999), one D
update per G update; no dropout and no BatchNorm in D. Samples come from an EMA of G's weights
(0.999, with its own BatchNorm statistics), as in the default DCGAN (docs/gan_family.md).
"""

import sys

from experiments import dcgan
from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="dcgan",
  dataset="mnist",
  workdir="runs/sngan",
  loss="hinge",
  spectral_norm=True,
  lr=2e-4,
  b1=0.5,
  b2=0.999,
  dropout=0.0,
  batch_size=64,
  steps=4000,
  # A third stride-2 conv in D, as in the default DCGAN, where it was the largest gain of issue 13
  # (Miyato et al.'s standard CNN D has seven conv layers); the run with it is in docs/gan_family.md.
  d_extra_convs=1,
  # oneDNN's convolutions where the CPU has them, as the default DCGAN (docs/speed.md).
  conv_backend="auto",
  # Samples from an EMA of G with its own BatchNorm statistics, as the DCGAN's ablation
  # measured (sampling only; docs/gan_family.md has this run with and without).
  **dcgan.EMA_GENERATOR,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
