"""XLA flags the project sets itself, each because a benchmark showed it helps.

They go into the XLA_FLAGS environment variable, which XLA reads once, when JAX starts its
first backend: `set_xla_flags()` must run before that (ganjax.cli.start_backend does; so do
the benchmarks and the test suite, so that they measure and test what a run computes with).
A flag the user already put in XLA_FLAGS is left as the user set it.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# YNNPACK fusions off: XLA:CPU then runs convolutions and dots on its Eigen kernels, which were
# faster for the DCGAN's convolutions on the 2-core AMD EPYC (AVX-512) development CPU: G's first
# layer (7x7x256 -> 7x7x128, 5x5, batch 256) forward and both gradients 400-426 ms -> 310-333 ms,
# the whole MNIST DCGAN train step at batch 256 240-245 -> 282-305 images/s (2026-12-01,
# benchmarks/train_step.py). The flag touches only XLA's CPU backend.
CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)


def _name(flag: str) -> str:
  return flag.split("=", 1)[0]


def set_xla_flags(environ: MutableMapping[str, str] = os.environ) -> str:
  """Appends the project's flags to `environ['XLA_FLAGS']` where the user has not set them;
  returns the new value."""
  current = environ.get("XLA_FLAGS", "").split()
  chosen = {_name(flag) for flag in current}
  added = [flag for flag in CPU_FLAGS if _name(flag) not in chosen]
  environ["XLA_FLAGS"] = " ".join(current + added)
  return environ["XLA_FLAGS"]
