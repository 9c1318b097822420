"""The shipped MNIST feature network and the sample-quality report built on it."""

import json
import pathlib

import numpy as np
import pytest

from ganjax.data.pipeline import load_source, to_model_range
from ganjax.errors import UsageError
from ganjax.metrics import distribution, mnist_features, sample_quality


@pytest.fixture(scope="module")
def mnist_test(mnist_dir):
  source = load_source("mnist", "test", mnist_dir)
  raw = source.read(np.arange(len(source)))
  return to_model_range(raw["image"]), raw["label"]


@pytest.mark.slow
def test_shipped_classifier_is_at_least_99_percent_accurate(mnist_test):
  images, labels = mnist_test
  _, probabilities = mnist_features.features_and_probabilities(images)
  assert probabilities.shape == (10_000, 10)
  np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
  assert np.mean(probabilities.argmax(1) == labels) >= 0.99


@pytest.mark.slow
def test_real_digits_score_far_better_than_noise(mnist_dir, mnist_test):
  images, _ = mnist_test
  reference = sample_quality.reference_features("mnist", "train", mnist_dir, num=2000)
  real = sample_quality.evaluate(images[:1000], reference, kid_subsets=10, kid_subset_size=500)
  noise = np.random.default_rng(0).uniform(-1, 1, (1000, 28, 28, 1)).astype(np.float32)
  fake = sample_quality.evaluate(noise, reference, kid_subsets=10, kid_subset_size=500)
  assert real["fid_mnist"] < 0.05 * fake["fid_mnist"]
  assert real["kid_mnist"] < 0.05 * fake["kid_mnist"]
  assert real["is_mnist"] > 8.0 > fake["is_mnist"]
  assert real["precision_mnist"] > 0.6 and real["recall_mnist"] > 0.6
  # Noise collapses to a few points in feature space: no coverage of the real digits. (Its
  # precision is not low: outliers among the real features give their balls huge radii.)
  assert fake["recall_mnist"] < 0.05
  assert "256-d penultimate" in real["feature_network"] and real["num_samples"] == 1000


def test_reference_features_are_cached(mnist_dir):
  first = sample_quality.reference_features("mnist", "test", mnist_dir, num=300)
  assert list(pathlib.Path(mnist_dir, "ganjax_reference").glob("mnist_test_mnist_300.npy"))
  np.testing.assert_array_equal(sample_quality.reference_features("mnist", "test", mnist_dir, num=300), first)


def test_an_empty_data_dir_caches_reference_features_in_tfds_default(mnist_dir, monkeypatch, tmp_path):
  """As a run's --data_dir: empty means $TFDS_DATA_DIR, never the working directory."""
  monkeypatch.setenv("TFDS_DATA_DIR", mnist_dir)
  monkeypatch.chdir(tmp_path)
  features = sample_quality.reference_features("mnist", "test", "", num=300)
  assert features.shape[0] == 300
  assert not (tmp_path / "ganjax_reference").exists()
  assert list(pathlib.Path(mnist_dir, "ganjax_reference").glob("mnist_test_mnist_300.npy"))


@pytest.mark.parametrize(
  "images,fragment",
  [
    (np.zeros((300, 32, 32, 1), np.float32), "takes images [N, 28, 28, 1]"),
    (np.zeros((300, 28, 28, 1), np.uint8), "got dtype uint8"),
    (np.full((300, 28, 28, 1), 255.0, np.float32), "got values in [255, 255]"),
    (np.zeros((100, 28, 28, 1), np.float32), "needs more than 256 samples"),
  ],
)
def test_bad_images_are_refused(images, fragment):
  reference = np.random.default_rng(0).normal(size=(400, 256))
  with pytest.raises(UsageError) as error:
    sample_quality.evaluate(images, reference)
  assert fragment in str(error.value)


@pytest.mark.slow
def test_evaluate_command_on_a_trained_run(tiny_config, capsys):
  from experiments import dcgan, evaluate
  from ganjax import cli

  assert (
    dcgan.main(
      [
        "--width=8",
        "--latent_dim=16",
        "--batch_size=16",
        "--steps=2",
        f"--data_dir={tiny_config.data_dir}",
        f"--workdir={tiny_config.workdir}",
      ]
    )
    == 0
  )
  status = cli.run(
    evaluate.main,
    [f"--workdir={tiny_config.workdir}", "--num_samples=300", f"--data_dir={tiny_config.data_dir}", "--by_class"],
  )
  assert status == 0
  report = json.loads(pathlib.Path(tiny_config.workdir, "eval_000002.json").read_text())
  assert report["num_samples"] == 300 and report["num_reference"] == 10_000 and report["step"] == 2
  assert report["fid_mnist"] > 0 and 0 <= report["precision_mnist"] <= 1
  assert len(report["class_share_mnist"]) == 10 and abs(sum(report["class_share_mnist"]) - 1) < 1e-9
  out = capsys.readouterr().out
  assert "fid_mnist" in out and "share of samples" in out


def test_precision_by_class_splits_the_precision_by_the_classifiers_digit(mnist_dir, mnist_test):
  images, labels = mnist_test
  low_digits = np.flatnonzero(labels < 5)[:600]  # fakes that are real digits 0-4 only
  reference = sample_quality.reference_features("mnist", "train", mnist_dir, num=2000)
  features, probabilities = mnist_features.features_and_probabilities(images[low_digits])
  report = sample_quality.precision_by_class(features, probabilities, reference)
  share, precision = np.array(report["class_share_mnist"]), report["precision_mnist_by_class"]
  np.testing.assert_allclose(share[:5], np.bincount(labels[low_digits], minlength=5)[:5] / 600, atol=0.02)
  assert share[5:].sum() < 0.02  # the classifier's 1% of mistakes at most
  # The per-digit precisions, weighted by the digits' shares, are the whole set's precision.
  whole, _ = distribution.precision_recall(reference, features, k=3)
  weighted = sum(s * p for s, p in zip(share, precision) if p is not None)
  np.testing.assert_allclose(weighted, whole, atol=1e-9)
  assert all(p > 0.5 for p in precision[:5]) and whole > 0.5
  assert [p for s, p in zip(share, precision) if s == 0] == [None] * int(np.sum(share == 0))


def test_by_class_with_another_feature_network_is_a_one_line_error(capsys, tmp_path):
  from experiments import evaluate
  from ganjax import cli

  weights = tmp_path / "weights.pth"
  argv = ["--real_floor", "--by_class", "--feature_network=inception", f"--inception_weights={weights}"]
  assert cli.run(evaluate.main, argv) == 2
  assert "--by_class reads the MNIST classifier's digits" in capsys.readouterr().err
