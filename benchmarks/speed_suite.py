"""Every speed and memory figure of the speed issue, with one command, in one run.

    python benchmarks/speed_suite.py                 # about 10 minutes on the 2-core CPU
    python benchmarks/speed_suite.py --quick         # fewer timed steps

Each measurement runs in its own process (so its peak memory is its own):
- the DCGAN train step (batch 256, one D and one G update) for ganjax, TF/Keras and PyTorch
  (../shared/peers), with ratios, ganjax's first-step compile time and peak RSS
  (benchmarks/train_step.py);
- the same ganjax step pmapped over 1, 2 and 4 (fake) CPU devices, same global batch;
- the input pipeline alone: images/s of the training batches from the prepared MNIST;
- evaluation: images/s through the MNIST feature network, and the seconds of fid_mnist
  (features of 10,000 samples, Frechet distance against the cached test-split features);
- the peak resident memory of a default `experiments.dcgan` run (a few hundred steps).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_step  # noqa: E402  pylint: disable=wrong-import-position


def measure_pipeline(batch: int, steps: int) -> None:
  """Images/s of `Batches` (read, decode, scale, lay out) with no training behind it."""
  from ganjax.data.pipeline import Batches, BatchSpec, load_source  # pylint: disable=import-outside-toplevel

  source = load_source("mnist", "train")
  batches = Batches(source, BatchSpec(batch, 1), seed=0)
  next(batches)  # the reader thread is started and warm
  start = time.perf_counter()
  for _ in range(steps):
    next(batches)
  elapsed = time.perf_counter() - start
  batches.close()
  print(f"peer=pipeline batch={batch} images_per_s={batch * steps / elapsed:.1f}")


def measure_evaluation(num: int) -> None:
  """Feature-network images/s and the wall time of one fid_mnist on `num` samples."""
  import numpy as np  # pylint: disable=import-outside-toplevel

  from ganjax.data.pipeline import default_data_dir  # pylint: disable=import-outside-toplevel
  from ganjax.metrics import distribution, mnist_features, sample_quality  # pylint: disable=import-outside-toplevel

  reference = sample_quality.reference_features("mnist", "test", default_data_dir())  # cached after the first run
  fakes = np.random.default_rng(0).uniform(-1, 1, (num, 28, 28, 1)).astype(np.float32)
  mnist_features.features_and_probabilities(fakes[:1000])  # compile
  start = time.perf_counter()
  features, _ = mnist_features.features_and_probabilities(fakes)
  features_s = time.perf_counter() - start
  start = time.perf_counter()
  distribution.frechet_distance(*distribution.feature_statistics(features), *distribution.feature_statistics(reference))
  fid_s = time.perf_counter() - start
  print(f"peer=evaluation num={num} features_images_per_s={num / features_s:.1f} fid_total_s={features_s + fid_s:.2f}")


def run_default_training(steps: int) -> dict[str, str]:
  """Peak RSS of `python -m experiments.dcgan` (its defaults, `steps` steps, no evaluation)."""
  with tempfile.TemporaryDirectory() as workdir:
    start = time.perf_counter()
    result = subprocess.run(
      [
        sys.executable,
        "-m",
        "experiments.dcgan",
        f"--steps={steps}",
        f"--workdir={workdir}",
        "--eval_every=0",
        "--accelerator=cpu",
      ],
      capture_output=True,
      text=True,
      cwd=HERE.parent,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    elapsed = time.perf_counter() - start
  if result.returncode:
    return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
  peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far: this one
  return {"peak_rss_mb": f"{peak:.0f}", "wall_s": f"{elapsed:.1f}", "steps": str(steps)}


def with_devices(count: int) -> dict[str, str]:
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}", JAX_PLATFORMS="cpu")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--quick", action="store_true", help="fewer timed steps (noisier)")
  parser.add_argument("--only", choices=("pipeline", "evaluation"), help=argparse.SUPPRESS)
  parser.add_argument("--torch_python", default=str(train_step.TORCH_PYTHON))
  args = parser.parse_args()
  steps = 8 if args.quick else 20
  if args.only == "pipeline":
    return measure_pipeline(args.batch, 200)
  if args.only == "evaluation":
    return measure_evaluation(10_000)

  python = sys.executable
  step_cmd = [python, str(HERE / "train_step.py"), "--only=ganjax", f"--batch={args.batch}", f"--steps={steps}"]
  # The first ganjax row (run first, so the peers see the same machine state after it) is the reference.
  rows = {"ganjax": train_step.run(step_cmd)}
  rows["tf-keras"] = train_step.run(
    [python, "-c", train_step.PEER_LAUNCHER, str(train_step.PEERS / "tf_dcgan.py"), str(args.batch), str(steps)]
  )
  if pathlib.Path(args.torch_python).exists():
    rows["pytorch"] = train_step.run(
      [
        args.torch_python,
        "-c",
        train_step.PEER_LAUNCHER,
        str(train_step.PEERS / "torch_dcgan.py"),
        str(args.batch),
        str(steps),
      ]
    )
  else:
    rows["pytorch"] = {"error": f"no {args.torch_python}; run benchmarks/setup_torch_venv.sh"}
  rows["ganjax (again)"] = train_step.run(step_cmd)  # brackets the peers: how much the machine drifted
  scaling = {k: train_step.run(step_cmd, env=with_devices(k)) for k in (1, 2, 4)}
  pipeline = train_step.run([python, __file__, "--only=pipeline", f"--batch={args.batch}"])
  evaluation = train_step.run([python, __file__, "--only=evaluation"])
  training = run_default_training(200 if args.quick else 500)

  ours = float(rows["ganjax"].get("images_per_s", "nan"))
  print()
  train_step.print_table(rows, args.batch, steps)
  print(f"\nScaling (same global batch {args.batch}, fake CPU devices on {os.cpu_count()} cores)")
  one = float(scaling[1].get("images_per_s", "nan"))
  for count, row in scaling.items():
    speed = float(row.get("images_per_s", "nan"))
    print(f"  {count} device(s): {speed:8.1f} images/s  ({speed / one:.2f} x one device)")
  print(
    "\nInput pipeline alone: "
    f"{pipeline.get('images_per_s', pipeline.get('error'))} images/s "
    f"({float(pipeline.get('images_per_s', 'nan')) / ours:.1f} x the train step)"
  )
  print(
    f"Evaluation: MNIST feature network {evaluation.get('features_images_per_s', evaluation.get('error'))} "
    f"images/s; fid_mnist on 10,000 samples {evaluation.get('fid_total_s', '-')} s"
  )
  print(
    f"Default experiments.dcgan run: peak RSS {training.get('peak_rss_mb', training.get('error'))} MB "
    f"over {training.get('steps', '-')} steps ({training.get('wall_s', '-')} s)"
  )


if __name__ == "__main__":
  main()
