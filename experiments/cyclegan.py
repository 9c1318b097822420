"""CycleGAN (Zhu et al. 2017) between MNIST digits and thick MNIST digits, unpaired.

    python -m experiments.cyclegan                     # mnist_styles, built offline from MNIST
    python -m experiments.cyclegan --dataset=cycle_gan/horse2zebra --image_size=256 --width=64 \\
        --cyclegan_blocks=9 --batch_size=1 --steps=266800 --workdir=runs/horse2zebra   # the paper's setup

Trains, then evaluates the final generators on the test splits: cycle reconstruction error
both ways and, for the digits, how often the shipped MNIST classifier gives a translation
its digit's class. Writes checkpoints, sample grids (samples/grid_*.png: each row a | G(a) |
F(G(a)) | b | F(b) | G(F(b)) for a fixed test image of each domain), metrics.jsonl, curves.png
and results.json to --workdir; the same command resumes an unfinished run, or re-evaluates a
finished one.
"""

import sys

from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="cyclegan",
  dataset="mnist_styles",
  workdir="runs/cyclegan",
  # The paper's generator has width 64 and 9 residual blocks at 256x256; 28x28 digits on a
  # 2-core CPU need far less (7x7 bottleneck, 64 channels there).
  width=16,
  cyclegan_blocks=3,
  batch_size=16,  # the paper: 1
  steps=3000,
  # Zhu et al. 2017: LSGAN, lambda 10, identity 0.5 lambda, pool of 50, Adam(2e-4, beta1 0.5),
  # constant learning rate for the first half, then linear decay to 0.
  loss="lsgan",
  cycle_weight=10.0,
  identity_ratio=0.5,
  history_pool=50,
  lr=2e-4,
  b1=0.5,
  lr_schedule="linear_decay",
  eval_every=0,  # the evaluation runs once, after training,
  eval_samples=10000,  # on each domain's first 10,000 test images: all of mnist_styles' 5,000
  sample_every=250,
  checkpoint_every=500,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
