"""Test setup: 4 fake CPU devices (set before JAX is imported) and one prepared MNIST."""

import os

# Not LLVM's optimisation level 0, though it cuts the suite's compile time by a third: it changes
# float rounding (XLA contracts and vectorises differently), and VIF of an image against itself,
# a float32 E[xy] - E[x]E[y] on flat regions, came out at 1.24 instead of 1.
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
os.environ["JAX_PLATFORMS"] = "cpu"
from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # the suite tests what runs compute with
# No persistent compilation cache in the suite's own process: twice on this machine a full
# run segfaulted inside JAX's cache code (reading, then writing, an executable in
# test_tricks after many other tests). tests/sigkill.py gives its children a cache of their own.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402

from ganjax.config import Config  # noqa: E402


def pytest_collection_modifyitems(items):
  """Skips the tests marked `onednn` where oneDNN's kernels cannot run, saying why."""
  onednn_tests = [item for item in items if item.get_closest_marker("onednn")]
  if not onednn_tests:
    return
  from ganjax.kernels import onednn

  reason = onednn.unavailable_reason()
  if reason:
    for item in onednn_tests:
      item.add_marker(pytest.mark.skip(reason=f"--conv_backend=onednn {reason}"))


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> str:
  """A TFDS data dir with `mnist` prepared offline from the bundled files (once per session)."""
  from ganjax.data.offline_mnist import prepare_mnist

  path = tmp_path_factory.mktemp("tfds")
  prepare_mnist(path)
  return str(path)


@pytest.fixture
def tiny_config(mnist_dir, tmp_path) -> Config:
  """A DCGAN small enough to train a few steps in seconds on real MNIST."""
  return Config.from_flags(
    width=8,
    latent_dim=16,
    batch_size=16,
    steps=4,
    log_every=2,
    sample_every=2,
    checkpoint_every=2,
    data_dir=mnist_dir,
    workdir=str(tmp_path / "run"),
    accelerator="cpu",
  )


@pytest.fixture(autouse=True, scope="module")
def fresh_jax_caches():
  """Drops the compiled programs of each test module once it is done.

  The suite compiles hundreds of programs in one process; with all of them kept, full runs
  here segfaulted inside XLA (compiling or (de)serializing a program in test_tricks) while
  the same tests passed on their own.
  """
  yield
  import jax

  jax.clear_caches()
