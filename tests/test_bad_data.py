"""Corrupt or wrong data stops the run with one clear line before any training."""

import gzip
import os
import pathlib
import shutil

import numpy as np
import pytest
from test_cli import assert_one_line_error, tiny_flags

from experiments import dcgan
from ganjax.data import offline_mnist, pipeline
from ganjax.data.pipeline import ImageSource
from ganjax.errors import UsageError
from ganjax.families.gan import task as gan


@pytest.fixture
def bundled_copy(tmp_path):
  copy = tmp_path / "mnist"
  shutil.copytree(offline_mnist.BUNDLED_DIR, copy)
  return copy


def test_intact_bundled_files_pass(bundled_copy):
  offline_mnist.verify_bundled_files(bundled_copy)


def test_truncated_idx_file_is_named(bundled_copy):
  path = bundled_copy / "t10k-labels-idx1-ubyte.gz"
  path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
  with pytest.raises(UsageError, match=f"The bundled MNIST file {path} is unreadable .*reinstall ganjax"):
    offline_mnist.verify_bundled_files(bundled_copy)


def test_altered_idx_file_fails_its_checksum(bundled_copy):
  path = bundled_copy / "t10k-labels-idx1-ubyte.gz"
  labels = bytearray(gzip.decompress(path.read_bytes()))
  labels[-1] = (labels[-1] + 1) % 10  # one label changed, still a well-formed IDX file
  path.write_bytes(gzip.compress(bytes(labels)))
  with pytest.raises(UsageError, match="is corrupt \\(sha256 mismatch\\)"):
    offline_mnist.verify_bundled_files(bundled_copy)


def test_missing_idx_file_is_named(bundled_copy):
  os.remove(bundled_copy / "train-images-idx3-ubyte.gz")
  with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz is unreadable"):
    offline_mnist.verify_bundled_files(bundled_copy)


@pytest.mark.parametrize(
  "image,fragment",
  [
    (np.zeros((28, 28, 1), np.float32), "images are float32, not uint8"),
    (np.zeros((28, 28, 1), np.uint16), "images are uint16, not uint8"),
    (np.zeros((28, 28), np.uint8), "are not [H, W, C]"),
  ],
)
def test_images_of_another_dtype_or_rank_are_refused(image, fragment):
  with pytest.raises(UsageError, match=fragment.replace("[", "\\[").replace("]", "\\]")):
    ImageSource([{"image": image, "label": 0}] * 4)


def test_wrong_dtype_stops_the_command_before_training(tiny_config, monkeypatch, capsys):
  records = [{"image": np.zeros((28, 28, 1), np.float32), "label": 0}] * 64
  monkeypatch.setattr(pipeline, "load_source", lambda *args, **kwargs: ImageSource(records))
  # gan is imported above, before the patch: imported under it, it would keep the stand-in.
  monkeypatch.setattr(gan, "load_source", pipeline.load_source)
  status = dcgan.main(tiny_flags(tiny_config) + ["--steps=2"])
  assert_one_line_error(capsys, status, "The dataset's images are float32, not uint8")
  assert not (pathlib.Path(tiny_config.workdir) / "checkpoints").exists()
