"""Evaluation metrics: per-image quality against a reference and sample-set distances."""

from ganjax.metrics.distribution import feature_statistics
from ganjax.metrics.distribution import frechet_distance
from ganjax.metrics.distribution import inception_score
from ganjax.metrics.distribution import kid
from ganjax.metrics.distribution import precision_recall
from ganjax.metrics.image_quality import ms_ssim
from ganjax.metrics.image_quality import psnr
from ganjax.metrics.image_quality import ssim
from ganjax.metrics.image_quality import vif_p

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
