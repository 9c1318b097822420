"""Where the training loop loses time against the pure step, in one process, interleaved.

    python benchmarks/loop_costs.py                    # batch 256, the peers' network
    python benchmarks/loop_costs.py --batch=64 --rounds=3

The tutorial DCGAN's step (the network the peers run), fed six ways, each timed over
`--steps` steps per round, the ways taking turns so that a drifting machine affects all alike:
- `pmap, batch on device`: what benchmarks/train_step.py times (one batch, already placed);
- `jit, batch on device`: the same step jitted for one device, without pmap's per-call work;
- `pmap, fresh host batches`: a new NumPy batch each step, as the loop passes them;
- `pmap, host batches placed`: new batches each step, already on the device in pmap's layout;
- `Batches, in memory`: the loop's reader (grain, in the main process) over MNIST's decoded
  images (every run now);
- `Batches, decoding`: the reader decoding each batch from TFDS's records, as a run's first
  epoch did before the decoded split was kept beside the records.
"""

from __future__ import annotations

import argparse
import time

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # what a run computes with (before JAX starts)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dcgan_step import pmapped_steps  # noqa: E402

from experiments.dcgan import TUTORIAL  # noqa: E402
from ganjax.data.pipeline import Batches, BatchSpec, ImageSource, load_source  # noqa: E402
from ganjax.families.gan.step import make_train_step  # noqa: E402
from ganjax.models import build_gan  # noqa: E402
from ganjax.train.loop import unreplicate  # noqa: E402


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=12)
  parser.add_argument("--rounds", type=int, default=2)
  args = parser.parse_args()
  config = TUTORIAL.replace(batch_size=args.batch)
  key = jax.random.key(0)
  shape = (28, 28, 1)

  replicated, step_for = pmapped_steps(config, jax.local_devices()[:1], shape)
  p_step = step_for(0)
  initial = unreplicate(replicated)
  j_generator, j_discriminator = build_gan(config, shape, axis_name=None)
  j_step = jax.jit(make_train_step(config, j_generator, j_discriminator, axis_name=None), donate_argnums=(0,))

  in_memory = load_source("mnist", "train")
  decoding = ImageSource(in_memory.records, cache_bytes=0)
  spec = BatchSpec(args.batch, 1)
  host = [np.random.default_rng(i).uniform(-1, 1, (1, args.batch, *shape)).astype(np.float32) for i in range(4)]
  on_device = jax.device_put(host[0])
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()[:1]), ("data",))
  pmap_layout = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  placed = [jax.device_put(x, pmap_layout) for x in host]  # as a reader thread could place them
  states = {"pmap": replicated, "jit": jax.device_put(initial)}
  states["pmap"], m = p_step(states["pmap"], {"image": on_device}, key)  # compile both
  states["jit"], n = j_step(states["jit"], {"image": on_device[0]}, key)
  jax.block_until_ready((m, n))
  next_step = [0]

  def timed(feed) -> float:
    """Images/s over `args.steps` steps; `feed(i)` gives the step's batch and which step."""
    start = time.perf_counter()
    for i in range(args.steps):
      metrics = feed(i)
    jax.block_until_ready(metrics)
    return args.batch * args.steps / (time.perf_counter() - start)

  def pmap_step(batch):
    states["pmap"], metrics = p_step(states["pmap"], batch, key)
    return metrics

  def jit_step(batch):
    states["jit"], metrics = j_step(states["jit"], batch, key)
    return metrics

  def through_batches(source):
    batches = Batches(source, spec, seed=0, start_step=next_step[0])
    next(batches)  # the reader thread started and one batch ahead, as in a run
    rate = timed(lambda i: pmap_step(next(batches)))
    batches.close()
    next_step[0] += args.steps + 3  # fresh examples each time: no decoded batch read twice
    return rate

  ways = {
    "pmap, batch on device": lambda: timed(lambda i: pmap_step({"image": on_device})),
    "jit, batch on device": lambda: timed(lambda i: jit_step({"image": on_device[0]})),
    "pmap, fresh host batches": lambda: timed(lambda i: pmap_step({"image": host[i % len(host)]})),
    "pmap, host batches placed": lambda: timed(lambda i: pmap_step({"image": placed[i % len(host)]})),
    "Batches, in memory": lambda: through_batches(in_memory),
    "Batches, decoding": lambda: through_batches(decoding),
  }
  rates = {name: [] for name in ways}
  for _ in range(args.rounds):
    for name, way in ways.items():
      rates[name].append(way())
  reference = np.mean(rates["pmap, batch on device"])
  print(f"tutorial DCGAN step, batch {args.batch}, {args.steps} steps x {args.rounds} interleaved rounds")
  print(f"{'fed':<28}{'images/s per round':>30}{'mean / first row':>18}")
  for name, values in rates.items():
    print(f"{name:<28}{'  '.join(f'{v:7.1f}' for v in values):>30}{np.mean(values) / reference:>18.2f}")


if __name__ == "__main__":
  main()
