"""Corrupt and partial checkpoints: resume skips them, warns, moves them aside, never deletes them."""

import os
import pathlib
import shutil

import chex
import jax
import pytest

from ganjax.train.loop import train_and_evaluate

# A fault that is handled prints no traceback. Orbax's leftovers (a callback on a closed event
# loop) reach Python's unraisable hook, which pytest catches, not stderr: fail on them.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def files_of(directory: pathlib.Path) -> dict[str, bytes]:
  return {str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()}


def truncate_largest_file(directory: pathlib.Path) -> pathlib.Path:
  largest = max((p for p in directory.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
  largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 3])
  return largest


@pytest.mark.slow
def test_truncated_checkpoint_is_skipped_kept_and_the_run_equals_an_uninterrupted_one(tiny_config, tmp_path, capsys):
  config = tiny_config.replace(steps=4, checkpoint_every=2, keep_checkpoints=2, eval_every=0)
  train_and_evaluate(config)
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  truncate_largest_file(checkpoints / "4" / "state")
  corrupt = files_of(checkpoints / "4")
  capsys.readouterr()

  # Resumes from step 2; saving 4 and 6 again makes Orbax's max_to_keep=2 collect step 2,
  # but the corrupt step 4 lives outside its directory and stays byte for byte.
  resumed = train_and_evaluate(config.replace(steps=6))
  err = capsys.readouterr().err
  assert f"the checkpoint at step 4 ({checkpoints / '4'}) is corrupt" in err
  assert "resuming from step 2" in err
  kept = pathlib.Path(config.workdir) / "skipped_checkpoints" / "4"
  assert files_of(kept) == corrupt
  assert sorted(os.listdir(checkpoints)) == ["4", "6"]

  straight = train_and_evaluate(config.replace(steps=6, workdir=str(tmp_path / "straight")))
  chex.assert_trees_all_equal(jax.device_get(resumed.checkpoint_items()), jax.device_get(straight.checkpoint_items()))


@pytest.mark.slow
def test_checkpoint_missing_an_item_is_skipped_and_kept(tiny_config, capsys):
  config = tiny_config.replace(steps=4, checkpoint_every=2, eval_every=0)
  train_and_evaluate(config)
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  shutil.rmtree(checkpoints / "4" / "data")
  incomplete = files_of(checkpoints / "4")
  capsys.readouterr()

  state = train_and_evaluate(config.replace(steps=5))
  err = capsys.readouterr().err
  assert f"the checkpoint at step 4 ({checkpoints / '4'}) is corrupt or incomplete" in err
  assert int(state.step) == 5
  assert files_of(pathlib.Path(config.workdir) / "skipped_checkpoints" / "4") == incomplete
  assert sorted(os.listdir(checkpoints)) == ["2", "4", "5"]


@pytest.mark.slow
def test_unfinished_save_is_skipped_and_kept(tiny_config, capsys):
  config = tiny_config.replace(steps=2, checkpoint_every=2, eval_every=0)
  train_and_evaluate(config)
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  # What a run killed in the middle of writing step 4 leaves behind.
  partial = checkpoints / "4.orbax-checkpoint-tmp"
  shutil.copytree(checkpoints / "2", partial)
  shutil.rmtree(partial / "state")
  capsys.readouterr()

  state = train_and_evaluate(config.replace(steps=4))
  err = capsys.readouterr().err
  assert f"{partial} is an unfinished save" in err
  assert int(state.step) == 4
  assert (pathlib.Path(config.workdir) / "skipped_checkpoints" / "4.orbax-checkpoint-tmp" / "data").is_dir()
  assert sorted(os.listdir(checkpoints)) == ["2", "4"]


@pytest.mark.slow
def test_sampling_skips_a_corrupt_newest_checkpoint_and_leaves_it_in_place(tiny_config, capsys):
  from ganjax.errors import UsageError
  from ganjax.sampling import load_generator

  config = tiny_config.replace(steps=4, checkpoint_every=2, eval_every=0)
  train_and_evaluate(config)
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  truncate_largest_file(checkpoints / "4" / "state")
  before = files_of(checkpoints)
  capsys.readouterr()

  generator = load_generator(config.workdir)
  assert generator.step == 2
  err = capsys.readouterr().err
  assert "the checkpoint at step 4" in err
  assert "Traceback" not in err, err[-2000:]
  assert generator.generate(3).shape == (3, 28, 28, 1)
  assert files_of(checkpoints) == before  # read-only: nothing moved
  with pytest.raises(UsageError, match="at step 4 .* is corrupt"):
    load_generator(config.workdir, step=4)  # a step asked for by name is never swapped
