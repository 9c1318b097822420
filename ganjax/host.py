"""What a machine is, as far as it decides a run's float rounding.

Two runs of one seed on one machine compute the same numbers; on machines whose CPUs take
different vector paths (AVX2 against AVX-512, say), oneDNN and XLA add in other orders and the
runs part ways: at the DCGAN default, fid_mnist moved by 0.36 to 0.55 at a fixed seed between
such hosts (docs/sweeps.md), as much as many tricks' effects. A sweep records each run's
`fingerprint` so that its tables can say which paired differences cross machines. It tells
machines apart by their CPU's numbers, which is stricter than the rounding: two AVX2
generations of AMD EPYC computed the same runs bit for bit.
Reads /proc/cpuinfo and package metadata only: importing JAX here would claim an accelerator.
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import subprocess

# The widest vector extension decides which kernels oneDNN and XLA pick; the first match wins.
VECTOR_EXTENSIONS = ("amx_tile", "avx512f", "avx2", "avx", "sve", "asimd")


def cpu_fields(path: str = "/proc/cpuinfo") -> dict[str, str]:
  """The first processor's fields of /proc/cpuinfo ({} where there is none, as on macOS)."""
  fields: dict[str, str] = {}
  try:
    with open(path) as f:
      for line in f:
        if not line.strip():
          if fields:
            break
          continue
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
  except OSError:
    return {}
  return fields


def cpu_name(path: str = "/proc/cpuinfo") -> str:
  """The CPU's model name, or the architecture where the system does not say."""
  return cpu_fields(path).get("model name") or platform.machine()


def cpu_fingerprint(path: str = "/proc/cpuinfo") -> str:
  """Vendor, family and model numbers and the widest vector extension: "AuthenticAMD 25/1
  avx2". Numbers, not the model name: a virtual machine may call every generation "AMD EPYC"."""
  fields = cpu_fields(path)
  if not fields:
    return platform.machine() or "unknown CPU"
  flags = set((fields.get("flags") or fields.get("Features") or "").split())
  widest = next((ext for ext in VECTOR_EXTENSIONS if ext in flags), "no vector extension listed")
  vendor = fields.get("vendor_id") or fields.get("CPU implementer") or platform.machine()
  family = fields.get("cpu family") or fields.get("CPU architecture") or "?"
  model = fields.get("model") or fields.get("CPU part") or "?"
  return f"{vendor} {family}/{model} {widest}"


def gpu_names() -> str | None:
  """The NVIDIA GPUs' names from nvidia-smi, or None where it is absent or fails."""
  if shutil.which("nvidia-smi") is None:
    return None
  try:
    out = subprocess.run(
      ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=30
    )
  except (OSError, subprocess.TimeoutExpired):
    return None
  names = sorted({line.strip() for line in out.stdout.splitlines() if line.strip()})
  return ", ".join(names) if out.returncode == 0 and names else None


def fingerprint(accelerator: str, path: str = "/proc/cpuinfo") -> str:
  """One line that is the same for two machines only if they round alike, as far as we can
  tell without JAX: the CPU, jaxlib's version and, unless the run is CPU-only, the GPUs."""
  try:
    jaxlib = importlib.metadata.version("jaxlib")
  except importlib.metadata.PackageNotFoundError:
    jaxlib = "?"
  parts = [cpu_fingerprint(path), f"jaxlib {jaxlib}"]
  gpus = None if accelerator == "cpu" else gpu_names()
  if gpus:
    parts.append(gpus)
  return ", ".join(parts)
