"""Where the DCGAN train step's time goes: milliseconds per step of each compiled op, by layer.

    python benchmarks/step_profile.py                          # batch 256, top 25 ops
    python benchmarks/step_profile.py --experiment=wgan_gp     # that experiment's step and batch

Traces a few steps with the JAX profiler (XLA:CPU's per-thunk trace events), then names each
op after the model layer and pass (forward, or the transpose = backward) it comes from, read
from the optimised HLO's metadata. The figures are the thunks' own durations: on a loaded
machine they all stretch together, so read them as shares of the step.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import importlib
import json
import os
import re
import tempfile

from ganjax.xla_flags import set_xla_flags  # noqa: E402

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()
set_xla_flags()  # what a run computes with

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dcgan_step import pmapped_steps  # noqa: E402

from ganjax.config import Config  # noqa: E402


def op_layers(hlo_text: str) -> dict[str, str]:
  """HLO instruction name -> 'pass/Module/Layer/primitive' from its op_name metadata."""
  names = {}
  for line in hlo_text.splitlines():
    match = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = (\S+)", line)
    if not match:
      continue
    op_name = re.search(r'op_name="([^"]+)"', line)
    # Fusions without metadata (weight gradients, often) are named by their output shape.
    names[match.group(1)] = re.sub(r"^jit\([^)]*\)/", "", op_name.group(1)) if op_name else f"-> {match.group(2)}"
  return names


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--experiment", default="", help="profile experiments.<name>'s default step")
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--top", type=int, default=25)
  args = parser.parse_args()
  config = Config.from_flags(batch_size=args.batch)
  if args.experiment:
    config = importlib.import_module(f"experiments.{args.experiment}").DEFAULTS
  images_per_step = config.batch_size * config.family.d_steps
  key = jax.random.key(0)
  state, step_for = pmapped_steps(config, jax.local_devices()[:1])
  step = step_for(0)
  batch = {"image": np.random.default_rng(0).uniform(-1, 1, (1, images_per_step, 28, 28, 1)).astype(np.float32)}
  hlo = step.lower(state, batch, key).compile().as_text()
  for _ in range(2):
    state, metrics = step(state, batch, key)
  jax.block_until_ready(metrics)
  with tempfile.TemporaryDirectory() as trace_dir:
    with jax.profiler.trace(trace_dir):
      for _ in range(args.steps):
        state, metrics = step(state, batch, key)
      jax.block_until_ready(metrics)
    trace = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)[0]
    events = json.load(gzip.open(trace))["traceEvents"]
  layers = op_layers(hlo)
  per_op = collections.Counter()
  for event in events:
    if event.get("ph") == "X" and event["name"] in layers:
      per_op[event["name"]] += event.get("dur", 0) / 1e3 / args.steps
  total = sum(per_op.values())
  print(
    f"{args.experiment or 'dcgan'}, batch {config.batch_size} x {config.family.d_steps}: "
    f"{total:.0f} ms of compiled ops per step ({os.environ['XLA_FLAGS']})"
  )
  for name, ms in per_op.most_common(args.top):
    print(f"{ms:8.1f} ms {100 * ms / total:5.1f}%  {name:<28} {layers[name][:90]}")


if __name__ == "__main__":
  main()
