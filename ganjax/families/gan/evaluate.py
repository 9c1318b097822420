"""Sample metrics during training, and the best checkpoint by `fid_mnist` beside the latest.

Every `--eval_every` steps the loop hands the current (host) state here: the generator draws
`--eval_samples` images from fixed noise, the shipped MNIST classifier scores them against
the real test split, and a second Orbax manager in `<workdir>/best/` keeps the one
checkpoint with the lowest `fid_mnist` so far.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np

from ganjax import checkpoint, distributed, jsonl, rng
from ganjax.config import Config
from ganjax.data.pipeline import default_data_dir
from ganjax.errors import UsageError
from ganjax.families.gan.state import GANState
from ganjax.metrics import sample_quality
from ganjax.models import progressive
from ganjax.sampling import default_labels, draw, make_sampler, make_sampling_stats, sampling_noise

BEST_METRIC = checkpoint.BEST_METRIC
MNIST_SHAPE = (28, 28, 1)
# Reference: the whole test split; the FID's bias from a small generated set is the same at
# every evaluation of a run, so the numbers stay comparable along it.
REFERENCE_SPLIT = "test"


def applies_to(image_shape: tuple[int, ...]) -> bool:
  """The MNIST feature network only reads 28x28 grey images."""
  return tuple(image_shape) == MNIST_SHAPE


class PeriodicEvaluator:
  """Call with (host_state, step) to evaluate, log to eval.jsonl and keep the best checkpoint."""

  best_metric = BEST_METRIC

  def __init__(self, config: Config, image_shape: tuple[int, int, int], data_position: dict, start_step: int):
    self.config = config
    # The weights that draw the samples, as for every sample and grid of the run: the EMA
    # generator's when one is kept, else G's own. Each row and the progress bar say which.
    self.generator = "ema" if config.family.ema_decay > 0 else "g"
    self.label = f"{BEST_METRIC}({self.generator})"
    self.sample = make_sampler(config, image_shape)
    self.sampling_stats = make_sampling_stats(config, image_shape)
    key = rng.stream(jax.random.key(config.seed), "eval")
    self.noise = sampling_noise(config, key, config.eval_samples)
    self.reference = sample_quality.reference_features(
      config.dataset, REFERENCE_SPLIT, config.data_dir or default_data_dir()
    )
    # Several processes: each draws its block of the noise, and all score the gathered whole
    # (the numbers of a run of one process); process 0's scores decide, and it alone writes.
    self.processes, self.process = jax.process_count(), jax.process_index()
    if config.eval_samples % self.processes:
      raise UsageError(
        f"--eval_samples={config.eval_samples} must be a multiple of the run's "
        f"{self.processes} processes: each draws an equal share."
      )
    self.path = os.path.join(config.workdir, "eval.jsonl")
    self.data_position = data_position
    if distributed.is_primary():
      jsonl.drop_rows_after(self.path, start_step)
      checkpoint.set_aside_unreadable_best(config.workdir)
    distributed.wait_for_all("ganjax_best_checked")  # before any process opens best/
    self.best = checkpoint.open_best_manager(config.workdir)

  def __call__(self, state: GANState, step: int) -> dict:
    labels = default_labels(self.config, len(self.noise))
    share = len(self.noise) // self.processes
    mine = slice(self.process * share, (self.process + 1) * share)
    fakes = draw(
      self.sample,
      state.sampling_params(),
      self.sampling_stats(state.sampling_params(), state.g_batch_stats, step),
      self.noise[mine],
      labels=None if labels is None else labels[mine],
      growth=progressive.sampling_growth(self.config.family.progressive_steps, step),
    )
    if self.processes > 1:
      # Called between steps, with none in flight: this gather's collectives pair up alone.
      from jax.experimental import multihost_utils

      fakes = np.asarray(multihost_utils.process_allgather(fakes, tiled=True))  # in process order
    report = sample_quality.evaluate(
      fakes, self.reference, kid_subsets=20, kid_subset_size=min(1000, len(fakes)), seed=self.config.seed
    )
    if labels is not None:
      report["label_accuracy_mnist"] = sample_quality.label_accuracy(fakes, labels)
    scalars = {k: v for k, v in report.items() if isinstance(v, float)}
    if self.processes > 1:  # the same figures in every process, so they all keep the same best
      from jax.experimental import multihost_utils

      # As 32-bit words: JAX would round float64 to float32 on the way.
      names = sorted(scalars)
      words = np.array([scalars[k] for k in names], np.float64).view(np.uint32)
      values = np.asarray(multihost_utils.broadcast_one_to_all(words)).view(np.float64)
      scalars = dict(zip(names, map(float, values)))
    if distributed.is_primary():
      with open(self.path, "a") as f:
        f.write(
          json.dumps(
            {
              "step": step,
              **scalars,
              "num_samples": report["num_samples"],
              "num_reference": report["num_reference"],
              "generator": self.generator,
              # Which BatchNorm statistics the EMA generator drew with (docs/dcgan_quality.md).
              **({"ema_bn_stats": self.config.family.ema_bn_stats} if self.generator == "ema" else {}),
              **({"truncation": self.config.family.truncation} if self.config.family.truncation else {}),
            }
          )
          + "\n"
        )
    # A resumed run recomputes this very state bitwise: a best checkpoint kept from before
    # the interruption at this step is already the right one.
    if step not in self.best.all_steps():
      checkpoint.save(
        self.best,
        state,
        {**self.data_position, "next_step": step},
        self.config,
        metrics={BEST_METRIC: scalars[BEST_METRIC]},
      )
    return scalars

  def close(self) -> None:
    self.best.wait_until_finished()
    self.best.close()
