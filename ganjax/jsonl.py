"""JSON-lines logs keyed by step."""

from __future__ import annotations

import json
import os


def drop_rows_after(path: str, step: int) -> None:
  """Keeps rows with `step` <= step: a resumed run recomputes the steps after its checkpoint."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    kept = [line for line in f if line.strip() and json.loads(line)["step"] <= step]
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.writelines(kept)
  os.replace(tmp, path)
