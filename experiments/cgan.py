"""Class-conditional DCGAN on MNIST or Fashion-MNIST (Mirza & Osindero 2014, DCGAN nets).

    python -m experiments.cgan
    python -m experiments.cgan --d_conditioning=projection --workdir=runs/cgan_projection
    python -m experiments.cgan --dataset=fashion_mnist --workdir=runs/cgan_fashion
    python -m experiments.sample --workdir=runs/cgan --num=30 --labels=3,1,4 --out=digits.png

G joins z with a learned label embedding; D sees the label as one-hot input maps (concat)
or through a projection of its features (Miyato & Koyama 2018). Fakes are drawn for the
labels of the real batch. Grids show one class per column.
"""

import sys

from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="dcgan",
  dataset="mnist",
  workdir="runs/cgan",
  num_classes=10,
  d_conditioning="concat",
  batch_size=64,
  steps=8000,
  lr=2e-4,
  b1=0.5,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
