"""LSGAN on MNIST: least-squares losses on a DCGAN (Mao et al. 2017).

    python -m experiments.lsgan

Defaults: the paper's a=0, b=c=1 coding, Adam(2e-4, beta1=0.5), BatchNorm in D after
every layer but the first, no dropout. Samples come from an EMA of G's weights (0.999, with
its own BatchNorm statistics), as in the default DCGAN (docs/gan_family.md).
"""

import sys

from experiments import dcgan
from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="dcgan",
  dataset="mnist",
  workdir="runs/lsgan",
  loss="lsgan",
  lr=2e-4,
  b1=0.5,
  d_batchnorm=True,
  dropout=0.0,
  batch_size=64,
  steps=4000,
  # A third stride-2 conv in D, as in the default DCGAN, where it was the largest gain of issue 13
  # (Mao et al.'s D for scenes has four stride-2 convs); the run with it is in docs/gan_family.md.
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
