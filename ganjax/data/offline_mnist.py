"""Prepare TFDS's `mnist` with no network, from the IDX files that ship with ganjax.

TFDS verifies downloads against checksums registered for the original files; the bundled
copies were re-compressed, so their .gz bytes differ and TFDS's `manual_dir` route rejects
them. TFDS does trust a file already in its download cache when an `.INFO` record sits
beside it, so we seed the cache under the names TFDS would have used and let
`download_and_prepare` build the dataset from there, exactly as it would online.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import os
import pathlib

BUNDLED_DIR = pathlib.Path(__file__).parent / "mnist"

# sha256 of the decompressed IDX files (see ../shared/data/mnist/README.md), so a
# truncated or corrupted bundled file is caught before TFDS turns it into a dataset.
IDX_SHA256 = {
  "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
  "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
  "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
  "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def hide_gpus_from_tensorflow() -> None:
  """TensorFlow only prepares data here; it must never take GPU memory from JAX."""
  import tensorflow as tf

  try:
    tf.config.set_visible_devices([], "GPU")
  except RuntimeError:  # already initialised: devices were hidden earlier in this process
    pass


def verify_bundled_files(bundled_dir: pathlib.Path = BUNDLED_DIR) -> None:
  """Raises UsageError if a bundled IDX file is missing, truncated or altered."""
  from ganjax.errors import UsageError

  for name, expected in IDX_SHA256.items():
    path = bundled_dir / name
    try:
      with gzip.open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    except (OSError, EOFError) as e:
      raise UsageError(f"The bundled MNIST file {path} is unreadable ({e}); reinstall ganjax.") from e
    if digest != expected:
      raise UsageError(f"The bundled MNIST file {path} is corrupt (sha256 mismatch); reinstall ganjax.")


def seed_download_cache(data_dir: str | os.PathLike, bundled_dir: pathlib.Path = BUNDLED_DIR) -> None:
  """Copies the bundled IDX files into `<data_dir>/downloads` as TFDS's cache expects."""
  import shutil

  import tensorflow_datasets as tfds
  from tensorflow_datasets.core.download import resource

  checksums_file = pathlib.Path(tfds.__file__).parent / "url_checksums" / "mnist.txt"
  downloads = pathlib.Path(data_dir) / "downloads"
  downloads.mkdir(parents=True, exist_ok=True)
  for line in checksums_file.read_text().splitlines():
    if not line.strip():
      continue
    url, size, sha256, fname = line.split("\t")
    cached = downloads / resource.get_dl_fname(url, sha256)
    if not cached.exists():
      shutil.copyfile(bundled_dir / fname, cached)
    info = {
      "urls": [url],
      "dataset_names": ["mnist"],
      "original_fname": fname,
      "url_info": {"size": int(size), "checksum": sha256, "filename": fname},
    }
    cached.with_name(cached.name + ".INFO").write_text(json.dumps(info))


@contextlib.contextmanager
def tfds_quietly():
  """Without TFDS's banner and progress bars for the duration.

  TFDS prints "Downloading and preparing dataset ..." and shows download bars for what is
  here a copy of bundled files: on a machine with no network that reads as a download. Its
  errors still raise as usual; only what it prints to stdout and its bars are left out.
  """
  from tensorflow_datasets.core.utils import tqdm_utils

  shown = getattr(tqdm_utils, "_active", True)  # to put back what the caller had
  tqdm_utils.display_progress_bar(False)
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      yield
  finally:
    tqdm_utils.display_progress_bar(shown)


def prepare_mnist(data_dir: str | os.PathLike) -> None:
  """Builds TFDS `mnist` (array_record) in `data_dir` from the bundled files, offline.

  Says so in one line the first time (it takes a minute); nothing once prepared.
  """
  import tensorflow_datasets as tfds

  if tfds.builder("mnist", data_dir=os.fspath(data_dir), file_format="array_record").is_prepared():
    return
  with preparation_lock(data_dir):
    # Another process may have prepared it while this one waited.
    builder = tfds.builder("mnist", data_dir=os.fspath(data_dir), file_format="array_record")
    if builder.is_prepared():
      return
    verify_bundled_files()
    seed_download_cache(data_dir)
    build_offline(builder, data_dir, "Preparing the bundled MNIST")


def build_offline(builder, data_dir: str | os.PathLike, saying: str) -> None:
  """Builds `builder`'s dataset from what is already on this machine (bundled files, or a
  prepared dataset it derives from): one line of ours saying so, then TFDS without its banner
  and progress bars, which read as a download, and with TensorFlow kept off any GPU."""
  import tensorflow_datasets as tfds

  print(f"{saying} into TFDS at {os.path.abspath(data_dir)} (offline, once).", flush=True)
  hide_gpus_from_tensorflow()
  with tfds_quietly():
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))


@contextlib.contextmanager
def preparation_lock(data_dir: str | os.PathLike):
  """One process at a time prepares MNIST in `data_dir`.

  Two first runs started together (a sweep's shards, say) would both build it, and the
  second to finish failed on TFDS's final rename with a traceback. flock: the kernel drops
  it when its holder dies, so a killed preparation blocks nobody.
  """
  os.makedirs(data_dir, exist_ok=True)
  fd = os.open(os.path.join(data_dir, ".ganjax_mnist_preparation.lock"), os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX)
    yield
  finally:
    os.close(fd)
