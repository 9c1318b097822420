"""Every speed and memory figure of the speed issue, with one command, in one run.

    python benchmarks/speed_suite.py                 # about 20 minutes on the 2-core CPU
    python benchmarks/speed_suite.py --quick         # fewer timed steps

Each measurement runs in its own process (so its peak memory is its own):
- the DCGAN train step (batches 256 and 64, one D and one G update) for ganjax, TF/Keras and PyTorch
  (../shared/peers), with ratios, ganjax's first-step compile time and peak RSS
  (benchmarks/train_step.py), and ganjax's step of the default's own network (width 32, no
  dropout, EMA, lazy R1, oneDNN's convolutions where they run), which the default's whole-loop
  row is held against; each ganjax network again with the other convolution backend (the
  tutorial's with `--conv_backend=onednn`, the default's with `--conv_backend=xla`);
- the same ganjax step pmapped over 1, 2 and 4 (fake) CPU devices, same global batch;
- the input pipeline alone: images/s of the training batches from MNIST's decoded images in
  memory, and decoding every batch from TFDS's records instead;
- evaluation: images/s through the MNIST feature network, and the seconds of fid_mnist
  (features of 10,000 samples, Frechet distance against the cached test-split features);
- the whole training loop at each batch: images/s of `python -m experiments.dcgan
  --batch_size=<batch>` over about 10,000 images from its step 10 on (steps 10 to 50 at 256,
  read from the run's TensorBoard log), with `--preset=tutorial` (the peers' network, which
  the step rows time) and with the defaults (width 32, no dropout, EMA), each also with the
  other convolution backend, against the pure step of the same network and backend; and the
  default's loop against its pure step once more in one process, taking turns
  (benchmarks/loop_vs_step.py), because the same step differs between processes by more than
  the 5% those ratios ask about;
- the peak resident memory of a default `experiments.dcgan` run (a few hundred steps).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import train_step  # noqa: E402

DEFAULT_STEP = "ganjax, default"  # the pure step of experiments.dcgan's own network
ONEDNN = "--conv_backend=onednn"  # the convolutions on oneDNN's kernels (ganjax.kernels.onednn)
XLA = "--conv_backend=xla"  # the default's convolutions on XLA's (its default is auto: oneDNN where it runs)
ONEDNN_STEP, DEFAULT_XLA_STEP = f"ganjax, {ONEDNN}", f"{DEFAULT_STEP}, {XLA}"
# Each whole-loop row: (its name, the experiment's flags, the step row of the same network it is
# held against).
LOOPS = (
  ("--preset=tutorial (the peers' network)", ("--preset=tutorial",), "ganjax"),
  ("the default (width 32, no dropout, EMA, lazy R1, oneDNN where it runs)", (), DEFAULT_STEP),
  (f"--preset=tutorial {ONEDNN}", ("--preset=tutorial", ONEDNN), ONEDNN_STEP),
  (f"the default, {XLA}", (XLA,), DEFAULT_XLA_STEP),
)


def measure_pipeline(batch: int, steps: int) -> None:
  """Images/s of `Batches` (read, scale, lay out) with no training behind it: from the decoded
  images every run now holds in memory, and, for comparison, decoding each batch from TFDS's
  records as the first epoch did before the decoded split was kept on disk."""
  from ganjax.data.pipeline import Batches, BatchSpec, ImageSource, load_source

  in_memory = load_source("mnist", "train")  # decoded once per data directory, then read back
  decoding = ImageSource(in_memory.records, cache_bytes=0)
  spec = BatchSpec(batch, 1)

  def rate(source) -> float:
    batches = Batches(source, spec, seed=0)
    next(batches)  # the reader thread is started and warm
    start = time.perf_counter()
    for _ in range(steps):
      next(batches)
    elapsed = time.perf_counter() - start
    batches.close()
    return batch * steps / elapsed

  print(f"peer=pipeline batch={batch} images_per_s={rate(in_memory):.1f} decoding_images_per_s={rate(decoding):.1f}")


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


def dcgan_command(workdir: str, *flags: str) -> list[str]:
  """`python -m experiments.dcgan` on the CPU with `flags`, no evaluation, into `workdir`."""
  experiment = [sys.executable, "-m", "experiments.dcgan", *flags]
  return [*experiment, f"--workdir={workdir}", "--eval_every=0", "--accelerator=cpu"]


def train_dcgan(workdir: str, *flags: str, code_dir: pathlib.Path | str = HERE.parent) -> subprocess.CompletedProcess:
  """`dcgan_command` run in the checkout in `code_dir`."""
  return subprocess.run(
    dcgan_command(workdir, *flags),
    capture_output=True,
    text=True,
    cwd=code_dir,
    env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
  )


def run_default_training(steps: int) -> dict[str, str]:
  """Peak RSS of `python -m experiments.dcgan` (its defaults, `steps` steps, no evaluation):
  that process's own, from `wait4` (RUSAGE_CHILDREN would give the largest child so far, and
  loop_vs_step.py's children run two trainings and a step each)."""
  with tempfile.TemporaryDirectory() as workdir, tempfile.TemporaryFile("w+") as stderr:
    start = time.perf_counter()
    process = subprocess.Popen(
      dcgan_command(workdir, f"--steps={steps}"),
      stdout=subprocess.DEVNULL,
      stderr=stderr,
      cwd=HERE.parent,
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode:
      stderr.seek(0)
      return {"error": (stderr.read().strip().splitlines() or ["failed"])[-1]}
  return {"peak_rss_mb": f"{usage.ru_maxrss / 1024:.0f}", "wall_s": f"{elapsed:.1f}", "steps": str(steps)}


def end_to_end(
  batch: int, *flags: str, first: int = 10, every: int = 10, code_dir: pathlib.Path | str = HERE.parent
) -> dict[str, str]:
  """Images/s of a real `experiments.dcgan` run (`flags` on its defaults) over its steps
  `first` to `first` + about 10,000 images: data, dispatch, metrics and the progress bar
  included, compilation (before `first`) left out. `code_dir`: the checkout that trains
  (benchmarks/data_pipeline.py compares two)."""
  last = last_timed_step(batch, first, every)
  with tempfile.TemporaryDirectory() as workdir:
    result = train_dcgan(
      workdir, *flags, f"--batch_size={batch}", f"--steps={last}", f"--log_every={every}", code_dir=code_dir
    )
    if result.returncode:
      return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    rate = logged_window_rate(workdir, batch, first, last, every)
  return {"images_per_s": f"{rate:.1f}", "steps": f"{first}-{last}"}


def last_timed_step(batch: int, first: int, every: int) -> int:
  """The step a whole-loop timing ends at: about 10,000 images after `first`, at least 4 logs
  (steps 10 to 50 at batch 256)."""
  return first + every * max(4, -(-10_240 // (batch * every)))


def logged_window_rate(workdir: str, batch: int, first: int, last: int, every: int) -> float:
  """Images/s of a finished run in `workdir` over its steps `first` to `last`, from the rates
  its loop logged every `every` steps to TensorBoard."""
  rates = window_rates(os.path.join(workdir, "tensorboard"), "images_per_s")
  # Each logged rate covers the `every` steps before it: the whole stretch is their harmonic mean.
  seconds = sum(every * batch / rates[s] for s in range(first + every, last + 1, every))
  return (last - first) * batch / seconds


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


def step_rows(batch: int, steps: int, torch_python: str) -> dict[str, dict[str, str]]:
  """The pure train step at `batch`: ganjax, TF/Keras, PyTorch, then ganjax again (which
  brackets the peers: how much the machine drifted)."""
  python = sys.executable
  step_cmd = [python, str(HERE / "train_step.py"), "--only=ganjax", f"--batch={batch}", f"--steps={steps}"]
  rows = {"ganjax": train_step.run(step_cmd)}
  rows["tf-keras"] = train_step.run(
    [python, "-c", train_step.PEER_LAUNCHER, str(train_step.PEERS / "tf_dcgan.py"), str(batch), str(steps)]
  )
  if pathlib.Path(torch_python).exists():
    peer = str(train_step.PEERS / "torch_dcgan.py")
    rows["pytorch"] = train_step.run([torch_python, "-c", train_step.PEER_LAUNCHER, peer, str(batch), str(steps)])
  else:
    rows["pytorch"] = {"error": f"no {torch_python}; run benchmarks/setup_torch_venv.sh"}
  rows["ganjax (again)"] = train_step.run(step_cmd)
  # What `python -m experiments.dcgan` trains (width 32, no dropout, EMA, lazy R1): the pure
  # step its whole-loop row is held against.
  rows[DEFAULT_STEP] = train_step.run([*step_cmd, "--network=default"])
  rows[ONEDNN_STEP] = train_step.run([*step_cmd, f"--ganjax_flag={ONEDNN}"])
  rows[DEFAULT_XLA_STEP] = train_step.run([*step_cmd, "--network=default", f"--ganjax_flag={XLA}"])
  return rows


def print_loop_rows(batch: int, rows: dict[str, dict[str, str]], loops: dict[str, dict[str, str]]) -> None:
  """Each whole loop's images/s (`loops`, by the names of LOOPS) against the pure step of its
  own network at the same batch, and against TF/Keras's step (the peers' network)."""
  tf_speed = float(rows["tf-keras"].get("images_per_s", "nan"))
  step_row_of = {name: step_row for name, _, step_row in LOOPS}
  for name, loop in loops.items():
    ours = float(rows[step_row_of[name]].get("images_per_s", "nan"))
    speed = float(loop.get("images_per_s", "nan"))
    print(
      f"  whole loop, {name} (steps {loop.get('steps', '-')}): {loop.get('images_per_s', loop.get('error'))} images/s"
      f" = {speed / ours:.2f} x its network's pure step, {speed / tf_speed:.2f} x TF/Keras's"
    )


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batches", default="256,64", help="comma-separated batch sizes of the step and loop rows")
  parser.add_argument("--quick", action="store_true", help="fewer timed steps (noisier)")
  parser.add_argument("--only", choices=("pipeline", "evaluation"), help=argparse.SUPPRESS)
  parser.add_argument("--torch_python", default=str(train_step.TORCH_PYTHON))
  args = parser.parse_args()
  batches = [int(b) for b in args.batches.split(",")]
  steps = 16 if args.quick else 32  # whole cycles of the default's lazy R1 (every 16th step)
  if args.only == "pipeline":
    return measure_pipeline(batches[0], 200)
  if args.only == "evaluation":
    return measure_evaluation(10_000)

  python = sys.executable
  per_batch = {}
  for batch in batches:
    rows = step_rows(batch, steps, args.torch_python)
    # The peers' network (the tutorial preset) is what the step rows time; the default
    # (width 32, no dropout, EMA) is what `python -m experiments.dcgan` trains.
    loops = {name: end_to_end(batch, *flags) for name, flags, _ in LOOPS}
    # The default's loop and step again, in one process, taking turns: processes differ by more
    # than the 5% the loop-against-step rows ask about.
    same_process = train_step.run(
      [python, str(HERE / "loop_vs_step.py"), f"--batches={batch}", f"--rounds={2 if args.quick else 4}"]
    )
    per_batch[batch] = rows, loops, same_process
  step_cmd = [python, str(HERE / "train_step.py"), "--only=ganjax", f"--batch={batches[0]}", f"--steps={steps}"]
  scaling = {k: train_step.run(step_cmd, env=with_devices(k)) for k in (1, 2, 4)}
  pipeline = train_step.run([python, __file__, "--only=pipeline", f"--batches={batches[0]}"])
  evaluation = train_step.run([python, __file__, "--only=evaluation"])
  training = run_default_training(200 if args.quick else 500)

  for batch, (rows, loops, same_process) in per_batch.items():
    print()
    train_step.print_table(rows, batch, steps)
    print_loop_rows(batch, rows, loops)
    print(
      "  whole loop, the default, against its pure step in one process (benchmarks/loop_vs_step.py): "
      f"{same_process.get('loop_over_step', same_process.get('error'))} x"
    )
  ours = float(per_batch[batches[0]][0]["ganjax"].get("images_per_s", "nan"))
  print(f"\nScaling (same global batch {batches[0]}, fake CPU devices on {os.cpu_count()} cores)")
  one = float(scaling[1].get("images_per_s", "nan"))
  for count, row in scaling.items():
    speed = float(row.get("images_per_s", "nan"))
    print(f"  {count} device(s): {speed:8.1f} images/s  ({speed / one:.2f} x one device)")
  print(
    "\nInput pipeline alone: "
    f"{pipeline.get('images_per_s', pipeline.get('error'))} images/s from the decoded images in memory "
    f"({float(pipeline.get('images_per_s', 'nan')) / ours:.1f} x the train step); decoding every batch "
    f"from TFDS's records {pipeline.get('decoding_images_per_s', '-')} images/s "
    f"({float(pipeline.get('decoding_images_per_s', 'nan')) / ours:.1f} x)"
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
