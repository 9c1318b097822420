"""Evaluation metrics: per-image quality against a reference and sample-set distances."""

from ganjax.metrics.distribution import feature_statistics, frechet_distance, inception_score, kid, precision_recall
from ganjax.metrics.image_quality import ms_ssim, psnr, ssim, vif_p

__all__ = [
  "feature_statistics",
  "frechet_distance",
  "inception_score",
  "kid",
  "ms_ssim",
  "precision_recall",
  "psnr",
  "ssim",
  "vif_p",
]
