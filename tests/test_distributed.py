"""Two processes on JAX's distributed runtime (loopback coordinator, gloo, 2 CPU devices each)
train as one process with 4 devices does; when one is killed, the other stops, it does not hang."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from test_sigkill import final_checkpoint, flags_of

from ganjax.train.loop import train_and_evaluate

ROOT = pathlib.Path(__file__).resolve().parents[1]
STOP_TIMEOUT_S = 120  # the survivor must be gone well within this (JAX's heartbeat: 30 s here)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_processes(config, logs: pathlib.Path, count: int = 2) -> list[subprocess.Popen]:
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", PYTHONUNBUFFERED="1")
  address = f"127.0.0.1:{free_port()}"
  processes = []
  for i in range(count):
    log = open(logs / f"process_{i}.log", "w")
    # A compilation cache of its own: JAX writes cache entries in place, so processes that
    # compile at once (or are killed mid-write) must not share one another's files.
    own_env = dict(env, JAX_COMPILATION_CACHE_DIR=str(logs / f"jax_cache_{i}"))
    processes.append(
      subprocess.Popen(
        [
          sys.executable,
          "-m",
          "experiments.dcgan",
          *flags_of(config),
          f"--num_processes={count}",
          f"--process_id={i}",
          f"--coordinator_address={address}",
        ],
        cwd=ROOT,
        env=own_env,
        stdout=log,
        stderr=subprocess.STDOUT,
      )
    )
  return processes


def log_tails(logs: pathlib.Path, count: int = 2) -> str:
  """Every process's last lines: when one dies, the others only say that it went silent."""
  return "\n".join(f"--- process {i}:\n" + (logs / f"process_{i}.log").read_text()[-2500:] for i in range(count))


def wait_for_steps(config, processes, logs: pathlib.Path, count: int = 3) -> None:
  """Until process 0 has logged `count` steps; fails if a process ends before."""
  metrics = pathlib.Path(config.workdir) / "metrics.jsonl"
  deadline = time.time() + 300
  while not (metrics.exists() and metrics.read_text().count("\n") >= count) and time.time() < deadline:
    assert all(p.poll() is None for p in processes), log_tails(logs, len(processes))
    time.sleep(0.2)


@pytest.mark.slow
def test_two_processes_of_two_devices_equal_one_process_of_four(tiny_config, tmp_path):
  # In-training evaluation too: each process draws half of the 300 samples, all score the whole.
  # SGD, not Adam: Adam divides each gradient by its own scale, so a rounding difference in a
  # near-zero gradient (the all-reduce over gloo sums in another order) flips the sign of a
  # step of size --lr, and the states end up to 2 x lr apart however right the code is. SGD
  # keeps rounding differences at rounding size, while a wrong shard, mask or reduction
  # moves the state by lr x gradient, orders of magnitude above the tolerance below.
  config = tiny_config.replace(
    batch_size=8,
    steps=4,
    checkpoint_every=2,
    log_every=1,
    sample_every=100000,
    eval_every=2,
    eval_samples=300,
    g_optimizer="sgd",
    d_optimizer="sgd",
    lr=0.02,
    workdir=str(tmp_path / "two"),
  )
  processes = start_processes(config, tmp_path)
  try:
    for i, process in enumerate(processes):
      assert process.wait(timeout=600) == 0, log_tails(tmp_path, len(processes))
  finally:
    for process in processes:  # a hung run must not outlive the test
      process.kill()
  checkpoints = pathlib.Path(config.workdir) / "checkpoints"
  assert sorted(os.listdir(checkpoints)) == ["2", "4"]  # written once, by both together
  assert (pathlib.Path(config.workdir) / "process_1" / "metrics.jsonl").exists()  # process 1's logs apart

  one = train_and_evaluate(config.replace(workdir=str(tmp_path / "one")))  # 4 devices, one process
  two = final_checkpoint(config)
  differences = jax.tree.map(
    lambda a, b: float(np.max(np.abs(np.asarray(a, np.float64) - b))), two, jax.device_get(one.checkpoint_items())
  )
  largest = max(jax.tree.leaves(differences))
  print(f"two processes x 2 devices vs one x 4: max |difference| over the state after 4 steps = {largest:.3g}")
  assert largest <= 1e-5

  def eval_rows(workdir):
    return [json.loads(line) for line in (pathlib.Path(workdir) / "eval.jsonl").read_text().splitlines()]

  two_rows, one_rows = eval_rows(config.workdir), eval_rows(tmp_path / "one")
  assert [r["step"] for r in two_rows] == [2, 4] and all(r["num_samples"] == 300 for r in two_rows)
  for two_row, one_row in zip(two_rows, one_rows):
    assert two_row["fid_mnist"] == pytest.approx(one_row["fid_mnist"], rel=1e-5)
  assert not (pathlib.Path(config.workdir) / "process_1" / "eval.jsonl").exists()  # process 0 writes it
  assert len(os.listdir(pathlib.Path(config.workdir) / "best")) == 1


@pytest.mark.slow
def test_killing_one_process_stops_the_other(tiny_config, tmp_path):
  config = tiny_config.replace(
    batch_size=8, steps=100000, checkpoint_every=2, log_every=1, sample_every=100000, eval_every=0
  )
  processes = start_processes(config, tmp_path)
  wait_for_steps(config, processes, tmp_path)
  processes[1].send_signal(signal.SIGKILL)
  killed_at = time.time()
  try:
    status = processes[0].wait(timeout=STOP_TIMEOUT_S)
  finally:
    processes[0].kill()
  log = (tmp_path / "process_0.log").read_text()
  print(f"process 0 stopped {time.time() - killed_at:.1f} s after process 1 was killed, status {status}")
  assert status != 0
  # Our one line when the failure reaches Python first, else JAX's own abort naming the cause.
  assert "lost contact with the other processes" in log or "another task died" in log, log[-3000:]
  assert sorted(int(n) for n in os.listdir(pathlib.Path(config.workdir) / "checkpoints") if n.isdigit())


@pytest.mark.slow
def test_sigterm_to_one_process_stops_all_of_them_at_one_checkpoint(tiny_config, tmp_path):
  config = tiny_config.replace(
    batch_size=8, steps=100000, checkpoint_every=100000, log_every=1, sample_every=100000, eval_every=0
  )
  processes = start_processes(config, tmp_path)
  try:
    wait_for_steps(config, processes, tmp_path)
    processes[1].send_signal(signal.SIGTERM)  # one task of the run, as a scheduler might
    statuses = [p.wait(timeout=STOP_TIMEOUT_S) for p in processes]
  finally:
    for process in processes:
      process.kill()
  logs = [(tmp_path / f"process_{i}.log").read_text() for i in range(2)]
  assert statuses == [0, 0], logs[0][-3000:] + logs[1][-3000:]
  assert "Stopped by SIGTERM at step" in logs[1]
  assert "Stopped with the other processes of the run" in logs[0]
  steps = [int(log.split(" at step ")[1].split(";")[0]) for log in logs]
  assert steps[0] == steps[1]  # both stopped after the same step ...
  saved = [int(n) for n in os.listdir(pathlib.Path(config.workdir) / "checkpoints") if n.isdigit()]
  assert saved == [steps[0]]  # ... and saved it together, once
  assert not any("Traceback" in log for log in logs)
