import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import speed_suite  # noqa: E402


def test_each_whole_loop_is_held_against_the_pure_step_of_its_own_network(capsys):
  """The default's loop against the default network's step, the tutorial preset's against the
  peers' network's step; both against TF/Keras's step."""
  rows = {
    "ganjax": {"images_per_s": "200.0"},
    "tf-keras": {"images_per_s": "100.0"},
    speed_suite.DEFAULT_STEP: {"images_per_s": "1000.0"},
    speed_suite.ONEDNN_STEP: {"images_per_s": "250.0"},
    speed_suite.DEFAULT_XLA_STEP: {"images_per_s": "1250.0"},
  }
  (tutorial_loop, _, _), (default_loop, _, _), (tutorial_onednn, _, _), (default_xla, _, _) = speed_suite.LOOPS
  loops = {
    tutorial_loop: {"images_per_s": "190.0", "steps": "10-170"},
    default_loop: {"images_per_s": "800.0", "steps": "10-170"},
    tutorial_onednn: {"images_per_s": "245.0", "steps": "10-170"},
    default_xla: {"images_per_s": "1200.0", "steps": "10-170"},
  }
  speed_suite.print_loop_rows(64, rows, loops)
  tutorial, default, tutorial_on_onednn, default_on_xla = capsys.readouterr().out.strip().splitlines()
  assert "0.95 x its network's pure step, 1.90 x TF/Keras's" in tutorial
  assert "0.80 x its network's pure step, 8.00 x TF/Keras's" in default
  # Each loop on the other backend against the step of its own network on that backend.
  assert "0.98 x its network's pure step, 2.45 x TF/Keras's" in tutorial_on_onednn
  assert "0.96 x its network's pure step, 12.00 x TF/Keras's" in default_on_xla
