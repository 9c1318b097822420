"""Each GAN-family experiment trains a few steps from the command line and resumes."""

import importlib
import json
import os

import numpy as np
import pytest

TINY = [
  "--width=4",
  "--latent_dim=8",
  "--batch_size=8",
  "--eval_every=0",
  "--log_every=1",
  "--sample_every=100",
  "--checkpoint_every=2",
  "--accelerator=cpu",
]


def read_steps(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["gan_mlp", "wgan_gp", "lsgan", "sngan"])
def test_experiment_trains_and_resumes(name, mnist_dir, tmp_path):
  main = importlib.import_module(f"experiments.{name}").main
  workdir = str(tmp_path / name)
  flags = TINY + [f"--data_dir={mnist_dir}", f"--workdir={workdir}"]
  assert main(flags + ["--steps=2"]) == 0
  assert main(flags + ["--steps=3"]) == 0  # resumes from the checkpoint at step 2
  rows = read_steps(workdir)
  assert [r["step"] for r in rows] == [1, 2, 3]
  assert all(abs(r["d_loss"]) < 1e6 for r in rows)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints")))[-1] == "3"
  assert os.path.exists(os.path.join(workdir, "samples", "grid_000003.png"))


@pytest.mark.slow
@pytest.mark.parametrize("conditioning", ["concat", "projection"])
def test_cgan_trains_and_samples_the_requested_labels(conditioning, mnist_dir, tmp_path):
  import numpy as np

  from experiments import cgan, sample
  from ganjax import cli

  workdir = str(tmp_path / conditioning)
  flags = TINY + [f"--data_dir={mnist_dir}", f"--workdir={workdir}", f"--d_conditioning={conditioning}", "--steps=2"]
  assert cgan.main(flags) == 0
  out = str(tmp_path / "samples.npz")
  assert cli.run(sample.main, [f"--workdir={workdir}", "--num=6", "--labels=7,3", f"--out={out}"]) == 0
  np.testing.assert_array_equal(np.load(out)["labels"], [7, 3, 7, 3, 7, 3])
  png = str(tmp_path / "grid.png")
  assert cli.run(sample.main, [f"--workdir={workdir}", "--num=20", f"--out={png}"]) == 0
  with open(png + ".labels.txt") as f:
    assert f.read().splitlines() == ["0 1 2 3 4 5 6 7 8 9"] * 2


@pytest.mark.slow
def test_cgan_refuses_labels_it_cannot_draw(mnist_dir, tmp_path, capsys):
  from experiments import cgan, sample
  from ganjax import cli

  workdir = str(tmp_path / "run")
  assert cgan.main(TINY + [f"--data_dir={mnist_dir}", f"--workdir={workdir}", "--steps=1"]) == 0
  assert cli.run(sample.main, [f"--workdir={workdir}", "--labels=12", "--out=x.npz"]) == 2
  assert "Labels must be" in capsys.readouterr().err
  assert cgan.main(TINY + [f"--data_dir={mnist_dir}", f"--workdir={workdir}2", "--num_classes=5"]) == 2
  assert "has 10 classes" in capsys.readouterr().err


@pytest.mark.slow
def test_cgan_on_fashion_mnist_reads_the_real_tfds_dataset(tmp_path):
  import tensorflow_datasets as tfds

  from experiments import cgan

  with tfds.testing.mock_data(num_examples=64):
    status = cgan.main(
      TINY
      + [f"--data_dir={tmp_path / 'tfds'}", f"--workdir={tmp_path / 'run'}", "--dataset=fashion_mnist", "--steps=1"]
    )
  assert status == 0


@pytest.mark.slow
@pytest.mark.parametrize(
  "dataset, size_flag, shape", [("cifar10", [], (32, 32, 3)), ("celeb_a", ["--image_size=64"], (64, 64, 3))]
)
def test_dcgan_on_larger_color_datasets(dataset, size_flag, shape, tmp_path):
  import tensorflow_datasets as tfds
  from PIL import Image

  from experiments import dcgan

  workdir = tmp_path / "run"
  with tfds.testing.mock_data(num_examples=32):
    status = dcgan.main(
      TINY
      + size_flag
      + [f"--data_dir={tmp_path / 'tfds'}", f"--workdir={workdir}", f"--dataset={dataset}", "--steps=1"]
    )
  assert status == 0
  grid = np.asarray(Image.open(workdir / "samples" / "grid_000001.png"))
  assert grid.shape == (8 * (shape[0] + 2) + 2, 8 * (shape[1] + 2) + 2, 3)
