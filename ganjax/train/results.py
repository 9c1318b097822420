"""The evaluation some families run once, after training: `<workdir>/results.json` and one
line per figure on stdout.

GANs evaluate during training (`--eval_every`, metrics.jsonl); the image-to-image models and
the VAE are scored once at the end, on the test split, by their family's
`evaluate.evaluate(config, state) -> dict` (`ganjax.train.registry`).
"""

from __future__ import annotations

import json
import os

from ganjax.config import Config

FILE_NAME = "results.json"


def write(workdir: str, results: dict) -> str:
  """Writes `results` to `<workdir>/results.json` whole or not at all; returns the path."""
  path = os.path.join(workdir, FILE_NAME)
  with open(f"{path}.tmp", "w") as f:
    json.dump(results, f, indent=2, sort_keys=True)
  os.replace(f"{path}.tmp", path)
  return path


def _text(value) -> str:
  return f"{value:.4f}" if isinstance(value, float) else str(value)


def summary_lines(results: dict) -> list[str]:
  """'name: value' per entry; a nested table (SRGAN's per-method scores) on one line."""
  lines = []
  for name, value in results.items():
    if isinstance(value, dict):
      value = ", ".join(f"{key} {_text(v)}" for key, v in value.items())
    lines.append(f"{name}: {_text(value)}")
  return lines


def evaluate_after_training(config: Config, state) -> dict | None:
  """Scores a finished run of a family that evaluates once, writes and prints the results.

  Nothing for the GANs, for a run stopped early (a stop signal: it should exit quickly, and the
  same command resumes and evaluates later) or on any process but the first (every process
  holds the same state; one writes the file).
  """
  from ganjax import distributed
  from ganjax.train import registry

  if not registry.scored_after_training(config.model) or int(state.step) < config.steps or not distributed.is_primary():
    return None
  results = registry.evaluate_after_training(config, state)
  write(config.workdir, results)
  for line in summary_lines(results):
    print(line)
  return results
