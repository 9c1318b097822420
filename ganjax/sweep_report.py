"""A sweep's evidence: mean ± std and per-seed values of every metric, as Markdown, CSV and
JSON tables, and a PNG of the final fid_mnist per configuration and fid_mnist against step.

Reads only what the runs left on disk (`final_eval.json` or `results.json`, `eval.jsonl`,
`sweep_run.json`), so the table of a sharded sweep gathers every shard's finished runs.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os

import numpy as np
from scipy import stats

from ganjax import jsonl
from ganjax.sweep import BASELINE, TABLES, UNKNOWN_HOST, Run, is_number, read_record, record_hosts

# First in the tables when present, in this order; any other float a run reports follows.
LEADING = ("fid_mnist", "kid_mnist", "is_mnist", "precision_mnist", "recall_mnist", "label_accuracy_mnist")
# Bookkeeping and the evaluation's settings, not quality: the same in every run of a sweep.
SKIPPED = (
  "seconds",
  "num_samples",
  "num_reference",
  "truncation",
  "d_filter",
  "pr_k",
  "kid_subsets",
  "kid_subset_size",
  "step",
)
CURVE_METRIC = "fid_mnist"


@dataclasses.dataclass
class ConfigResult:
  """One configuration's finished seeds."""

  name: str
  flags: tuple[tuple[str, str], ...]
  seeds: list[int]  # every seed the sweep asked for
  scores: dict[int, dict[str, float]]  # seed -> metric -> value, finished seeds only
  train_seconds: dict[int, float]
  curves: dict[int, list[dict]]  # seed -> eval.jsonl rows
  # seed -> the machines that trained it (sweep_run.json's "hosts"); absent in older records
  hosts: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)

  def values(self, metric: str) -> list[float]:
    return [self.scores[s][metric] for s in self.seeds if s in self.scores and metric in self.scores[s]]


def _floats(report: dict) -> dict[str, float]:
  return {k: float(v) for k, v in report.items() if is_number(v) and k not in SKIPPED}


def collect(runs: list[Run], score_paths: dict[Run, str]) -> list[ConfigResult]:
  """Groups `runs` by configuration (in their order) and reads what each finished run wrote."""
  results: dict[str, ConfigResult] = {}
  for run in runs:
    result = results.setdefault(run.config_name, ConfigResult(run.config_name, run.flags, [], {}, {}, {}))
    result.seeds.append(run.seed)
    path = score_paths[run]
    if os.path.exists(path):
      with open(path) as f:
        result.scores[run.seed] = _floats(json.load(f))
    record = read_record(run)
    if record:
      # A record copied in or written by hand may lack the time or hold null: not a number.
      seconds = record.get("train_seconds")
      result.train_seconds[run.seed] = float(seconds) if is_number(seconds) else float("nan")
      hosts = record_hosts(record)
      if hosts != [UNKNOWN_HOST]:  # a finished run from before the records: unknown, not crossing
        result.hosts[run.seed] = tuple(hosts)
    rows = jsonl.read_rows(os.path.join(run.workdir, "eval.jsonl"))
    if rows:
      result.curves[run.seed] = rows
  return list(results.values())


def metric_names(results: list[ConfigResult]) -> list[str]:
  seen = {k for r in results for scores in r.scores.values() for k in scores}
  return [m for m in LEADING if m in seen] + sorted(seen - set(LEADING))


def mean_std(values: list[float]) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof 1; 0 for a single value)."""
  if not values:
    return float("nan"), float("nan")
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def paired_deltas(result: ConfigResult, baseline: ConfigResult, metric: str) -> list[float]:
  """metric(config, seed) - metric(baseline, seed) for the seeds both finished: a seed fixes
  the initial weights, the noise and the data order, so the pair differs in the change alone."""
  return [
    result.scores[s][metric] - baseline.scores[s][metric]
    for s in result.seeds
    if s in result.scores and s in baseline.scores and metric in result.scores[s] and metric in baseline.scores[s]
  ]


def cross_machine_seeds(result: ConfigResult, baseline: ConfigResult) -> list[int]:
  """The paired seeds whose two runs did not train on one and the same machine, as far as the
  records say (a run without a record of its machine counts as unknown, not as crossing):
  their difference holds the machines' float rounding as well as the change."""
  return [
    s
    for s in result.seeds
    if s in result.scores
    and s in baseline.scores
    and s in result.hosts
    and s in baseline.hosts
    and not (len(result.hosts[s]) == 1 and result.hosts[s] == baseline.hosts[s])
  ]


def paired_interval(deltas: list[float], level: float = 0.95) -> tuple[float, float] | None:
  """The Student-t interval of the mean paired difference: mean ± t(level, n - 1) · std / √n,
  or None under two seeds. With 3 seeds t is 4.30, so the interval is wide: a change must move
  every seed by about the same amount before its interval leaves zero."""
  if len(deltas) < 2:
    return None
  mean, std = mean_std(deltas)
  half = float(stats.t.ppf(0.5 + level / 2, len(deltas) - 1)) * std / np.sqrt(len(deltas))
  return mean - half, mean + half


def _digits(mean: float) -> int:
  return 3 if abs(mean) < 10 else 1


def _interval_cell(deltas: list[float]) -> str:
  interval = paired_interval(deltas)
  if interval is None:
    return "-"
  digits = _digits((interval[0] + interval[1]) / 2)  # the mean, which the interval centres on
  return f"[{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"


def _cell(values: list[float]) -> str:
  if not values:
    return "-"
  mean, std = mean_std(values)
  digits = _digits(mean)
  each = ", ".join(f"{v:.{digits}f}" for v in values)
  return f"{mean:.{digits}f} ± {std:.{digits}f} ({each})"


def summary(results: list[ConfigResult]) -> dict:
  """Everything the tables show, as one JSON-ready dict."""
  metrics = metric_names(results)
  baseline = next((r for r in results if r.name == BASELINE), None)
  configs = []
  for r in results:
    entry = {
      "name": r.name,
      "flags": dict(r.flags),
      "seeds": r.seeds,
      "finished_seeds": sorted(r.scores),
      "train_seconds": {str(s): t for s, t in r.train_seconds.items()},
      "hosts": {str(s): list(h) for s, h in sorted(r.hosts.items())},
      "metrics": {},
    }
    if baseline is not None and r is not baseline:
      entry["pairs_across_machines"] = cross_machine_seeds(r, baseline)
    for m in metrics:
      values = r.values(m)
      mean, std = mean_std(values)
      entry["metrics"][m] = {
        "mean": mean,
        "std": std,
        "per_seed": {str(s): r.scores[s][m] for s in r.seeds if s in r.scores and m in r.scores[s]},
      }
      if baseline is not None and r is not baseline:
        deltas = paired_deltas(r, baseline, m)
        d_mean, d_std = mean_std(deltas)
        interval = paired_interval(deltas)
        entry["metrics"][m].update(
          delta_mean=d_mean,
          delta_std=d_std,
          delta_seeds=len(deltas),
          delta_ci95=None if interval is None else list(interval),
        )
    configs.append(entry)
  return {"metrics": metrics, "configurations": configs}


def markdown(results: list[ConfigResult], command: str = "") -> str:
  metrics = metric_names(results)
  baseline = next((r for r in results if r.name == BASELINE), None)
  head = ["configuration", "seeds done"] + metrics[:1]
  if baseline is not None and metrics:
    head += [f"Δ{metrics[0]} vs baseline (paired by seed)", f"95% interval of Δ{metrics[0]} (paired t)"]
  head += metrics[1:] + ["train min"]
  lines = []
  if command:
    lines += [f"Made by `{command}`.", ""]
  lines += [
    "Each cell: mean ± std over seeds (sample std), then the per-seed values. The interval: the",
    "mean paired difference ± t · std / √n (Student's t, n - 1 degrees of freedom; from 2 seeds).",
    "",
  ]
  crossing = {r.name: cross_machine_seeds(r, baseline) for r in results if baseline is not None and r is not baseline}
  if any(crossing.values()):
    lines += [
      'Δ cells that name seeds "across machines" pair runs that trained on different machines',
      '(sweep_run.json, "hosts"): those differences hold the machines\' float rounding too.',
      "",
    ]
  lines += [
    "| " + " | ".join(head) + " |",
    "|" + "---|" * len(head),
  ]
  for r in results:
    row = [r.name, f"{len(r.scores)}/{len(r.seeds)}"]
    if metrics:
      row.append(_cell(r.values(metrics[0])))
      if baseline is not None:
        if r is baseline:
          row += ["-", "-"]
        else:
          deltas = paired_deltas(r, baseline, metrics[0])
          seeds = crossing[r.name]
          across = (
            f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} across machines)" if seeds else ""
          )
          row += [_cell(deltas) + across, _interval_cell(deltas)]
    row += [_cell(r.values(m)) for m in metrics[1:]]
    minutes = [t / 60 for s, t in sorted(r.train_seconds.items()) if s in r.scores]
    row.append(_cell(minutes))
    lines.append("| " + " | ".join(row) + " |")
  return "\n".join(lines) + "\n"


def write_csv(results: list[ConfigResult], path: str) -> None:
  """One row per finished run: configuration, seed, its flags, every metric, train seconds."""
  metrics = metric_names(results)
  with open(path, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["configuration", "seed", "flags", *metrics, "train_seconds"])
    for r in results:
      for s in r.seeds:
        if s in r.scores:
          flags = " ".join(f"--{k}={v}" for k, v in r.flags)
          writer.writerow([r.name, s, flags, *[r.scores[s].get(m, "") for m in metrics], r.train_seconds.get(s, "")])


def plot(results: list[ConfigResult], path: str, metric: str = CURVE_METRIC) -> bool:
  """Final `metric` per configuration (mean ± std, each seed a dot) and `metric` against step
  (mean over seeds of the in-training evaluations). False when no run has the metric."""
  done = [r for r in results if r.values(metric)]
  if not done:
    return False
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, (final_ax, curve_ax) = plt.subplots(1, 2, figsize=(13, max(3.5, 0.45 * len(done) + 1.5)))
  # Ten colours cycle, so an ablation of more rows would draw two of them alike: take twenty.
  palette = plt.get_cmap("tab10" if len(done) <= 10 else "tab20").colors
  for i, r in enumerate(done):
    color = palette[i % len(palette)]
    values = r.values(metric)
    mean, std = mean_std(values)
    final_ax.errorbar([mean], [i], xerr=[std], fmt="o", color=color, capsize=4)
    final_ax.scatter(values, [i] * len(values), s=14, color=color, alpha=0.5)
    steps = sorted({row["step"] for rows in r.curves.values() for row in rows if metric in row})
    if steps:
      means = [
        np.mean([row[metric] for rows in r.curves.values() for row in rows if row["step"] == step and metric in row])
        for step in steps
      ]
      curve_ax.plot(steps, means, "o-", color=color, label=r.name)
  final_ax.set_yticks(range(len(done)), [r.name for r in done], fontsize=8)
  final_ax.invert_yaxis()
  final_ax.set_xlabel(f"final {metric} (mean ± std over seeds; dots: seeds)")
  final_ax.grid(alpha=0.3)
  curve_ax.set_xlabel("step")
  curve_ax.set_ylabel(f"{metric} during training (mean over seeds)")
  curve_ax.set_yscale("log")
  curve_ax.grid(alpha=0.3, which="both")
  if curve_ax.lines:
    curve_ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return True


def write_all(results: list[ConfigResult], workdir: str, command: str = "") -> list[str]:
  """results.md, results.csv, results.json and results.png in the sweep's workdir; their paths."""
  os.makedirs(workdir, exist_ok=True)
  paths = [os.path.join(workdir, name) for name in TABLES]  # md, csv, json, png
  with open(paths[0], "w") as f:
    f.write(markdown(results, command))
  write_csv(results, paths[1])
  with open(paths[2], "w") as f:
    json.dump({"command": command, **summary(results)}, f, indent=2)
  if not plot(results, paths[3]):
    paths.pop()
  return paths
