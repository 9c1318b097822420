"""Where the training loop loses time against the pure step, in one process, interleaved.

    python benchmarks/loop_costs.py                                  # the default's network, batch 64
    python benchmarks/loop_costs.py --preset=tutorial --batches=256

experiments.dcgan's step (`--preset`; its own default without one, with its convolution
backend), fed several ways, each timed over `--steps` steps per round, the ways taking turns
so that a drifting machine affects all alike:
- `ordinary step, batch on device`: one batch already placed, always the step program that
  does not pay lazy R1: what benchmarks/train_step.py and the speed suite's step rows time;
- `R1 step, batch on device` (lazy R1 only): always the program that pays R1, which a run
  calls on every `r1_every`-th step;
- `run's cadence, batch on device`: each step's own program, R1 where due, as a run calls
  them: the pure step a whole loop should be held against;
- `run's cadence, jit`: the same, jitted for one device, without pmap's per-call work;
- `run's cadence, fresh host batches`: a new NumPy batch each step, as the loop passes them;
- `run's cadence, host batches placed`: new batches each step, already in pmap's layout;
- `Batches, in memory`: the loop's reader (grain, in the main process) over MNIST's decoded
  images (every run);
- `Batches, decoding`: the reader decoding each batch from TFDS's records, as a run's first
  epoch did before the decoded split was kept beside the records;
- `Batches + the loop's host work`: the reader, plus what `ganjax.train.loop` does around each
  step: at most two steps in flight, the metrics log (fetched and written every 10 steps, with
  TensorBoard) and the progress bar.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # what a run computes with (before JAX starts)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dcgan_step import add_network_arguments, jitted_steps, network_configs, pmapped_steps  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ganjax.data.pipeline import Batches, BatchSpec, ImageSource, load_source  # noqa: E402
from ganjax.families.gan.step import lazy_r1_on  # noqa: E402
from ganjax.kernels.onednn import resolve_backend  # noqa: E402
from ganjax.train.loop import MAX_STEPS_IN_FLIGHT, MetricsLog  # noqa: E402

LOG_EVERY = 10  # the speed suite's whole-loop rows log every 10 steps


def measure(config, args) -> dict[str, list[float]]:
  key = jax.random.key(0)
  shape = (28, 28, 1)
  batch = config.batch_size
  every = config.family.r1_every if lazy_r1_on(config.family) else 0
  p_state, p_step_for = pmapped_steps(config, jax.local_devices()[:1], shape)
  j_state, j_step_for = jitted_steps(config, shape)
  states = {"pmap": p_state, "jit": j_state}

  in_memory = load_source("mnist", "train")
  decoding = ImageSource(in_memory.records, cache_bytes=0)
  spec = BatchSpec(batch, 1)
  host = [np.random.default_rng(i).uniform(-1, 1, (1, batch, *shape)).astype(np.float32) for i in range(4)]
  on_device = jax.device_put(host[0])
  mesh = jax.sharding.Mesh(np.array(jax.local_devices()[:1]), ("data",))
  pmap_layout = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  placed = [jax.device_put(x, pmap_layout) for x in host]  # as a reader thread could place them
  ordinary = 1  # step 1 never pays lazy R1 (step 0 does)
  for i in (0, 1):  # compile every program before timing
    states["pmap"], m = p_step_for(i)(states["pmap"], {"image": on_device}, key)
    states["jit"], n = j_step_for(i)(states["jit"], {"image": on_device[0]}, key)
    jax.block_until_ready((m, n))
  next_step = [2]  # the run's step counter, carried across ways so each sees R1 at its cadence

  def timed(call) -> float:
    """Images/s over `args.steps` steps; `call(step)` runs the step numbered `step`."""
    first = next_step[0]
    next_step[0] += args.steps
    start = time.perf_counter()
    for i in range(first, first + args.steps):
      metrics = call(i)
    jax.block_until_ready(metrics)
    return batch * args.steps / (time.perf_counter() - start)

  def pmap_step(i, images, program=None):
    states["pmap"], metrics = p_step_for(i if program is None else program)(states["pmap"], {"image": images}, key)
    return metrics

  def jit_step(i):
    states["jit"], metrics = j_step_for(i)(states["jit"], {"image": on_device[0]}, key)
    return metrics

  def through_batches(source, host_work: bool = False) -> float:
    batches = Batches(source, spec, seed=0, start_step=next_step[0])
    next(batches)  # the reader thread started and one batch ahead, as in a run
    next_step[0] += 1
    if not host_work:
      rate = timed(lambda i: pmap_step(i, next(batches)["image"]))
      batches.close()
      return rate
    with tempfile.TemporaryDirectory() as workdir:
      log = MetricsLog(workdir, batch, start_step=0)
      bar = tqdm(total=args.steps, unit="step", mininterval=1.0, disable=None, leave=False)
      in_flight: collections.deque = collections.deque()

      def loop_step(i):
        metrics = pmap_step(i, next(batches)["image"])
        log.add(i + 1, metrics)
        in_flight.append(metrics)
        if len(in_flight) > MAX_STEPS_IN_FLIGHT:
          jax.block_until_ready(in_flight.popleft())
        bar.update(1)
        if (i + 1) % LOG_EVERY == 0:
          summary = log.flush()
          bar.set_postfix(img_s=f"{summary['images_per_s']:.0f}")
        return metrics

      rate = timed(loop_step)
      log.flush()
      bar.close()
      log.close()
    batches.close()
    return rate

  ways = {"ordinary step, batch on device": lambda: timed(lambda i: pmap_step(i, on_device, program=ordinary))}
  if every:
    ways["R1 step, batch on device"] = lambda: timed(lambda i: pmap_step(i, on_device, program=0))
  ways |= {
    "run's cadence, batch on device": lambda: timed(lambda i: pmap_step(i, on_device)),
    "run's cadence, jit": lambda: timed(jit_step),
    "run's cadence, fresh host batches": lambda: timed(lambda i: pmap_step(i, host[i % len(host)])),
    "run's cadence, host batches placed": lambda: timed(lambda i: pmap_step(i, placed[i % len(placed)])),
    "Batches, in memory": lambda: through_batches(in_memory),
    "Batches, decoding": lambda: through_batches(decoding),
    "Batches + the loop's host work": lambda: through_batches(in_memory, host_work=True),
  }
  rates = {name: [] for name in ways}
  for _ in range(args.rounds):
    for name, way in ways.items():
      rates[name].append(way())
  return rates


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64", steps=32)
  args = parser.parse_args()
  for config in network_configs(parser, args):
    print(
      f"experiments.dcgan {f'--preset={args.preset}' if args.preset else '(its default)'} step, "
      f"batch {config.batch_size}, convolutions {resolve_backend(config.family.conv_backend)}, "
      f"{args.steps} steps x {args.rounds} interleaved rounds",
      flush=True,
    )
    rates = measure(config, args)
    reference = np.mean(rates["run's cadence, batch on device"])
    print(f"{'fed':<36}{'images/s per round':>34}{'mean':>9}{'/ cadence':>11}")
    for name, values in rates.items():
      mean = np.mean(values)
      print(f"{name:<36}{'  '.join(f'{v:7.1f}' for v in values):>34}{mean:9.1f}{mean / reference:11.2f}")


if __name__ == "__main__":
  main()
