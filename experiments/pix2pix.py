"""Pix2pix on MNIST edges -> digits (Isola et al. 2017), then test-split L1, PSNR and SSIM.

    python -m experiments.pix2pix                                                   # U-Net + PatchGAN, L1 x 100
    python -m experiments.pix2pix --adversarial_weight=0 --workdir=runs/pix2pix_l1  # the L1-only U-Net
    python -m experiments.pix2pix --dataset=NAME --input_feature=A --target_feature=B  # any paired TFDS dataset

`mnist_edges` (ganjax/data/mnist_edges.py) is built offline from the bundled MNIST on first
use: thresholded Sobel edge maps as inputs, the digits as targets. After training it writes
<workdir>/results.json and prints one line per metric: test_l1, test_psnr, test_ssim (on
intensities in [0, 1], G in inference mode), and for MNIST-sized outputs fid_mnist of the
outputs against the targets and the shipped classifier's label accuracy on them. Grids:
<workdir>/samples/grid_<step>.png, rows of (input | output | target). Run the same command
on a finished workdir to re-evaluate; on an unfinished one to resume.
"""

import sys

from ganjax import cli
from ganjax.config import Config

DEFAULTS = Config.from_flags(
  model="pix2pix",
  dataset="mnist_edges",
  workdir="runs/pix2pix",
  # The paper's objective and optimiser: lambda 100, Adam(2e-4, beta1 0.5), N(0, 0.02) weights,
  # dropout 0.5 in the decoder's first levels.
  l1_weight=100.0,
  adversarial_weight=1.0,
  lr=2e-4,
  b1=0.5,
  b2=0.999,
  dropout=0.5,
  leak=0.2,
  # Small for the shared 2-core CPU: channels 16-32-64-128-128 in G, 16-32-64 in D; the
  # paper's batch is 1, 16 keeps BatchNorm's statistics sane.
  width=16,
  batch_size=16,
  steps=2000,
  eval_samples=10000,  # evaluated once, after training
  eval_every=0,
  log_every=50,
  sample_every=500,
  checkpoint_every=500,
)


def main(argv=None) -> int:
  return cli.run_experiment(DEFAULTS, argv, description=__doc__)


if __name__ == "__main__":
  sys.exit(main())
