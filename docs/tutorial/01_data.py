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
# # Chapter 1: the data
#
# Every GAN in ganjax trains on images from TensorFlow Datasets (TFDS). This chapter opens
# MNIST (prepared offline from the files that ship with ganjax: nothing is downloaded), shows
# what the pipeline does to an image before a network sees it, and how a batch is chosen.
#
# **Settings.** `QUICK = True` runs in seconds on a laptop CPU; `QUICK = False` changes
# nothing here (the data is the same), it only exists so every chapter has the same switch.

# %% tags=["parameters"]
QUICK = True
OUT = "runs/tutorial"  # where the chapter writes its pictures
DATA_DIR = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets

# %%
import os

import numpy as np

from ganjax import images
from ganjax.data.pipeline import Batches, BatchSpec, batch_indices, load_source, to_model_range

os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## One split of a dataset
#
# `load_source` opens a TFDS dataset by name. For `mnist` it first builds the TFDS files from
# the copy bundled with ganjax, once. The source reads examples by index, decoded, as uint8.

# %%
train = load_source("mnist", "train", DATA_DIR or None)
print(len(train), "training images of shape", train.image_shape, "and", train.num_classes, "classes")
first = train.read(np.arange(8))
print({k: (v.dtype, v.shape) for k, v in first.items()})

# %% [markdown]
# ## From uint8 to the model's range
#
# Generators end in `tanh`, so images are scaled from [0, 255] to [-1, 1]: 0 maps to -1 and
# 255 to 1, in float32. Images stay NHWC (batch, height, width, channels), the layout Flax's
# convolutions take and the one XLA runs fastest on CPU.

# %%
scaled = to_model_range(first["image"])
print("uint8 range", first["image"].min(), first["image"].max(), "-> float range", scaled.min(), scaled.max())
assert scaled.dtype == np.float32 and scaled.min() == -1.0 and scaled.max() == 1.0

# %% [markdown]
# ## Which images a step sees
#
# A batch is a pure function of the run's seed and the step number: epoch `e` is a fresh
# permutation drawn from (seed, e), and step `s` reads its slice. So a resumed run reads
# exactly the batches it would have read without the interruption, and a batch split over 4
# devices holds the same examples as on one.

# %%
spec = BatchSpec(global_batch=64, local_devices=1)
assert np.array_equal(batch_indices(len(train), spec, seed=0, step=5), batch_indices(len(train), spec, seed=0, step=5))
print("step 0 reads", batch_indices(len(train), spec, seed=0, step=0)[:8], "...")
print("seed 1 reads", batch_indices(len(train), spec, seed=1, step=0)[:8], "...")

# %% [markdown]
# `Batches` reads those batches through grain, ahead of the step (in a thread; in worker
# processes with `workers=`, the same batches), already scaled and cut per device:
# `[devices, examples, H, W, C]`.

# %%
batches = Batches(train, spec, seed=0)
batch = next(batches)
batches.close()
print({k: v.shape for k, v in batch.items()})

# %% [markdown]
# ## A grid of real digits
#
# `images.grid` tiles a batch, `images.save_png` writes it. The same two functions draw every
# sample grid in ganjax.

# %%
path = os.path.join(OUT, "real_digits.png")
images.save_png(path, images.grid(images.to_uint8(batch["image"][0]), columns=8))
print("wrote", path)

# %% [markdown]
# At the end of this chapter you have `runs/tutorial/real_digits.png`: 64 training digits, in
# the order step 0 of seed 0 reads them. Chapter 2 trains a DCGAN on these batches.
