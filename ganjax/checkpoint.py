"""Orbax checkpoints of a run: the state pytree, the data iterator's position, the config.

Each checkpoint is one step directory with three items. Restoring checks the saved config
first, so a checkpoint written by a different model is named as such instead of failing
deep inside Orbax, and nothing in the workdir is ever deleted or overwritten on failure.
Resuming skips corrupt or partial step directories (moved aside, never deleted) and
continues from the newest intact checkpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import sys
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

from ganjax import distributed
from ganjax.config import Config, architecture_differences
from ganjax.errors import UsageError, is_disk_full

# Any family's state (`ganjax.train.task.Task.state`): a struct with `step`,
# `checkpoint_items()` and `with_checkpoint_items(items)`.
State = Any

# Where resume moves step directories it cannot use: out of the manager's directory, so
# neither Orbax's max_to_keep garbage collection nor its clean-up of unfinished temporary
# directories can delete them, and a fresh save of the same step does not collide.
SKIPPED_DIR = "skipped_checkpoints"
# The checkpoint with the lowest BEST_METRIC so far, beside the latest ones (kept by
# ganjax.families.gan.evaluate); its unreadable leftovers go to `skipped_checkpoints/best/`.
BEST_DIR = "best"
BEST_METRIC = "fid_mnist"


# How long a failed call waits for the reads and writes still in flight beside it (local
# files: milliseconds) before cancelling them.
DRAIN_TIMEOUT_S = 30.0


async def _finishing_the_rest_on_failure(coro):
  """`coro`; if it raises, first lets every other task of its event loop end.

  Waited for, not cancelled at once: a task only ends after TensorStore has handed its
  result to the loop, whereas a cancelled read may still be handing one over from its own
  thread when the loop closes.
  """
  try:
    return await coro
  except BaseException:
    current = asyncio.current_task()
    rest = [task for task in asyncio.all_tasks() if task is not current]
    if rest:
      _, late = await asyncio.wait(rest, timeout=DRAIN_TIMEOUT_S)
      for task in late:
        task.cancel()
      await asyncio.gather(*rest, return_exceptions=True)  # their errors are this one's echoes
    raise


def _finish_abandoned_tasks() -> None:
  """Makes Orbax's synchronous calls clean up after a failure (done once, on import).

  Orbax (0.12) runs each synchronous call's coroutine on a fresh event loop and closes the
  loop without cancelling the tasks still pending on it, where `asyncio.run` would. When one
  read of a restore fails (a truncated file), the reads gathered beside it are still in
  flight in TensorStore; each, on finishing, schedules its result on the closed loop, and
  Python prints `RuntimeError: Event loop is closed` with a traceback, dozens of times for
  one corrupt checkpoint that was in fact handled. An Orbax without this runner is left as
  it is.
  """
  try:
    from orbax.checkpoint._src import asyncio_utils
  except ImportError:
    return
  run_sync = getattr(asyncio_utils, "run_sync", None)
  if run_sync is None or getattr(run_sync, "ganjax_wrapped", False):
    return

  @functools.wraps(run_sync)
  def run_sync_and_clean_up(coro):
    return run_sync(_finishing_the_rest_on_failure(coro))

  run_sync_and_clean_up.ganjax_wrapped = True
  asyncio_utils.run_sync = run_sync_and_clean_up


_finish_abandoned_tasks()


class CorruptCheckpoint(UsageError):
  """A step directory that cannot be read back: truncated, garbled or missing an item."""


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


def best_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), BEST_DIR)


def open_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options, item_names=("state", "data", "config"))


def open_best_manager(workdir: str) -> ocp.CheckpointManager:
  """The manager of `<workdir>/best/`: one checkpoint, the lowest BEST_METRIC so far."""
  options = ocp.CheckpointManagerOptions(max_to_keep=1, best_fn=lambda m: m[BEST_METRIC], best_mode="min", create=True)
  return ocp.CheckpointManager(best_dir(workdir), options=options, item_names=("state", "data", "config"))


def save(
  manager: ocp.CheckpointManager, state: State, data_position: dict, config: Config, metrics: dict | None = None
) -> int:
  """Saves an un-replicated `state` (asynchronously: call `manager.wait_until_finished`).

  `metrics` feed a manager that keeps the best checkpoints by a metric.
  """
  items = jax.device_get(state.checkpoint_items())
  step = int(items["step"])
  try:
    manager.save(
      step,
      args=ocp.args.Composite(
        state=ocp.args.StandardSave(items),
        data=ocp.args.JsonSave(data_position),
        config=ocp.args.JsonSave(dataclasses.asdict(config)),
      ),
      metrics=metrics,
      force=True,
    )
    if jax.process_count() > 1:
      # With several processes the save finishes here, before the next train step. Orbax's
      # background half of a save runs collectives and barriers of its own: beside a train
      # step, gloo paired one process's step with the other's barrier ("392 vs 4", CI), and
      # the latest and best managers' background halves at once reuse one barrier name
      # ("ThreadSaveMultiHostValueHolder:set_value_start is already ongoing").
      manager.wait_until_finished()
  except Exception as e:  # this save's own failure, or the previous (asynchronous) one's
    raise SaveFailed(describe_save_failure(manager, e)) from e
  return step


class SaveFailed(UsageError):
  """A checkpoint could not be written (most often: the disk is full)."""


def describe_save_failure(manager: ocp.CheckpointManager, error: BaseException) -> str:
  committed = [s for s in manager.all_steps(read=True)]
  kept = f"the checkpoint at step {max(committed)} is intact" if committed else "no earlier checkpoint exists"
  why = "the disk is full" if is_disk_full(error) else f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
  return (
    f"Saving a checkpoint in {manager.directory} failed ({why}); {kept} and the run stopped: free some "
    "space (or fix the cause) and run the same command to resume."
  )


def check_saves(manager: ocp.CheckpointManager, wait: bool = False) -> None:
  """Raises SaveFailed if an asynchronous save has failed; with `wait`, for the last one too."""
  try:
    if wait:
      manager.wait_until_finished()
    manager.check_for_errors()
  except Exception as e:
    raise SaveFailed(describe_save_failure(manager, e)) from e


def read_config(manager: ocp.CheckpointManager, step: int) -> dict:
  path = os.path.join(str(manager.directory), str(step), "config")
  try:
    restored = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    return dict(restored["config"])
  except Exception as e:  # Orbax raises many kinds for a missing/garbled item
    raise CorruptCheckpoint(
      f"The checkpoint at step {step} in {manager.directory} is corrupt "
      f"(its config {path} is unreadable); move it out of the way or use "
      "another --workdir (it was left untouched)."
    ) from e


def restore(
  manager: ocp.CheckpointManager, step: int, template: State, config: Config | None = None
) -> tuple[State, dict, dict]:
  """(state, data position, saved config) at `step`, in the structure of `template`.

  With `config`, refuses a checkpoint whose architecture differs from it.
  """
  saved_config = read_config(manager, step)
  if config is not None:
    diffs = architecture_differences(saved_config, config)
    if diffs:
      raise UsageError(
        f"The checkpoint at step {step} in {manager.directory} is from a different model "
        f"({'; '.join(diffs)}); use another --workdir or the same settings."
      )
  target = jax.tree.map(np.asarray, jax.device_get(template.checkpoint_items()))
  try:
    restored = manager.restore(
      step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore())
    )
  except Exception as e:
    raise CorruptCheckpoint(
      f"The checkpoint at step {step} in {manager.directory} is corrupt or incomplete "
      f"({type(e).__name__}); move it out of the way or use another --workdir "
      "(it was left untouched)."
    ) from e
  return template.with_checkpoint_items(restored["state"]), dict(restored["data"]), saved_config


GENERATORS = ("auto", "ema", "g")  # which weights sample: the EMA ones when kept, or as named


def restore_generator(
  manager: ocp.CheckpointManager, step: int, generator: str = "auto"
) -> tuple[dict, dict, dict, dict]:
  """(G weights to sample with, g_batch_stats, data position, saved config) at `step`, without a template.

  `generator`: "auto" samples with the EMA weights when the run kept them, "ema" insists on
  them, "g" takes G's own weights.
  """
  saved_config = read_config(manager, step)
  restored = _restore_untemplated(manager, step, state=ocp.args.StandardRestore(), data=ocp.args.JsonRestore())
  state = restored["state"]
  if generator == "ema" and "g_ema_params" not in state:
    raise UsageError(
      f"The run in {manager.directory} kept no EMA generator (trained without --ema_decay); "
      "use --generator=g or leave it out."
    )
  # A run with an EMA generator samples and evaluates with the averaged weights.
  g_params = state["g_params"] if generator == "g" else state.get("g_ema_params", state["g_params"])
  return g_params, state.get("g_batch_stats", {}), dict(restored["data"]), saved_config


def restore_discriminator(manager: ocp.CheckpointManager, step: int) -> tuple[dict, dict]:
  """(D's weights, d_batch_stats) at `step`, without a template."""
  state = _restore_untemplated(manager, step, state=ocp.args.StandardRestore())["state"]
  return state["d_params"], state.get("d_batch_stats", {})


def _restore_untemplated(manager: ocp.CheckpointManager, step: int, **items) -> dict:
  """The checkpoint's `items` (name -> Orbax restore args) at `step`, or CorruptCheckpoint."""
  try:
    return manager.restore(step, args=ocp.args.Composite(**items))
  except Exception as e:
    raise CorruptCheckpoint(
      f"The checkpoint at step {step} in {manager.directory} is corrupt or incomplete "
      f"({type(e).__name__}); move it out of the way or pick another --workdir."
    ) from e


def latest_step(workdir: str) -> int | None:
  """The newest checkpoint's step in `workdir`, or None; never creates anything."""
  path = checkpoint_dir(workdir)
  if not os.path.isdir(path):
    return None
  steps = [int(name) for name in os.listdir(path) if name.isdigit()]
  return max(steps) if steps else None


def _is_partial(name: str) -> bool:
  """An unfinished Orbax save (`<step>.orbax-checkpoint-tmp...`), left by a killed run."""
  return name.split(".")[0].isdigit() and ocp.path.atomicity_types.TMP_DIR_SUFFIX in name


def move_aside(workdir: str, name: str, best: bool = False) -> str:
  """Moves `checkpoints/<name>` to `skipped_checkpoints/<name>[.n]` (with `best`:
  `best/<name>` to `skipped_checkpoints/best/<name>[.n]`); returns the new path."""
  source_dir = best_dir(workdir) if best else checkpoint_dir(workdir)
  target_dir = os.path.join(os.path.abspath(workdir), SKIPPED_DIR, *([BEST_DIR] if best else []))
  os.makedirs(target_dir, exist_ok=True)
  target, n = os.path.join(target_dir, name), 1
  while os.path.exists(target):
    target, n = os.path.join(target_dir, f"{name}.{n}"), n + 1
  os.rename(os.path.join(source_dir, name), target)
  return target


def warn(message: str) -> None:
  print(f"warning: {message}", file=sys.stderr, flush=True)


def restore_newest_intact(
  workdir: str, keep: int, template: State, config: Config
) -> tuple[ocp.CheckpointManager, State | None, int | None]:
  """(manager, state, step) from the newest checkpoint that reads back whole.

  Newer step directories that are corrupt (a truncated file, a missing item) or partial (a
  save cut short) are skipped with a warning naming them and moved to
  `<workdir>/skipped_checkpoints/`, never deleted. State and step are None when the workdir
  holds no checkpoint. Raises UsageError when checkpoints exist but none is intact, or when
  one is from a different model.
  """
  path = checkpoint_dir(workdir)
  # Every process of a distributed run decides the same from the same files; process 0
  # alone moves them, and the others wait for it before Orbax lists the directory.
  primary = jax.process_index() == 0
  names = os.listdir(path) if os.path.isdir(path) else []
  for name in sorted(n for n in names if _is_partial(n)):
    where = move_aside(workdir, name) if primary else SKIPPED_DIR
    warn(
      f"{os.path.join(path, name)} is an unfinished save (the run was killed, or its disk filled, while "
      f"writing it); skipped it and moved it to {where}."
    )
  names = [n for n in names if not _is_partial(n)]
  distributed.wait_for_all("ganjax_partial_saves_moved")
  skipped = []
  state = found = None
  manager = open_manager(workdir, keep)
  for step in sorted((int(n) for n in names if n.isdigit()), reverse=True):
    try:
      state, _, _ = restore(manager, step, template, config)
    except CorruptCheckpoint as e:
      skipped.append((step, e))
      continue
    found = step
    break
  if skipped and found is None:
    # Starting over from scratch silently would be worse than stopping: the user decides.
    manager.close()
    raise skipped[0][1]
  if skipped:
    manager.close()  # it has listed the skipped steps; reopen once they are moved aside
    for step, error in skipped:
      where = move_aside(workdir, str(step)) if primary else SKIPPED_DIR
      warn(
        f"the checkpoint at step {step} ({os.path.join(path, str(step))}) is corrupt or incomplete "
        f"({type(error.__cause__).__name__}); skipped it and moved it to {where}; resuming from step {found}."
      )
    distributed.wait_for_all("ganjax_corrupt_checkpoints_moved")
    manager = open_manager(workdir, keep)
  return manager, state, found


def set_aside_unreadable_best(workdir: str) -> None:
  """Moves best checkpoints that do not read back whole to `skipped_checkpoints/best/`, with a warning.

  Nothing reads `best/` while training, so without this check a corrupt best checkpoint would
  stay the best (Orbax keeps it by its recorded metric) and be found only when sampled. After
  it is moved, the next evaluation's checkpoint becomes the best. One process only.
  """
  path = best_dir(workdir)
  names = os.listdir(path) if os.path.isdir(path) else []
  for name in sorted(n for n in names if _is_partial(n)):
    where = move_aside(workdir, name, best=True)
    warn(
      f"{os.path.join(path, name)} is an unfinished save of the best checkpoint (the run was killed, or its "
      f"disk filled, while writing it); skipped it and moved it to {where}."
    )
  steps = sorted(int(n) for n in names if n.isdigit())
  if not steps:
    return
  manager = open_best_manager(workdir)
  skipped = []
  try:
    for step in steps:
      try:
        restore_generator(manager, step)
      except CorruptCheckpoint as e:
        skipped.append((step, e))
  finally:
    manager.close()
  for step, error in skipped:
    where = move_aside(workdir, str(step), best=True)
    warn(
      f"the best checkpoint at step {step} ({os.path.join(path, str(step))}) is corrupt or incomplete "
      f"({type(error.__cause__).__name__}); skipped it and moved it to {where}; the next evaluation "
      "keeps a new best."
    )
