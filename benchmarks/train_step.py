"""DCGAN train-step throughput: ganjax next to the TF/Keras and PyTorch peers, one run.

    python benchmarks/train_step.py                      # batch 256, all peers found
    bash benchmarks/setup_torch_venv.sh                  # once, for the PyTorch peer

Each contender runs in its own process (so peak memory is its own): images/s over timed
steps after warm-up (one D and one G update per step, random 28x28x1 batches), plus, for
ganjax, the compile time of the first step. Prints a table with ratios to ganjax.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PEERS = HERE.parent.parent / "shared" / "peers"
TORCH_PYTHON = HERE / ".torch-venv" / "bin" / "python"

# Runs a peer script as __main__ and reports its peak resident memory.
PEER_LAUNCHER = (
  "import resource, runpy, sys; script = sys.argv[1]; sys.argv = sys.argv[1:]; "
  "runpy.run_path(script, run_name='__main__'); "
  "print(f'peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}')"
)


def measure_ganjax(batch: int, steps: int, flags: list[str], network: str = "tutorial") -> None:
  """Times the step the training loop runs: pmapped over the local devices, state donated.

  `network`: "tutorial" (the peers' network, `--preset=tutorial`) or "default" (what
  `python -m experiments.dcgan` trains); `flags`: experiments.dcgan flags on top (`--width=32`).
  """
  import resource

  from ganjax.xla_flags import set_xla_flags

  set_xla_flags()  # the flags a run sets for itself (before JAX starts)
  import jax
  import numpy as np
  from dcgan_step import pmapped_steps, run_steps

  from experiments.dcgan import DEFAULTS, TUTORIAL
  from ganjax import cli

  config = cli.parse_flags({"tutorial": TUTORIAL, "default": DEFAULTS}[network], [*flags, f"--batch_size={batch}"])
  devices = jax.local_devices()
  key = jax.random.key(0)
  state, step_for = pmapped_steps(config, devices)
  images = np.random.default_rng(0).uniform(-1, 1, (len(devices), batch // len(devices), 28, 28, 1))
  batch_arrays = {"image": jax.device_put(images.astype(np.float32))}
  state, compile_s = run_steps(state, step_for, batch_arrays, key, 0, 1)
  state, _ = run_steps(state, step_for, batch_arrays, key, 1, 2)  # step 1 compiles lazy R1's other phase, if any
  state, elapsed = run_steps(state, step_for, batch_arrays, key, 3, steps)
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(
    f"peer=ganjax batch={batch} images_per_s={batch * steps / elapsed:.1f} "
    f"compile_s={compile_s:.1f} peak_rss_mb={peak:.0f}"
  )


def parse(output: str) -> dict[str, str]:
  return dict(re.findall(r"(\w+)=([\w.\-]+)", output))


def run(command: list[str], env: dict[str, str] | None = None) -> dict[str, str]:
  env = dict(env or os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run(command, capture_output=True, text=True, env=env)
  if result.returncode != 0:
    return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
  return parse(result.stdout)


def print_table(rows: dict[str, dict[str, str]], batch: int, steps: int) -> None:
  """One line per contender: images/s and the ratio to the first row (ganjax)."""
  ours = float(next(iter(rows.values())).get("images_per_s", "nan"))
  print(f"DCGAN train step, batch {batch}, {steps} timed steps, {os.cpu_count()} CPU cores")
  print(f"{'implementation':<16}{'images/s':>10}{'ganjax / it':>13}{'compile s':>11}{'peak MB':>9}")
  for name, row in rows.items():
    if "error" in row:
      print(f"{name:<16}  not measured: {row['error']}")
      continue
    speed = float(row["images_per_s"])
    print(
      f"{name:<16}{speed:>10.1f}{ours / speed:>13.2f}{row.get('compile_s', '-'):>11}{row.get('peak_rss_mb', '-'):>9}"
    )


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--only", choices=("ganjax",), help=argparse.SUPPRESS)
  parser.add_argument(
    "--network",
    choices=("tutorial", "default"),
    default="tutorial",
    help="ganjax's network: the peers' (the tutorial preset) or experiments.dcgan's default",
  )
  parser.add_argument(
    "--ganjax_flag",
    action="append",
    default=[],
    help="an experiments.dcgan flag for ganjax's step, e.g. --ganjax_flag=--width=32 (repeatable)",
  )
  parser.add_argument("--torch_python", default=str(TORCH_PYTHON), help="python of a venv with torch==2.13.0")
  args = parser.parse_args()
  if args.only == "ganjax":
    measure_ganjax(args.batch, args.steps, args.ganjax_flag, args.network)
    return

  ours = [f"--network={args.network}", *(f"--ganjax_flag={flag}" for flag in args.ganjax_flag)]
  rows = {
    "ganjax": run([sys.executable, __file__, "--only=ganjax", f"--batch={args.batch}", f"--steps={args.steps}", *ours])
  }
  rows["tf-keras"] = run(
    [sys.executable, "-c", PEER_LAUNCHER, str(PEERS / "tf_dcgan.py"), str(args.batch), str(args.steps)]
  )
  if pathlib.Path(args.torch_python).exists():
    rows["pytorch"] = run(
      [args.torch_python, "-c", PEER_LAUNCHER, str(PEERS / "torch_dcgan.py"), str(args.batch), str(args.steps)]
    )
  else:
    rows["pytorch"] = {"error": f"no {args.torch_python}; run benchmarks/setup_torch_venv.sh"}

  print_table(rows, args.batch, args.steps)


if __name__ == "__main__":
  main()
