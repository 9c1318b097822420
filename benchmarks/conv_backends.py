"""The DCGAN's convolutions on XLA's kernels and on oneDNN's (`--conv_backend=onednn`), one run.

    python benchmarks/conv_backends.py                            # the default network, batch 64 and 256
    python benchmarks/conv_backends.py --preset=tutorial --batches=256

Each convolution layer of G and D as the model computes it with each backend, forward and
both gradients (on XLA: G's transposed convolutions in their sub-pixel form, D's stride-2
convolutions with the sub-pixel input gradient; on oneDNN, ganjax.kernels.onednn: its own
transposed convolutions, but the sub-pixel form for the layer to the image), then the whole
train step with each backend. Interleaved rounds in one process; medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # what a run computes with

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from conv_share import seconds_per_call  # noqa: E402
from dcgan_step import add_network_arguments, network_configs, step_caller  # noqa: E402

from ganjax.kernels import onednn  # noqa: E402
from ganjax.models import build_gan, layers  # noqa: E402


def model_conv_layers(config, image_shape=(28, 28, 1)) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
  """(player, the layer, its input shape) of every convolution layer of G and D at
  `config.batch_size` (SubPixelConvTranspose, StridedConv), read by initialising them."""
  generator, discriminator = build_gan(config.replace(conv_backend="xla"), image_shape=image_shape, axis_name=None)
  found, player = [], [""]

  def record(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name == "__call__" and isinstance(module, (layers.SubPixelConvTranspose, layers.StridedConv)):
      found.append((player[0], module.clone(parent=None, name=None), tuple(args[0].shape)))
    return next_fun(*args, **kwargs)

  key, batch = jax.random.key(0), config.batch_size
  with nn.intercept_methods(record):
    player[0] = "G"
    generator.init({"params": key}, jax.numpy.zeros((batch, config.family.latent_dim)), train=False)
    player[0] = "D"
    discriminator.init({"params": key}, jax.numpy.zeros((batch, *image_shape)), train=False)
  return found


def describe(player: str, layer: nn.Module, x_shape) -> str:
  kind = "transposed" if isinstance(layer, layers.SubPixelConvTranspose) else "conv"
  return f"{player} {kind} {x_shape[1]}x{x_shape[2]}x{x_shape[3]} -> {layer.features}, stride {layer.strides[0]}"


def forward_and_gradients(layer: nn.Module, backend: str, x_shape):
  """(jit(params, x, dy -> y, dparams, dx), params) of the layer as that backend's model computes it."""
  layer = layer.clone(conv_backend=backend)
  params = layer.init(jax.random.key(1), jax.numpy.zeros(x_shape))

  def step(params, x, dy):
    y, vjp = jax.vjp(layer.apply, params, x)
    return (y, *vjp(dy))

  return jax.jit(step), params


def measure(config, rounds: int, steps: int) -> dict:
  rng = np.random.default_rng(0)
  calls = []
  for player, layer, x_shape in model_conv_layers(config):
    x = rng.standard_normal(x_shape).astype(np.float32)
    functions = {}
    for backend in ("xla", "onednn"):
      function, params = forward_and_gradients(layer, backend, x_shape)
      dy = rng.standard_normal(jax.eval_shape(layer.apply, params, x).shape).astype(np.float32)
      functions[backend] = (function, (params, x, dy))
    calls.append((describe(player, layer, x_shape), functions))
  step_calls = {b: step_caller(config.replace(conv_backend=b), 1) for b in ("xla", "onednn")}
  times = {(name, b): [] for name, _ in calls for b in ("xla", "onednn")}
  step_ms = {b: [] for b in step_calls}
  for _ in range(rounds):
    for backend, call in step_calls.items():
      step_ms[backend].append(1e3 * seconds_per_call(call, (), steps))
    for name, functions in calls:
      for backend, (function, operands) in functions.items():
        times[(name, backend)].append(1e3 * seconds_per_call(function, operands, steps))
  return {
    "layers": {(n, b): statistics.median(v) for (n, b), v in times.items()},
    "step_ms": {b: statistics.median(v) for b, v in step_ms.items()},
    "names": [name for name, _ in calls],
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
