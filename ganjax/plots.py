"""Training curves as a PNG, from a run's metrics.jsonl."""

from __future__ import annotations

import os

import numpy as np

from ganjax import jsonl

# (title, metric names) per panel; a family's Task names its own (`Task.curves`).
Panels = tuple[tuple[str, tuple[str, ...]], ...]

GAN_PANELS: Panels = (
  ("losses", ("d_loss", "g_loss")),
  ("discriminator outputs (mean probability; mean score for wgan, lsgan, hinge)", ("d_real", "d_fake")),
  ("gradient norms", ("d_grad_norm", "g_grad_norm")),
)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
  """Trailing moving average, same length as `values`."""
  if window <= 1 or len(values) < 2:
    return values
  cumulative = np.cumsum(np.insert(values, 0, 0.0))
  counts = np.minimum(np.arange(1, len(values) + 1), window)
  starts = np.arange(1, len(values) + 1) - counts
  return (cumulative[1:] - cumulative[starts]) / counts


def plot_curves(
  metrics_path: str, out_path: str, eval_path: str | None = None, panels: Panels = GAN_PANELS
) -> tuple[str, ...]:
  """Writes one figure with a panel per metric group that the run logged; raw steps faint,
  smoothed solid.

  With `eval_path` (eval.jsonl), a last panel shows fid_mnist over the run. Returns the titles
  of the panels drawn (none, and no file, when the run logged none of the metrics).
  """
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  rows, evals = jsonl.read_rows(metrics_path), jsonl.read_rows(eval_path)
  if not rows:
    return ()
  steps = np.array([r["step"] for r in rows])
  window = max(1, len(rows) // 50)
  panels = tuple((title, tuple(k for k in keys if k in rows[0])) for title, keys in panels)
  panels = tuple((title, keys) for title, keys in panels if keys)
  count = len(panels) + bool(evals)
  if not count:
    return ()
  figure, axes = plt.subplots(1, count, figsize=(5 * count, 3.5), squeeze=False)
  axes = axes[0]
  if evals:
    axes[-1].plot([r["step"] for r in evals], [r["fid_mnist"] for r in evals], marker="o")
    scored = {"ema": ", EMA generator", "g": ", G's own weights"}.get(evals[-1].get("generator"), "")
    axes[-1].set_title(f"fid_mnist ({evals[-1].get('num_samples', '?')} samples{scored})")
    axes[-1].set_xlabel("step")
  for ax, (title, keys) in zip(axes, panels):
    for key in keys:
      values = np.array([r[key] for r in rows], dtype=np.float64)
      (line,) = ax.plot(steps, smooth(values, window), label=key)
      ax.plot(steps, values, color=line.get_color(), alpha=0.2, linewidth=0.5)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.legend()
  figure.tight_layout()
  tmp = f"{out_path}.tmp.png"
  figure.savefig(tmp, dpi=100)
  plt.close(figure)
  os.replace(tmp, out_path)
  return tuple(title for title, _ in panels) + (("fid_mnist",) if evals else ())
