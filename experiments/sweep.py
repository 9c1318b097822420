"""Sweep an experiment's flags over seeds: each configuration x seed an ordinary run.

    python -m experiments.sweep dcgan --seeds=3 --set ema_decay=0,0.999 --set d_lr=2e-4,4e-4 \
        --workdir=runs/sweep_x
    python -m experiments.sweep dcgan --seeds=3 --ablate ema_decay=0 --ablate dropout=0.3 \
        --workdir=runs/ablation                      # each change alone against the defaults
    python -m experiments.sweep dcgan --seeds=3 --set ema_decay=0,0.999 --workdir=runs/sweep_x \
        --shard=0/4                                  # runs 0, 4, 8, ...: one shard per machine
    python -m experiments.sweep dcgan --seeds=4 --ablate ema_decay=0 --workdir=runs/ablation \
        --shard=0/2 --shard_by=seed                  # seeds 0 and 2, every configuration
    python -m experiments.sweep dcgan --seeds=3 --set ema_decay=0,0.999 --workdir=runs/sweep_x \
        --report_only                                # the tables of what has finished
    python -m experiments.sweep dcgan --seeds=3 --set ema_decay=0,0.999 --workdir=runs/sweep_x \
        --report_only --export=docs/sweeps/sweep_x   # the evidence to commit, without checkpoints

`--set NAME=V` fixes a flag for every run; `--set NAME=V1,V2` makes it an axis of a grid.
`--ablate NAME=V` adds one configuration that changes NAME alone from the baseline (the
experiment's defaults and the fixed `--set`s). Runs live in `<workdir>/<configuration>/seed<k>`;
the same command again skips the finished runs and resumes an interrupted one. A GAN run is
scored once at its end on `--final_samples` samples (`experiments.evaluate`). The sweep then
writes `<workdir>/results.{md,csv,json,png}`: mean ± std and the per-seed values of every
metric, and the final fid_mnist per configuration beside fid_mnist against step.

Every configuration's flags are checked before anything trains. On a cluster, start one
shard per machine with your own launcher (a SLURM job array: `--shard=$SLURM_ARRAY_TASK_ID/N`)
and run `--report_only` once they are done. `--export=DIR` copies the tables and each finished
run's scores and records (no checkpoints) to DIR, to commit, or to copy into a --workdir on
another machine, where those runs count as finished; see docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from ganjax import cli, sweep, sweep_report
from ganjax.errors import UsageError


def parse(argv):
  parser = cli.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("experiment", help="a training experiment: dcgan, cgan, wgan_gp, ...")
  parser.add_argument("--workdir", required=True, help="the sweep's folder: one sub-folder per run")
  parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 of every configuration")
  parser.add_argument(
    "--set",
    action="append",
    default=[],
    metavar="NAME=V[,V...]",
    dest="sets",
    help="one value: fixed for every run; several: an axis of the grid",
  )
  parser.add_argument(
    "--ablate",
    action="append",
    default=[],
    metavar="NAME=V[,V...]",
    help="each value one configuration that changes NAME alone from the baseline",
  )
  parser.add_argument("--shard", default="0/1", help="i/n: run every n-th run from the i-th")
  parser.add_argument(
    "--shard_by",
    default="run",
    choices=sweep.SHARD_BY,
    help="run: the most even split; seed: every configuration of a seed in one shard, so that "
    "each pair (a configuration against the baseline, one seed) trains on one machine",
  )
  parser.add_argument("--final_samples", type=int, default=10_000, help="samples for a GAN run's final score")
  parser.add_argument("--report_only", action="store_true", help="write the tables of the finished runs; train nothing")
  parser.add_argument("--dry_run", action="store_true", help="list the runs (checked) and stop")
  parser.add_argument(
    "--export",
    default="",
    metavar="DIR",
    help="then copy the tables and each finished run's scores and records (no checkpoints) to DIR",
  )
  args = parser.parse_args(argv)
  if args.seeds <= 0:
    raise UsageError(f"--seeds={args.seeds} must be a positive integer.")
  if args.final_samples <= 256:
    raise UsageError(
      f"--final_samples={args.final_samples} is too few: fid_mnist on 256-d features needs more than 256."
    )
  return args


def main(argv=None) -> None:
  args = parse(argv)
  module = sweep.load_experiment(args.experiment)
  presets = getattr(module, "PRESETS", {})
  sets = [sweep.parse_assignment(t, "--set", presets) for t in args.sets]
  ablations = [sweep.parse_assignment(t, "--ablate", presets) for t in args.ablate]
  runs = sweep.expand(sets, ablations, list(range(args.seeds)), args.workdir)
  configs = sweep.check_runs(module.DEFAULTS, runs, presets)  # every combination, before anything trains
  index, count = sweep.parse_shard(args.shard)
  mine = sweep.shard(runs, index, count, args.shard_by)
  command = "python -m experiments.sweep " + shlex.join(argv if argv is not None else sys.argv[1:])
  if args.dry_run:
    for run in mine:
      print(f"{run.config_name} seed {run.seed}: {shlex.join(run.argv())}")
    print(f"{len(mine)} of {len(runs)} runs in this shard.")
    return
  failures = []
  if not args.report_only:
    stop: list[int] = []
    running: list = []  # the child process of the moment: a run or its evaluation

    def on_stop(signum, frame):
      # The runs handle a stop signal themselves (save and exit 0); the sweep must not start
      # the next run. A TERM sent to the sweep's PID alone (`kill`) is passed on to its child.
      # SIGINT is not: it comes from Ctrl-C, which reaches the child already, and a second one
      # could land inside an evaluation's own interrupt handling.
      stop.append(signum)
      if signum == signal.SIGTERM:
        sweep.forward(signum, running)

    previous = {s: signal.signal(s, on_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
      for i, run in enumerate(mine, 1):
        head = f"[{i}/{len(mine)}] {run.config_name} seed {run.seed}"
        if sweep.is_finished(run, configs[run]):
          print(f"{head}: finished before, skipped.")
          continue
        print(f"{head}: training in {run.workdir}", flush=True)
        outcome = sweep.execute(args.experiment, run, configs[run], args.final_samples, running)
        if stop and outcome == "done":  # the signal came while this run was finishing
          print(f"{head}: done. Sweep stopped before the next run; run the same command to go on.")
          return
        if stop or outcome == "stopped":
          newest = sweep.latest_checkpoint_step(run.workdir)
          print(
            f"Sweep stopped during {run.config_name} seed {run.seed} (newest checkpoint: step {newest} of "
            f"{configs[run].steps}); run the same command to resume."
          )
          return
        if outcome != "done":
          failures.append(f"{run.config_name} seed {run.seed} ({outcome})")
          print(f"{head}: {outcome}; going on with the next run.", file=sys.stderr)
    finally:
      for s, h in previous.items():
        signal.signal(s, h)
  results = sweep_report.collect(runs, {run: sweep.scores_path(run, configs[run]) for run in runs})
  paths = sweep_report.write_all(results, args.workdir, command)
  finished = sum(len(r.scores) for r in results)
  print(f"{finished} of {len(runs)} runs finished; wrote {', '.join(paths)}.")
  if args.export:
    copied = sweep.export(runs, configs, args.workdir, args.export)
    print(f"Copied the tables and {copied} finished run(s)' scores and records to {args.export}.")
  if failures:
    raise UsageError(
      f"{len(failures)} run(s) failed: {'; '.join(failures)}. Fix the cause and run the same "
      "command again; finished runs are kept."
    )


if __name__ == "__main__":
  sys.exit(cli.run(main))
