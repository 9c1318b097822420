"""The input pipeline alone: images/s of the training batches through grain with 0, 1 and 2
worker processes, against the reader thread it replaced, on the same data in the same run.

    python benchmarks/data_pipeline.py               # about 5 minutes on the 2-core CPU
    python benchmarks/data_pipeline.py --end_to_end  # and the training loop's images/s, before and after
    python benchmarks/data_pipeline.py --end_to_end_only --rounds=4

Two datasets, batch 64 on one device, nothing training behind the reader:
- MNIST as every run reads it: the decoded split in memory (`ganjax_decoded_train.npz`), each
  batch a gather;
- a celeb_a-shaped one: TFDS examples of celeb_a's image (218x178x3, JPEG, serialized as in
  its array_record files) from photographs in scikit-image's wheel, each read parsed and
  JPEG-decoded by TFDS's own feature code, then centre-cropped and resized to 64x64, as
  `--dataset=celeb_a --image_size=64` reads; as many examples as celeb_a's train split
  (`--celeb_a_examples` distinct ones, repeated). Not cached: its 162,770 images at 64x64
  (2 GB) are more than ImageSource keeps in memory.

The reader thread row is the reader grain replaced, calling today's `Batches.batch_at` (the
epoch's permutation kept, as since this issue), so the rows differ only in the reader.

Each reader is timed over `--mnist_batches` or `--celeb_a_batches` batches after its first
two (worker start-up, reported apart), `--rounds` times, the order reversed every other round;
every reader's batches are checked equal to the old reader's. `--end_to_end` also times
`python -m experiments.dcgan` (its defaults, batch 64, steps 10 to 170; about 80 s a run) on
this checkout and on the code before grain (`--before=<commit>`, unpacked with `git archive`),
`--rounds` times each, in the same alternating order, through speed_suite's end-to-end measure.
"""

from __future__ import annotations

import argparse
import pathlib
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from ganjax.data.pipeline import NO_LAST_STEP, Batches, BatchSpec, ImageSource, load_source  # noqa: E402

CELEB_A_SHAPE = (218, 178, 3)


def batch_maker(source, spec: BatchSpec, seed: int) -> Batches:
  """A `Batches` for its `batch_at` only, with no grain iterator behind it."""
  maker = Batches.__new__(Batches)
  maker.source, maker.spec, maker.seed = source, spec, seed
  return maker


class ThreadBatches:
  """The reader grain replaced (ganjax/data/pipeline.py before issue 17), kept here only so
  the comparison stays runnable: one thread reads `Batches.batch_at` ahead into a queue."""

  def __init__(self, source, spec: BatchSpec, seed: int, start_step: int = 0, prefetch: int = 2):
    self._batch_at = batch_maker(source, spec, seed)
    self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._fill, args=(start_step,), daemon=True)
    self._thread.start()

  def _fill(self, step: int) -> None:
    while not self._stop.is_set():
      item = self._batch_at.batch_at(step)
      while not self._stop.is_set():
        try:
          self._queue.put(item, timeout=0.1)
          break
        except queue.Full:
          continue
      step += 1

  def __next__(self) -> dict[str, np.ndarray]:
    return self._queue.get()

  def close(self) -> None:
    self._stop.set()
    self._thread.join(timeout=5)


CELEB_A_TRAIN = 162_770  # examples in celeb_a's train split: the permutation each epoch draws


class GrainThreadBatches:
  """What `Batches` chose not to be with no workers: grain reading ahead in one thread of the
  main process (`ReadOptions(num_threads=1)`), 2 batches ahead as the old reader."""

  def __init__(self, source, spec: BatchSpec, seed: int):
    import grain

    steps = grain.MapDataset.range(0, NO_LAST_STEP).map(batch_maker(source, spec, seed).batch_at)
    self._iterator = iter(steps.to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=2)))

  def __next__(self) -> dict[str, np.ndarray]:
    return next(self._iterator)

  def close(self) -> None:
    self._iterator.close()


class SerializedRecords:
  """Serialized TFDS examples read as `tfds.data_source` reads its array_record records:
  `features.deserialize_example_np` per record (a proto parse, a JPEG decode). As long as
  celeb_a's train split, its `records` repeated."""

  def __init__(self, features, records: list[bytes]):
    self.features, self.records = features, records

  def __len__(self) -> int:
    return CELEB_A_TRAIN

  def __getitem__(self, index: int) -> dict:
    return self.features.deserialize_example_np(self.records[index % len(self.records)])


def celeb_a_shaped_records(count: int) -> SerializedRecords:
  """`count` examples with celeb_a's image feature: 218x178x3 crops of scikit-image's
  photographs (natural images, so the JPEGs have a real photograph's size and decode cost),
  each from another random place and mirrored at random."""
  import skimage.data
  import tensorflow_datasets as tfds

  photos = [
    np.asarray(getattr(skimage.data, name)())
    for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field")
  ]
  features = tfds.features.FeaturesDict({"image": tfds.features.Image(shape=CELEB_A_SHAPE, encoding_format="jpeg")})
  rng = np.random.default_rng(0)
  records = []
  for i in range(count):
    photo = photos[i % len(photos)]
    top = rng.integers(0, photo.shape[0] - CELEB_A_SHAPE[0] + 1)
    left = rng.integers(0, photo.shape[1] - CELEB_A_SHAPE[1] + 1)
    crop = photo[top : top + CELEB_A_SHAPE[0], left : left + CELEB_A_SHAPE[1]]
    records.append(features.serialize_example({"image": crop[:, ::-1] if rng.random() < 0.5 else crop}))
  return SerializedRecords(features, records)


def time_reader(make, batches: int, batch: int) -> dict[str, float]:
  """Images/s of `batches` batches after the first two, and the seconds to the first batch."""
  start = time.perf_counter()
  reader = make()
  try:
    next(reader)
    first_s = time.perf_counter() - start
    next(reader)
    start = time.perf_counter()
    for _ in range(batches):
      next(reader)
    rate = batches * batch / (time.perf_counter() - start)
  finally:
    reader.close()
  return {"images_per_s": rate, "first_batch_s": first_s}


def same_batches(make, reference, count: int = 3) -> bool:
  reader = make()
  try:
    return all(
      all(np.array_equal(a[k], b[k]) for k in a) for a, b in zip((next(reader) for _ in range(count)), reference)
    )
  finally:
    reader.close()


def pipeline_table(name: str, source, batch: int, batches: int, rounds: int) -> list[str]:
  spec = BatchSpec(batch, 1)
  readers = {
    "reader thread (before)": lambda: ThreadBatches(source, spec, seed=0),
    "grain, 0 workers, a reading thread (not taken)": lambda: GrainThreadBatches(source, spec, seed=0),
    "grain, 0 workers (Batches)": lambda: Batches(source, spec, seed=0),
    "grain, 1 worker": lambda: Batches(source, spec, seed=0, workers=1),
    "grain, 2 workers": lambda: Batches(source, spec, seed=0, workers=2),
  }
  old = ThreadBatches(source, spec, seed=0)
  reference = [next(old) for _ in range(3)]
  old.close()
  results: dict[str, list[dict]] = {label: [] for label in readers}
  for round_index in range(rounds):  # alternate the order: drift of the loaded machine hits both ends
    order = list(readers) if round_index % 2 == 0 else list(reversed(readers))
    for label in order:
      results[label].append(time_reader(readers[label], batches, batch))
      print(f"  {name}, {label}: {results[label][-1]['images_per_s']:.0f} images/s", flush=True)
  base = statistics.median(r["images_per_s"] for r in results["reader thread (before)"])
  rows = []
  for label, runs in results.items():
    rate = statistics.median(r["images_per_s"] for r in runs)
    same = same_batches(readers[label], reference)
    each = " / ".join(f"{r['images_per_s']:,.0f}" for r in runs)
    first_s = statistics.median(r["first_batch_s"] for r in runs)
    rows.append(
      f"| {name} | {label} | {rate:,.0f} | {each} | {rate / base:.2f} | {first_s:.1f} | {'yes' if same else 'NO'} |"
    )
  return rows


def end_to_end_rows(before: str, rounds: int) -> list[str]:
  """Images/s of the default `experiments.dcgan` at batch 64 on the code at `before` and on
  this checkout, alternately."""
  import speed_suite

  with tempfile.TemporaryDirectory() as old_code:
    archive = subprocess.run(["git", "archive", before], cwd=HERE.parent, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", old_code], input=archive, check=True)
    codes = {f"before ({before[:7]}, reader thread)": old_code, "grain, 0 workers (this checkout)": str(HERE.parent)}
    results: dict[str, list[float]] = {label: [] for label in codes}
    for round_index in range(rounds):
      order = list(codes) if round_index % 2 == 0 else list(reversed(codes))
      for label in order:
        row = speed_suite.end_to_end(64, code_dir=codes[label])
        results[label].append(float(row.get("images_per_s", "nan")))
        print(f"  end to end, {label}: {row}", flush=True)
  base = statistics.median(results[next(iter(codes))])
  return [
    f"| {label} | {statistics.median(rates):,.0f} | {' / '.join(f'{r:,.0f}' for r in rates)} | "
    f"{statistics.median(rates) / base:.2f} |"
    for label, rates in results.items()
  ]


def print_end_to_end(before: str, rounds: int) -> None:
  head = ["| code | images/s (median) | each round | x before |", "| --- | ---: | --- | ---: |"]
  print("\n".join(head + end_to_end_rows(before, rounds)))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--batch", type=int, default=64)
  parser.add_argument("--mnist_batches", type=int, default=5000)
  parser.add_argument("--celeb_a_batches", type=int, default=40)
  parser.add_argument("--celeb_a_examples", type=int, default=1024)
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--end_to_end", action="store_true")
  parser.add_argument("--end_to_end_only", action="store_true", help="skip the pipeline tables")
  parser.add_argument("--before", default="f72f357", help="the commit whose loop reads through the thread")
  args = parser.parse_args()

  if args.end_to_end_only:
    return print_end_to_end(args.before, args.rounds)
  head = "| dataset | reader | images/s (median) | each round | x the thread | first batch (s) | same batches |"
  rows = [head, "| --- | --- | ---: | --- | ---: | ---: | --- |"]
  rows += pipeline_table("MNIST, in memory", load_source("mnist", "train"), args.batch, args.mnist_batches, args.rounds)
  celeb_a = ImageSource(celeb_a_shaped_records(args.celeb_a_examples), label_key=None, image_size=64, cache_bytes=0)
  rows += pipeline_table("celeb_a-shaped JPEG, 64x64", celeb_a, args.batch, args.celeb_a_batches, args.rounds)
  print("\n".join(rows))
  if args.end_to_end:
    print_end_to_end(args.before, args.rounds)


if __name__ == "__main__":
  main()
