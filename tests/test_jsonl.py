"""The runs' row files: a row torn by a kill mid-write is dropped, not a crash on resume."""

import json

from ganjax import jsonl


def test_a_torn_last_row_is_left_out_and_dropped_on_resume(tmp_path):
  path = tmp_path / "eval.jsonl"
  rows = [{"step": s, "fid_mnist": 100.0 / s} for s in (1, 2, 3)]
  path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 4, "fid_m')
  assert jsonl.read_rows(str(path)) == rows
  jsonl.drop_rows_after(str(path), 2)
  assert path.read_text() == "".join(json.dumps(r) + "\n" for r in rows[:2])


def test_missing_or_empty_files_have_no_rows(tmp_path):
  assert jsonl.read_rows(str(tmp_path / "none.jsonl")) == [] and jsonl.read_rows(None) == []
  (tmp_path / "empty.jsonl").write_text("")
  assert jsonl.read_rows(str(tmp_path / "empty.jsonl")) == []
