# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 4: measuring a generator
#
# Two kinds of score. **Pairwise** scores (PSNR, SSIM, VIF) compare an image with the one it
# should be: a super-resolved photo with the original, a translated edge map with its digit.
# **Distribution** scores (FID, KID, the Inception-style score, precision and recall) compare
# a set of samples with a set of real images, through the features of a classifier, because
# a noise-to-image GAN has no "right" image for each sample.
#
# Everything here scores images made in known ways, so each score can be read against what
# was done: a photograph shrunk and enlarged again for the pairwise scores, and for the
# distribution scores real MNIST digits with noise, with blur, and from a "generator" that
# draws only three of the ten digits (mode collapse).
#
# **Settings.** `QUICK = True` uses 2,000 images per set (under a minute on a 2-core CPU);
# `QUICK = False` uses 10,000, as ganjax's evaluations do. Fewer samples bias FID upwards:
# compare FIDs only at one sample count.

# %% tags=["parameters"]
QUICK = True
OUT = "runs/tutorial"
DATA_DIR = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets

# %%
import os

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # before JAX starts: the XLA flags every ganjax run computes with

import matplotlib

matplotlib.use("Agg")  # files only: the chapter also runs with no display
import matplotlib.pyplot as plt
import numpy as np

from ganjax import images
from ganjax.data import sr_photos
from ganjax.data.pipeline import load_source, to_model_range
from ganjax.metrics import distribution, image_quality, mnist_features

os.makedirs(OUT, exist_ok=True)
COUNT = 2000 if QUICK else 10_000
rng = np.random.default_rng(0)

# %% [markdown]
# ## Pairwise scores, on a super-resolution example
#
# A photograph held out of SRGAN's training data (`sr_photos`: scikit-image's cat, 300x448),
# shrunk x4 with bicubic filtering as super-resolution benchmarks do, then brought back to
# full size two ways with no learning at all: repeating each pixel (nearest neighbour) and
# bicubic interpolation. A super-resolution network must beat bicubic on these scores.
#
# **PSNR** is the mean squared error in decibels. **SSIM** (Wang et al. 2004) compares local
# means, contrasts and structures in 11x11 windows, closer to what the eye notices;
# **MS-SSIM** (Wang et al. 2003) does so at five scales, so it needs 176 pixels or more.
# **VIF** (Sheikh & Bovik 2006) is the share of the original's information the other image
# keeps (1 for a copy); its four scales need 41 pixels. All take images in [0, max_val].

# %%
original = sr_photos.held_out("chelsea")  # uint8 [300, 448, 3]
small = sr_photos.downscale(original)  # [75, 112, 3]
height, width = original.shape[:2]
upscaled = {
  "nearest": np.repeat(np.repeat(small, 4, axis=0), 4, axis=1),
  "bicubic": sr_photos.bicubic_resize(small, height, width),
}
reference_photo = original[None].astype(np.float32)
print(f"{'x4 upscale':<12}{'PSNR dB':>9}{'SSIM':>8}{'MS-SSIM':>9}{'VIF':>8}")
for name, image in upscaled.items():
  candidate = image[None].astype(np.float32)
  psnr = float(image_quality.psnr(reference_photo, candidate, 255.0)[0])
  ssim = float(image_quality.ssim(reference_photo, candidate, 255.0)[0])
  ms_ssim = float(image_quality.ms_ssim(reference_photo, candidate, 255.0)[0])
  vif = float(image_quality.vif_p(reference_photo, candidate, 255.0)[0])
  print(f"{name:<12}{psnr:>9.2f}{ssim:>8.3f}{ms_ssim:>9.3f}{vif:>8.3f}")
strip = np.concatenate([upscaled["nearest"], upscaled["bicubic"], original], axis=1)
images.save_png(os.path.join(OUT, "upscaled_x4.png"), strip[60:220, :])  # the cat's face, three ways

# %% [markdown]
# ## The digits
#
# For the distribution scores: two disjoint sets of real digits, test images as the
# reference and train images as a perfect "generator" (the floor every score can reach), then
# three damaged versions of those train images and a collapsed set of only 0s, 1s and 7s.

# %%
test = load_source("mnist", "test", DATA_DIR or None)
train = load_source("mnist", "train", DATA_DIR or None)
reference = test.read(rng.choice(len(test), COUNT, replace=False))
drawn = train.read(rng.choice(len(train), COUNT, replace=False))
real = to_model_range(reference["image"])  # float32 [N, 28, 28, 1] in [-1, 1]
generated = to_model_range(drawn["image"])


def blurred(x, passes):
  """A 3x3 box blur, `passes` times: strokes thicken and fade."""
  for _ in range(passes):
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
    x = sum(padded[:, i : i + 28, j : j + 28] for i in range(3) for j in range(3)) / 9
  return x


collapsed_pool = train.read(np.flatnonzero(np.isin(train.read(np.arange(len(train)))["label"], (0, 1, 7))))
sets = {
  "train digits": generated,
  "noise 0.2": np.clip(generated + rng.normal(0, 0.2, generated.shape), -1, 1).astype(np.float32),
  "noise 0.5": np.clip(generated + rng.normal(0, 0.5, generated.shape), -1, 1).astype(np.float32),
  "blur x2": blurred(generated, 2).astype(np.float32),
  "only 0, 1, 7": to_model_range(collapsed_pool["image"][rng.choice(len(collapsed_pool["image"]), COUNT)]),
}
rows = [images.to_uint8(x[:8]) for x in sets.values()]
images.save_png(os.path.join(OUT, "evaluation_sets.png"), images.grid(np.concatenate(rows), columns=8))

# %% [markdown]
# ## Distribution scores, on a classifier's features
#
# FID (Heusel et al. 2017) fits a Gaussian to each set's features and measures the Fréchet
# distance between the two: 0 for one distribution. KID (Bińkowski et al. 2018) is an
# unbiased kernel MMD between the feature sets, with a spread over random subsets. The
# Inception-style score (Salimans et al. 2016) rewards samples the classifier is sure about,
# spread over all classes (10 at best on MNIST). Improved precision and recall (Kynkäänniemi
# et al. 2019) split what FID mixes: the share of samples that land among real images
# (quality) and the share of real images that samples come near (coverage).
#
# ganjax scores MNIST with a small classifier that ships with it (`mnist_features`), fed the
# 28x28 images in [-1, 1] as they are: these are `fid_mnist` and friends, not comparable
# with papers' FIDs, which use InceptionV3's pool features of images resized to 299x299
# (`--feature_network=inception`; the resize filter alone moves that FID, docs/metrics.md).
# A distribution score means something only with its feature network, its preprocessing,
# its sample count and the real-data floor beside it.

# %%
real_features, _ = mnist_features.features_and_probabilities(real)
mean_real, cov_real = distribution.feature_statistics(real_features)
scores = {}
for name, fakes in sets.items():
  features, probabilities = mnist_features.features_and_probabilities(fakes)
  fid = distribution.frechet_distance(*distribution.feature_statistics(features), mean_real, cov_real)
  kid_mean, kid_std = distribution.kid(features, real_features, num_subsets=20, subset_size=min(1000, COUNT))
  score, _ = distribution.inception_score(probabilities)
  precision, recall = distribution.precision_recall(real_features, features)
  scores[name] = {"fid": fid, "kid": kid_mean, "is": score, "precision": precision, "recall": recall}
  print(
    f"{name:<14} fid_mnist {fid:7.2f}  kid {kid_mean:.4f} ± {kid_std:.4f}  is {score:5.2f}  "
    f"precision {precision:.3f}  recall {recall:.3f}"
  )

# %% [markdown]
# Read the table row by row. The real train digits set the floor: near 0 for KID, and a
# fid_mnist that is not 0 only because 2,000 samples estimate the Gaussians loosely (at
# 10,000 it is about 2). Every damage raises FID and KID, and lowers recall: the damaged sets
# cover less of what real digits look like. Precision barely moves, and rises for blur: on
# this classifier's features a damaged digit still falls among real ones. The collapsed set
# draws perfect digits of three classes: precision stays high, the Inception-style score
# falls to about 3 (three classes), and recall falls because seven classes are never drawn.
# One FID for all of these failures is why ganjax reports precision, recall and the
# Inception-style score beside it.

# %%
figure, axis = plt.subplots(figsize=(5.5, 4.2))
for name, s in scores.items():
  axis.scatter(s["recall"], s["precision"], s=30)
  axis.annotate(
    f"{name}\nfid {s['fid']:.1f}", (s["recall"], s["precision"]), fontsize=8, xytext=(4, 4), textcoords="offset points"
  )
axis.set(
  xlabel="recall (coverage)",
  ylabel="precision (quality)",
  xlim=(0, 1.1),
  ylim=(0, 1.1),
  title=f"{COUNT:,} images per set against {COUNT:,} test digits",
)
figure.tight_layout()
figure.savefig(os.path.join(OUT, "precision_recall.png"), dpi=100)
plt.close(figure)

# %% [markdown]
# At the end of this chapter you have `runs/tutorial/upscaled_x4.png` (the cat's face
# enlarged x4 by nearest neighbour and by bicubic, then the original) with a table where
# bicubic beats nearest neighbour on all four pairwise scores; `evaluation_sets.png` (eight
# images of each digit set, one row per set, as listed) with a table of the distribution
# scores per set; and `precision_recall.png`, where the sets spread along recall at nearly
# one precision. From the command line, `python -m experiments.evaluate --workdir=<a run>`
# gives the same distribution scores for a trained generator.
