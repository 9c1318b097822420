"""The input pipeline: shapes, range, order per (seed, epoch), other datasets by name."""

import chex
import numpy as np
import pytest
import tensorflow_datasets as tfds

from ganjax.data.pipeline import Batches, BatchSpec, batch_indices, load_source
from ganjax.errors import UsageError


def test_batches_are_device_shaped_float32_in_model_range(mnist_dir):
  source = load_source("mnist", data_dir=mnist_dir)
  assert len(source) == 60_000 and source.image_shape == (28, 28, 1)
  batches = Batches(source, BatchSpec(global_batch=16, local_devices=4), seed=0)
  try:
    batch = next(batches)
  finally:
    batches.close()
  chex.assert_shape(batch["image"], (4, 4, 28, 28, 1))
  assert batch["image"].dtype == np.float32
  assert batch["image"].min() >= -1.0 and batch["image"].max() <= 1.0
  assert batch["image"].min() == -1.0 and batch["image"].max() == 1.0  # MNIST uses the whole range
  chex.assert_shape(batch["label"], (4, 4))
  assert set(np.unique(batch["label"])) <= set(range(10))


def test_order_repeats_for_a_seed_and_changes_between_epochs():
  spec = BatchSpec(global_batch=10, local_devices=1)
  n = 100  # 10 steps per epoch
  epoch0 = np.concatenate([batch_indices(n, spec, seed=3, step=s) for s in range(10)])
  epoch1 = np.concatenate([batch_indices(n, spec, seed=3, step=s) for s in range(10, 20)])
  np.testing.assert_array_equal(np.sort(epoch0), np.arange(n))  # each example once per epoch
  np.testing.assert_array_equal(np.sort(epoch1), np.arange(n))
  assert not np.array_equal(epoch0, epoch1)
  again = np.concatenate([batch_indices(n, spec, seed=3, step=s) for s in range(10)])
  np.testing.assert_array_equal(epoch0, again)
  other_seed = np.concatenate([batch_indices(n, spec, seed=4, step=s) for s in range(10)])
  assert not np.array_equal(epoch0, other_seed)


def test_processes_read_disjoint_shards_of_the_global_batch():
  specs = [BatchSpec(global_batch=8, local_devices=2, process_index=i, process_count=2) for i in range(2)]
  whole = batch_indices(100, BatchSpec(global_batch=8, local_devices=4), seed=0, step=5)
  parts = [batch_indices(100, spec, seed=0, step=5) for spec in specs]
  np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_resumed_iterator_continues_the_same_sequence(mnist_dir):
  source = load_source("mnist", data_dir=mnist_dir)
  spec = BatchSpec(global_batch=8, local_devices=2)
  full = Batches(source, spec, seed=1)
  resumed = Batches(source, spec, seed=1, start_step=3)
  try:
    expected = [next(full) for _ in range(5)][3:]
    got = [next(resumed) for _ in range(2)]
  finally:
    full.close()
    resumed.close()
  for a, b in zip(expected, got):
    np.testing.assert_array_equal(a["image"], b["image"])


def test_batch_that_does_not_split_over_devices_is_refused():
  with pytest.raises(UsageError, match="does not split evenly over 4 devices"):
    BatchSpec(global_batch=10, local_devices=4)


def test_unknown_dataset_is_refused(tmp_path):
  with pytest.raises(UsageError, match="not a TFDS dataset name"):
    load_source("no_such_dataset", data_dir=str(tmp_path))


def test_other_tfds_image_datasets_load_by_name(tmp_path):
  with tfds.testing.mock_data(num_examples=40):
    source = load_source("fashion_mnist", data_dir=str(tmp_path))
    assert source.image_shape == (28, 28, 1)
    batches = Batches(source, BatchSpec(global_batch=8, local_devices=4), seed=0)
    try:
      batch = next(batches)
    finally:
      batches.close()
  chex.assert_shape(batch["image"], (4, 2, 28, 28, 1))
  assert batch["image"].min() >= -1.0 and batch["image"].max() <= 1.0


def test_color_datasets_keep_three_channels(tmp_path):
  with tfds.testing.mock_data(num_examples=20):
    source = load_source("cifar10", data_dir=str(tmp_path))
  assert source.image_shape == (32, 32, 3)


@pytest.mark.slow
def test_preparing_the_bundled_mnist_says_so_in_one_line_of_its_own(tmp_path, capfd):
  from ganjax.data.offline_mnist import prepare_mnist

  prepare_mnist(tmp_path / "fresh")
  out, err = capfd.readouterr()
  assert out == f"Preparing the bundled MNIST into TFDS at {tmp_path / 'fresh'} (offline, once).\n"
  # TFDS's banner and download bars read as a network download on a machine that has none.
  assert "Downloading" not in out + err and "Dl Completed" not in err and "Dl Size" not in err
  prepare_mnist(tmp_path / "fresh")  # prepared: silent
  assert capfd.readouterr() == ("", "")


@pytest.mark.slow
def test_two_first_runs_at_once_prepare_mnist_once_and_both_go_on(tmp_path):
  import subprocess
  import sys

  code = f"from ganjax.data.offline_mnist import prepare_mnist; prepare_mnist({str(tmp_path / 'shared')!r})"
  processes = [
    subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(2)
  ]
  outputs = [p.communicate(timeout=600)[0] for p in processes]
  assert [p.returncode for p in processes] == [0, 0], outputs
  assert "Traceback" not in "".join(outputs)
  assert "".join(outputs).count("Preparing the bundled MNIST") == 1  # the other waited, then found it ready


class CountingRecords(list):
  """Records that count how often each is read."""

  def __init__(self, records):
    super().__init__(records)
    self.reads = 0

  def __getitem__(self, i):
    self.reads += 1
    return super().__getitem__(i)


def test_a_small_dataset_is_decoded_once_and_gives_the_same_batches():
  from ganjax.data.pipeline import ImageSource

  rng = np.random.default_rng(0)
  records = [{"image": rng.integers(0, 256, (6, 6, 1), dtype=np.uint8), "label": i % 3} for i in range(40)]
  cached = ImageSource(CountingRecords(records))
  streamed = ImageSource(CountingRecords(records), cache_bytes=0)
  reads_before = cached.records.reads  # the first record, read to learn the shape
  spec = BatchSpec(8, 2)
  for step in range(15):  # three epochs of five steps
    indices = batch_indices(len(records), spec, seed=3, step=step)
    a, b = cached.read(indices), streamed.read(indices)
    for name in ("image", "label"):
      np.testing.assert_array_equal(a[name], b[name])
  assert cached.records.reads - reads_before == len(records)  # each record once, in the first epoch
  assert streamed.records.reads > 3 * len(records)


def test_a_decoded_split_is_saved_once_and_read_back_unchanged(tmp_path):
  from ganjax.data.pipeline import DecodedFile, ImageSource

  rng = np.random.default_rng(1)
  records = [{"image": rng.integers(0, 256, (5, 5, 1), dtype=np.uint8), "label": i % 4} for i in range(30)]
  saved = DecodedFile(str(tmp_path / "decoded.npz"), fingerprint="records v1")
  first = ImageSource(CountingRecords(records), decoded_file=saved)
  assert first.records.reads == 1 + len(records)  # the shape probe, then every record before any batch
  again = ImageSource(CountingRecords(records), decoded_file=saved)
  assert again.records.reads == 1  # the shape probe only: the rest came from the file
  indices = np.arange(len(records))[::-1]
  expected = ImageSource(records, cache_bytes=0).read(indices)
  for source in (first, again):
    got = source.read(indices)
    for name in ("image", "label"):
      np.testing.assert_array_equal(got[name], expected[name])
      assert got[name].dtype == expected[name].dtype


def test_a_stale_or_damaged_decoded_file_is_decoded_again(tmp_path):
  from ganjax.data.pipeline import DecodedFile, ImageSource

  records = [{"image": np.full((4, 4, 1), i, np.uint8), "label": i} for i in range(10)]
  path = str(tmp_path / "decoded.npz")
  ImageSource(records, decoded_file=DecodedFile(path, "records v1"))
  other_records = ImageSource(CountingRecords(records), decoded_file=DecodedFile(path, "records v2"))
  assert other_records.records.reads == 1 + len(records)
  with open(path, "r+b") as f:  # truncated, as by a full disk or a killed writer
    f.truncate(100)
  damaged = ImageSource(CountingRecords(records), decoded_file=DecodedFile(path, "records v2"))
  assert damaged.records.reads == 1 + len(records)
  np.testing.assert_array_equal(damaged.read(np.arange(10))["label"], np.arange(10))


def test_load_source_keeps_mnist_decoded_beside_its_records(mnist_dir):
  import glob

  first = load_source("mnist", "test", data_dir=mnist_dir)
  assert glob.glob(f"{mnist_dir}/mnist/*/ganjax_decoded_test.npz")
  again = load_source("mnist", "test", data_dir=mnist_dir)
  indices = np.random.default_rng(0).choice(len(first), 64, replace=False)
  from_records = first.__class__(first.records, cache_bytes=0).read(indices)
  for name in ("image", "label"):
    np.testing.assert_array_equal(again.read(indices)[name], from_records[name])


def test_an_offline_build_prints_one_line_of_ours_and_nothing_of_tfds(tmp_path, capfd):
  """mnist_edges, mnist_styles and sr_photos are built from what is on the machine: TFDS's
  'Downloading and preparing' banner would read as a download on a machine with no network."""
  from ganjax.data.offline_mnist import build_offline

  asked_gcs = []

  class Builder:  # what build_offline uses of a TFDS builder
    def download_and_prepare(self, download_config):
      print("Downloading and preparing dataset 1.00 MiB (download: 1.00 MiB) to ...")
      asked_gcs.append(download_config.try_download_gcs)

  build_offline(Builder(), tmp_path, "Building toy_set")
  out, _ = capfd.readouterr()
  assert out == f"Building toy_set into TFDS at {tmp_path} (offline, once).\n"
  assert asked_gcs == [False]


def test_worker_processes_read_the_batches_the_main_process_reads(mnist_dir):
  """--data_workers changes who decodes, never what: step k's batch is a pure function of
  (seed, k) in any worker, and closing the iterator ends the workers."""
  import multiprocessing

  source = load_source("mnist", data_dir=mnist_dir)
  spec = BatchSpec(global_batch=8, local_devices=2, process_index=1, process_count=2, microbatches=2)
  in_process = Batches(source, spec, seed=5, start_step=7)
  in_workers = Batches(source, spec, seed=5, start_step=7, workers=2)
  try:
    expected = [next(in_process) for _ in range(5)]
    got = [next(in_workers) for _ in range(5)]
  finally:
    in_process.close()
    in_workers.close()
  assert in_workers.next_step == 12
  for a, b in zip(expected, got):
    assert a.keys() == b.keys() == {"image", "label"}
    for name in a:
      np.testing.assert_array_equal(a[name], b[name])
  assert not multiprocessing.active_children()


def test_a_source_reaches_a_worker_without_its_decoded_images(mnist_dir):
  """A worker reads MNIST's decoded split from its file, not 47 MB through a pipe per worker."""
  import pickle

  source = load_source("mnist", data_dir=mnist_dir)
  pickled = pickle.dumps(source)
  assert len(pickled) < 2**20
  indices = np.random.default_rng(0).choice(len(source), 64, replace=False)
  copy = pickle.loads(pickled)
  assert copy._cache["filled"].all()  # read back whole, not decoded again one batch at a time
  for name in ("image", "label"):
    np.testing.assert_array_equal(copy.read(indices)[name], source.read(indices)[name])
