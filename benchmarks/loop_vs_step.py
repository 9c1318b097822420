"""The whole training loop against the pure step, in one process, taking turns.

    python benchmarks/loop_vs_step.py                        # the default's network, batch 64
    python benchmarks/loop_vs_step.py --preset=tutorial --batches=256 --rounds=3

Each round times, in this one process:
- the pure step: experiments.dcgan's step at the run's cadence (lazy R1's program on every
  `r1_every`-th step, as a run calls it), pmapped, one batch already on the device, `--steps`
  calls (a multiple of `r1_every` keeps R1's share what it is in a run);
- the whole loop: `experiments.dcgan --batch_size=<batch>` itself (reader, dispatch, metrics
  log, progress bar), images/s over its steps 10 to 10 + about 10,000 images, from the rates it
  logs every 10 steps (as the speed suite's whole-loop rows).

Separate processes run the same step up to 10% apart on the 2-core CPU (docs/speed.md, round
ten), so a loop in one process and a step in another cannot resolve the 5% the speed issue asks
about; one process, alternating, can.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # what a run computes with (before JAX starts)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dcgan_step import add_network_arguments, network_configs, pmapped_steps, run_steps  # noqa: E402
from speed_suite import last_timed_step, logged_window_rate  # noqa: E402

from experiments import dcgan  # noqa: E402
from ganjax.kernels.onednn import resolve_backend  # noqa: E402

FIRST, EVERY = 10, 10  # the timed stretch starts after compilation; rates are logged every 10 steps


def pure_step(config, steps: int) -> float:
  """Images/s of `steps` calls of the step at the run's cadence, the batch on the device."""
  state, step_for = pmapped_steps(config, jax.local_devices()[:1])
  key = jax.random.key(0)
  images = np.random.default_rng(0).uniform(-1, 1, (1, config.batch_size, 28, 28, 1)).astype(np.float32)
  batch = {"image": jax.device_put(images)}
  state, _ = run_steps(state, step_for, batch, key, 0, 2)  # both of lazy R1's programs compiled first
  _, seconds = run_steps(state, step_for, batch, key, 2, steps)
  return config.batch_size * steps / seconds


def whole_loop(flags: list[str], batch: int) -> float:
  """Images/s of experiments.dcgan's own loop over its steps FIRST to about 10,000 images later."""
  last = last_timed_step(batch, FIRST, EVERY)
  with tempfile.TemporaryDirectory() as workdir:
    with contextlib.redirect_stdout(io.StringIO()):  # the run's closing lines (where its files are)
      status = dcgan.main(
        [*flags, f"--workdir={workdir}", f"--batch_size={batch}", f"--steps={last}", f"--log_every={EVERY}"]
      )
    if status:
      raise SystemExit(f"experiments.dcgan exited with status {status}")
    return logged_window_rate(workdir, batch, FIRST, last, EVERY)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64", steps=48)
  args = parser.parse_args()
  flags = [f"--preset={args.preset}"] if args.preset else []
  for config in network_configs(parser, args):
    steps, loops = [], []
    for _ in range(args.rounds):
      steps.append(pure_step(config, args.steps))
      loops.append(whole_loop(flags, config.batch_size))
    print(
      f"experiments.dcgan {' '.join(flags) or '(its default)'}, batch {config.batch_size}, convolutions "
      f"{resolve_backend(config.family.conv_backend)}, {args.rounds} alternating rounds in one process"
    )
    for name, rates in ((f"pure step ({args.steps} calls a round)", steps), (f"whole loop (steps {FIRST} on)", loops)):
      print(f"  {name}: {'  '.join(f'{v:.1f}' for v in rates)}  mean {np.mean(rates):.1f}")
    print(
      f"  loop / step: {np.mean(loops) / np.mean(steps):.3f} "
      f"(per round {' '.join(f'{loop / step:.3f}' for loop, step in zip(loops, steps))})"
    )
    print(f"loop_over_step={np.mean(loops) / np.mean(steps):.3f} batch={config.batch_size}", flush=True)


if __name__ == "__main__":
  main()
