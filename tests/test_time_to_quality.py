"""The time-to-quality benchmark's comparison at matching wall times (no training here)."""

import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))
import time_to_quality  # noqa: E402


def curve(*points):
  return [{"seconds": s, "fid_mnist": f} for s, f in points]


def test_value_at_is_the_newest_point_so_far():
  rows = curve((50, 300.0), (150, 100.0), (100, 200.0))
  assert time_to_quality.value_at(rows, 49) is None
  assert time_to_quality.value_at(rows, 100) == 200.0
  assert time_to_quality.value_at(rows, 149.9) == 200.0
  assert time_to_quality.value_at(rows, 1e9) == 100.0


def test_goal_check_names_every_time_a_rival_is_as_good_or_better():
  curves = {
    "ganjax": curve((100, 80.0), (200, 20.0)),
    "tf": curve((90, 90.0), (190, 60.0)),
    "pytorch": curve((150, 70.0)),
  }
  check = time_to_quality.goal_check(curves, start_s=100, end_s=200, every_s=10)
  # 150 to 190 s: PyTorch's 70 beats ganjax's 80; at 200 s ganjax's 20 is lowest.
  assert [row["seconds"] for row in check["times_not_lowest"]] == [150, 160, 170, 180, 190]
  assert not check["lowest_throughout"]
  assert check["end_ratio"] == pytest.approx(60.0 / 20.0)


def test_goal_check_counts_no_point_yet_as_not_lowest():
  curves = {"ganjax": curve((130, 50.0)), "tf": curve((110, 400.0))}
  check = time_to_quality.goal_check(curves, start_s=120, end_s=140, every_s=10)
  assert [row["seconds"] for row in check["times_not_lowest"]] == [120]
  curves["tf"] = curve((500, 1.0))  # no peer point by the end: ganjax alone counts as lowest
  check = time_to_quality.goal_check(curves, start_s=130, end_s=140, every_s=10)
  assert check["lowest_throughout"] and check["end_ratio"] is None


def test_report_files(tmp_path):
  curves = {"ganjax": curve((100, 80.0), (200, 20.0)), "tf": curve((90, 90.0))}
  check = time_to_quality.goal_check(curves, 100, 200)
  time_to_quality.write_report(curves, check, 100, 200, str(tmp_path / "r"), "test machine")
  assert (tmp_path / "r.png").stat().st_size > 1000
  table = (tmp_path / "r.md").read_text()
  assert "| 200 | 20.0 | 90.0 |" in table and "4.50x" in table


def fake_score(curves, samples, ema_bn_stats=""):  # the real one loads checkpoints
  for rows in curves.values():
    for row in rows:
      row.update(fid_mnist=10000.0 / row["seconds"], precision_mnist=0.5, recall_mnist=0.5)


def test_rescore_starts_from_the_record_written_before_scoring(tmp_path, monkeypatch):
  # The record main() saves between training and scoring: points without figures yet.
  unscored = {"ganjax": [{"seconds": 100, "step": 500}, {"seconds": 200, "step": 1000}], "tf": [{"seconds": 150}]}
  time_to_quality.save_record(str(tmp_path / "record.json"), unscored, 200.0, "test machine")
  monkeypatch.setattr(time_to_quality, "score", fake_score)
  report = tmp_path / "report"
  time_to_quality.main([f"--rescore={tmp_path / 'record.json'}", f"--report={report}", "--from_seconds=100"])
  curves, end_s, machine = time_to_quality.load_record(f"{report}.json")
  assert (end_s, machine) == (200.0, "test machine")
  assert [row["fid_mnist"] for row in curves["ganjax"]] == [100.0, 50.0]
  assert "| 200 | 50.0 | 66.7 |" in (tmp_path / "report.md").read_text()


def test_a_peers_only_record_is_reported_without_a_goal(tmp_path, monkeypatch):
  # --only=tf --seconds=N trains no ganjax default, so there is no goal to check.
  time_to_quality.save_record(str(tmp_path / "record.json"), {"tf": [{"seconds": 150}]}, 200.0, "test machine")
  monkeypatch.setattr(time_to_quality, "score", fake_score)
  time_to_quality.main([f"--rescore={tmp_path / 'record.json'}", f"--report={tmp_path / 'report'}"])
  table = (tmp_path / "report.md").read_text()
  assert "| 180 | 66.7 |" in table and "not checked (no ganjax default in this run)" in table


def test_launch_writes_each_line_to_the_log_as_it_arrives(tmp_path):
  log = tmp_path / "peer.log"
  seen = []
  program = "print('epoch 1 wall_s 3'); print('epoch 2 wall_s 6')"
  time_to_quality.launch([sys.executable, "-c", program], log, None, lambda line, s: seen.append(log.read_text()))
  assert seen == ["epoch 1 wall_s 3\n", "epoch 1 wall_s 3\nepoch 2 wall_s 6\n"]
