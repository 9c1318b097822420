"""The project's XLA flags: added before JAX starts, never over the user's own choice."""

import subprocess
import sys

from ganjax.xla_flags import CPU_FLAGS, set_xla_flags


def test_flags_are_appended_to_the_users_and_only_once():
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
  assert set_xla_flags(environ).split() == ["--xla_force_host_platform_device_count=2", *CPU_FLAGS]
  assert set_xla_flags(environ).split() == ["--xla_force_host_platform_device_count=2", *CPU_FLAGS]
  assert set_xla_flags({}).split() == list(CPU_FLAGS)


def test_a_flag_the_user_set_keeps_the_users_value():
  name = CPU_FLAGS[0].split("=")[0]
  environ = {"XLA_FLAGS": f"{name}=individual_convolution"}
  assert set_xla_flags(environ) == f"{name}=individual_convolution"


def test_a_command_starts_jax_with_the_flags_and_xla_accepts_them():
  """XLA aborts on a flag it does not know: a run must still start and compute."""
  code = (
    "import os; from ganjax import cli; cli.start_backend('cpu'); import jax.numpy as jnp; "
    "print(float(jnp.ones(3).sum())); print(os.environ['XLA_FLAGS'])"
  )
  out = subprocess.run(
    [sys.executable, "-c", code],
    capture_output=True,
    text=True,
    check=True,
    env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
  ).stdout.split("\n")
  assert out[0] == "3.0" and all(flag in out[1].split() for flag in CPU_FLAGS)
