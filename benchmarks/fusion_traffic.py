"""The bytes the DCGAN step moves outside its convolutions, against what this CPU streams.

    python benchmarks/fusion_traffic.py                     # the default network, batch 64 and 256
    python benchmarks/fusion_traffic.py --preset=tutorial --batches=256

`conv_share.py` measures the rest of the step (all but its convolutions) and `rest_split.py`
names some parts of it; what neither names grows with the batch. This reads the compiled
step's HLO and adds up what every other instruction of its entry computation reads and
writes: the elementwise fusions (BatchNorm, LeakyReLU and their gradients, the losses, Adam),
the layout copies around the convolutions, the dots, the reductions. Free instructions
(parameters, constants, tuples, bitcasts) are left out, and so are the convolutions.

It then times three probes on the activation shape the step's loops write most, each one op
per call net of a call's fixed cost: an elementwise select (LeakyReLU's gradient), a transpose
into the layout of a weight gradient's convolution, and a sum over the batch (a BatchNorm
statistic). Each group's traffic divided by its probe's rate is the time it would take with no
cost per op beyond its bytes. When that is close to the measured rest, the rest is bound by its
bytes, and the lever is fewer passes over the activations; where it falls short, what is left
is per-op cost or slower code paths than the probes'.

The step and the convolutions alone (conv_share's measurement, whose compiled step is the one
read here) and the probes run in one process.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import re
import statistics
import sys

from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # what a run computes with (before JAX starts)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from conv_share import measure as measure_convolutions  # noqa: E402
from conv_share import seconds_per_call  # noqa: E402
from dcgan_step import add_network_arguments, network_configs  # noqa: E402

FREE = {"parameter", "constant", "tuple", "get-tuple-element", "bitcast", "after-all"}
ITEM_BYTES = {"f32": 4, "s32": 4, "u32": 4, "f16": 2, "bf16": 2, "s16": 2, "u16": 2, "s8": 1, "u8": 1, "pred": 1}
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (.+?) ([a-z][\w\-]*)\(([^)]*)\)(.*)$")
_ARRAY = re.compile(r"\b(" + "|".join(ITEM_BYTES) + r")\[([\d,]*)\]")


@dataclasses.dataclass(frozen=True)
class Instruction:
  name: str
  opcode: str
  written: int  # bytes of its result
  dims: tuple[int, ...]  # its result's shape (the first array of a tuple)
  operands: tuple[str, ...]


def shape_bytes(shape: str) -> int:
  """Bytes of an HLO shape: an array `f32[256,7,7,64]{3,2,1,0}` or a tuple of them."""
  total = 0
  for dtype, dims in _ARRAY.findall(shape):
    total += ITEM_BYTES[dtype] * int(np.prod([int(d) for d in dims.split(",") if d], dtype=np.int64))
  return total


def first_dims(shape: str) -> tuple[int, ...]:
  arrays = _ARRAY.findall(shape)
  return tuple(int(d) for d in arrays[0][1].split(",") if d) if arrays else ()


def entry_instructions(hlo_text: str) -> list[Instruction]:
  """The instructions of an optimized HLO module's ENTRY computation."""
  start = hlo_text.index("\nENTRY")
  body = hlo_text[start:].split("\n}", 1)[0].splitlines()[2:]
  parsed = []
  for line in body:
    match = _INSTRUCTION.match(line)
    if not match:
      continue
    name, shape, opcode, operands, _ = match.groups()
    parsed.append(
      Instruction(
        name=name,
        opcode=opcode,
        written=shape_bytes(shape),
        dims=first_dims(shape),
        operands=tuple(o.strip().lstrip("%") for o in re.sub(r"/\*[^*]*\*/", "", operands).split(",") if o.strip()),
      )
    )
  return parsed


GROUPS = {  # group: the probe whose rate it is charged at
  "elementwise fusions and the rest": "elementwise",
  "layout copies": "transpose",
  "reductions (batch statistics, bias gradients, losses)": "reduction",
  "dots (dense layers)": "elementwise",
  "collectives (pmap's psums)": "elementwise",
}


def group_of(i: Instruction) -> str:
  if i.opcode == "copy" or i.name.startswith(("transpose", "copy")):
    return "layout copies"
  if i.opcode == "dot" or "dot" in i.name:
    return "dots (dense layers)"
  if i.opcode.startswith("all-reduce") or i.opcode in ("all-gather", "reduce-scatter"):
    return "collectives (pmap's psums)"
  if "reduce" in i.opcode or "reduce" in i.name:
    return "reductions (batch statistics, bias gradients, losses)"
  return "elementwise fusions and the rest"


def traffic(instructions: list[Instruction]) -> dict[str, dict[str, float]]:
  """Per group (GROUPS) of the non-convolution instructions: their count and the bytes they
  read (their operands' results) and write."""
  size = {i.name: i.written for i in instructions}
  groups: dict[str, dict[str, float]] = collections.defaultdict(lambda: {"ops": 0, "read": 0, "written": 0})
  for i in instructions:
    if i.opcode in FREE or i.opcode == "convolution":
      continue
    entry = groups[group_of(i)]
    entry["ops"] += 1
    entry["read"] += sum(size.get(o, 0) for o in i.operands)
    entry["written"] += i.written
  return dict(groups)


def activation_shape(instructions: list[Instruction]) -> tuple[int, ...]:
  """The 4-D result shape that the step's fusions write the most bytes to: the activation
  size its loops run over."""
  written = collections.Counter()
  for i in instructions:
    if i.opcode == "fusion" and len(i.dims) == 4:
      written[tuple(sorted(i.dims))] += i.written
  dims = max(written, key=written.get)
  return next(i.dims for i in instructions if i.opcode == "fusion" and tuple(sorted(i.dims)) == dims)


PROBES = {  # name: (the op on an NHWC activation, its operands, bytes moved per element)
  "elementwise": (lambda x, y: jnp.where(x > 0, y, 0.2 * y), 2, 12),  # LeakyReLU's gradient
  "transpose": (lambda x: jnp.transpose(x, (3, 1, 2, 0)), 1, 8),  # into a weight gradient's layout
  "reduction": (lambda x: jnp.sum(x, axis=(0, 1, 2)), 1, 4),  # a batch statistic
}


def probe_rate(name: str, shape: tuple[int, ...], calls: int = 50) -> float:
  """Bytes per second of probe `name` on an array of `shape`, net of a call's fixed cost (XLA
  fuses any chain of such ops into one loop, so a probe is one op per call, and the same call
  on a 1x1x1x8 array is subtracted)."""
  op, arity, bytes_per_element = PROBES[name]

  def seconds(shape) -> float:
    rng = np.random.default_rng(0)
    operands = tuple(jax.device_put(rng.standard_normal(shape).astype(np.float32)) for _ in range(arity))
    return seconds_per_call(jax.jit(op), operands, calls)

  return bytes_per_element * int(np.prod(shape)) / max(seconds(shape) - seconds((1, 1, 1, 8)), 1e-9)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64,256", steps=10)
  args = parser.parse_args(argv)
  for config in network_configs(parser, args):
    timed = measure_convolutions(config, args.rounds, args.steps)
    instructions = entry_instructions(timed["hlo_text"])
    groups = traffic(instructions)
    rest_ms = timed["step_ms"] - timed["conv_ms"]
    shape = activation_shape(instructions)
    rates = {name: [probe_rate(name, shape) for _ in range(args.rounds)] for name in PROBES}
    rate = {name: statistics.median(values) for name, values in rates.items()}
    print(
      f"{args.preset or 'default'} network, batch {config.batch_size}: step {timed['step_ms']:.1f} ms, "
      f"convolutions alone {timed['conv_ms']:.1f} ms, the rest {rest_ms:.1f} ms"
    )
    print(f"  {'non-convolution instructions':<56} {'ops':>5} {'read MB':>8} {'written MB':>10} {'at probe':>9}")
    estimate = 0.0
    for name, g in sorted(groups.items(), key=lambda item: -(item[1]["read"] + item[1]["written"])):
      ms = 1e3 * (g["read"] + g["written"]) / rate[GROUPS[name]]
      estimate += ms
      print(f"  {name:<56} {g['ops']:5.0f} {g['read'] / 1e6:8.1f} {g['written'] / 1e6:10.1f} {ms:6.1f} ms")
    print(
      f"  probes on {'x'.join(map(str, shape))}, GB/s: "
      + "; ".join(
        f"{name} {rate[name] / 1e9:.1f} ({', '.join(f'{r / 1e9:.1f}' for r in values)})"
        for name, values in rates.items()
      )
    )
    print(
      f"  the traffic at the probes' rates: {estimate:.1f} ms = {100 * estimate / rest_ms:.0f}% of the rest; "
      f"{sum(g['ops'] for g in groups.values()):.0f} ops"
    )
    sys.stdout.flush()


if __name__ == "__main__":
  main()
