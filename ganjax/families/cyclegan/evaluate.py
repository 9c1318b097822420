"""CycleGAN's evaluation on the test splits, after training (ganjax.train.results writes it).

Each domain's first `--eval_samples` test images are scored (the experiment's default, 10,000,
takes all of them; a quick run asks for fewer).

- `cycle_l1_a` / `cycle_l1_b`: mean |F(G(a)) - a| and |G(F(b)) - b| over every pixel of every
  scored test image, in the model's [-1, 1] range (the training loss's scale; halve it for [0, 1]).
- For 28x28 grey digits with class labels (`mnist_styles`): `class_agreement_a_to_b` /
  `class_agreement_b_to_a`, the share of test digits whose translation the shipped MNIST
  classifier (`ganjax.metrics.mnist_features`) assigns to the digit's own class; beside them
  `classifier_accuracy_a` / `_b`, the same classifier on the untranslated test digits (what an
  identity "translation" would score), and `ink_*`, the mean brightness in [0, 1] of real and
  translated images of each domain, which says whether the translation changed the style
  (domain B's thick strokes carry about twice domain A's ink).
"""

from __future__ import annotations

import jax
import numpy as np

from ganjax.config import Config
from ganjax.data.pipeline import to_model_range
from ganjax.data.unpaired import load_domains
from ganjax.families.cyclegan.state import CycleGANState
from ganjax.families.cyclegan.task import make_translate, translate_in_chunks
from ganjax.metrics import mnist_features
from ganjax.models.cyclegan import build_cyclegan


def ink(x: np.ndarray) -> float:
  """Mean brightness in [0, 1] of images in [-1, 1]."""
  return float(np.mean((np.asarray(x) + 1.0) / 2.0))


def classifier_agreement(x: np.ndarray, labels: np.ndarray) -> float:
  """Share of images [N, 28, 28, 1] in [-1, 1] the MNIST classifier assigns to `labels`."""
  _, probabilities = mnist_features.features_and_probabilities(np.clip(x, -1.0, 1.0))
  return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def evaluate(config: Config, state: CycleGANState) -> dict:
  """The test-split metrics of `state`'s generators (see the module docstring)."""
  test_a, test_b = load_domains(config.dataset, "test", config.data_dir or None, config.image_size or None)
  generator, _ = build_cyclegan(config.width, config.family.cyclegan_blocks, test_a.image_shape)
  translate = make_translate(generator)
  g_params = jax.device_get(state.g_params)
  read = lambda domain: domain.read(np.arange(min(config.eval_samples, len(domain))))  # noqa: E731
  raw_a, raw_b = read(test_a), read(test_b)
  real_a, real_b = to_model_range(raw_a["image"]), to_model_range(raw_b["image"])
  fake_b = translate_in_chunks(translate, g_params["a_to_b"], real_a)
  fake_a = translate_in_chunks(translate, g_params["b_to_a"], real_b)
  rec_a = translate_in_chunks(translate, g_params["b_to_a"], fake_b)
  rec_b = translate_in_chunks(translate, g_params["a_to_b"], fake_a)
  results = {
    "step": int(state.step),
    "test_images_a": len(real_a),
    "test_images_b": len(real_b),
    "cycle_l1_a": float(np.mean(np.abs(rec_a - real_a))),
    "cycle_l1_b": float(np.mean(np.abs(rec_b - real_b))),
  }
  digits = test_a.image_shape == (28, 28, 1) and test_a.num_classes == 10 and "label" in raw_a
  if digits:
    results.update(
      class_agreement_a_to_b=classifier_agreement(fake_b, raw_a["label"]),
      class_agreement_b_to_a=classifier_agreement(fake_a, raw_b["label"]),
      classifier_accuracy_a=classifier_agreement(real_a, raw_a["label"]),
      classifier_accuracy_b=classifier_agreement(real_b, raw_b["label"]),
      ink_real_a=ink(real_a),
      ink_fake_a=ink(fake_a),
      ink_real_b=ink(real_b),
      ink_fake_b=ink(fake_b),
    )
  return results
