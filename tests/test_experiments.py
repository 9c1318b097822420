"""Each GAN-family experiment trains a few steps from the command line and resumes."""

import importlib
import json
import os

import pytest

TINY = ["--width=4", "--latent_dim=8", "--batch_size=8", "--eval_every=0", "--log_every=1", "--sample_every=100",
        "--checkpoint_every=2", "--accelerator=cpu"]


def read_steps(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


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
