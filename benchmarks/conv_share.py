"""The convolutions' share of the DCGAN train step, by timing each one alone.

    python benchmarks/conv_share.py                              # the default network, batch 64 and 256
    python benchmarks/conv_share.py --preset=tutorial --batches=256

The profiler cannot answer this on XLA:CPU: it traces only part of a step's wall time
(step_profile.py). So this reads every convolution of the compiled step's HLO (forward,
input and weight gradients), compiles each as a program of its own with the same shapes and
parameters, times it, and sums them. With XLA's convolutions (`--conv_backend=xla`) they are
`convolution` instructions (windows, dilations, layouts and group counts); with oneDNN's (the
default's `auto` on a CPU that has them) they are the custom calls of ganjax.kernels.onednn
(target, operand shapes, strides and padding). What the step
takes beyond that sum is the rest: BatchNorm, activations, the losses, the optimizer, layout
copies. The step and the convolutions alone are timed in interleaved rounds in one process.

A convolution alone may run faster or slower than inside the step (caches, the second thread
free or busy), so read the share as an estimate. `rhs_reversal` (a mirrored kernel) is timed
unmirrored: the same work.

    python benchmarks/conv_share.py --conv_backend=xla           # XLA's convolutions instead

The step timed is an ordinary one; with lazy R1 (the default) every 16th step also computes
the penalty's double backward, which this leaves out.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import statistics
import sys
import time

from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # what a run computes with

import jax  # noqa: E402
import numpy as np  # noqa: E402
from dcgan_step import add_network_arguments, network_configs, step_caller  # noqa: E402

from ganjax.kernels import onednn  # noqa: E402

SHAPE = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = (\w+)\[([\d,]*)\]")
CONVOLUTION = re.compile(r"^\s*(?:ROOT )?%([\w.\-]+) = \w+\[([\d,]*)\]\S* convolution\(%([\w.\-]+), %([\w.\-]+)\)(.*)$")
ONEDNN_CALL = re.compile(
  r"^\s*(?:ROOT )?%([\w.\-]+) = \w+\[([\d,]*)\]\S* custom-call\(.*"
  r'custom_call_target="ganjax_onednn_conv_(\w+)", operand_layout_constraints=\{(.*?)\}, api_version.*'
  r"backend_config=\{([^}]*)\}"
)
# HLO's dimension letters -> lax's: batch/feature of the data, input/output features of the kernel.
DATA_LETTERS = {"b": "N", "f": "C", "0": "H", "1": "W"}
KERNEL_LETTERS = {"o": "O", "i": "I", "0": "H", "1": "W"}


@dataclasses.dataclass(frozen=True)
class Convolution:
  lhs: tuple[int, ...]
  rhs: tuple[int, ...]
  strides: tuple[int, ...]
  padding: tuple[tuple[int, int], ...]
  lhs_dilation: tuple[int, ...]
  rhs_dilation: tuple[int, ...]
  dimension_numbers: tuple[str, str, str]
  feature_group_count: int
  batch_group_count: int

  def __call__(self, lhs, rhs):
    return jax.lax.conv_general_dilated(
      lhs,
      rhs,
      self.strides,
      self.padding,
      self.lhs_dilation,
      self.rhs_dilation,
      self.dimension_numbers,
      feature_group_count=self.feature_group_count,
      batch_group_count=self.batch_group_count,
    )


@dataclasses.dataclass(frozen=True)
class OnednnCall:
  """One of ganjax.kernels.onednn's custom calls: `kind` (forward, data_grad, weight_grad) of a
  convolution with `strides` and `padding`, from operands of shapes `lhs` and `rhs` to `out`."""

  kind: str
  lhs: tuple[int, ...]
  rhs: tuple[int, ...]
  out: tuple[int, ...]
  strides: tuple[int, int]
  padding: tuple[tuple[int, int], tuple[int, int]]

  @property
  def dimension_numbers(self) -> str:  # what the listing prints beside the shapes
    return f"oneDNN {self.kind}, strides {self.strides}, padding {self.padding}"

  def __call__(self, lhs, rhs):
    if self.kind == "forward":
      return onednn.conv(lhs, rhs, self.strides, self.padding)
    if self.kind == "data_grad":
      return onednn.conv_data_grad(lhs, rhs, self.out, self.strides, self.padding)
    return onednn.conv_weight_grad(lhs, rhs, self.out, self.strides, self.padding)


def parse_onednn_calls(hlo_text: str) -> list[tuple[str, OnednnCall]]:
  """Every oneDNN convolution custom call of a compiled HLO module: (its name, its parameters)."""
  found = []
  for line in hlo_text.splitlines():
    match = ONEDNN_CALL.match(line)
    if not match:
      continue
    name, out, kind, operands, attributes = match.groups()
    lhs, rhs = (tuple(int(d) for d in dims.split(",")) for dims in re.findall(r"\[([\d,]+)\]", operands))
    value = {key: int(v) for key, v in re.findall(r"(\w+) = (-?\d+) : i64", attributes)}
    call = OnednnCall(
      kind=kind,
      lhs=lhs,
      rhs=rhs,
      out=tuple(int(d) for d in out.split(",")),
      strides=(value["stride_h"], value["stride_w"]),
      padding=((value["pad_h_low"], value["pad_h_high"]), (value["pad_w_low"], value["pad_w_high"])),
    )
    found.append(_checked(name, call, lhs, rhs, call.out))
  return found


def _checked(name: str, op, lhs: tuple, rhs: tuple, out: tuple):
  """(name, op) if lax computes the HLO's output shape from the parsed `op`, else ValueError:
  a parse that gets a stride or a pad wrong would time another convolution."""
  computed = jax.eval_shape(op, *(jax.ShapeDtypeStruct(s, np.float32) for s in (lhs, rhs))).shape
  if computed != tuple(out):
    raise ValueError(f"{name}: parsed as {op}, which gives {computed}, not {list(out)}.")
  return name, op


def _pairs(text: str, spatial: int, default: int) -> tuple[int, ...]:
  return tuple(int(v) for v in text.split("x")) if text else (default,) * spatial


def parse_convolutions(hlo_text: str) -> list[tuple[str, Convolution]]:
  """Every `convolution` instruction of a compiled HLO module: (its name, its parameters)."""
  shapes = {}
  for line in hlo_text.splitlines():
    match = SHAPE.match(line)
    if match:
      shapes[match.group(1)] = tuple(int(d) for d in match.group(3).split(",") if d)
  found = []
  for line in hlo_text.splitlines():
    match = CONVOLUTION.match(line)
    if not match:
      continue
    name, out, lhs, rhs, attributes = match.groups()
    window = dict(re.findall(r"(\w+)=([\w_]+)", re.search(r"window=\{([^}]*)\}", attributes).group(1)))
    spatial = len(window["size"].split("x"))
    pads = [tuple(int(v) for v in pair.split("_")) for pair in window.get("pad", "").split("x") if pair]
    data_in, kernel_out = re.search(r"dim_labels=(\w+)->(\w+)", attributes).groups()
    data, kernel = data_in.split("_")
    groups = dict(re.findall(r"(feature_group_count|batch_group_count)=(\d+)", attributes))
    conv = Convolution(
      lhs=shapes[lhs],
      rhs=shapes[rhs],
      strides=_pairs(window.get("stride", ""), spatial, 1),
      padding=tuple(pads) if pads else ((0, 0),) * spatial,
      lhs_dilation=_pairs(window.get("lhs_dilate", ""), spatial, 1),
      rhs_dilation=_pairs(window.get("rhs_dilate", ""), spatial, 1),
      dimension_numbers=(
        "".join(DATA_LETTERS[c] for c in data),
        "".join(KERNEL_LETTERS[c] for c in kernel),
        "".join(DATA_LETTERS[c] for c in kernel_out),
      ),
      feature_group_count=int(groups.get("feature_group_count", 1)),
      batch_group_count=int(groups.get("batch_group_count", 1)),
    )
    found.append(_checked(name, conv, conv.lhs, conv.rhs, tuple(int(d) for d in out.split(","))))
  return found


def seconds_per_call(function, args, calls: int) -> float:
  jax.block_until_ready(function(*args))
  started = time.perf_counter()
  for _ in range(calls):
    out = function(*args)
  jax.block_until_ready(out)
  return (time.perf_counter() - started) / calls


def measure(config, rounds: int, steps: int) -> dict:
  step_call = step_caller(config, 1)  # an ordinary step (step 0 is lazy R1's)
  hlo_text = step_call.lower().compile().as_text()
  onednn_calls = resolve_backend_of(config) == "onednn"
  convolutions = parse_onednn_calls(hlo_text) if onednn_calls else parse_convolutions(hlo_text)
  rng = np.random.default_rng(1)
  compiled = []
  for name, conv in convolutions:
    operands = tuple(jax.device_put(rng.standard_normal(s).astype(np.float32)) for s in (conv.lhs, conv.rhs))
    compiled.append((name, jax.jit(conv), operands))

  step_ms, conv_ms, per_conv = [], [], {name: [] for name, _, _ in compiled}
  for _ in range(rounds):
    step_ms.append(1e3 * seconds_per_call(step_call, (), steps))
    total = 0.0
    for name, function, operands in compiled:
      ms = 1e3 * seconds_per_call(function, operands, steps)
      per_conv[name].append(ms)
      total += ms
    conv_ms.append(total)
  return {
    "step_ms": statistics.median(step_ms),
    "conv_ms": statistics.median(conv_ms),
    "rounds": list(zip(step_ms, conv_ms)),
    "per_conv": {name: (statistics.median(v), conv) for (name, v), (_, conv) in zip(per_conv.items(), convolutions)},
    "hlo_text": hlo_text,  # the compiled step's, which the convolutions were read from
  }


def resolve_backend_of(config) -> str:
  return onednn.resolve_backend(config.family.conv_backend)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64,256", steps=10)
  parser.add_argument("--top", type=int, default=8, help="the largest convolutions to list")
  parser.add_argument(
    "--conv_backend", choices=("auto", "xla", "onednn"), default="", help="in place of the network's own"
  )
  args = parser.parse_args(argv)
  for config in network_configs(parser, args):
    if args.conv_backend:
      config = config.replace(conv_backend=args.conv_backend)
    batch_size = config.batch_size
    result = measure(config, args.rounds, args.steps)
    rest = result["step_ms"] - result["conv_ms"]
    print(
      f"{args.preset or 'default'} network, batch {batch_size}, {resolve_backend_of(config)}'s convolutions: "
      f"step {result['step_ms']:.1f} ms, "
      f"{len(result['per_conv'])} convolutions alone {result['conv_ms']:.1f} ms, "
      f"the rest {rest:.1f} ms = {100 * rest / result['step_ms']:.1f}% of the step"
    )
    print("  rounds (step, convolutions) ms: " + ", ".join(f"{s:.1f}/{c:.1f}" for s, c in result["rounds"]))
    largest = sorted(result["per_conv"].items(), key=lambda item: -item[1][0])[: args.top]
    for name, (ms, conv) in largest:
      print(f"  {ms:7.2f} ms  {name:<34} {conv.lhs} * {conv.rhs} {conv.dimension_numbers}")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
