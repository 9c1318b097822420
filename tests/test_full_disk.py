"""A disk that fills up while saving: one clear error, exit status 2, the previous checkpoint intact."""

import errno
import os
import pathlib
import subprocess

import orbax.checkpoint as ocp
import pytest
from test_cli import assert_no_traceback, assert_one_line_error, run_module, tiny_flags

from experiments import dcgan

# A fault that is handled prints no traceback: not on stderr (assert_one_line_error), nor as an
# exception in Orbax's background machinery, which pytest catches before it reaches stderr.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def run_flags(config, steps):
  return tiny_flags(config) + [
    f"--steps={steps}",
    "--checkpoint_every=2",
    "--log_every=1",
    "--sample_every=100000",
    "--eval_every=0",
    "--keep_checkpoints=5",
  ]


@pytest.fixture
def small_disk(tmp_path):
  """A 1.5 MB tmpfs (room for the run's files and about one checkpoint of the tiny model)."""
  mount_point = tmp_path / "small_disk"
  mount_point.mkdir()
  mounted = subprocess.run(
    ["mount", "-t", "tmpfs", "-o", "size=1500k", "tmpfs", str(mount_point)], capture_output=True, check=False
  )
  if mounted.returncode:
    pytest.skip("mounting a tmpfs needs root; tests/test_full_disk.py's injected failure covers the rest")
  yield mount_point
  subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.slow
def test_a_really_full_disk_stops_the_run_and_keeps_the_last_checkpoint(tiny_config, small_disk):
  """From the command line: Orbax's save threads and TensorBoard's writer meet the full disk
  too, and their tracebacks would reach the user's terminal."""
  config = tiny_config.replace(workdir=str(small_disk / "run"))
  result = run_module("experiments.dcgan", run_flags(config, steps=40))
  assert result.returncode == 2, result.stderr[-3000:]
  assert_no_traceback(result)
  assert "ERROR:absl" not in result.stderr, result.stderr[-3000:]
  error = result.stderr.strip().splitlines()[-1]
  assert error.startswith("error: Saving a checkpoint in") and "failed (the disk is full)" in error
  assert "run the same command to resume" in error
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  committed = sorted(int(n) for n in os.listdir(checkpoints) if n.isdigit())
  assert committed and max(committed) < 40

  # With room again, the same command resumes from the newest checkpoint and finishes.
  subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
  result = run_module("experiments.dcgan", run_flags(config, steps=max(committed) + 2))
  assert result.returncode == 0, result.stderr[-3000:]
  assert_no_traceback(result)
  assert f"Resuming from the checkpoint at step {max(committed)}" in result.stdout


@pytest.mark.slow
def test_an_injected_write_failure_stops_the_run_and_keeps_the_last_checkpoint(tiny_config, monkeypatch, capsys):
  """The portable version: the data item of every save after the first hits ENOSPC."""
  import etils.epath

  path_class = type(etils.epath.Path(tiny_config.workdir))  # the concrete class Orbax writes with
  original = path_class.write_text
  calls = {"n": 0}

  def write_text(self, *args, **kwargs):
    if self.name == "metadata" and self.parent.name.startswith("data" + ocp.path.atomicity_types.TMP_DIR_SUFFIX):
      calls["n"] += 1
      if calls["n"] > 1:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
    return original(self, *args, **kwargs)

  monkeypatch.setattr(path_class, "write_text", write_text)
  status = dcgan.main(run_flags(tiny_config, steps=40))
  err = assert_one_line_error(capsys, status, "failed (the disk is full); the checkpoint at step 2 is intact")
  assert "the run stopped" in err
  checkpoints = pathlib.Path(tiny_config.workdir) / "checkpoints"
  assert sorted(n for n in os.listdir(checkpoints) if n.isdigit()) == ["2"]

  monkeypatch.undo()
  assert dcgan.main(run_flags(tiny_config, steps=4)) == 0
  out = capsys.readouterr()
  assert "Resuming from the checkpoint at step 2" in out.out
  assert "unfinished save" in out.err
