"""Draw images from the generator of a run's latest checkpoint.

    python -m experiments.sample --workdir=runs/dcgan --num=1000 --out=samples.npz
    python -m experiments.sample --workdir=runs/dcgan --num=64 --out=grid.png

`.npz`: `images` uint8 [N, H, W, C] (and `labels` for conditional models); `.png`: a grid.
"""

from __future__ import annotations

import argparse
import os
import sys

from ganjax import cli
from ganjax.errors import UsageError


def parse(argv):
  parser = cli._Parser(description=__doc__)  # pylint: disable=protected-access
  parser.add_argument("--workdir", required=True, help="a training run's --workdir")
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
  cli.quiet_libraries()
  cli.select_accelerator(args.accelerator)
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top

  from ganjax import checkpoint, images, rng  # pylint: disable=g-import-not-at-top
  from ganjax.config import Config  # pylint: disable=g-import-not-at-top
  from ganjax.train.loop import make_sampler  # pylint: disable=g-import-not-at-top

  step = checkpoint.latest_step(args.workdir)
  if step is None:
    raise UsageError(f"No checkpoint in {args.workdir}; train first (python -m experiments.dcgan --workdir=...).")
  manager = checkpoint.open_manager(args.workdir, keep=1_000_000)  # never prunes: read only
  try:
    g_params, g_batch_stats, data_position, saved = checkpoint.restore_generator(manager, step)
  finally:
    manager.close()
  config = Config.from_dict(saved)
  sample = make_sampler(config, channels=int(data_position["image_shape"][-1]))
  key = rng.stream(jax.random.key(args.seed), "sample_cli")
  chunks = []
  for start in range(0, args.num, args.batch):
    n = min(args.batch, args.num - start)
    z = jax.random.normal(jax.random.fold_in(key, start), (n, config.latent_dim))
    chunks.append(images.to_uint8(jax.device_get(sample(g_params, g_batch_stats, z))))
  out = np.concatenate(chunks)
  os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
  if args.out.endswith(".png"):
    images.save_png(args.out, images.grid(out))
  else:
    np.savez_compressed(args.out, images=out)
  print(f"Wrote {len(out)} images of shape {out.shape[1:]} from step {step} to {args.out}.")


if __name__ == "__main__":
  sys.exit(cli.run(main))
