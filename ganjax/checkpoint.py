"""Orbax checkpoints of a run: the state pytree, the data iterator's position, the config.

Each checkpoint is one step directory with three items. Restoring checks the saved config
first, so a checkpoint written by a different model is named as such instead of failing
deep inside Orbax, and nothing in the workdir is ever deleted or overwritten on failure.
"""

from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from ganjax.config import Config, architecture_differences
from ganjax.errors import UsageError
from ganjax.train.state import GANState


def checkpoint_dir(workdir: str) -> str:
  return os.path.join(os.path.abspath(workdir), "checkpoints")


def open_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options,
                               item_names=("state", "data", "config"))


def save(manager: ocp.CheckpointManager, state: GANState, data_position: dict, config: Config,
         metrics: dict | None = None) -> int:
  """Saves an un-replicated `state` (asynchronously: call `manager.wait_until_finished`).

  `metrics` feed a manager that keeps the best checkpoints by a metric.
  """
  items = jax.device_get(state.checkpoint_items())
  step = int(items["step"])
  manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(items),
      data=ocp.args.JsonSave(data_position),
      config=ocp.args.JsonSave(dataclasses.asdict(config))), metrics=metrics, force=True)
  return step


def read_config(manager: ocp.CheckpointManager, step: int) -> dict:
  path = os.path.join(str(manager.directory), str(step), "config")
  try:
    restored = manager.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))
    return dict(restored["config"])
  except Exception as e:  # Orbax raises many kinds for a missing/garbled item
    raise UsageError(f"The checkpoint at step {step} in {manager.directory} is corrupt "
                     f"(its config {path} is unreadable); move it out of the way or use "
                     "another --workdir (it was left untouched).") from e


def restore(manager: ocp.CheckpointManager, step: int, template: GANState,
            config: Config | None = None) -> tuple[GANState, dict, dict]:
  """(state, data position, saved config) at `step`, in the structure of `template`.

  With `config`, refuses a checkpoint whose architecture differs from it.
  """
  saved_config = read_config(manager, step)
  if config is not None:
    diffs = architecture_differences(saved_config, config)
    if diffs:
      raise UsageError(f"The checkpoint at step {step} in {manager.directory} is from a different model "
                       f"({'; '.join(diffs)}); use another --workdir or the same settings.")
  target = jax.tree.map(np.asarray, jax.device_get(template.checkpoint_items()))
  try:
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(target), data=ocp.args.JsonRestore()))
  except Exception as e:
    raise UsageError(f"The checkpoint at step {step} in {manager.directory} is corrupt or incomplete "
                     f"({type(e).__name__}); move it out of the way or use another --workdir "
                     "(it was left untouched).") from e
  return template.with_checkpoint_items(restored["state"]), dict(restored["data"]), saved_config


def restore_generator(manager: ocp.CheckpointManager, step: int) -> tuple[dict, dict, dict, dict]:
  """(G weights to sample with, g_batch_stats, data position, saved config) at `step`, without a template."""
  saved_config = read_config(manager, step)
  try:
    restored = manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(), data=ocp.args.JsonRestore()))
  except Exception as e:
    raise UsageError(f"The checkpoint at step {step} in {manager.directory} is corrupt or incomplete "
                     f"({type(e).__name__}); move it out of the way or pick another --workdir.") from e
  state = restored["state"]
  # A run with an EMA generator samples and evaluates with the averaged weights.
  g_params = state.get("g_ema_params", state["g_params"])
  return g_params, state.get("g_batch_stats", {}), dict(restored["data"]), saved_config


def latest_step(workdir: str) -> int | None:
  """The newest checkpoint's step in `workdir`, or None; never creates anything."""
  path = checkpoint_dir(workdir)
  if not os.path.isdir(path):
    return None
  steps = [int(name) for name in os.listdir(path) if name.isdigit()]
  return max(steps) if steps else None

