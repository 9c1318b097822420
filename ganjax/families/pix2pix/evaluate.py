"""pix2pix scored once its training ends, on the test pairs: L1, PSNR and SSIM of G's outputs,
and for digits the MNIST classifier's fid_mnist and label accuracy."""

from __future__ import annotations

import jax
import numpy as np

from ganjax.config import Config
from ganjax.data.pipeline import to_model_range
from ganjax.families.pix2pix.state import Pix2pixState, build_models
from ganjax.families.pix2pix.task import load_split, make_translate
from ganjax.metrics import image_quality

EVAL_BATCH = 500
FID_FEATURES = 256  # fid_mnist needs more outputs than the classifier's feature dimension


def evaluate(config: Config, state: Pix2pixState) -> dict:
  """Over the first `--eval_samples` test pairs (the experiment: all 10,000): L1, PSNR and SSIM
  of G(input) against the target (G in inference mode), on
  intensities in [0, 1] (max_val 1), each the mean over the test images; for 28x28 grey
  images also the shipped MNIST classifier's fid_mnist of the outputs against the targets
  and its accuracy on the outputs."""
  test = load_split(config, "test")
  generator = build_models(config, test.target_shape[-1], axis_name=None)[0]
  translate = make_translate(generator)
  params, stats = jax.device_get((state.g_params, state.g_batch_stats))
  outputs, targets, labels = [], [], []
  count = min(config.eval_samples, len(test))
  for start in range(0, count, EVAL_BATCH):
    batch = test.read(np.arange(start, min(start + EVAL_BATCH, count)))
    outputs.append(np.asarray(translate(params, stats, to_model_range(batch["input"]))))
    targets.append(to_model_range(batch["target"]))
    labels.append(batch.get("label"))
  output, target = np.concatenate(outputs), np.concatenate(targets)
  out01, target01 = (output + 1.0) / 2.0, (target + 1.0) / 2.0
  results = {
    "step": int(state.step),
    "test_images": len(output),
    "l1_weight": config.family.l1_weight,
    "adversarial_weight": config.family.adversarial_weight,
    "test_l1": float(np.mean(np.abs(out01 - target01), dtype=np.float64)),
    "test_psnr": float(np.asarray(image_quality.psnr(out01, target01, 1.0)).mean(dtype=np.float64)),
    "test_ssim": float(np.asarray(image_quality.ssim(out01, target01, 1.0)).mean(dtype=np.float64)),
  }
  if output.shape[1:] == (28, 28, 1):  # digits: how real and how legible the outputs look
    from ganjax.metrics import mnist_features, sample_quality

    if count > FID_FEATURES:
      target_features, _ = mnist_features.features_and_probabilities(target)
      report = sample_quality.evaluate(output, target_features, seed=config.seed, kid_subset_size=min(1000, count))
      results.update({k: report[k] for k in ("fid_mnist", "kid_mnist", "precision_mnist", "recall_mnist")})
    if labels[0] is not None:
      results["label_accuracy_mnist"] = sample_quality.label_accuracy(output, np.concatenate(labels))
  return results
