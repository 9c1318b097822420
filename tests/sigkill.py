"""Kill a training run with SIGKILL again and again, resume each time, compare with a straight run.

Shared by tests/test_sigkill.py (a few kills, in the suite) and tests/soak_sigkill.py (the
full 24, run by hand: each restart pays Python, TensorFlow and JAX start-up, ~5-10 s here).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
TMP_SUFFIX = ".orbax-checkpoint-tmp"


@dataclasses.dataclass
class Kill:
  mode: str  # 'startup', 'training' or 'saving' (an unfinished save in checkpoints/ at the kill)
  resumed_from: int  # the step the killed process resumed from (0: from scratch)
  reached: int | None  # the last step it completed (its last metrics row); None: killed in start-up
  saving: bool  # this run's Orbax save was in progress (its temporary directory existed) at the kill


def committed_steps(workdir: pathlib.Path) -> list[int]:
  path = workdir / "checkpoints"
  return sorted(int(n) for n in os.listdir(path) if n.isdigit()) if path.is_dir() else []


def save_in_progress(workdir: pathlib.Path) -> bool:
  path = workdir / "checkpoints"
  try:
    return any(TMP_SUFFIX in n for n in os.listdir(path))
  except FileNotFoundError:
    return False


def last_metrics_step(workdir: pathlib.Path, since: float = 0.0) -> int:
  """The last step in metrics.jsonl; 0 if the file was not written after `since` (time.time())."""
  path = workdir / "metrics.jsonl"
  try:
    if path.stat().st_mtime < since:  # still the killed run's rows, not yet trimmed on resume
      return 0
    steps = [json.loads(line)["step"] for line in path.read_text().splitlines() if line.endswith("}")]
  except FileNotFoundError:
    return 0
  return steps[-1] if steps else 0


def resumed_step(log: str) -> int:
  found = re.findall(r"Resuming from the checkpoint at step (\d+)", log)
  return int(found[-1]) if found else 0


def start(flags: list[str], log_path: pathlib.Path, env: dict) -> subprocess.Popen:
  log = open(log_path, "w")  # the child's, so output written before SIGKILL is not lost
  return subprocess.Popen(
    [sys.executable, "-m", "experiments.dcgan", *flags], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
  )


def wait_for(condition, process: subprocess.Popen, timeout: float) -> bool:
  """Polls every millisecond; False if the process ended or time ran out first."""
  deadline = time.time() + timeout
  while time.time() < deadline:
    if condition():
      return True
    if process.poll() is not None:
      return False
    time.sleep(0.001)
  return False


def kill_repeatedly(
  flags: list[str], workdir: pathlib.Path, logs: pathlib.Path, kills: int, seed: int, env: dict
) -> list[Kill]:
  """Starts, SIGKILLs and restarts the run `kills` times; checks every restart's resume point.

  Each kill is at a random moment of one of three kinds: during start-up, a few steps into
  training, or the instant an Orbax save is seen in progress. Before each restart the
  newest committed checkpoint is noted; the restart must resume from exactly that step
  (so it was intact) and report nothing corrupt.
  """
  chooser = random.Random(seed)
  history: list[Kill] = []
  for i in range(kills):
    expected = (committed_steps(workdir) or [0])[-1]
    log_path = logs / f"run_{i:02d}.log"
    started_at = time.time()
    process = start(flags, log_path, env)
    trained = lambda: last_metrics_step(workdir, started_at)  # noqa: E731
    mode = chooser.choice(["startup", "training", "training", "saving", "saving"])
    if mode == "startup":
      time.sleep(chooser.uniform(0.2, 4.0))
    elif mode == "training":
      target = expected + chooser.randint(1, 5)
      wait_for(lambda: trained() >= target, process, 300)
      time.sleep(chooser.uniform(0.0, 0.05))
    else:  # once training (a killed save's leftovers are moved aside by then), at the next save
      wait_for(lambda: trained() > expected, process, 300)
      # Saves of this tiny state take milliseconds: give up on catching one after a dozen steps.
      wait_for(lambda: save_in_progress(workdir) or trained() >= expected + 12, process, 300)
    saving = trained() > expected and save_in_progress(workdir)  # not a killed run's leftovers
    assert process.poll() is None, f"run {i} ended before its kill:\n{log_path.read_text()[-3000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    log = log_path.read_text()
    assert "is corrupt" not in log and "Traceback" not in log, log[-3000:]
    resumed = resumed_step(log)
    if "Resuming" in log or mode != "startup":
      assert resumed == expected, f"run {i} resumed from {resumed}, newest checkpoint was {expected}:\n{log[-3000:]}"
    started = "Resuming" in log or mode != "startup"  # else metrics.jsonl is the previous run's
    history.append(Kill(mode, resumed, last_metrics_step(workdir, started_at) if started else None, saving))
  return history


def run_to_completion(flags: list[str], logs: pathlib.Path, env: dict) -> str:
  log_path = logs / "final.log"
  process = start(flags, log_path, env)
  assert process.wait(timeout=600) == 0, log_path.read_text()[-3000:]
  log = log_path.read_text()
  assert "Traceback" not in log and "Finished at step" in log, log[-3000:]
  return log


def child_env(cache_dir: pathlib.Path) -> dict:
  """The tests' environment (4 fake CPU devices) plus a shared compilation cache for speed."""
  env = dict(
    os.environ,
    PYTHONUNBUFFERED="1",
    JAX_COMPILATION_CACHE_DIR=str(cache_dir),
    JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
  )
  return env
