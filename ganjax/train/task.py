"""What a model family hands the shared training loop: a `Task`.

The loop (`ganjax.train.loop.train_and_evaluate`) owns everything a run does around the
step, for every family alike: the workdir lock, batches by (seed, step) read through grain
(in worker processes with --data_workers), the pmapped step with its state donated,
metrics kept on the device and fetched every `--log_every` steps, the progress bar, sample
grids every `--sample_every` steps, Orbax checkpoints that resume exactly, stop signals,
curves at the end. A family (the noise-to-image GANs, the VAE, pix2pix, CycleGAN, SRGAN)
says only what differs: its state, its pure step, its data and how its samples look.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import jax
import numpy as np

from ganjax import plots

PyTree = Any
# A pure step for one device, written with the named axis 'data' (gradients, batch statistics
# and metrics `lax.pmean`-ed over it): (state, batch, seed_key) -> (state, metrics). The seed
# key is the run's; the step folds its own counter in (`ganjax.rng.step_key`), so a resumed
# run draws the same randomness. Metrics are float32 scalars.
Step = Callable[[PyTree, dict, jax.Array], tuple[PyTree, dict]]


def pmean(tree: PyTree, axis_name: str | None) -> PyTree:
  """`lax.pmean` over `axis_name`; the tree itself when there is none (a step jitted for one device)."""
  return jax.lax.pmean(tree, axis_name) if axis_name else tree


class Source(Protocol):
  """Random-access examples: `read(indices)` gives arrays with a leading example axis.

  Batches turn every uint8 array into float32 in [-1, 1] (they are images) and keep the
  others (labels) as they are. `ganjax.data.pipeline.ImageSource` is one. With
  --data_workers a source is pickled into each of grain's worker processes.
  """

  def __len__(self) -> int: ...

  def read(self, indices: np.ndarray) -> dict[str, np.ndarray]: ...


class Evaluator(Protocol):
  """Scores a host state during training (e.g. fid_mnist); logs to `path` (JSON lines)."""

  path: str
  best_metric: str  # the metric that picks the best checkpoint
  label: str  # what the progress bar calls it, naming the weights scored: "fid_mnist(ema)"

  def __call__(self, state: PyTree, step: int) -> dict[str, float]: ...

  def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class Task:
  """A model family's part of a run.

  state: the initial, un-replicated state: a `flax.struct.PyTreeNode` with an int32 `step`
    (completed training steps), `checkpoint_items()` (a dict of the leaves to save) and
    `with_checkpoint_items(items)` (the state with them restored).
  source: the training examples (see `Source`).
  make_step: phase -> pure `Step`. The loop compiles one pmapped step per distinct phase.
  write_samples: (host_state, step, path) -> None: writes a PNG grid to `path`.
  phase: step -> a hashable naming which step function trains at that step (SRGAN's
    pre-training, ProGAN's resolution stages); the same for all steps when there is one.
  progress: (label, metric name) pairs shown on the progress bar, e.g. ('d', 'd_loss').
  microbatches: global batches one step reads (D updates per G update for a GAN).
  data_position: JSON-able facts saved with every checkpoint beside `next_step`.
  make_evaluator: start_step -> Evaluator, or None when the family evaluates nothing while
    training.
  curves: the panels of <workdir>/logs/curves.png, (title, metric names) each.
  """

  state: PyTree
  source: Source
  make_step: Callable[[Hashable], Step]
  write_samples: Callable[[PyTree, int, str], None]
  phase: Callable[[int], Hashable] = lambda step: None
  progress: tuple[tuple[str, str], ...] = ()
  microbatches: int = 1
  data_position: dict = dataclasses.field(default_factory=dict)
  make_evaluator: Callable[[int], Evaluator] | None = None
  curves: plots.Panels = plots.GAN_PANELS
