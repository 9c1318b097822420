"""DCGAN on MNIST (the TensorFlow tutorial's architecture, Radford et al. 2015 optimiser).

    python -m experiments.dcgan                       # CPU or whatever JAX finds
    python -m experiments.dcgan --accelerator=gpu --workdir=runs/dcgan

Writes checkpoints, sample grids (samples/grid_*.png), metrics.jsonl and TensorBoard
events to --workdir; run the same command again to resume.
"""

import sys

from ganjax import cli
from ganjax.config import Config

# The TensorFlow DCGAN tutorial's network and settings, as this experiment's first default.
TUTORIAL = Config(
  model="dcgan",
  dataset="mnist",
  workdir="runs/dcgan",
  # About 4 epochs in about 15 minutes on a 2-core CPU: small batches, because on this
  # budget the number of updates, not images per update, decides sample quality.
  batch_size=64,
  steps=4000,
  # Radford et al. 2015: Adam(2e-4, beta1=0.5), N(0, 0.02) weights, LeakyReLU(0.2).
  lr=2e-4,
  b1=0.5,
  init="dcgan",
  leak=0.2,
)


DEFAULTS = TUTORIAL
PRESETS = {"tutorial": TUTORIAL}


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__, presets=PRESETS)


if __name__ == "__main__":
  sys.exit(main())
