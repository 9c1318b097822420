"""Sweeps: every configuration x seed of an experiment as an ordinary run in its own workdir.

`experiments.sweep` is the command; this module holds what it does, as functions a test can
call: expanding `--set`/`--ablate`/`--seeds` into runs, checking every run's flags before
anything trains, sharding, and running one run (train, then score it once on many samples).

A run is the experiment's own command in a subprocess, so a sweep resumes the way a run
does: a finished run (its final scores on disk) is skipped, an interrupted one resumes from
its checkpoint, and a crash of one run is that run's, not the sweep's.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping

from ganjax import host
from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.train import registry

BASELINE = "baseline"
FINAL_EVAL = "final_eval.json"  # a GAN run's scores on --final_samples samples, written last
RESULTS = "results.json"  # what the families scored once after training write themselves
RUN_RECORD = "sweep_run.json"  # the sweep's own notes on a run: wall time, the machines it trained on
# Flags a sweep sets itself.
RESERVED = {"seed": "--seeds", "workdir": "--workdir"}


@dataclasses.dataclass(frozen=True)
class Run:
  """One configuration at one seed."""

  config_name: str  # "baseline", or the flags it changes: "ema_decay=0.999__d_lr=4e-4"
  seed: int
  flags: tuple[tuple[str, str], ...]  # (flag name, value as typed) beside --seed and --workdir
  workdir: str

  def argv(self) -> list[str]:
    return [f"--{name}={value}" for name, value in self.flags] + [f"--seed={self.seed}", f"--workdir={self.workdir}"]


def load_experiment(name: str):
  """The module `experiments.<name>`, which must have DEFAULTS (a Config) and main(argv)."""
  if not name.isidentifier():
    raise UsageError(f"{name!r} is not an experiment name; try one of {', '.join(experiment_names())}.")
  try:
    module = importlib.import_module(f"experiments.{name}")
  except ModuleNotFoundError as e:
    if e.name != f"experiments.{name}":
      raise
    raise UsageError(f"There is no experiment {name!r}; try one of {', '.join(experiment_names())}.") from e
  if not isinstance(getattr(module, "DEFAULTS", None), Config):
    raise UsageError(f"experiments.{name} is not a training experiment; try one of {', '.join(experiment_names())}.")
  return module


def experiment_names() -> list[str]:
  """The training experiments: the modules of `experiments` that define DEFAULTS."""
  import experiments

  folder = os.path.dirname(experiments.__file__)
  names = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and not f.startswith("_"))
  return [
    n for n in names if isinstance(getattr(importlib.import_module(f"experiments.{n}"), "DEFAULTS", None), Config)
  ]


def parse_assignment(text: str, option: str, presets: Mapping[str, Config] | None = None) -> tuple[str, list[str]]:
  """'name=v1,v2' -> ('name', ['v1', 'v2']), the flag checked against the Config's fields (and
  `preset`, for an experiment with `presets`)."""
  name, sep, values = text.partition("=")
  name = name.strip().removeprefix("--")
  if not sep or not name or not values:
    raise UsageError(f"{option} {text!r} is not NAME=VALUE[,VALUE...].")
  if name in RESERVED:
    raise UsageError(f"{option} {name}=...: the sweep sets --{name} itself; use {RESERVED[name]}.")
  if name not in registry.flag_types() and not (name == "preset" and presets):
    raise UsageError(f"{option} {name}=...: the experiment has no flag --{name} (see its --help).")
  parts = [v.strip() for v in values.split(",")]
  if any(not v for v in parts):
    raise UsageError(f"{option} {text!r} has an empty value.")
  if len(set(parts)) != len(parts):
    raise UsageError(f"{option} {text!r} names a value twice.")
  return name, parts


def configurations(
  sets: list[tuple[str, list[str]]], ablations: list[tuple[str, list[str]]]
) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
  """(name, flags) of each configuration.

  A `--set` with one value fixes that flag for every run; with several it is an axis of a
  grid (every combination). An `--ablate` value is one more configuration that changes that
  flag alone from the baseline (the experiment's defaults plus the fixed `--set`s), also a
  flag the baseline fixes: `--set lr=1e-3 --ablate lr=2e-3` screens a rate against a
  baseline that is not the default's.
  """
  for option, pairs in (("--set", sets), ("--ablate", ablations)):
    names = [n for n, _ in pairs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
      raise UsageError(f"--{repeated[0]} is given to {option} more than once; give all its values in one {option}.")
  fixed = tuple((n, v[0]) for n, v in sets if len(v) == 1)
  axes = [(n, v) for n, v in sets if len(v) > 1]
  if axes and ablations:
    raise UsageError(
      "--ablate varies one flag at a time from a baseline; it does not combine with a --set "
      f"of several values ({axes[0][0]}); fix the others with one value each."
    )
  if ablations:
    baseline = dict(fixed)
    for name, values in ablations:
      if name in baseline and baseline[name] in values:
        raise UsageError(f"--ablate {name}={baseline[name]} is the baseline's own value (--set {name}).")
    changes = [(n, v) for n, values in ablations for v in values]
    # The changed flag keeps its place among the fixed ones, or comes after them.
    return [(BASELINE, fixed)] + [(config_name(((n, v),)), tuple({**baseline, n: v}.items())) for n, v in changes]
  grid = [tuple(zip([n for n, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]
  return [(config_name(c) if c else BASELINE, fixed + c) for c in grid]


def config_name(changes: tuple[tuple[str, str], ...]) -> str:
  return "__".join(f"{n}={v}" for n, v in changes)


def expand(sets, ablations, seeds: list[int], workdir: str) -> list[Run]:
  """Every configuration at every seed, in that order: configuration by configuration."""
  return [
    Run(name, seed, flags, os.path.join(workdir, name, f"seed{seed}"))
    for name, flags in configurations(sets, ablations)
    for seed in seeds
  ]


def parse_shard(text: str) -> tuple[int, int]:
  """'i/n' -> (i, n) with 0 <= i < n."""
  index, sep, count = text.partition("/")
  if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
    raise UsageError(f"--shard={text} is not i/n with 0 <= i < n (for example --shard=0/4).")
  return int(index), int(count)


SHARD_BY = ("run", "seed")


def shard(runs: list[Run], index: int, count: int, by: str = "run") -> list[Run]:
  """The runs of shard `index` of `count`; the shards together run each run once.

  by="run": every `count`-th run from the `index`-th, the most even split.
  by="seed": every configuration of every `count`-th seed from the `index`-th, so each seed's
  pairs (a configuration against the baseline) train on one machine and round alike there.
  """
  if by == "run":
    return runs[index::count]
  if by != "seed":
    raise ValueError(f"shard by {by!r}: not one of {SHARD_BY}")
  seeds = sorted({run.seed for run in runs})
  return [run for run in runs if seeds.index(run.seed) % count == index]


def check_runs(defaults: Config, runs: list[Run], presets: Mapping[str, Config] | None = None) -> dict[Run, Config]:
  """Every run's config, parsed and validated as its command would: the first bad one raises."""
  from ganjax import cli

  configs = {}
  for run in runs:
    try:
      configs[run] = cli.parse_flags(defaults, run.argv(), presets=presets)
    except UsageError as e:
      raise UsageError(f"configuration {run.config_name}, seed {run.seed}: {e}") from e
  return configs


def latest_checkpoint_step(workdir: str) -> int | None:
  """The newest step directory under `<workdir>/checkpoints` (Orbax names them by step)."""
  folder = os.path.join(workdir, "checkpoints")
  steps = [int(d) for d in os.listdir(folder) if d.isdigit()] if os.path.isdir(folder) else []
  return max(steps) if steps else None


def scores_path(run: Run, config: Config) -> str:
  return os.path.join(run.workdir, RESULTS if registry.scored_after_training(config.model) else FINAL_EVAL)


def is_finished(run: Run, config: Config) -> bool:
  return os.path.exists(scores_path(run, config))


def read_record(run: Run) -> dict:
  path = os.path.join(run.workdir, RUN_RECORD)
  if not os.path.exists(path):
    return {}
  try:
    with open(path) as f:
      record = json.load(f)
  except json.JSONDecodeError as e:
    raise UsageError(f"{path} is not JSON ({e}); fix it or delete it, the run's checkpoints are kept.") from e
  if not isinstance(record, dict):
    raise UsageError(f"{path} holds no JSON object; fix it or delete it, the run's checkpoints are kept.")
  return record


UNKNOWN_HOST = "unknown: trained before its sweep noted machines"


def is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool)


def record_hosts(record: dict) -> list[str]:
  """The machines a run's record names. A record without a list of names (older than the
  "hosts" field, or edited by hand) trained somewhere unknown, and says so."""
  hosts = record.get("hosts")
  if isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts):
    return list(hosts)
  return [UNKNOWN_HOST] if record else []


def write_record(run: Run, record: dict) -> None:
  path = os.path.join(run.workdir, RUN_RECORD)
  with open(f"{path}.tmp", "w") as f:
    json.dump(record, f, indent=2, sort_keys=True)
  os.replace(f"{path}.tmp", path)


# What a finished run keeps once its checkpoints are gone: its scores, its in-training
# evaluations, the sweep's record of it and its flags. A few kilobytes a run.
RUN_EVIDENCE = (FINAL_EVAL, RESULTS, "eval.jsonl", RUN_RECORD, "config.json")
TABLES = tuple(f"results.{ext}" for ext in ("md", "csv", "json", "png"))


def export(runs: list[Run], configs: Mapping[Run, Config], workdir: str, out: str) -> int:
  """Copies each finished run's evidence (RUN_EVIDENCE) and the sweep's tables from `workdir`
  into `out`, in the same tree: `out` committed keeps the evidence once the machine is gone, and
  copied into a --workdir elsewhere its runs count as finished there. Returns the runs copied."""
  copied = 0
  for run in runs:
    if not is_finished(run, configs[run]):
      continue
    dest = os.path.join(out, os.path.relpath(run.workdir, workdir))
    os.makedirs(dest, exist_ok=True)
    for name in RUN_EVIDENCE:
      if os.path.exists(os.path.join(run.workdir, name)):
        shutil.copy2(os.path.join(run.workdir, name), dest)
    copied += 1
  for name in TABLES:
    if os.path.exists(os.path.join(workdir, name)):
      shutil.copy2(os.path.join(workdir, name), out)
  return copied


def call(argv: list[str], running: list[subprocess.Popen]) -> int:
  """Runs `argv` to its end and returns its exit status; meanwhile the process is in `running`,
  so that a stop signal sent to the sweep alone can be passed on to it (`forward`)."""
  process = subprocess.Popen(argv)
  running.append(process)
  try:
    return process.wait()
  finally:
    running.remove(process)


def forward(signum: int, running: list[subprocess.Popen]) -> None:
  """Passes a stop signal on to the running child. A scheduler's TERM reaches the whole process
  group anyway (a run counts a second signal as the same request); `kill` of the sweep's own
  PID reaches only the sweep, which would otherwise wait for the run's end."""
  for process in running:
    if process.poll() is None:
      process.send_signal(signum)


def execute(
  experiment: str, run: Run, config: Config, final_samples: int, running: list[subprocess.Popen] | None = None
) -> str:
  """Trains `run` to its last step (resuming if it was interrupted), then scores a GAN once on
  `final_samples` samples. Returns "done", "stopped" (a stop signal: the run saved and left)
  or "failed: <why>". Child output goes straight to the terminal: its progress bar, its errors.
  `running`: where each child process is listed while it runs (see `call`).
  """
  running = [] if running is None else running
  record = read_record(run)
  # Every machine that trained a part of the run: a pair of runs from different ones differs
  # in float rounding as well as in the change (sweep_report marks such pairs).
  hosts = record_hosts(record)
  machine = host.fingerprint(config.accelerator)
  record["hosts"] = hosts if machine in hosts else [*hosts, machine]
  before = record.get("train_seconds", 0.0)
  start = time.perf_counter()
  status = call([sys.executable, "-m", f"experiments.{experiment}", *run.argv()], running)
  # Rounded after the sum: a resumed run adds its sessions' times, and a sum of rounded floats
  # need not be one (a record read 2150.2999999999997). A time unknown before stays unknown.
  elapsed = time.perf_counter() - start
  record["train_seconds"] = round(before + elapsed, 1) if is_number(before) else None
  if os.path.isdir(run.workdir):  # not when the run could not make its workdir
    write_record(run, record)
  if status != 0:
    return f"failed: the run exited with status {status}"
  if (latest_checkpoint_step(run.workdir) or 0) < config.steps:
    return "stopped"
  if registry.scored_after_training(config.model):  # it scored itself (results.json) after its last step
    return "done" if is_finished(run, config) else "failed: the run wrote no results.json"
  out = scores_path(run, config)
  status = call(
    [
      sys.executable,
      "-m",
      "experiments.evaluate",
      f"--workdir={run.workdir}",
      f"--num_samples={final_samples}",
      f"--out={out}.tmp",
      f"--data_dir={config.data_dir}",
      f"--accelerator={config.accelerator}",
    ],
    running,
  )
  if status != 0:
    return f"failed: its evaluation exited with status {status}"
  os.replace(f"{out}.tmp", out)  # the marker of a finished run appears whole or not at all
  return "done"
