"""The few lines every experiment ends with: how far it got, where its results are, what next.

Read from the workdir after training (the files the loop and the evaluations wrote), so the
summary names only what is really there.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence

from ganjax import checkpoint, jsonl
from ganjax.config import Config
from ganjax.train import registry

# The metrics named in the summary's evaluation line, when the evaluation has them.
HEADLINE_METRICS = ("fid_mnist", "kid_mnist", "label_accuracy_mnist")


def format_duration(seconds: float) -> str:
  """'42 s', '15 min 12 s', '2 h 5 min'."""
  seconds = round(seconds)
  if seconds < 60:
    return f"{seconds} s"
  minutes, seconds = divmod(seconds, 60)
  if minutes < 60:
    return f"{minutes} min {seconds} s"
  hours, minutes = divmod(minutes, 60)
  return f"{hours} h {minutes} min"


def experiment_command(defaults: Config, argv: Sequence[str] | None) -> str:
  """The command line that ran this experiment, to run it again: `python -m experiments.<name> ...`."""
  module = getattr(sys.modules.get("__main__"), "__spec__", None)
  name = module.name if module is not None and module.name.startswith("experiments.") else None
  if name is None:  # called from Python (a test, a notebook): the experiment whose defaults these are
    name = next(
      (
        n
        for n, m in list(sys.modules.items())
        if n.startswith("experiments.") and getattr(m, "DEFAULTS", None) is defaults
      ),
      f"experiments.{defaults.model}",
    )
  args = list(sys.argv[1:] if argv is None else argv)
  return shlex.join(["python", "-m", name, *args])


def _metrics_text(row: dict) -> str:
  return ", ".join(f"{name} {row[name]:.4g}" for name in HEADLINE_METRICS if name in row)


def closing_lines(config: Config, step: int, seconds: float, command: str) -> list[str]:
  """The summary of a run of `config` that reached `step` after `seconds` (this invocation's)."""
  workdir = config.workdir
  stopped = step < config.steps
  head = "Stopped" if stopped else "Finished"
  lines = [f"{head} at step {step} of {config.steps} after {format_duration(seconds)}."]

  def where(label: str, path: str, note: str = "") -> None:
    if os.path.exists(path):
      lines.append(f"  {label:<19}{path}{note}")

  where("final samples:", os.path.join(workdir, "samples", f"grid_{step:06d}.png"))
  where("curves:", os.path.join(workdir, "curves.png"))
  where("latest checkpoint:", os.path.join(checkpoint.checkpoint_dir(workdir), str(step)))
  evaluations = {row["step"]: row for row in jsonl.read_rows(os.path.join(workdir, "eval.jsonl"))}
  best = checkpoint.best_dir(workdir)
  best_steps = sorted(int(n) for n in os.listdir(best) if n.isdigit()) if os.path.isdir(best) else []
  if best_steps:
    row = evaluations.get(best_steps[-1], {})
    score = f" ({checkpoint.BEST_METRIC} {row[checkpoint.BEST_METRIC]:.4g})" if checkpoint.BEST_METRIC in row else ""
    where("best checkpoint:", os.path.join(best, str(best_steps[-1])), score)
  if evaluations:
    last = max(evaluations)
    lines.append(
      f"  {'last evaluation:':<19}step {last}: {_metrics_text(evaluations[last])} "
      f"({os.path.join(workdir, 'eval.jsonl')})"
    )
  where("results:", os.path.join(workdir, "results.json"))
  if stopped:
    lines.append(f"Resume with the same command: {command}")
  elif registry.family_name(config.model) == "gan":  # noise to image: experiments.sample draws from it
    grid = os.path.join(workdir, "samples.png")
    lines.append(
      "Sample from it: "
      + shlex.join(["python", "-m", "experiments.sample", f"--workdir={workdir}", "--num=64", f"--out={grid}"])
      + (" (add --step=best for the best checkpoint)" if best_steps else "")
    )
  return lines
