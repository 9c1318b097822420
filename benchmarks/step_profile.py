"""Where the DCGAN train step's time goes: milliseconds per step of each compiled op, by layer.

    python benchmarks/step_profile.py                          # batch 256, top 25 ops
    python benchmarks/step_profile.py --experiment=wgan_gp     # that experiment's step and batch

Traces a few steps with the JAX profiler (XLA:CPU's per-thunk trace events), then names each
op after the model layer and pass (forward, or the transpose = backward) it comes from, read
from the optimised HLO's metadata. The figures are the thunks' own durations: on a loaded
machine they all stretch together, so read them as shares of the step.

Not all of a step's time is traced: XLA:CPU dispatches some work (convolutions on the intra-op
thread pool, most likely) without trace events of its own, and the client thread meanwhile
waits. So the report starts from the step's wall time and gives, per op group, the traced
milliseconds, then the part of the wall time that no traced op covers, as its own row.
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
import time

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


# Op groups, first match wins: (group, test on the HLO instruction name, test on its layer).
OP_GROUPS = (
  ("convolution", lambda op, layer: op.startswith("convolution") or "conv_general_dilated" in layer),
  ("dropout", lambda op, layer: "Dropout" in layer),
  ("batchnorm", lambda op, layer: "BatchNorm" in layer),
  ("transpose/copy", lambda op, layer: "transpose" in op or op.startswith("copy")),
  ("reduce-window", lambda op, layer: op.startswith("reduce-window")),
  ("optimizer", lambda op, layer: "adam" in layer.lower() or "optax" in layer.lower()),
)


def op_group(op: str, layer: str) -> str:
  return next((group for group, matches in OP_GROUPS if matches(op, layer)), "other")


def covered_ms(intervals: list[tuple[float, float]]) -> float:
  """Length of the union of (start, end) intervals in microseconds, as milliseconds: the
  time at least one traced op ran, counting ops on parallel threads once."""
  covered, reach = 0.0, -float("inf")
  for start, end in sorted(intervals):
    if end > reach:
      covered += end - max(start, reach)
      reach = end
  return covered / 1e3


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
      started = time.perf_counter()
      for _ in range(args.steps):
        state, metrics = step(state, batch, key)
      jax.block_until_ready(metrics)
      wall_ms = (time.perf_counter() - started) * 1e3 / args.steps
    trace = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)[0]
    events = json.load(gzip.open(trace))["traceEvents"]
  layers = op_layers(hlo)
  per_op = collections.Counter()
  intervals = []
  for event in events:
    if event.get("ph") == "X" and event["name"] in layers:
      per_op[event["name"]] += event.get("dur", 0) / 1e3 / args.steps
      intervals.append((event["ts"], event["ts"] + event.get("dur", 0)))
  traced = sum(per_op.values())
  untraced = max(wall_ms - covered_ms(intervals) / args.steps, 0.0)
  per_group = collections.Counter()
  for name, ms in per_op.items():
    per_group[op_group(name, layers[name])] += ms
  print(
    f"{args.experiment or 'dcgan'}, batch {config.batch_size} x {config.family.d_steps}: "
    f"{wall_ms:.0f} ms per step of wall time, {traced:.0f} ms of traced ops (summed over threads) "
    f"({os.environ['XLA_FLAGS']})"
  )
  print("by op group (share of the wall time):")
  for group, ms in [*per_group.most_common(), ("no traced op running", untraced)]:
    print(f"{ms:8.1f} ms {100 * ms / wall_ms:5.1f}%  {group}")
  print(f"the {args.top} largest ops:")
  for name, ms in per_op.most_common(args.top):
    print(f"{ms:8.1f} ms {100 * ms / wall_ms:5.1f}%  {name:<28} {layers[name][:90]}")


if __name__ == "__main__":
  main()
