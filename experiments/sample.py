"""Draw images from the generator of a run's latest checkpoint.

    python -m experiments.sample --workdir=runs/dcgan --num=1000 --out=samples.npz
    python -m experiments.sample --workdir=runs/dcgan --num=64 --out=grid.png

`.npz`: `images` uint8 [N, H, W, C] (and `labels` for conditional models); `.png`: a grid.
"""

from __future__ import annotations

import os
import sys

from ganjax import cli
from ganjax.errors import UsageError


def parse(argv):
  parser = cli.Parser(description=__doc__)
  parser.add_argument("--workdir", required=True, help="a training run's --workdir")
  parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: the latest)")
  parser.add_argument("--num", type=int, default=1000, help="how many images")
  parser.add_argument("--out", default="samples.npz", help="output file: .npz or .png")
  parser.add_argument("--seed", type=int, default=0, help="seed of the latent noise")
  parser.add_argument("--batch", type=int, default=500, help="images generated per call")
  parser.add_argument("--accelerator", default="auto", help="auto, cpu, gpu or tpu")
  args = parser.parse_args(argv)
  if args.num <= 0 or args.batch <= 0:
    raise UsageError("--num and --batch must be positive integers.")
  if not args.out.endswith((".npz", ".png")):
    raise UsageError(f"--out={args.out} must end in .npz (arrays) or .png (a picture).")
  return args


def main(argv=None) -> None:
  args = parse(argv)
  cli.start_backend(args.accelerator)
  import numpy as np  # pylint: disable=g-import-not-at-top

  from ganjax import images  # pylint: disable=g-import-not-at-top
  from ganjax.sampling import load_generator  # pylint: disable=g-import-not-at-top

  generator = load_generator(args.workdir, args.step)
  out = images.to_uint8(generator.generate(args.num, args.seed, args.batch))
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  if args.out.endswith(".png"):
    images.save_png(args.out, images.grid(out))
  else:
    np.savez_compressed(args.out, images=out)
  print(f"Wrote {len(out)} images of shape {out.shape[1:]} from step {generator.step} to {args.out}.")


if __name__ == "__main__":
  sys.exit(cli.run(main))
