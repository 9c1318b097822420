"""JSON-lines logs keyed by step (metrics.jsonl, eval.jsonl)."""

from __future__ import annotations

import json
import os


def read_rows(path: str | None) -> list[dict]:
  """All rows of `path`, or none when there is no such file.

  A last line without its newline is a write the run was killed in: it is left out.
  """
  if not path or not os.path.exists(path):
    return []
  with open(path) as f:
    lines = f.read().split("\n")
  # After the final newline split() leaves "" (a whole file) or the torn row (a killed write).
  return [json.loads(line) for line in lines[:-1] if line.strip()]


def drop_rows_after(path: str, step: int) -> None:
  """Keeps rows with `step` <= step: a resumed run recomputes the steps after its checkpoint."""
  if not os.path.exists(path):
    return
  kept = [row for row in read_rows(path) if row["step"] <= step]
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.writelines(json.dumps(row) + "\n" for row in kept)
  os.replace(tmp, path)
