"""curves.png: the panels a family names, drawn from the metrics its run logged."""

import json

from ganjax import plots


def _write_rows(path, rows):
  with open(path, "w") as f:
    for row in rows:
      f.write(json.dumps(row) + "\n")


def test_plot_curves_draws_the_family_panels_that_have_metrics(tmp_path):
  metrics = tmp_path / "metrics.jsonl"
  _write_rows(
    metrics, [{"step": s, "neg_elbo": 200.0 - s, "nll": 180.0 - s, "kl": 20.0, "grad_norm": 3.0} for s in range(1, 11)]
  )
  panels = (
    ("negative ELBO", ("neg_elbo", "nll", "kl")),
    ("gradient norm", ("grad_norm",)),
    ("decoder sigma", ("sigma",)),
  )  # sigma: only the Gaussian decoder logs it
  out = tmp_path / "curves.png"
  assert plots.plot_curves(str(metrics), str(out), panels=panels) == ("negative ELBO", "gradient norm")
  assert out.stat().st_size > 0


def test_plot_curves_writes_nothing_for_metrics_it_has_no_panel_for(tmp_path):
  metrics = tmp_path / "metrics.jsonl"
  _write_rows(metrics, [{"step": 1, "neg_elbo": 1.0}])
  out = tmp_path / "curves.png"
  assert plots.plot_curves(str(metrics), str(out)) == ()  # the GAN panels: nothing of a VAE's
  assert not out.exists()
