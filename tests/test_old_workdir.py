"""A workdir written by an earlier main still samples, evaluates and resumes.

`fixtures/dcgan_workdir` is a real run of main at e9a2fa5 (2026-12-02), the last layout with one
flat Config, kept as it was written (TensorBoard events and PNGs left out):

    python -m experiments.dcgan --steps=2 --width=2 --latent_dim=4 --batch_size=8 --eval_every=0 \
        --checkpoint_every=2 --sample_every=2 --log_every=1 --ema_decay=0.99 --workdir=<dir>

A change to the config's layout or the state pytree must keep these passing (or convert).
"""

import json
import pathlib
import shutil

import numpy as np
import pytest

from experiments import evaluate
from ganjax.config import Config
from ganjax.sampling import load_generator
from ganjax.train.loop import train_and_evaluate

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "dcgan_workdir"


@pytest.fixture
def old_workdir(tmp_path) -> str:
  workdir = tmp_path / "old"
  shutil.copytree(FIXTURE, workdir)
  return str(workdir)


def saved_config(workdir: str) -> Config:
  with open(pathlib.Path(workdir) / "config.json") as f:
    return Config.from_dict(json.load(f))


def test_an_old_workdir_samples_with_its_ema_generator(old_workdir):
  generator = load_generator(old_workdir)
  assert (generator.step, generator.weights) == (2, "ema")
  images = generator.generate(12, seed=3)
  assert images.shape == (12, 28, 28, 1) and np.all(np.isfinite(images)) and np.abs(images).max() <= 1
  np.testing.assert_array_equal(images, load_generator(old_workdir).generate(12, seed=3))


@pytest.mark.slow
def test_an_old_workdir_resumes_where_it_stopped(old_workdir, mnist_dir):
  config = saved_config(old_workdir).replace(workdir=old_workdir, data_dir=mnist_dir, steps=4, accelerator="cpu")
  state = train_and_evaluate(config)
  assert int(state.step) == 4
  steps = [json.loads(line)["step"] for line in open(pathlib.Path(old_workdir) / "metrics.jsonl")]
  assert steps == [1, 2, 3, 4]  # the old run's two rows kept, the resumed run's two after them
  assert load_generator(old_workdir).step == 4


@pytest.mark.slow
def test_an_old_workdir_evaluates(old_workdir, mnist_dir, capsys):
  out = pathlib.Path(old_workdir) / "eval.json"
  evaluate.main([f"--workdir={old_workdir}", "--num_samples=300", f"--data_dir={mnist_dir}", f"--out={out}"])
  report = json.loads(out.read_text())
  assert report["step"] == 2 and report["generator"] == "ema" and np.isfinite(report["fid_mnist"])
