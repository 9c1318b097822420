"""How far apart runs on different device counts end: the same config on 1, 2 and 4 CPU devices.

    python benchmarks/determinism.py --steps=50    # prints the max |difference| per pair

Each run is its own process (the device count is fixed when JAX starts); the same device
count twice is compared too, which must give 0 (bitwise).
"""

import argparse
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np


def train(workdir: str, devices: int, steps: int, data_dir: str) -> None:
  env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
  subprocess.run(
    [
      sys.executable,
      "-m",
      "experiments.dcgan",
      f"--workdir={workdir}",
      f"--steps={steps}",
      "--eval_every=0",
      f"--checkpoint_every={steps}",
      f"--sample_every={steps}",
      "--accelerator=cpu",
      *([f"--data_dir={data_dir}"] if data_dir else []),
    ],
    env=env,
    check=True,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
  )


def final_state(workdir: str) -> dict:
  from ganjax import checkpoint

  manager = checkpoint.open_manager(workdir, 1)
  try:
    import orbax.checkpoint as ocp

    restored = manager.restore(manager.latest_step(), args=ocp.args.Composite(state=ocp.args.StandardRestore()))
  finally:
    manager.close()
  return restored["state"]


def main() -> None:
  parser = argparse.ArgumentParser()
  parser.add_argument("--steps", type=int, default=50)
  parser.add_argument("--data_dir", default="")
  args = parser.parse_args()
  import jax

  root = tempfile.mkdtemp(prefix="ganjax_determinism_")
  runs = {"4 devices": 4, "4 devices again": 4, "2 devices": 2, "1 device": 1}
  states = {}
  for name, devices in runs.items():
    workdir = os.path.join(root, name.replace(" ", "_"))
    train(workdir, devices, args.steps, args.data_dir)
    states[name] = final_state(workdir)
  for a, b in itertools.combinations(runs, 2):
    diffs = jax.tree.leaves(
      jax.tree.map(
        lambda x, y: float(np.max(np.abs(np.asarray(x, np.float64) - y))),
        states[a]["g_params"] | {"d": states[a]["d_params"]},
        states[b]["g_params"] | {"d": states[b]["d_params"]},
      )
    )
    print(f"{a} vs {b} after {args.steps} steps: max |param difference| = {max(diffs):.3g}")


if __name__ == "__main__":
  main()
