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
# # Chapter 6: the other families
#
# A GAN's game does not need noise at its input. Four more families share ganjax's loop,
# checkpoints and flags, each with its own state, step and evaluation:
#
# - **SRGAN** (Ledig et al. 2017): a residual network upscales photos x4, first trained on
#   the pixel loss alone (SRResNet), then against a discriminator that judges the high-
#   resolution result;
# - **pix2pix** (Isola et al. 2017): a U-Net translates an input image to a paired target
#   (MNIST edge maps to digits), paid by an L1 loss to the target plus a PatchGAN that judges
#   each patch of the (input, output) pair;
# - **CycleGAN** (Zhu et al. 2017): two generators translate between unpaired domains (thin
#   and thick MNIST digits), kept honest by a cycle-consistency loss: A to B to A must give A;
# - the **VAE** (Kingma & Welling 2014), not a GAN but its likelihood-based relative: an
#   encoder, a decoder and the evidence lower bound, scored in nats.
#
# Each is one command; each writes grids, checkpoints and, at the end, `results.json` with
# its family's scores on the test split.
#
# **Settings.** `QUICK = True` trains each for a few dozen steps: the pictures show what
# each family does, not how well. The chapter takes about 3 minutes on a 2-core CPU (165 s,
# 2026-12-03), most of it compiling four train steps and four evaluations; the first time,
# building the `mnist_edges` and `mnist_styles` datasets from MNIST adds about 3 more.
# `QUICK = False` runs each experiment's defaults (about an hour together there), which the
# README's figures come from: SRGAN 28.92 dB PSNR on held-out photos against bicubic's 28.75,
# pix2pix's test L1 0.0254, CycleGAN's digits keeping their class 97.8% and 98.5% of the
# time, the VAE's negative ELBO 97.3 nats.

# %% tags=["parameters"]
QUICK = True
OUT = "runs/tutorial"
DATA_DIR = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets

# %%
import json
import os

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # before JAX starts: the XLA flags every ganjax run computes with

import matplotlib

matplotlib.use("Agg")  # files only: the chapter also runs with no display
import matplotlib.pyplot as plt
from PIL import Image

from experiments import cyclegan, pix2pix, srgan, vae

os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## Four runs
#
# In the quick setting each run is cut short with flags; every other setting is the
# experiment's default. `--eval_samples` sets how many test images the final evaluation
# scores (the defaults use all of them: 10,000, or CycleGAN's 5,000 per domain; the VAE's
# ELBO always covers the whole test split, one cheap pass).

# %%
QUICK_FLAGS = {
  "srgan": ["--pretrain_steps=40", "--steps=60", "--sample_every=60", "--checkpoint_every=60", "--log_every=10"],
  "pix2pix": ["--steps=40", "--sample_every=40", "--checkpoint_every=40", "--log_every=10", "--eval_samples=500"],
  "cyclegan": ["--steps=40", "--sample_every=40", "--checkpoint_every=40", "--log_every=10", "--eval_samples=500"],
  "vae": ["--steps=100", "--warmup_steps=20", "--sample_every=100", "--checkpoint_every=100", "--eval_samples=500"],
}
EXPERIMENTS = {"srgan": srgan, "pix2pix": pix2pix, "cyclegan": cyclegan, "vae": vae}


def workdir(name):
  return os.path.join(OUT, name)


for name, experiment in EXPERIMENTS.items():
  flags = [f"--workdir={workdir(name)}", *(QUICK_FLAGS[name] if QUICK else [])]
  if DATA_DIR:
    flags.append(f"--data_dir={DATA_DIR}")
  print(f"--- python -m experiments.{name} {' '.join(flags)}")
  assert experiment.main(flags) == 0

# %% [markdown]
# ## What each family drew, and how it scored
#
# Each run's last picture. SRGAN's: (input enlarged by nearest neighbour, the network's
# output, the original) for each of three crops. pix2pix's: (edge map, translation, real
# digit) triples. CycleGAN's columns: a thin digit a, G(a), F(G(a)), then a thick digit b,
# F(b), G(F(b)). The VAE's (its last file by name is the reconstructions): (test digit, its
# reconstruction) pairs; its `grid_*.png` holds samples from the prior.

# %%
figure, axes = plt.subplots(1, len(EXPERIMENTS), figsize=(16, 4.6))
for axis, name in zip(axes, EXPERIMENTS):
  samples = os.path.join(workdir(name), "samples")
  last = sorted(f for f in os.listdir(samples) if f.endswith(".png"))[-1]
  axis.imshow(Image.open(os.path.join(samples, last)), cmap="gray")
  axis.set_title(f"{name}: {last}", fontsize=9)
  axis.axis("off")
figure.tight_layout()
figure.savefig(os.path.join(OUT, "family_tour.png"), dpi=100)
plt.close(figure)

for name in EXPERIMENTS:
  with open(os.path.join(workdir(name), "results.json")) as f:
    print(f"{name}: {json.load(f)}")

# %% [markdown]
# At the end of this chapter you have four runs under `runs/tutorial/` (srgan, pix2pix,
# cyclegan, vae), each with its grids, checkpoint and `results.json`, and `family_tour.png`
# with their last grids side by side. `docs/families.md` has each family's full results and
# what each of their flags does; the README's "Adding a family" says how to add a fifth.
