"""The DCGAN's convolutions on XLA's kernels and on oneDNN's (`--conv_backend=onednn`), one run.

    python benchmarks/conv_backends.py                            # the default network, batch 64 and 256
    python benchmarks/conv_backends.py --preset=tutorial --batches=256

Each convolution layer of G and D as the model computes it (G's transposed convolutions in
their sub-pixel form, D's stride-2 convolutions with the sub-pixel input gradient), timed
forward and both gradients, once on XLA and once on oneDNN (ganjax.kernels.onednn); then the
whole train step with each backend. Interleaved rounds in one process; medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # what a run computes with

import jax  # noqa: E402
import numpy as np  # noqa: E402
from conv_share import seconds_per_call  # noqa: E402
from dcgan_step import add_network_arguments, network_configs, step_caller  # noqa: E402

from ganjax.kernels import onednn  # noqa: E402
from ganjax.models import build_gan, layers  # noqa: E402


def model_convolutions(config, image_shape=(28, 28, 1)) -> list[tuple[str, tuple, tuple, tuple, tuple]]:
  """(player, x shape, kernel shape, strides, explicit padding) of every convolution G and D
  compute in their forward passes at `config.batch_size`, read by initialising them."""
  config = config.replace(conv_backend="xla")
  generator, discriminator = build_gan(config, image_shape=image_shape, axis_name=None)
  found, original = [], jax.lax.conv_general_dilated
  player = [""]

  def record(lhs, rhs, window_strides, padding, *args, **kwargs):
    if isinstance(padding, str):
      padding = jax.lax.padtype_to_pads(lhs.shape[1:3], rhs.shape[:2], window_strides, padding)
    found.append((player[0], tuple(lhs.shape), tuple(rhs.shape), tuple(window_strides), tuple(map(tuple, padding))))
    return original(lhs, rhs, window_strides, padding, *args, **kwargs)

  key, batch = jax.random.key(0), config.batch_size
  jax.lax.conv_general_dilated = record
  try:
    player[0] = "G"
    generator.init({"params": key}, jax.numpy.zeros((batch, config.family.latent_dim)), train=False)
    player[0] = "D"
    discriminator.init({"params": key}, jax.numpy.zeros((batch, *image_shape)), train=False)
  finally:
    jax.lax.conv_general_dilated = original
  return found


def forward_and_gradients(backend: str, strides, padding):
  """jit(x, w, dy -> y, dx, dw) of one layer's convolution as that backend's model computes it."""
  if backend == "onednn":
    conv = lambda x, w: onednn.conv(x, w, strides, padding)  # noqa: E731
  elif strides != (1, 1):
    conv = lambda x, w: layers._strided_conv(x, w, strides)  # noqa: E731  (StridedConv's own)
  else:
    conv = lambda x, w: layers.convolution(x, w, strides, padding, "xla")  # noqa: E731

  def step(x, w, dy):
    y, vjp = jax.vjp(conv, x, w)
    return (y, *vjp(dy))

  return jax.jit(step)


def measure(config, rounds: int, steps: int) -> dict:
  rng = np.random.default_rng(0)
  layers_found = model_convolutions(config)
  calls = []
  for player, x_shape, w_shape, strides, padding in layers_found:
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (0.02 * rng.standard_normal(w_shape)).astype(np.float32)
    dy = rng.standard_normal(onednn.output_shape(x_shape, w_shape, strides, padding)).astype(np.float32)
    name = f"{player} {x_shape} * {w_shape} stride {strides}"
    calls.append((name, {b: forward_and_gradients(b, strides, padding) for b in ("xla", "onednn")}, (x, w, dy)))
  step_calls = {b: step_caller(config.replace(conv_backend=b), 1) for b in ("xla", "onednn")}
  times = {(name, b): [] for name, _, _ in calls for b in ("xla", "onednn")}
  step_ms = {b: [] for b in step_calls}
  for _ in range(rounds):
    for backend, call in step_calls.items():
      step_ms[backend].append(1e3 * seconds_per_call(call, (), steps))
    for name, functions, operands in calls:
      for backend, function in functions.items():
        times[(name, backend)].append(1e3 * seconds_per_call(function, operands, steps))
  return {
    "layers": {(n, b): statistics.median(v) for (n, b), v in times.items()},
    "step_ms": {b: statistics.median(v) for b, v in step_ms.items()},
    "names": [name for name, _, _ in calls],
  }


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64,256", steps=10)
  args = parser.parse_args(argv)
  reason = onednn.unavailable_reason()
  if reason:
    parser.exit(2, f"oneDNN {reason}.\n")
  for config in network_configs(parser, args):
    result = measure(config, args.rounds, args.steps)
    print(f"{args.preset or 'default'} network, batch {config.batch_size}: forward and both gradients, ms (median)")
    rows = [(name, result["layers"][(name, "xla")], result["layers"][(name, "onednn")]) for name in result["names"]]
    rows.append(("all layers", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    rows.append(("the train step", result["step_ms"]["xla"], result["step_ms"]["onednn"]))
    for name, xla, ours in rows:
      print(f"  {name:<52} XLA {xla:8.2f}  oneDNN {ours:8.2f}  {xla / ours:5.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
