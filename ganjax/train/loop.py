"""The training loop every experiment shares: `train_and_evaluate(config)`.

Host-side only: it feeds batches, calls the pmapped pure step, and every so often fetches
metrics, writes sample grids and saves checkpoints. Nothing here changes what a step
computes, so an interrupted-and-resumed run is the uninterrupted run. What differs between
model families (state, step, data, samples) comes from their Task (`ganjax.train.task`).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import time

import jax
import numpy as np
from tqdm import tqdm

from ganjax import checkpoint, distributed, jsonl, plots
from ganjax.config import Config, validate
from ganjax.data.pipeline import Batches, BatchSpec
from ganjax.errors import UsageError, is_disk_full
from ganjax.train import guards, registry, stopping
from ganjax.train.lock import workdir_lock
from ganjax.train.task import PyTree

MAX_STEPS_IN_FLIGHT = 2


class TrainingDiverged(UsageError):
  """A loss or gradient norm went NaN or infinite."""


def ensure_writable(workdir: str) -> None:
  probe = os.path.join(workdir, f".ganjax_write_test_{os.getpid()}")  # processes of one run share it
  try:
    os.makedirs(workdir, exist_ok=True)
    with open(probe, "w") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise UsageError(f"Cannot write to --workdir={workdir} ({e.strerror}); choose a writable directory.") from e


def replicate(tree, devices):
  """A copy of `tree` on each device, stacked on a leading axis, laid out as pmap wants it."""
  mesh = jax.sharding.Mesh(np.array(devices), ("data",))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  stacked = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (len(devices), *np.shape(x))), tree)
  return jax.device_put(stacked, sharding)


def pmapped(train_step, devices=None):
  """`train_step` as every run calls it: over the "data" axis, the state (argument 0) donated,
  the batch split over devices and the key shared."""
  return jax.pmap(train_step, axis_name="data", in_axes=(0, 0, None), donate_argnums=(0,), devices=devices)


def compiled_per_phase(phase, make_step, compile_step):
  """step_for: at_step -> `compile_step(make_step(phase(at_step)))`, built once per phase (a
  resolution stage, lazy R1's steps) and kept, as a run calls them."""
  compiled = {}

  def step_for(at_step: int):
    current = phase(at_step)
    if current not in compiled:
      compiled[current] = compile_step(make_step(current))
    return compiled[current]

  return step_for


def unreplicate(tree):
  """The first local device's copy. From its shard, not `x[0]`: indexing the replicated
  array runs a program over all local devices, which in a run of several processes on CPU
  can wait forever on the other processes' collectives."""
  return jax.tree.map(lambda x: x.addressable_shards[0].data[0], tree)


class MetricsLog:
  """Collects per-step metrics on the device; fetches, checks and writes them in bulk."""

  def __init__(self, workdir: str, images_per_step: int, start_step: int):
    from tensorboardX import SummaryWriter

    self.path = os.path.join(workdir, "metrics.jsonl")
    jsonl.drop_rows_after(self.path, start_step)
    self.tensorboard = SummaryWriter(os.path.join(workdir, "tensorboard"))
    self.images_per_step = images_per_step
    self.pending: list[tuple[int, dict]] = []
    self.window_start = time.perf_counter()

  def add(self, step: int, metrics: dict) -> None:
    self.pending.append((step, metrics))

  def flush(self) -> dict[str, float]:
    """Writes pending steps; raises TrainingDiverged at the first non-finite value.

    Steps a `skip_nonfinite` step dropped (`skipped` 1) are logged as they came, and left
    out of the window's averages.
    """
    if not self.pending:
      return {}
    fetched = jax.device_get([m for _, m in self.pending])  # waits for the device
    elapsed = time.perf_counter() - self.window_start
    steps = [s for s, _ in self.pending]
    self.pending = []
    rows = [{k: float(np.asarray(v).reshape(-1)[0]) for k, v in m.items()} for m in fetched]
    for step, row in zip(steps, rows):
      bad = [k for k, v in row.items() if not np.isfinite(v)]
      if bad and not row.get("skipped"):
        raise TrainingDiverged(
          f"Training diverged: {', '.join(bad)} became non-finite at step {step}; "
          "the last good checkpoint is kept; lower --lr (or pass --skip_nonfinite to "
          "skip such updates) and run again."
        )
    steps_per_s = len(rows) / max(elapsed, 1e-9)
    kept = [r for r in rows if not r.get("skipped")] or rows
    summary = {k: float(np.mean([r[k] for r in kept])) for k in rows[-1]}
    if "skipped" in rows[-1]:
      summary["skipped"] = float(sum(r["skipped"] for r in rows))  # a count per window, not a mean
    summary.update(steps_per_s=steps_per_s, images_per_s=steps_per_s * self.images_per_step)
    with open(self.path, "a") as f:
      for step, row in zip(steps, rows):
        f.write(json.dumps({"step": step, **row}) + "\n")
    for k, v in summary.items():
      self.tensorboard.add_scalar(k, v, steps[-1])
    self.window_start = time.perf_counter()
    return summary

  def add_scalars(self, step: int, scalars: dict[str, float]) -> None:
    """Scalars computed on the host (evaluations): straight to TensorBoard."""
    for k, v in scalars.items():
      self.tensorboard.add_scalar(k, v, step)

  def close(self) -> None:
    self.tensorboard.close()


def train_and_evaluate(config: Config) -> PyTree:
  """Trains `config.model` from scratch, or on from the workdir's latest checkpoint, to `config.steps`.

  Returns the final state (un-replicated, on the host's first device). Refuses to start
  while another run trains in the same workdir.
  """
  validate(config)  # callers from Python skip the CLI's check
  ensure_writable(config.workdir)
  # One lock per run: process 0 holds it for all the processes of a distributed run.
  with workdir_lock(config.workdir) if distributed.is_primary() else contextlib.nullcontext():
    try:
      return _train(config)
    except Exception as e:
      lost = distributed.lost_contact(e)  # a collective or a save failed because a peer is gone
      if lost is not None:
        raise lost from e
      if not (isinstance(e, OSError) and is_disk_full(e)):
        raise
      raise UsageError(
        f"The disk holding --workdir={config.workdir} is full (writing {e.filename}); the newest "
        "checkpoint is intact and the run stopped: free some space and run the same command "
        "to resume."
      ) from e


def _train(config: Config) -> PyTree:
  workdir = config.workdir
  # Logs, grids and curves: process 0's in the workdir, the others' (the same numbers)
  # beside them, so no two processes append to one file.
  log_dir = workdir if distributed.is_primary() else os.path.join(workdir, f"process_{jax.process_index()}")
  devices = jax.local_devices()
  task = registry.make_task(config)
  spec = BatchSpec(
    config.batch_size, len(devices), jax.process_index(), jax.process_count(), microbatches=task.microbatches
  )
  seed_key = jax.random.key(config.seed)

  # Load checkpoint
  manager, restored, start = checkpoint.restore_newest_intact(workdir, config.keep_checkpoints, task.state, config)
  state = task.state
  if start is not None:
    state = restored
    print(f"Resuming from the checkpoint at step {start} in {checkpoint.checkpoint_dir(workdir)}.")
  step = int(state.step)
  os.makedirs(log_dir, exist_ok=True)
  with open(os.path.join(log_dir, "config.json"), "w") as f:
    f.write(config.to_json())

  def compile_step(train_step):
    if config.skip_nonfinite:
      train_step = guards.skip_nonfinite(train_step, axis_name="data")
    return pmapped(train_step)

  p_train_step = compiled_per_phase(task.phase, task.make_step, compile_step)

  samples_dir = os.path.join(log_dir, "samples")
  os.makedirs(samples_dir, exist_ok=True)

  def write_grid(host_state: PyTree, at_step: int) -> None:
    task.write_samples(host_state, at_step, os.path.join(samples_dir, f"grid_{at_step:06d}.png"))

  def save(host_state: PyTree) -> None:
    checkpoint.save(manager, host_state, {**task.data_position, "next_step": int(host_state.step)}, config)

  evaluate = task.make_evaluator(step) if task.make_evaluator else None

  replicated = replicate(state, devices)
  batches = Batches(task.source, spec, config.seed, start_step=step, workers=config.data_workers)
  log = MetricsLog(log_dir, config.batch_size * task.microbatches, start_step=step)
  bar = tqdm(total=config.steps, initial=step, unit="step", dynamic_ncols=True, mininterval=1.0)
  last_saved = start
  in_flight: collections.deque = collections.deque()
  finished = False
  postfix: dict[str, str] = {}
  try:
    with stopping.stop_requests() as signals:
      stop = stopping.StopVote(signals)
      stopped = False
      while step < config.steps and not stopped:
        # Update step
        replicated, metrics = p_train_step(step)(replicated, next(batches), seed_key)
        step += 1
        log.add(step, metrics)
        # Dispatch is asynchronous: without a bound the loop would queue every step up to the
        # next log flush, and a stop request would wait for all of them (minutes for slow
        # steps). Two in flight keep the device busy; the bar counts finished steps.
        in_flight.append(metrics)
        if len(in_flight) > MAX_STEPS_IN_FLIGHT:
          jax.block_until_ready(in_flight.popleft())
        bar.update(1)
        due_checkpoint = step % config.checkpoint_every == 0
        due_eval = evaluate is not None and step % config.eval_every == 0
        if step % config.log_every == 0 or due_checkpoint or due_eval or step == config.steps:
          summary = log.flush()  # before any save or evaluation: never act on a diverged state
          checkpoint.check_saves(manager)  # a failed background save stops the run here
          postfix.update({label: f"{summary[name]:.3f}" for label, name in task.progress})
          postfix["img_s"] = f"{summary['images_per_s']:.0f}"
          bar.set_postfix(postfix)
        if step % config.sample_every == 0:
          write_grid(unreplicate(replicated), step)
        if due_eval:
          scores = evaluate(unreplicate(replicated), step)
          log.add_scalars(step, scores)
          postfix[evaluate.label] = f"{scores[evaluate.best_metric]:.2f}"
          bar.set_postfix(postfix)
        if due_checkpoint:
          save(unreplicate(replicated))
          last_saved = step
        stopped = stop.after_step(step)
      # Final checkpoint, at the end or on a stop request
      log.flush()
      final = unreplicate(replicated)
      if last_saved != step:
        save(final)
      write_grid(final, step)
      plots.plot_curves(log.path, os.path.join(log_dir, "curves.png"), evaluate.path if evaluate else None, task.curves)
      checkpoint.check_saves(manager, wait=True)
      if stopped:
        bar.close()
        print(
          f"{stop.reason()} at step {step}; checkpoint saved in "
          f"{checkpoint.checkpoint_dir(workdir)}. Run the same command to resume."
        )
      finished = True
      return final
  finally:
    # Quietly when an error is on its way out: a full disk fails these too, and the first
    # error is the one to report.
    failing = not finished
    for close in (
      bar.close,
      batches.close,
      log.close,
      evaluate.close if evaluate else None,
      manager.wait_until_finished,
      manager.close,
    ):
      try:
        if close:
          close()
      except Exception:
        if not failing:
          raise
