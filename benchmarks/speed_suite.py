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
- the whole training loop: images/s of `python -m experiments.dcgan --batch_size=<batch>` over
  its steps 10 to 50 (read from the run's TensorBoard log), against the pure step;
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
import train_step  # noqa: E402


def measure_pipeline(batch: int, steps: int) -> None:
  """Images/s of `Batches` (read, decode, scale, lay out) with no training behind it: in the
  first epoch (every image decoded from TFDS) and after it (MNIST's decoded images kept)."""
  import numpy as np

  from ganjax.data.pipeline import Batches, BatchSpec, load_source

  source = load_source("mnist", "train")
  spec = BatchSpec(batch, 1)

  def rate(start_step: int) -> float:
    batches = Batches(source, spec, seed=0, start_step=start_step)
    next(batches)  # the reader thread is started and warm
    start = time.perf_counter()
    for _ in range(steps):
      next(batches)
    elapsed = time.perf_counter() - start
    batches.close()
    return batch * steps / elapsed

  first_epoch = rate(0)
  for indices in range(0, len(source), 4096):  # the rest of the first epoch, untimed
    source.read(np.arange(indices, min(indices + 4096, len(source))))
  later = rate(len(source) // batch)  # the first step of epoch 2
  print(f"peer=pipeline batch={batch} images_per_s={first_epoch:.1f} later_epochs_images_per_s={later:.1f}")


def measure_evaluation(num: int) -> None:
  """Feature-network images/s and the wall time of one fid_mnist on `num` samples."""
  import numpy as np

  from ganjax.data.pipeline import default_data_dir
  from ganjax.metrics import distribution, mnist_features, sample_quality

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


def train_dcgan(workdir: str, *flags: str) -> subprocess.CompletedProcess:
  """`python -m experiments.dcgan` on the CPU with `flags`, no evaluation, into `workdir`."""
  return subprocess.run(
    [sys.executable, "-m", "experiments.dcgan", *flags, f"--workdir={workdir}", "--eval_every=0", "--accelerator=cpu"],
    capture_output=True,
    text=True,
    cwd=HERE.parent,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
  )


def run_default_training(steps: int) -> dict[str, str]:
  """Peak RSS of `python -m experiments.dcgan` (its defaults, `steps` steps, no evaluation)."""
  with tempfile.TemporaryDirectory() as workdir:
    start = time.perf_counter()
    result = train_dcgan(workdir, f"--steps={steps}")
    elapsed = time.perf_counter() - start
  if result.returncode:
    return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
  peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far: this one
  return {"peak_rss_mb": f"{peak:.0f}", "wall_s": f"{elapsed:.1f}", "steps": str(steps)}


def end_to_end(batch: int, first: int = 10, last: int = 50, every: int = 10) -> dict[str, str]:
  """Images/s of a real `experiments.dcgan` run over its steps `first` to `last`: data,
  dispatch, metrics and the progress bar included, compilation (before `first`) left out."""
  with tempfile.TemporaryDirectory() as workdir:
    result = train_dcgan(workdir, f"--batch_size={batch}", f"--steps={last}", f"--log_every={every}")
    if result.returncode:
      return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    rates = window_rates(os.path.join(workdir, "tensorboard"), "images_per_s")
  # Each logged rate covers the `every` steps before it: the whole stretch is their harmonic mean.
  windows = [rates[s] for s in range(first + every, last + 1, every)]
  seconds = sum(every * batch / r for r in windows)
  return {"images_per_s": f"{(last - first) * batch / seconds:.1f}"}


def window_rates(log_dir: str, tag: str) -> dict[int, float]:
  """{step: value} of the scalar `tag` in the TensorBoard event files of `log_dir`."""
  return {step: value for step, (_, value) in scalar_events(log_dir, tag).items()}


def scalar_events(log_dir: str, tag: str) -> dict[int, tuple[float, float]]:
  """{step: (wall time, value)} of the scalar `tag` in the TensorBoard event files of `log_dir`."""
  import tensorflow as tf

  tf.get_logger().setLevel("ERROR")  # summary_iterator's deprecation notice
  events = {}
  for name in os.listdir(log_dir):
    for event in tf.compat.v1.train.summary_iterator(os.path.join(log_dir, name)):
      for value in event.summary.value:
        if value.tag == tag:
          events[event.step] = (event.wall_time, value.simple_value)
  return events


def with_devices(count: int) -> dict[str, str]:
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}", JAX_PLATFORMS="cpu")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=256)
  parser.add_argument("--quick", action="store_true", help="fewer timed steps (noisier)")
  parser.add_argument("--only", choices=("pipeline", "evaluation", "loop"), help=argparse.SUPPRESS)
  parser.add_argument("--torch_python", default=str(train_step.TORCH_PYTHON))
  args = parser.parse_args()
  steps = 8 if args.quick else 20
  if args.only == "pipeline":
    return measure_pipeline(args.batch, 200)
  if args.only == "evaluation":
    return measure_evaluation(10_000)
  if args.only == "loop":
    return print(f"peer=loop {' '.join(f'{k}={v}' for k, v in end_to_end(args.batch).items())}")

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
  whole_loop = end_to_end(args.batch)

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
    f"{pipeline.get('images_per_s', pipeline.get('error'))} images/s in the first epoch "
    f"({float(pipeline.get('images_per_s', 'nan')) / ours:.1f} x the train step), "
    f"{pipeline.get('later_epochs_images_per_s', '-')} images/s after it "
    f"({float(pipeline.get('later_epochs_images_per_s', 'nan')) / ours:.1f} x)"
  )
  print(
    f"Evaluation: MNIST feature network {evaluation.get('features_images_per_s', evaluation.get('error'))} "
    f"images/s; fid_mnist on 10,000 samples {evaluation.get('fid_total_s', '-')} s"
  )
  loop_speed = float(whole_loop.get("images_per_s", "nan"))
  tf_speed = float(rows["tf-keras"].get("images_per_s", "nan"))
  print(
    f"Whole loop (experiments.dcgan --batch_size={args.batch}, steps 10 to 50): "
    f"{whole_loop.get('images_per_s', whole_loop.get('error'))} images/s "
    f"({loop_speed / ours:.2f} x ganjax's pure step, {loop_speed / tf_speed:.2f} x TF/Keras's pure step)"
  )
  print(
    f"Default experiments.dcgan run: peak RSS {training.get('peak_rss_mb', training.get('error'))} MB "
    f"over {training.get('steps', '-')} steps ({training.get('wall_s', '-')} s)"
  )


if __name__ == "__main__":
  main()
