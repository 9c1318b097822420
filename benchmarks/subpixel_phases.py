"""G's 5x5 stride-2 transposed convolutions: today's sub-pixel form against an exact per-phase one.

    python benchmarks/subpixel_phases.py                # batch 256, the tutorial's layers
    python benchmarks/subpixel_phases.py --width=32     # the default's

`SubPixelConvTranspose` computes all four output phases with one 3x3 convolution, though each
phase meets only some of the 5x5 kernel's taps: 3x3, 3x2, 2x3 and 2x2 of them (25 of the 36
it computes, so the sub-pixel form does 1.44x the FLOPs of the transposed convolution). The
exact form runs one convolution per phase with only its taps. This times both (forward pass
and both gradients, jitted, interleaved rounds in one process) on G's two stride-2 layers and
checks they agree, to decide whether the exact form is worth building into the layer.
"""

from __future__ import annotations

import argparse
import time

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # what a run computes with (before JAX starts)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from ganjax.models.layers import SubPixelConvTranspose, _phase_taps  # noqa: E402

_NHWC = ("NHWC", "HWIO", "NHWC")


def exact_phases(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
  """The 'SAME' transposed convolution of `x` by `kernel` [k, k, in, out], one stride-1
  convolution per output phase over only the taps that phase meets, then depth-to-space."""
  select, lo, _ = _phase_taps(kernel.shape[0], stride)
  phases = []
  for a in range(stride):
    row = []
    for b in range(stride):
      taps_h = np.flatnonzero(select[a].any(axis=1))  # the phase's taps, contiguous
      taps_w = np.flatnonzero(select[b].any(axis=1))
      phase_kernel = jnp.einsum("tk,ul,klio->tuio", select[a][taps_h], select[b][taps_w], kernel.astype(x.dtype))
      pad_h = (lo - taps_h[0], len(taps_h) - 1 - (lo - taps_h[0]))
      pad_w = (lo - taps_w[0], len(taps_w) - 1 - (lo - taps_w[0]))
      row.append(jax.lax.conv_general_dilated(x, phase_kernel, (1, 1), (pad_h, pad_w), dimension_numbers=_NHWC))
    phases.append(jnp.stack(row, axis=3))  # [N, H, W, sw, F]
  y = jnp.stack(phases, axis=3)  # [N, H, W, sh, sw, F]
  n, h, w, _, _, f = y.shape
  return y.transpose(0, 1, 3, 2, 4, 5).reshape(n, h * stride, w * stride, f)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--width", type=int, default=64)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  w = args.width
  # G's stride-2 layers at 28x28: 7x7x2w -> 14x14xw, then 14x14xw -> 28x28x1 (the output).
  layers = {f"7x7x{2 * w} -> 14x14x{w}": (7, 2 * w, w), f"14x14x{w} -> 28x28x1": (14, w, 1)}
  rng = np.random.default_rng(0)
  print(f"batch {args.batch}, forward + both gradients, {args.steps} calls x {args.rounds} interleaved rounds")
  print(f"{'layer':<24}{'sub-pixel ms':>14}{'exact ms':>10}{'exact / sub-pixel':>19}{'max |diff|':>12}")
  for name, (size, c_in, c_out) in layers.items():
    x = jnp.asarray(rng.normal(size=(args.batch, size, size, c_in)), jnp.float32)
    kernel = jnp.asarray(rng.normal(size=(5, 5, c_in, c_out)) * 0.02, jnp.float32)
    module = SubPixelConvTranspose(c_out, (5, 5), (2, 2), use_bias=False)
    forms = {
      "sub-pixel": lambda x, k: module.apply({"params": {"kernel": k}}, x),
      "exact": lambda x, k: exact_phases(x, k, 2),
    }
    cotangent = jnp.asarray(rng.normal(size=(args.batch, 2 * size, 2 * size, c_out)), jnp.float32)
    timed = {}
    for form, f in forms.items():
      timed[form] = jax.jit(jax.grad(lambda x, k, f=f: jnp.sum(f(x, k) * cotangent), argnums=(0, 1)))
      jax.block_until_ready(timed[form](x, kernel))
    diff = float(jnp.max(jnp.abs(forms["sub-pixel"](x, kernel) - forms["exact"](x, kernel))))
    ms = {form: [] for form in forms}
    for _ in range(args.rounds):
      for form, g in timed.items():
        start = time.perf_counter()
        for _ in range(args.steps):
          out = g(x, kernel)
        jax.block_until_ready(out)
        ms[form].append(1e3 * (time.perf_counter() - start) / args.steps)
    sub, exact = np.median(ms["sub-pixel"]), np.median(ms["exact"])
    print(f"{name:<24}{sub:>14.1f}{exact:>10.1f}{exact / sub:>19.2f}{diff:>12.2e}")


if __name__ == "__main__":
  main()
