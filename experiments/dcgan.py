"""DCGAN on MNIST (the TensorFlow tutorial's architecture, Radford et al. 2015 optimiser).

    python -m experiments.dcgan                       # CPU or whatever JAX finds
    python -m experiments.dcgan --accelerator=gpu --workdir=runs/dcgan

Writes checkpoints, sample grids (samples/grid_*.png), metrics.jsonl and TensorBoard
events to --workdir; run the same command again to resume.
"""

import sys

from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config(
    model="dcgan",
    dataset="mnist",
    workdir="runs/dcgan",
    batch_size=256,
    steps=2000,
    lr=2e-4,
    b1=0.5,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
