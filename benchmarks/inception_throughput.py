"""FID Inception feature throughput: images/s of `inception_features.uint8_features`.

    python benchmarks/inception_throughput.py                  # 28x28 grey, batches 16 32 64
    python benchmarks/inception_throughput.py --size=299 --channels=3 --batches 32

Random weights (the speed does not depend on them), random uint8 images; each batch size
is compiled once, warmed up, then timed over `--images` images. The whole pipeline is
timed: resize to 299, the network, the copy back to the host.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from ganjax.metrics import inception, inception_features


def random_variables(seed: int = 0) -> dict:
  """Random {'params', 'batch_stats'} without running the (slow, unjitted) init."""
  template = jax.eval_shape(inception.init_variables, jax.random.key(0))
  rng = np.random.default_rng(seed)
  return jax.tree.map(lambda leaf: rng.uniform(0.5, 1.0, leaf.shape).astype(np.float32) * 0.05, template)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--size", type=int, default=28)
  parser.add_argument("--channels", type=int, default=1)
  parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64])
  parser.add_argument("--images", type=int, default=256)
  args = parser.parse_args()
  variables = random_variables()
  rng = np.random.default_rng(0)
  print(f"{jax.devices()[0].device_kind}, {args.size}x{args.size}x{args.channels} uint8 inputs")
  for batch in args.batches:
    images = rng.integers(0, 256, (args.images, args.size, args.size, args.channels), dtype=np.uint8)
    start = time.perf_counter()
    inception_features.uint8_features(images[:batch], variables, batch)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    inception_features.uint8_features(images, variables, batch)
    seconds = time.perf_counter() - start
    print(f"  batch {batch:4d}: {args.images / seconds:7.1f} images/s  (first batch incl. compile {compile_s:.1f} s)")


if __name__ == "__main__":
  main()
