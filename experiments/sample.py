"""Draw images from the generator of a run's latest checkpoint.

    python -m experiments.sample --workdir=runs/dcgan --num=1000 --out=samples.npz
    python -m experiments.sample --workdir=runs/dcgan --num=64 --out=grid.png
    python -m experiments.sample --workdir=runs/cgan --num=20 --labels=7,3 --out=sevens_threes.png
    python -m experiments.sample --workdir=runs/dcgan --step=best --num=64 --out=best.png

`.npz`: `images` uint8 [N, H, W, C] (and `labels` for conditional models); `.png`: a grid,
with the labels of a conditional model's images in `<out>.labels.txt` beside it (one row
of the grid per line). Conditional models draw `--labels` in turn (default: every class).
"""

from __future__ import annotations

import math
import os
import sys

from ganjax import cli
from ganjax.errors import UsageError


def parse(argv):
  parser = cli.Parser(description=__doc__)
  parser.add_argument("--workdir", required=True, help="a training run's --workdir")
  parser.add_argument(
    "--step",
    type=cli.checkpoint_step,
    default=None,
    help="checkpoint step, or best (the lowest fid_mnist; default: the latest)",
  )
  cli.add_generator_arguments(parser)
  parser.add_argument("--num", type=int, default=1000, help="how many images")
  parser.add_argument("--out", default="samples.npz", help="output file: .npz or .png")
  parser.add_argument("--seed", type=int, default=0, help="seed of the latent noise")
  parser.add_argument("--batch", type=int, default=500, help="images generated per call")
  parser.add_argument("--labels", default="", help="conditional models: comma-separated labels, repeated")
  parser.add_argument("--accelerator", default="auto", help="auto, cpu, gpu or tpu")
  args = parser.parse_args(argv)
  if args.num <= 0 or args.batch <= 0:
    raise UsageError("--num and --batch must be positive integers.")
  try:
    args.labels = [int(x) for x in args.labels.split(",")] if args.labels else None
  except ValueError:
    raise UsageError(f"--labels={args.labels} must be comma-separated integers, e.g. --labels=3,7.") from None
  if not args.out.endswith((".npz", ".png")):
    raise UsageError(f"--out={args.out} must end in .npz (arrays) or .png (a picture).")
  return args


def main(argv=None) -> None:
  args = parse(argv)
  cli.start_backend(args.accelerator)
  import numpy as np

  from ganjax import images
  from ganjax.sampling import default_labels, load_generator

  generator = load_generator(
    args.workdir, args.step, args.generator, args.ema_bn_stats, args.truncation, d_filter=args.d_filter
  )
  labels = None
  if args.labels is not None:
    if not generator.config.family.num_classes:
      raise UsageError(f"{args.workdir} holds an unconditional model; drop --labels.")
    labels = np.resize(np.asarray(args.labels, np.int32), args.num)
  elif generator.config.family.num_classes:
    labels = default_labels(generator.config, args.num)
  out = images.to_uint8(generator.generate(args.num, args.seed, args.batch, labels))
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  extra = {} if labels is None else {"labels": labels}
  if args.out.endswith(".png"):
    # Default labels cycle through the classes: one class per column.
    columns = generator.config.family.num_classes if args.labels is None and labels is not None else None
    columns = columns or math.ceil(math.sqrt(len(out)))
    images.save_png(args.out, images.grid(out, columns=columns))
    if labels is not None:
      rows = [labels[i : i + columns] for i in range(0, len(labels), columns)]
      with open(args.out + ".labels.txt", "w") as f:
        f.write("".join(" ".join(str(x) for x in row) + "\n" for row in rows))
  else:
    np.savez_compressed(args.out, images=out, **extra)
  print(f"Wrote {len(out)} images of shape {out.shape[1:]} from {generator.source} to {args.out}.")


if __name__ == "__main__":
  sys.exit(cli.run(main))
