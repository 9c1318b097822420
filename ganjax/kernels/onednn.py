"""2-D convolutions on oneDNN's CPU kernels, through XLA's FFI (`--conv_backend=onednn`).

XLA:CPU computes the DCGAN's convolutions on its Eigen kernels; oneDNN's (the library
TensorFlow's CPU build uses) ran its conv layers 1.3-1.7x faster on the development CPU,
forward and both gradients, and the whole step 1.2-1.3x (docs/speed.md, round eight).
`conv` is `lax.conv_general_dilated` for NHWC activations
and HWIO kernels (float32, explicit padding, strides; no dilation, no groups) on those kernels.

Its gradient is oneDNN's too, and so are gradients of gradients (R1, WGAN-GP): the forward
convolution, its data gradient and its weight gradient are three custom calls whose
derivatives are each other, so any order of differentiation stays on oneDNN.

The custom calls are C++ (`onednn_conv.cc`), compiled on first use with the machine's C++
compiler against the oneDNN wheel the project installs, and cached in
`$GANJAX_CACHE` (default `~/.cache/ganjax`) under a name that changes with the source.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import jax
import numpy as np

from ganjax.errors import UsageError

SOURCE = Path(__file__).with_name("onednn_conv.cc")
TARGETS = {
  "forward": "GanjaxOnednnConvForward",
  "data_grad": "GanjaxOnednnConvDataGrad",
  "weight_grad": "GanjaxOnednnConvWeightGrad",
}
INSTALL_HINT = "pip install onednn-cpu-gomp==2023.2.0 onednn-devel-cpu-gomp==2023.2.0 (the project's install does)"


def onednn_prefix() -> Path | None:
  """Where the oneDNN wheels put `include/` and `lib/` (the environment's data prefix), if they did."""
  for prefix in {sysconfig.get_path("data"), sys.prefix}:
    root = Path(prefix)
    if (root / "include" / "oneapi" / "dnnl" / "dnnl.hpp").exists() and (root / "lib" / "libdnnl.so").exists():
      return root
  return None


def cache_dir() -> Path:
  """Where the compiled kernels are kept: $GANJAX_CACHE, else ~/.cache/ganjax, else (no writable
  home) the temporary directory."""
  chosen = Path(os.environ.get("GANJAX_CACHE") or Path.home() / ".cache" / "ganjax") / "kernels"
  try:
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen
  except OSError:
    return Path(tempfile.gettempdir()) / f"ganjax-kernels-{os.getuid()}"


def _compiler() -> str | None:
  return shutil.which(os.environ.get("CXX", "c++")) or shutil.which("g++")


def unavailable_reason() -> str | None:
  """Why `--conv_backend=onednn` cannot run here, as the end of a sentence; None: it can."""
  if sys.platform != "linux":
    return f"runs on Linux only (this is {sys.platform})"
  if onednn_prefix() is None:
    return f"needs oneDNN's library and headers: {INSTALL_HINT}"
  if _compiler() is None:
    return "needs a C++ compiler to build its kernels once (set CXX, or install g++)"
  return None


def resolve_backend(name: str) -> str:
  """`--conv_backend`'s value for this process: 'auto' becomes 'onednn' where JAX computes on
  the CPU and oneDNN's kernels can run, else 'xla'."""
  if name != "auto":
    return name
  return "onednn" if jax.default_backend() == "cpu" and unavailable_reason() is None else "xla"


def library_path() -> Path:
  """The compiled custom calls, built on first use (atomically: parallel first uses are safe)."""
  reason = unavailable_reason()
  if reason:
    raise UsageError(f"--conv_backend=onednn {reason}.")
  prefix = onednn_prefix()
  source = SOURCE.read_bytes()
  digest = hashlib.sha256(source + jax.__version__.encode() + str(prefix).encode()).hexdigest()[:16]
  target = cache_dir() / f"onednn_conv-{digest}.so"
  if target.exists():
    return target
  print("Building the oneDNN convolution kernels (once per machine, about 10 s)...", file=sys.stderr, flush=True)
  with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
    built = Path(scratch) / target.name
    command = [
      _compiler(),
      "-O2",
      "-std=c++17",
      "-shared",
      "-fPIC",
      "-w",  # the FFI headers' own warnings are not ours to fix
      f"-I{jax.ffi.include_dir()}",
      f"-I{prefix / 'include'}",
      str(SOURCE),
      f"-L{prefix / 'lib'}",
      "-ldnnl",
      f"-Wl,-rpath,{prefix / 'lib'}",
      "-o",
      str(built),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
      last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
      raise UsageError(f"--conv_backend=onednn could not build its kernels ({command[0]}: {last}).")
    os.replace(built, target)
  return target


@functools.cache
def register() -> None:
  """Loads the custom calls and registers them with XLA (once per process)."""
  library = ctypes.cdll.LoadLibrary(str(library_path()))
  for kind, symbol in TARGETS.items():
    capsule = jax.ffi.pycapsule(getattr(library, symbol))
    jax.ffi.register_ffi_target(f"ganjax_onednn_conv_{kind}", capsule, platform="cpu")


Padding = tuple[tuple[int, int], tuple[int, int]]


def _call(kind: str, out_shape, a, b, strides: tuple[int, int], padding: Padding):
  register()
  (sh, sw), ((ph0, ph1), (pw0, pw1)) = strides, padding
  attrs = dict(stride_h=sh, stride_w=sw, pad_h_low=ph0, pad_h_high=ph1, pad_w_low=pw0, pad_w_high=pw1)
  return jax.ffi.ffi_call(f"ganjax_onednn_conv_{kind}", jax.ShapeDtypeStruct(out_shape, np.float32))(
    a.astype(np.float32), b.astype(np.float32), **{k: np.int64(v) for k, v in attrs.items()}
  )


def output_shape(x_shape, w_shape, strides: tuple[int, int], padding: Padding) -> tuple[int, ...]:
  n, h, w, _ = x_shape
  kh, kw, _, out = w_shape
  (sh, sw), ((ph0, ph1), (pw0, pw1)) = strides, padding
  return (n, (h + ph0 + ph1 - kh) // sh + 1, (w + pw0 + pw1 - kw) // sw + 1, out)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def conv(x: jax.Array, w: jax.Array, strides: tuple[int, int], padding: Padding) -> jax.Array:
  """x [N, H, W, C], w [KH, KW, C, O] -> [N, OH, OW, O]: `lax.conv_general_dilated(x, w,
  strides, padding, dimension_numbers=('NHWC', 'HWIO', 'NHWC'))` on oneDNN."""
  return _call("forward", output_shape(x.shape, w.shape, strides, padding), x, w, strides, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_data_grad(dy: jax.Array, w: jax.Array, x_shape: tuple[int, ...], strides, padding: Padding) -> jax.Array:
  """dL/dx of `conv(x, w)` from dL/dy (linear in dy and in w)."""
  return _call("data_grad", tuple(x_shape), dy, w, strides, padding)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv_weight_grad(x: jax.Array, dy: jax.Array, w_shape: tuple[int, ...], strides, padding: Padding) -> jax.Array:
  """dL/dw of `conv(x, w)` from x and dL/dy (linear in each)."""
  return _call("weight_grad", tuple(w_shape), x, dy, strides, padding)


def _conv_fwd(x, w, strides, padding):
  return conv(x, w, strides, padding), (x, w)


def _conv_bwd(strides, padding, residuals, dy):
  x, w = residuals
  return conv_data_grad(dy, w, x.shape, strides, padding), conv_weight_grad(x, dy, w.shape, strides, padding)


def _data_grad_fwd(dy, w, x_shape, strides, padding):
  return conv_data_grad(dy, w, x_shape, strides, padding), (dy, w)


def _data_grad_bwd(x_shape, strides, padding, residuals, g):
  # dx = A(w)^T dy, so <g, dx> = <A(w) g, dy>: d/d dy = conv(g, w), d/dw = weight_grad(g, dy).
  dy, w = residuals
  return conv(g, w, strides, padding), conv_weight_grad(g, dy, w.shape, strides, padding)


def _weight_grad_fwd(x, dy, w_shape, strides, padding):
  return conv_weight_grad(x, dy, w_shape, strides, padding), (x, dy)


def _weight_grad_bwd(w_shape, strides, padding, residuals, g):
  # <g, dw> = <conv(x, g), dy>: d/d dy = conv(x, g), d/dx = data_grad(dy, g).
  x, dy = residuals
  return conv_data_grad(dy, g, x.shape, strides, padding), conv(x, g, strides, padding)


conv.defvjp(_conv_fwd, _conv_bwd)
conv_data_grad.defvjp(_data_grad_fwd, _data_grad_bwd)
conv_weight_grad.defvjp(_weight_grad_fwd, _weight_grad_bwd)
