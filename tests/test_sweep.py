"""experiments.sweep: --set/--ablate/--seeds into runs, checks before training, shards, skip and
resume, and the tables of two tiny runs."""

import csv
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from experiments import sweep as sweep_command
from ganjax import sweep
from ganjax.errors import UsageError

TINY = [
  "width=4",
  "latent_dim=8",
  "batch_size=8",
  "steps=2",
  "eval_every=0",
  "log_every=1",
  "sample_every=100",
  "checkpoint_every=1",
  "accelerator=cpu",
]


def names_and_seeds(runs):
  return [(r.config_name, r.seed) for r in runs]


def test_a_set_of_several_values_is_a_grid_axis_and_one_value_fixes_the_flag():
  sets = [sweep.parse_assignment(t, "--set") for t in ("ema_decay=0,0.999", "d_lr=2e-4,4e-4", "steps=2000")]
  runs = sweep.expand(sets, [], [0, 1], "sw")
  assert len(runs) == 8
  assert names_and_seeds(runs)[:3] == [
    ("ema_decay=0__d_lr=2e-4", 0),
    ("ema_decay=0__d_lr=2e-4", 1),
    ("ema_decay=0__d_lr=4e-4", 0),
  ]
  last = runs[-1]
  assert last.config_name == "ema_decay=0.999__d_lr=4e-4"
  assert last.argv() == [
    "--steps=2000",
    "--ema_decay=0.999",
    "--d_lr=4e-4",
    "--seed=1",
    "--workdir=" + os.path.join("sw", "ema_decay=0.999__d_lr=4e-4", "seed1"),
  ]


def test_only_fixed_values_make_one_baseline_configuration():
  runs = sweep.expand([sweep.parse_assignment("steps=10", "--set")], [], [0, 1, 2], "sw")
  assert names_and_seeds(runs) == [("baseline", 0), ("baseline", 1), ("baseline", 2)]
  assert all(r.flags == (("steps", "10"),) for r in runs)


def test_ablate_changes_one_flag_at_a_time_from_the_baseline():
  sets = [sweep.parse_assignment("steps=10", "--set")]
  ablations = [sweep.parse_assignment(t, "--ablate") for t in ("ema_decay=0,0.99", "dropout=0")]
  runs = sweep.expand(sets, ablations, [0], "sw")
  assert [(r.config_name, r.flags) for r in runs] == [
    ("baseline", (("steps", "10"),)),
    ("ema_decay=0", (("steps", "10"), ("ema_decay", "0"))),
    ("ema_decay=0.99", (("steps", "10"), ("ema_decay", "0.99"))),
    ("dropout=0", (("steps", "10"), ("dropout", "0"))),
  ]


def test_ablate_may_change_a_flag_the_baseline_fixes():
  sets = [sweep.parse_assignment(t, "--set") for t in ("lr=1e-3", "steps=10")]
  runs = sweep.expand(sets, [sweep.parse_assignment("lr=2e-3", "--ablate")], [0], "sw")
  assert [(r.config_name, r.flags) for r in runs] == [
    ("baseline", (("lr", "1e-3"), ("steps", "10"))),
    ("lr=2e-3", (("lr", "2e-3"), ("steps", "10"))),
  ]


def test_shards_together_run_every_run_once():
  runs = sweep.expand([sweep.parse_assignment("ema_decay=0,0.9,0.99", "--set")], [], [0, 1, 2], "sw")
  shards = [sweep.shard(runs, i, 4) for i in range(4)]
  assert sorted(names_and_seeds(sum(shards, []))) == sorted(names_and_seeds(runs))
  assert names_and_seeds(shards[1]) == [("ema_decay=0", 1), ("ema_decay=0.9", 2)]


def test_shards_by_seed_keep_each_seeds_pairs_together():
  runs = sweep.expand([], [sweep.parse_assignment("ema_decay=0,0.9", "--ablate")], [0, 1, 2], "sw")
  shards = [sweep.shard(runs, i, 2, by="seed") for i in range(2)]
  assert sorted(names_and_seeds(sum(shards, []))) == sorted(names_and_seeds(runs))
  assert names_and_seeds(shards[1]) == [("baseline", 1), ("ema_decay=0", 1), ("ema_decay=0.9", 1)]
  assert {r.seed for r in shards[0]} == {0, 2}


@pytest.mark.parametrize(
  "record, hosts_before, seconds",
  [
    ({}, [], 0.0),  # a new run
    ({"train_seconds": 12.5}, [sweep.UNKNOWN_HOST], 12.5),  # a record older than "hosts"
    ({"hosts": None, "train_seconds": None}, [sweep.UNKNOWN_HOST], None),  # edited by hand
  ],
)
def test_a_run_record_keeps_what_it_does_not_know(tmp_path, monkeypatch, record, hosts_before, seconds):
  """Resuming a run adds this machine to the ones its record names and this session's time to
  its train time; where the record does not say (older, or null), that stays unknown."""
  from experiments import dcgan
  from ganjax import host

  run = sweep.expand([], [], [0], str(tmp_path))[0]
  config = sweep.check_runs(dcgan.DEFAULTS, [run])[run]
  os.makedirs(run.workdir)
  if record:
    sweep.write_record(run, record)
  monkeypatch.setattr(sweep, "call", lambda argv, running: 1)  # the run fails at once
  assert sweep.execute("dcgan", run, config, 1000) == "failed: the run exited with status 1"
  written = sweep.read_record(run)
  assert written["hosts"] == [*hosts_before, host.fingerprint(config.accelerator)]
  if seconds is None:
    assert written["train_seconds"] is None
  else:
    assert seconds <= written["train_seconds"] < seconds + 5


def test_a_broken_run_record_is_one_sentence(tmp_path):
  run = sweep.expand([], [], [0], str(tmp_path))[0]
  os.makedirs(run.workdir)
  with open(os.path.join(run.workdir, sweep.RUN_RECORD), "w") as f:
    f.write('{"train_seconds": 1')
  with pytest.raises(UsageError, match="sweep_run.json is not JSON .*; fix it or delete it"):
    sweep.read_record(run)


@pytest.mark.parametrize(
  "argv, message",
  [
    (["dcgn", "--workdir=w"], "There is no experiment 'dcgn'; try one of cgan, cyclegan, dcgan"),
    (["sample", "--workdir=w"], "experiments.sample is not a training experiment"),
    (["dcgan", "--workdir=w", "--set", "foo=1,2"], "--set foo=...: the experiment has no flag --foo"),
    (["dcgan", "--workdir=w", "--set", "seed=1,2"], "the sweep sets --seed itself; use --seeds"),
    (["dcgan", "--workdir=w", "--set", "lr=2e-4,-1"], "configuration lr=-1, seed 0: --lr=-1.0 must be positive."),
    (["dcgan", "--workdir=w", "--set", "loss=hinge,ls"], "configuration loss=ls, seed 0: --loss=ls is not one of"),
    (["dcgan", "--workdir=w", "--set", "lr=1e-4", "--set", "lr=2e-4"], "--lr is given to --set more than once"),
    (["dcgan", "--workdir=w", "--ablate", "lr=1e-4", "--ablate", "lr=2e-4"], "--lr is given to --ablate more than"),
    (["dcgan", "--workdir=w", "--set", "lr=1e-4", "--ablate", "lr=1e-4,2e-4"], "--ablate lr=1e-4 is the baseline's"),
    (["dcgan", "--workdir=w", "--set", "lr=1e-4,2e-4", "--ablate", "dropout=0"], "does not combine"),
    (["dcgan", "--workdir=w", "--set", "lr"], "--set 'lr' is not NAME=VALUE"),
    (["dcgan", "--workdir=w", "--shard=3/3"], "--shard=3/3 is not i/n"),
    (["dcgan", "--workdir=w", "--seeds=0"], "--seeds=0 must be a positive integer."),
  ],
)
def test_bad_sweeps_are_one_line_errors_before_anything_trains(argv, message, tmp_path, capsys):
  from ganjax import cli

  argv = [a.replace("--workdir=w", f"--workdir={tmp_path / 'w'}") for a in argv]
  assert cli.run(sweep_command.main, argv) == 2
  err = capsys.readouterr().err
  assert message in err and err.count("\n") == 1 and "Traceback" not in err
  assert not os.path.exists(tmp_path / "w")


def sweep_argv(workdir, mnist_dir, *extra):
  flags = [f for t in TINY + [f"data_dir={mnist_dir}"] for f in ("--set", t)]
  return [
    "dcgan",
    f"--workdir={workdir}",
    "--seeds=1",
    "--final_samples=300",
    *flags,
    "--set",
    "ema_decay=0,0.9",
    *extra,
  ]


@pytest.mark.slow
def test_two_shards_train_score_and_tabulate_and_a_second_pass_skips_them(mnist_dir, tmp_path, capfd):
  workdir = tmp_path / "sweep"
  assert sweep_command.main(sweep_argv(workdir, mnist_dir, "--shard=0/2")) is None
  assert sweep_command.main(sweep_argv(workdir, mnist_dir, "--shard=1/2")) is None
  for name in ("ema_decay=0", "ema_decay=0.9"):
    with open(workdir / name / "seed0" / "final_eval.json") as f:
      assert json.load(f)["num_samples"] == 300
  capfd.readouterr()
  sweep_command.main(sweep_argv(workdir, mnist_dir))
  out = capfd.readouterr().out
  assert out.count("finished before, skipped.") == 2 and "2 of 2 runs finished" in out
  with open(workdir / "results.json") as f:
    summary = json.load(f)
  assert [c["name"] for c in summary["configurations"]] == ["ema_decay=0", "ema_decay=0.9"]
  fid = summary["configurations"][1]["metrics"]["fid_mnist"]
  assert fid["std"] == 0.0 and list(fid["per_seed"]) == ["0"] and fid["mean"] == fid["per_seed"]["0"] > 0
  # Settings the scores carry (the noise's truncation) are not tabulated as metrics.
  assert "truncation" not in summary["configurations"][1]["metrics"]
  with open(workdir / "results.csv") as f:
    rows = list(csv.DictReader(f))
  assert [r["configuration"] for r in rows] == ["ema_decay=0", "ema_decay=0.9"]
  assert float(rows[0]["fid_mnist"]) == summary["configurations"][0]["metrics"]["fid_mnist"]["mean"]
  table = (workdir / "results.md").read_text()
  assert "| ema_decay=0.9 | 1/1 |" in table and "python -m experiments.sweep dcgan" in table
  assert (workdir / "results.png").stat().st_size > 1000
  # Each run records the machine it trained on; both shards ran here, so no pair crosses.
  from ganjax import host

  assert summary["configurations"][1]["hosts"] == {"0": [host.fingerprint("cpu")]}
  assert "across machines" not in table


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_checkpoint(mnist_dir, tmp_path, capfd):
  from experiments import dcgan

  workdir = tmp_path / "sweep"
  argv = sweep_argv(workdir, mnist_dir, "--shard=1/2")  # only ema_decay=0.9
  run = sweep.expand(
    [sweep.parse_assignment(t, "--set") for t in TINY + [f"data_dir={mnist_dir}", "ema_decay=0,0.9"]],
    [],
    [0],
    str(workdir),
  )[1]
  assert dcgan.main(run.argv() + ["--steps=1"]) == 0  # as if stopped after its first step
  capfd.readouterr()
  sweep_command.main(argv)
  out = capfd.readouterr().out
  assert "Resuming from the checkpoint at step 1" in out
  with open(os.path.join(run.workdir, "metrics.jsonl")) as f:
    assert [json.loads(line)["step"] for line in f] == [1, 2]
  assert os.path.exists(os.path.join(run.workdir, "final_eval.json")), out


def test_a_run_copied_in_without_a_train_time_is_tabulated(tmp_path):
  """A finished run whose sweep record holds no number for its train time (a baseline copied
  in from another sweep, say) is still scored; its minutes read nan."""
  from ganjax import sweep_report

  runs = sweep.expand([], [("ema_decay", ["0"])], [0], str(tmp_path))
  for run, seconds in zip(runs, (None, 90.0)):
    os.makedirs(run.workdir)
    with open(os.path.join(run.workdir, sweep.FINAL_EVAL), "w") as f:
      json.dump({"fid_mnist": 10.0 if seconds is None else 12.5}, f)
    sweep.write_record(run, {"train_seconds": seconds, "copied_from": "elsewhere"})
  results = sweep_report.collect(runs, {run: os.path.join(run.workdir, sweep.FINAL_EVAL) for run in runs})
  table = sweep_report.markdown(results)
  assert "| baseline | 1/1 | 10.0 ± 0.0 (10.0) | - |" in table and "nan" in table
  assert "| 1.500 ± 0.000 (1.500) |" in table  # 90 s of the run that has its own record


def test_a_paired_difference_over_seeds_gets_its_student_t_interval(tmp_path):
  """Three seeds whose paired differences are 1, 2 and 3: mean 2, std 1, and the 95% interval
  2 ± t(0.975, 2) / √3 = 2 ± 2.484; one seed has no interval."""
  from ganjax import sweep_report

  runs = sweep.expand([], [("ema_decay", ["0"]), ("dropout", ["0.3"])], [0, 1, 2], str(tmp_path))
  scores = {"baseline": [5.0, 6.0, 7.0], "ema_decay=0": [6.0, 8.0, 10.0], "dropout=0.3": [9.0, None, None]}
  for run in runs:
    value = scores[run.config_name][run.seed]
    if value is not None:
      os.makedirs(run.workdir)
      with open(os.path.join(run.workdir, sweep.FINAL_EVAL), "w") as f:
        json.dump({"fid_mnist": value}, f)
  results = sweep_report.collect(runs, {run: os.path.join(run.workdir, sweep.FINAL_EVAL) for run in runs})
  by_name = {c["name"]: c["metrics"]["fid_mnist"] for c in sweep_report.summary(results)["configurations"]}
  low, high = by_name["ema_decay=0"]["delta_ci95"]
  assert by_name["ema_decay=0"]["delta_mean"] == 2.0 and by_name["ema_decay=0"]["delta_std"] == 1.0
  assert low == pytest.approx(2 - 2.4841, abs=1e-3) and high == pytest.approx(2 + 2.4841, abs=1e-3)
  assert by_name["dropout=0.3"]["delta_ci95"] is None and "delta_ci95" not in by_name["baseline"]
  table = sweep_report.markdown(results)
  row = "| ema_decay=0 | 3/3 | 8.000 ± 2.000 (6.000, 8.000, 10.000) | 2.000 ± 1.000 (1.000, 2.000, 3.000) |"
  assert f"{row} [-0.484, 4.484] |" in table
  assert "| dropout=0.3 | 1/3 | 9.000 ± 0.000 (9.000) | 4.000 ± 0.000 (4.000) | - |" in table
  assert "| baseline | 3/3 | 6.000 ± 1.000 (5.000, 6.000, 7.000) | - | - |" in table


def test_pairs_of_runs_from_different_machines_are_named_in_the_table(tmp_path):
  """Float rounding differs between machines, so a Δ whose two runs trained on different ones
  says so: seed 1 of the change trained on machine B against the baseline's A. A run with no
  record of its machine (copied in from an older sweep) is unknown, not a crossing."""
  from ganjax import sweep_report

  runs = sweep.expand([], [("ema_decay", ["0"]), ("dropout", ["0.3"])], [0, 1, 2], str(tmp_path))
  machines = {"baseline": ["A", "A", "A"], "ema_decay=0": ["A", "B", "A"], "dropout=0.3": ["A", None, "A"]}
  for run in runs:
    os.makedirs(run.workdir)
    with open(os.path.join(run.workdir, sweep.FINAL_EVAL), "w") as f:
      json.dump({"fid_mnist": 5.0 + run.seed}, f)
    machine = machines[run.config_name][run.seed]
    sweep.write_record(run, {"train_seconds": 60.0, **({"hosts": [machine]} if machine else {})})
  results = sweep_report.collect(runs, {run: os.path.join(run.workdir, sweep.FINAL_EVAL) for run in runs})
  by_name = {c["name"]: c for c in sweep_report.summary(results)["configurations"]}
  assert by_name["ema_decay=0"]["pairs_across_machines"] == [1]
  assert by_name["dropout=0.3"]["pairs_across_machines"] == [] and "pairs_across_machines" not in by_name["baseline"]
  assert by_name["ema_decay=0"]["hosts"] == {"0": ["A"], "1": ["B"], "2": ["A"]}
  table = sweep_report.markdown(results)
  row = "| ema_decay=0 | 3/3 | 6.000 ± 1.000 (5.000, 6.000, 7.000) | 0.000 ± 0.000 (0.000, 0.000, 0.000)"
  assert f"{row} (seed 1 across machines) |" in table and "pair runs that trained on different machines" in table
  assert "0.000 ± 0.000 (0.000, 0.000, 0.000) | [" in table.split("| dropout=0.3 |")[1]
  # A run that resumed on a second machine pairs with no single-machine run.
  assert sweep_report.cross_machine_seeds(
    dataclasses.replace(results[1], hosts={0: ("A", "B"), 1: ("A",), 2: ("A",)}), results[0]
  ) == [0]


def test_a_machine_is_its_cpu_numbers_and_widest_vector_extension(tmp_path):
  from ganjax import host

  cpuinfo = tmp_path / "cpuinfo"
  block = (
    "processor\t: {i}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
    "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
  )
  cpuinfo.write_text(block.format(i=0) + "\n" + block.format(i=1).replace("avx2", "avx512f"))
  assert host.cpu_fingerprint(str(cpuinfo)) == "AuthenticAMD 25/1 avx2"  # the first processor's
  assert host.cpu_name(str(cpuinfo)) == "AMD EPYC"
  assert host.fingerprint("cpu", str(cpuinfo)).startswith("AuthenticAMD 25/1 avx2, jaxlib 0.")
  cpuinfo.write_text(block.format(i=0).replace("avx2", "avx2 avx512f"))
  assert host.cpu_fingerprint(str(cpuinfo)) == "AuthenticAMD 25/1 avx512f"
  assert host.cpu_fingerprint(str(tmp_path / "absent")) == host.platform.machine()


def test_export_keeps_the_evidence_without_checkpoints_and_counts_as_finished_elsewhere(tmp_path, capsys):
  workdir, out = tmp_path / "sweep", tmp_path / "docs" / "sweep"
  argv = ["dcgan", "--seeds=2", "--ablate", "ema_decay=0", "--report_only"]
  runs = sweep.expand([], [("ema_decay", ["0"])], [0, 1], str(workdir))
  for i, run in enumerate(runs[:3]):  # ema_decay=0 seed 1 never finished
    os.makedirs(os.path.join(run.workdir, "checkpoints", "100"))
    with open(os.path.join(run.workdir, sweep.FINAL_EVAL), "w") as f:
      json.dump({"fid_mnist": 10.0 + i, "step": 100, "pr_k": 3}, f)
    with open(os.path.join(run.workdir, "eval.jsonl"), "w") as f:
      f.write(json.dumps({"step": 100, "fid_mnist": 20.0 + i}) + "\n")
    sweep.write_record(run, {"train_seconds": 60.0})
  sweep_command.main(argv + [f"--workdir={workdir}", f"--export={out}"])
  assert "Copied the tables and 3 finished run(s)' scores and records" in capsys.readouterr().out
  assert sorted(os.listdir(out / "baseline" / "seed1")) == ["eval.jsonl", "final_eval.json", "sweep_run.json"]
  assert not (out / "ema_decay=0" / "seed1").exists()
  # Copied into another --workdir, the runs are finished there and tabulate the same.
  sweep_command.main(argv + [f"--workdir={out}"])
  tables = [json.loads((d / "results.json").read_text())["configurations"] for d in (workdir, out)]
  assert tables[0] == tables[1] and tables[0][0]["metrics"]["fid_mnist"]["per_seed"] == {"0": 10.0, "1": 11.0}
  assert list(tables[0][0]["metrics"]) == ["fid_mnist"]  # the final step and pr_k are settings
  moved = sweep.expand([], [("ema_decay", ["0"])], [0, 1], str(out))
  configs = sweep.check_runs(dcgan_defaults(), moved)
  assert [sweep.is_finished(run, configs[run]) for run in moved] == [True, True, True, False]


def dcgan_defaults():
  from experiments import dcgan

  return dcgan.DEFAULTS


@pytest.mark.slow
def test_a_failed_run_is_reported_and_the_sweep_goes_on(mnist_dir, tmp_path, capfd):
  workdir = tmp_path / "sweep"
  blocker = workdir / "ema_decay=0" / "seed0"
  blocker.parent.mkdir(parents=True)
  blocker.write_text("a file where the run's workdir should be")
  with pytest.raises(UsageError, match=r"1 run\(s\) failed: ema_decay=0 seed 0"):
    sweep_command.main(sweep_argv(workdir, mnist_dir))
  assert os.path.exists(workdir / "ema_decay=0.9" / "seed0" / "final_eval.json")


@pytest.mark.slow
def test_a_stop_signal_to_the_sweep_alone_stops_its_run_at_once(mnist_dir, tmp_path):
  """`kill <sweep pid>` (not the process group): the sweep passes the signal on to its run,
  which saves and leaves long before its last step, and the sweep says how to resume."""
  workdir = tmp_path / "sweep"
  argv = [a.replace("steps=2", "steps=100000") for a in sweep_argv(workdir, mnist_dir, "--shard=0/2")]  # ema_decay=0
  log = tmp_path / "sweep.log"  # a file, not a pipe: a full pipe would block the run
  sweep_process = subprocess.Popen(
    [sys.executable, "-m", "experiments.sweep", *argv],
    stdout=log.open("w"),
    stderr=subprocess.STDOUT,
    start_new_session=True,  # signals to the sweep's PID reach it alone, as with `kill`
  )
  checkpoints = workdir / "ema_decay=0" / "seed0" / "checkpoints"
  try:
    deadline = time.monotonic() + 240
    while not (checkpoints.is_dir() and any(d.isdigit() for d in os.listdir(checkpoints))):
      assert sweep_process.poll() is None and time.monotonic() < deadline, log.read_text()
      time.sleep(0.5)
    os.kill(sweep_process.pid, signal.SIGTERM)
    sweep_process.wait(timeout=120)
    out = log.read_text()
    assert sweep_process.returncode == 0, out
    newest = max(int(d) for d in os.listdir(checkpoints) if d.isdigit())
    assert newest < 100000
    assert f"Sweep stopped during ema_decay=0 seed 0 (newest checkpoint: step {newest} of 100000)" in out
    assert "Traceback" not in out
  finally:
    if sweep_process.poll() is None:  # the signal was not passed on: leave no run behind
      os.killpg(sweep_process.pid, signal.SIGKILL)
