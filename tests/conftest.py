"""Test setup: 4 fake CPU devices (set before JAX is imported) and one prepared MNIST."""

import os
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
os.environ["JAX_PLATFORMS"] = "cpu"
# The suite trains the same tiny models many times, in this process and in the CLI
# subprocesses (which inherit the environment): a persistent compilation cache makes XLA
# compile each program once per machine.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(tempfile.gettempdir(), f"ganjax-tests-jax-cache-{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pytest  # noqa: E402

from ganjax.config import Config  # noqa: E402


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
  return Config(width=8, latent_dim=16, batch_size=16, steps=4, log_every=2, sample_every=2,
                checkpoint_every=2, data_dir=mnist_dir, workdir=str(tmp_path / "run"), accelerator="cpu")
