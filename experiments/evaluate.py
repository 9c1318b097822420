"""Sample metrics of a trained generator against the real test split.

    python -m experiments.evaluate --workdir=runs/dcgan --num_samples=10000
    python -m experiments.evaluate --real_floor --num_samples=10000   # real test vs real train
    python -m experiments.evaluate --workdir=runs/dcgan --feature_network=inception \
        --inception_weights=pt_inception-2015-12-05-6726825d.pth      # the standard FID's network
    python -m experiments.evaluate --workdir=runs/dcgan --by_class    # precision and share per digit
    python -m experiments.evaluate --workdir=runs/dcgan --d_filter=0.8  # the 80% of draws D likes best

Prints a table and writes `eval_<step>.json` into the workdir (or `--out`). Reference
features are cached per dataset, split and feature network under `<data_dir>/ganjax_reference`.
Metrics are named after the network: `fid_mnist` (the shipped classifier) or `fid_inception`
(InceptionV3 with pytorch-fid's weights, which the user downloads once; see docs/metrics.md).
"""

from __future__ import annotations

import json
import os
import sys
import time

from ganjax import cli
from ganjax.errors import UsageError


def parse(argv):
  parser = cli.Parser(description=__doc__)
  parser.add_argument("--workdir", default="", help="a training run's --workdir")
  parser.add_argument(
    "--step",
    type=cli.checkpoint_step,
    default=None,
    help="checkpoint step, or best (the lowest fid_mnist in training; default: the latest)",
  )
  cli.add_generator_arguments(parser)
  parser.add_argument("--num_samples", type=int, default=10_000)
  parser.add_argument(
    "--feature_network", default="mnist", help="mnist (the shipped classifier) or inception (needs --inception_weights)"
  )
  parser.add_argument(
    "--inception_weights",
    default="",
    help="path of pytorch-fid's pt_inception-2015-12-05-6726825d.pth (never downloaded here)",
  )
  parser.add_argument(
    "--real_floor",
    action="store_true",
    help="evaluate real test images against real train images instead of a generator",
  )
  parser.add_argument(
    "--by_class",
    action="store_true",
    help="also each digit's share of the samples and their precision (the MNIST classifier's classes)",
  )
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--data_dir", default="")
  parser.add_argument("--out", default="", help="JSON path (default: <workdir>/eval_<step>.json)")
  parser.add_argument("--accelerator", default="auto")
  args = parser.parse_args(argv)
  if args.num_samples <= 0:
    raise UsageError("--num_samples must be a positive integer.")
  if not args.real_floor and not args.workdir:
    raise UsageError("Pass --workdir=<a training run> (or --real_floor for the real-data floor).")
  if args.feature_network == "inception" and not args.inception_weights:
    raise UsageError(
      "--feature_network=inception needs --inception_weights=<path to "
      "pt_inception-2015-12-05-6726825d.pth> (see docs/metrics.md, Inception FID)."
    )
  if args.by_class and args.feature_network != "mnist":
    raise UsageError("--by_class reads the MNIST classifier's digits; use it with --feature_network=mnist.")
  return args


def main(argv=None) -> None:
  args = parse(argv)
  cli.start_backend(args.accelerator)
  import numpy as np

  from ganjax.data.pipeline import default_data_dir, load_source, to_model_range
  from ganjax.metrics import sample_quality
  from ganjax.sampling import load_generator

  data_dir = args.data_dir or default_data_dir()
  start = time.perf_counter()
  network = sample_quality.feature_network(args.feature_network, args.inception_weights)
  if args.num_samples <= network.dim:  # before the reference features, which may take minutes
    raise UsageError(
      f"FID on {network.dim}-d {network.name} features needs more than {network.dim} samples; raise --num_samples."
    )
  if args.real_floor:
    dataset, what = "mnist", "real mnist test images"
    test = load_source(dataset, "test", data_dir)
    fakes = to_model_range(test.read(np.arange(min(args.num_samples, len(test))))["image"])
    reference = sample_quality.reference_features(dataset, "train", data_dir, network=network)
    reference_split, step = "train", None
  else:
    generator = load_generator(
      args.workdir, args.step, args.generator, args.ema_bn_stats, args.truncation, d_filter=args.d_filter
    )
    dataset, step = generator.config.dataset, generator.step
    if args.by_class and dataset != "mnist":  # the classifier's 10 outputs are digits, not its classes
      raise UsageError(f"--by_class splits samples by MNIST's digits; this run trained on --dataset={dataset}.")
    stats = f", {generator.config.family.ema_bn_stats} BatchNorm statistics" if generator.weights == "ema" else ""
    truncation = generator.config.family.truncation
    stats += f", noise truncated to ±{truncation:g}" if truncation else ""
    stats += f", the {args.d_filter:g} of the draws D scores highest" if args.d_filter < 1 else ""
    what = f"{args.num_samples} samples of {generator.source} ({generator.weights} weights{stats})"
    fakes = generator.generate(args.num_samples, args.seed)  # a conditional model: every class in turn
    reference = sample_quality.reference_features(dataset, "test", data_dir, network=network)
    reference_split = "test"
  report = sample_quality.evaluate(fakes, reference, network, seed=args.seed, by_class=args.by_class)
  if not args.real_floor and generator.config.family.num_classes:
    from ganjax.sampling import default_labels

    report["label_accuracy_mnist"] = sample_quality.label_accuracy(fakes, default_labels(generator.config, len(fakes)))
  report.update(
    dataset=dataset,
    reference_split=reference_split,
    step=step,
    generator=None if args.real_floor else generator.weights,
    ema_bn_stats=None if args.real_floor or generator.weights != "ema" else generator.config.family.ema_bn_stats,
    truncation=None if args.real_floor else generator.config.family.truncation,
    d_filter=None if args.real_floor else args.d_filter,
    seconds=round(time.perf_counter() - start, 1),
    evaluated=what,
  )
  print(f"{what} vs {dataset} {reference_split} ({report['num_reference']} images)")
  for key, value in report.items():
    if isinstance(value, float):
      print(f"  {key:<22}{value:.4f}")
  if args.by_class:
    print("  digit                 " + " ".join(f"{d:>5}" for d in range(10)))
    print("  share of samples      " + " ".join(f"{v:5.3f}" for v in report["class_share_mnist"]))
    precision = report["precision_mnist_by_class"]
    print("  precision_mnist       " + " ".join("    -" if v is None else f"{v:5.3f}" for v in precision))
  print(f"  feature network: {report['feature_network']}")
  default_out = os.path.join(args.workdir, f"eval_{step:06d}.json") if step is not None else "eval_real_floor.json"
  out = args.out or default_out
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  with open(out, "w") as f:
    json.dump(report, f, indent=2)
  print(f"Wrote {out}.")


if __name__ == "__main__":
  sys.exit(cli.run(main))
