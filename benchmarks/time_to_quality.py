"""Time to quality: fid_mnist against wall-clock seconds for ganjax and the two DCGAN peers.

    python benchmarks/time_to_quality.py                      # 1-2.5 h on a 2-core CPU
    python benchmarks/time_to_quality.py --only=ganjax,pytorch --seconds=300
    python benchmarks/time_to_quality.py --rescore=runs/time_to_quality/report.json --ema_bn_stats=standing

Trains, one after another on the same machine and the same MNIST:
- ganjax's default `python -m experiments.dcgan`, to its own last step (its end sets the time
  axis, unless --seconds does);
- ganjax's `--preset=tutorial` (the TensorFlow tutorial's network and settings), to its own end
  or the time axis' end, whichever comes first;
- the peers in ../shared/peers: `tf_dcgan_train.py` (the TF/Keras tutorial) and
  `torch_dcgan_train.py` (the DCGAN paper's settings in PyTorch), stopped at the axis' end.

Every contender's clock starts when its process is launched, so start-up and compilation
count for everyone. ganjax's points are its checkpoints (timed by the TensorBoard event of
the same step); the peers' are their per-epoch sample files. Once all training is over, each
point is scored with ganjax's own metrics on the same number of samples (--samples, the
peers write 5,000) against the MNIST test split. The PyTorch peer is scored twice: sampled
with BatchNorm's running statistics and with batch statistics, as DCGAN codes differ on it.

Writes <report>.json (every point), <report>.md (fid_mnist at matching times, the goal check)
and <report>.png (fid_mnist against seconds).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow (the event reader, TFDS) quiet
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS = ROOT.parent / "shared" / "peers"
MNIST_IDX = ROOT / "ganjax" / "data" / "mnist"
TORCH_PYTHON = HERE / ".torch-venv" / "bin" / "python"
sys.path.insert(0, str(HERE))
import speed_suite  # noqa: E402  (TensorBoard's scalar events)

from ganjax import host  # noqa: E402  (no JAX: /proc/cpuinfo)

CONTENDERS = ("ganjax", "tutorial", "tf", "pytorch")
LABELS = {
  "ganjax": "ganjax default",
  "tutorial": "ganjax --preset=tutorial",
  "tf": "TF/Keras tutorial (peer)",
  "pytorch": "PyTorch, DCGAN paper settings (peer)",
  "pytorch_trainbn": "PyTorch peer, batch-statistics sampling",
}
PEER_LINE = re.compile(r"^epoch (\d+) wall_s \d+")
# A checkpoint about every this share of the run: 20 points on each ganjax curve.
POINTS_PER_RUN = 20


def parse(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--only", default=",".join(CONTENDERS), help=f"a comma list of {', '.join(CONTENDERS)}")
  parser.add_argument("--seconds", type=float, default=0, help="the time axis' end (0: the ganjax default's own end)")
  parser.add_argument("--samples", type=int, default=5000, help="samples scored at every point")
  parser.add_argument("--from_seconds", type=float, default=120, help="the goal check starts here")
  parser.add_argument("--workdir", default="runs/time_to_quality", help="the runs go in <workdir>/<UTC time>/")
  parser.add_argument("--report", default="runs/time_to_quality/report", help="<report>.{json,md,png}")
  parser.add_argument("--ganjax_flag", action="append", default=[], help="one more flag for both ganjax runs")
  parser.add_argument(
    "--rescore",
    default="",
    help="a report's .json: score its runs' points again (no training), for instance with --ema_bn_stats",
  )
  parser.add_argument(
    "--ema_bn_stats", default="", help="g or standing: the ganjax runs' EMA BatchNorm statistics (empty: as trained)"
  )
  parser.add_argument("--torch_python", default=str(TORCH_PYTHON), help="python of a venv with torch==2.13.0")
  args = parser.parse_args(argv)
  args.only = [c for c in args.only.split(",") if c]
  unknown = sorted(set(args.only) - set(CONTENDERS))
  if unknown:
    parser.exit(2, f"--only: {', '.join(unknown)} is not one of {', '.join(CONTENDERS)}.\n")
  # Rescoring trains nothing, so it needs no torch (CI has none).
  if "pytorch" in args.only and not args.rescore and not pathlib.Path(args.torch_python).exists():
    parser.exit(2, f"No {args.torch_python}: run benchmarks/setup_torch_venv.sh, or leave pytorch out of --only.\n")
  return args


def default_steps(preset: str | None) -> int:
  sys.path.insert(0, str(ROOT))
  from experiments import dcgan

  return (dcgan.PRESETS[preset] if preset else dcgan.DEFAULTS).steps


def launch(command: list[str], log_path: pathlib.Path, deadline_s: float | None, on_line=None) -> float:
  """Runs `command` until it ends or `deadline_s` after its launch (then stops it); returns its
  launch time (time.time()). `on_line(line, seconds since launch)` sees each stdout line."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
  start = time.time()
  with open(log_path, "w") as log:
    process = subprocess.Popen(
      command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )

    def read():
      for line in process.stdout:
        log.write(line)
        log.flush()  # a peer prints once an epoch (minutes apart): its log shows each line at once
        if on_line:
          on_line(line, time.time() - start)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
      process.wait(timeout=None if deadline_s is None else max(deadline_s - (time.time() - start), 0))
    except subprocess.TimeoutExpired:
      process.terminate()  # a ganjax run saves and exits on SIGTERM; a peer just stops
      process.wait()
    reader.join()
  if process.returncode not in (0, -signal.SIGTERM, 128 + signal.SIGTERM):
    raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}); see {log_path}.")
  return start


def train_ganjax(workdir: pathlib.Path, preset: str | None, flags: list[str], deadline_s: float | None) -> list[dict]:
  """One ganjax run; its points: {seconds, step, workdir} per checkpoint."""
  steps = default_steps(preset)
  every = max(50, round(steps / POINTS_PER_RUN / 50) * 50)  # a multiple of --log_every, so each has an event
  command = [
    sys.executable,
    "-m",
    "experiments.dcgan",
    f"--workdir={workdir}",
    "--accelerator=cpu",
    "--eval_every=0",  # scored afterwards, like the peers: evaluation is not training time
    f"--checkpoint_every={every}",
    "--keep_checkpoints=1000",
    "--log_every=50",
    *([f"--preset={preset}"] if preset else []),
    *flags,
  ]
  start = launch(command, workdir.with_suffix(".log"), deadline_s)
  events = speed_suite.scalar_events(str(workdir / "tensorboard"), "steps_per_s")
  times = {step: wall for step, (wall, _) in events.items()}
  checkpoints = sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
  return [{"step": s, "seconds": times[s] - start, "workdir": str(workdir)} for s in checkpoints if s in times]


def train_peer(name: str, python: str, out: pathlib.Path, deadline_s: float) -> list[dict]:
  """One peer run, stopped at `deadline_s`; its points: {seconds, epoch, file} per epoch."""
  points = []

  def on_line(line, seconds):
    match = PEER_LINE.match(line)
    if match:
      epoch = int(match.group(1))
      points.append({"epoch": epoch, "seconds": seconds, "file": str(out / f"epoch{epoch}.npz")})
      if name == "pytorch":
        points.append({"epoch": epoch, "seconds": seconds, "file": str(out / f"epoch{epoch}_trainbn.npz")})

  script = PEERS / f"{'torch' if name == 'pytorch' else name}_dcgan_train.py"
  launch([python, str(script), str(MNIST_IDX), str(out), "1000"], out.with_suffix(".log"), deadline_s, on_line)
  return points


def score(points: dict[str, list[dict]], samples: int, ema_bn_stats: str = "") -> None:
  """Adds fid_mnist, precision and recall to every point, in place."""
  import numpy as np

  from ganjax import cli

  cli.start_backend("cpu")
  from ganjax.data.pipeline import default_data_dir, to_model_range
  from ganjax.metrics import sample_quality
  from ganjax.sampling import load_generator

  reference = sample_quality.reference_features("mnist", "test", default_data_dir())
  for name, rows in points.items():
    for row in rows:
      if "workdir" in row:
        fakes = load_generator(row["workdir"], row["step"], ema_bn_stats=ema_bn_stats).generate(samples, seed=0)
      else:
        fakes = to_model_range(np.load(row["file"])["images"][:samples])
      report = sample_quality.evaluate(fakes, reference)
      row.update({k: float(report[k]) for k in ("fid_mnist", "precision_mnist", "recall_mnist")})
      where = f"step {row['step']}" if "step" in row else f"epoch {row['epoch']}"
      print(f"{name:<16} {where:<11} {row['seconds']:7.0f} s  fid_mnist {row['fid_mnist']:8.2f}", flush=True)


def value_at(rows: list[dict], seconds: float, key: str = "fid_mnist") -> float | None:
  """The contender's figure at `seconds`: that of its newest point at or before it."""
  done = [r for r in rows if r["seconds"] <= seconds]
  return max(done, key=lambda r: r["seconds"])[key] if done else None


def goal_check(curves: dict[str, list[dict]], start_s: float, end_s: float, every_s: float = 10.0) -> dict:
  """Whether ganjax's default has the lowest fid_mnist at every `every_s` from `start_s` to
  `end_s`, and the ratio of the best other contender's fid_mnist to it at `end_s`."""
  others = [name for name in curves if name != "ganjax"]
  losses = []
  t = start_s
  while t <= end_s + 1e-9:
    ours = value_at(curves["ganjax"], t)
    rivals = {name: value_at(curves[name], t) for name in others}
    beaten = {n: v for n, v in rivals.items() if v is not None and (ours is None or v <= ours)}
    if beaten:
      losses.append({"seconds": t, "ganjax": ours, **beaten})
    t += every_s
  ours_end = value_at(curves["ganjax"], end_s)
  rivals_end = [v for v in (value_at(curves[n], end_s) for n in others) if v is not None]
  ratio = min(rivals_end) / ours_end if ours_end and rivals_end else None
  return {"lowest_throughout": not losses, "times_not_lowest": losses, "end_ratio": ratio}


def write_report(curves: dict[str, list[dict]], check: dict, start_s: float, end_s: float, path: str, machine: str):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  save_record(f"{path}.json", curves, end_s, machine, goal=check)
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for name, rows in curves.items():
    rows = sorted(rows, key=lambda r: r["seconds"])
    ax.plot([r["seconds"] for r in rows], [r["fid_mnist"] for r in rows], marker="o", ms=3, label=LABELS[name])
  ax.axvline(start_s, color="grey", lw=0.8, ls=":")
  ax.set(xlabel="wall-clock seconds since launch", ylabel="fid_mnist (5,000 samples; lower is better)", yscale="log")
  ax.set_title(f"Time to quality, MNIST DCGAN ({machine})", fontsize=9)
  ax.grid(alpha=0.3, which="both")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(f"{path}.png", dpi=120)
  plt.close(fig)
  times = sorted({start_s, *range(int(start_s), int(end_s) + 1, 60), end_s})
  lines = [
    f"# Time to quality ({machine})",
    "",
    "fid_mnist of each contender's newest point at each wall time (seconds since launch).",
    "",
    "| seconds | " + " | ".join(LABELS[n] for n in curves) + " |",
    "| --- |" + " --- |" * len(curves),
  ]
  for t in times:
    cells = [value_at(curves[n], t) for n in curves]
    lines.append(f"| {t:.0f} | " + " | ".join("-" if v is None else f"{v:.1f}" for v in cells) + " |")
  ratio = check["end_ratio"]
  lowest = check["lowest_throughout"]
  if lowest is None:
    verdict = "not checked (no ganjax default in this run)"
  else:
    verdict = "yes" if lowest else f"no, at {len(check['times_not_lowest'])} times"
  lines += [
    "",
    f"- ganjax's default lowest at every 10 s from {start_s:.0f} s to {end_s:.0f} s: {verdict}.",
    f"- At the end, the best other contender's fid_mnist is {ratio:.2f}x ganjax's." if ratio else "- No end ratio.",
  ]
  with open(f"{path}.md", "w") as f:
    f.write("\n".join(lines) + "\n")


def save_record(path: str, curves: dict[str, list[dict]], end_s: float, machine: str, goal: dict | None = None):
  """The runs' points (scored or not yet), the time axis and, once scored, the goal check:
  what --rescore starts from."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  record = {"machine": machine, "end_seconds": end_s, **({"goal": goal} if goal is not None else {}), "curves": curves}
  with open(path, "w") as f:
    json.dump(record, f, indent=2)


def load_record(path: str) -> tuple[dict[str, list[dict]], float, str]:
  with open(path) as f:
    record = json.load(f)
  return record["curves"], record["end_seconds"], record["machine"]


def score_and_report(args, curves: dict[str, list[dict]], end_s: float, machine: str) -> None:
  """Scores every point of `curves`, checks the goal and writes <report>.{json,md,png}."""
  score(curves, args.samples, args.ema_bn_stats)
  # Without the ganjax default there is no goal to check (a peers-only run: --only=tf --seconds=N).
  no_goal = {"lowest_throughout": None, "times_not_lowest": [], "end_ratio": None}
  check = goal_check(curves, args.from_seconds, end_s) if "ganjax" in curves else no_goal
  write_report(curves, check, args.from_seconds, end_s, args.report, machine)
  print(f"Wrote {args.report}.json, .md and .png.")


def main(argv=None) -> None:
  args = parse(argv)
  if args.rescore:
    score_and_report(args, *load_record(args.rescore))
    return
  base = pathlib.Path(args.workdir) / datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
  base.mkdir(parents=True)
  end_s = args.seconds or None
  curves: dict[str, list[dict]] = {}
  if "ganjax" in args.only:
    curves["ganjax"] = train_ganjax(base / "ganjax", None, args.ganjax_flag, end_s)
    end_s = end_s or max(r["seconds"] for r in curves["ganjax"])
  if end_s is None:
    raise SystemExit("Without the ganjax run, give the time axis' end: --seconds.")
  print(f"Time axis: {end_s:.0f} s.", flush=True)
  if "tutorial" in args.only:
    curves["tutorial"] = train_ganjax(base / "tutorial", "tutorial", args.ganjax_flag, end_s + 30)
  for peer, python in (("tf", sys.executable), ("pytorch", args.torch_python)):
    if peer in args.only:
      rows = train_peer(peer, python, base / peer, end_s + 30)
      curves[peer] = [r for r in rows if not r["file"].endswith("_trainbn.npz")]
      if peer == "pytorch":
        curves["pytorch_trainbn"] = [r for r in rows if r["file"].endswith("_trainbn.npz")]
  machine = f"{host.cpu_name()}, {os.cpu_count()} cores, {datetime.date.today()}"
  # The training record first: scoring takes many minutes on a small CPU, and should it be cut
  # short, --rescore on this file scores the same runs without training them again.
  save_record(f"{args.report}.json", curves, end_s, machine)
  score_and_report(args, curves, end_s, machine)


if __name__ == "__main__":
  main()
