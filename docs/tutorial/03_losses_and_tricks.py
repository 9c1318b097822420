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
# # Chapter 3: losses and tricks
#
# The GAN's game is set by its loss: what D is paid for telling reals from fakes, and what G
# is paid for fooling it. This chapter plots the five losses ganjax has as functions of D's
# output, shows why G's loss is not simply minus D's, and then trains the default DCGAN
# with some of the classic tricks switched on, one at a time, from the command line.
#
# **Settings.** `QUICK = True` trains each variant for 150 steps (the whole chapter takes
# under 3 minutes on a 2-core CPU): enough to see the losses move apart, not to judge
# samples. `QUICK = False` trains each for 3,000 steps (about 10 minutes each there). What
# the tricks do to sample quality, measured over 3 seeds, is in `docs/dcgan_quality.md`;
# one short run per trick, as here, is not evidence either way.

# %% tags=["parameters"]
QUICK = True
OUT = "runs/tutorial"
DATA_DIR = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets

# %%
import json
import os

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # before JAX starts: the XLA flags every ganjax run computes with

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")  # files only: the chapter also runs with no display
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from experiments import dcgan
from ganjax import losses

os.makedirs(OUT, exist_ok=True)
STEPS = 150 if QUICK else 3000

# %% [markdown]
# ## Five losses, as functions of D's output on a fake
#
# `losses.make_loss(name)` returns a pair of pure functions: `d_loss(real_out, fake_out)`
# and `g_loss(fake_out)`, both means over the batch. For the classifier losses D's output is
# the logit of "real"; for the others it is an unbounded score.
#
# What G learns from is the gradient of its loss with respect to D's output on its fakes.
# Early in training D rejects the fakes confidently (a very negative logit). There,
# Goodfellow et al.'s original minimax loss, log(1 - D(G(z))), is flat: its gradient
# vanishes, and G learns nothing. The non-saturating loss, -log D(G(z)), has the same fixed
# point but a gradient near -1 exactly there. Least squares (Mao et al. 2017) pulls the
# fake's score towards 1 with a force that grows with the distance; the Wasserstein and
# hinge losses give G the same loss, -D(G(z)) (their lines coincide), and a constant gradient.

# %%
NAMES = ("minimax", "non_saturating", "lsgan", "wgan", "hinge")
outputs = jnp.linspace(-6.0, 6.0, 241)


def g_loss_and_gradient(name):
  """G's loss of one fake, and its derivative, at each of D's outputs."""
  g_loss = losses.make_loss(name).g_loss
  one = lambda out: g_loss(out[None])  # noqa: E731  (a batch of one fake)
  return jax.vmap(one)(outputs), jax.vmap(jax.grad(one))(outputs)


figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for name in NAMES:
  loss, gradient = g_loss_and_gradient(name)
  left.plot(outputs, loss, label=name)
  right.plot(outputs, gradient, label=name)
left.set(title="G's loss of one fake", xlabel="D's output on the fake", ylim=(-7, 13))
right.set(title="its gradient: what G learns from", xlabel="D's output on the fake", ylim=(-7.5, 1))
right.axvspan(-6, -2, color="0.9")
right.text(-5.8, 0.5, "D rejects the fake", fontsize=8)
left.legend(fontsize=8)
figure.tight_layout()
figure.savefig(os.path.join(OUT, "losses.png"), dpi=100)
plt.close(figure)

for name in NAMES:
  _, gradient = g_loss_and_gradient(name)
  print(f"{name:>15}: dL_G/dD at D's output -5 is {float(gradient[outputs.searchsorted(-5.0)]):+.4f}")

# %% [markdown]
# The pairs side by side on the same outputs: D is shown one real and one fake, scored 2.0 and
# -1.0 (D is fairly sure of both), then the fake improved to 1.0. As the fake improves, every
# G loss falls and every D loss rises, except least squares', which stays at 1.0 here only
# because -1 and 1 lie equally far from its fake target 0. Minimax's G loss is minus the
# fake's part of D's loss: the one loss where G's gain is exactly D's loss.

# %%
print(f"{'loss':>15}{'D loss':>9}{'G loss':>9}{'D, fake 1':>11}{'G, fake 1':>11}")
for name in NAMES:
  pair = losses.make_loss(name)
  real_out = jnp.array([2.0])
  d_now, g_now = pair.d_loss(real_out, jnp.array([-1.0])), pair.g_loss(jnp.array([-1.0]))
  d_better, g_better = pair.d_loss(real_out, jnp.array([1.0])), pair.g_loss(jnp.array([1.0]))
  print(f"{name:>15}{float(d_now):>9.3f}{float(g_now):>9.3f}{float(d_better):>11.3f}{float(g_better):>11.3f}")

# %% [markdown]
# ## One-sided label smoothing moves D's target
#
# Salimans et al. (2016, section 3.4) train D to say 0.9 on reals instead of 1
# (`--real_label=0.9`), so it has no reason to push its logits on reals to infinity: the
# cross-entropy of one real is smallest at logit log(0.9 / 0.1) = 2.2. With labels of 1 it
# keeps falling: its smallest value sits at the edge of the range searched, +6. The fakes' target
# stays 0, on one side only: smoothing it would reward D for giving fakes some belief.

# %%
for real_label in (1.0, 0.9):
  d_loss = losses.make_loss("non_saturating", real_label).d_loss
  per_real = jax.vmap(lambda out: d_loss(out[None], jnp.array([-10.0])))(outputs)  # noqa: B023
  best = float(outputs[int(jnp.argmin(per_real))])
  print(f"real_label={real_label}: D's loss on a real is smallest at logit {best:+.2f}")

# %% [markdown]
# ## Tricks, one at a time, from the command line
#
# Each trick is a flag on the default DCGAN; a run writes its losses to `metrics.jsonl` and
# a sample grid. We train the default and four variants, each changing one trick:
#
# - `--real_label=0.9`: the label smoothing above;
# - `--d_steps=2`: two D updates, each on its own real batch, per G update (WGAN's
#   Algorithm 1 uses 5);
# - `--instance_noise=0.1`: Gaussian noise on everything D sees, annealed to 0 over the run,
#   so the real and fake distributions overlap early on (Sønderby et al. 2017);
# - `--r1_penalty=0`: the default pays R1, the squared gradient norm of D on reals (Mescheder
#   et al. 2018), which penalises D for a steep slope where the data is, on every 16th step at
#   16 times its weight; this switches it off.

# %%
VARIANTS = {
  "default": [],
  "real_label 0.9": ["--real_label=0.9"],
  "d_steps 2": ["--d_steps=2"],
  "instance_noise 0.1": ["--instance_noise=0.1"],
  "no r1_penalty": ["--r1_penalty=0"],
}


def workdir(name):
  return os.path.join(OUT, "tricks", name.replace(" ", "_"))


for name, flags in VARIANTS.items():
  common = [f"--steps={STEPS}", f"--workdir={workdir(name)}", "--eval_every=0", "--log_every=10"]
  if DATA_DIR:
    common.append(f"--data_dir={DATA_DIR}")
  print(f"--- {name}")
  assert dcgan.main(common + flags) == 0

# %% [markdown]
# ## What the losses did
#
# D's and G's losses from each run's `metrics.jsonl`, and each run's last grid side by side.
# A GAN's losses do not fall towards zero as a classifier's do: they settle where neither
# player gains by moving, and a D loss that collapses towards 0 means D has won (G's
# gradients then carry little). Label smoothing raises D's floor; instance noise makes D's job
# harder early on, and its loss falls as the noise anneals away.

# %%
figure, (d_axis, g_axis) = plt.subplots(1, 2, figsize=(10, 3.8), sharex=True)
for name in VARIANTS:
  with open(os.path.join(workdir(name), "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  steps = [r["step"] for r in rows]
  d_axis.plot(steps, [r["d_loss"] for r in rows], label=name, alpha=0.8)
  g_axis.plot(steps, [r["g_loss"] for r in rows], label=name, alpha=0.8)
d_axis.set(title="D's loss", xlabel="step")
g_axis.set(title="G's loss", xlabel="step")
d_axis.legend(fontsize=8)
figure.tight_layout()
figure.savefig(os.path.join(OUT, "tricks_losses.png"), dpi=100)
plt.close(figure)

grids = []
for name in VARIANTS:
  last = sorted(os.listdir(os.path.join(workdir(name), "samples")))[-1]
  grids.append(np.asarray(Image.open(os.path.join(workdir(name), "samples", last)).convert("L")))
height = min(g.shape[0] for g in grids)
gap = np.full((height, 8), 255, np.uint8)
row = np.concatenate([part for g in grids for part in (g[:height], gap)][:-1], axis=1)
Image.fromarray(row).save(os.path.join(OUT, "tricks_grids.png"))
print("columns, left to right:", ", ".join(VARIANTS))

# %% [markdown]
# At the end of this chapter you have `runs/tutorial/losses.png` (the five losses and their
# gradients: minimax's is flat where D rejects the fakes, the others' are not),
# `tricks_losses.png` (D's and G's losses of the five runs) and `tricks_grids.png` (their
# last grids, left to right as listed). In the quick setting the grids are still blobs; in
# the full one, digits, whose differences one seed cannot rank. Chapter 4 measures them.
