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
# # Chapter 2: a DCGAN from its parts
#
# The default DCGAN of `python -m experiments.dcgan`, built piece by piece: its config, the
# two Flax modules, the state pytree, and the pure `train_step`, jitted and called in a loop
# of our own. Then a checkpoint saved and restored, and the same run through the command line.
#
# **Settings.** `QUICK = True` trains 300 steps (about a minute on a 2-core CPU): blurry
# digit shapes. `QUICK = False` trains the default's 9,500 steps (about 11 minutes there, by
# its step cost), the run the README's grid and fid_mnist 4.6 ± 0.2 (3 seeds) come from.

# %% tags=["parameters"]
QUICK = True
OUT = "runs/tutorial"
DATA_DIR = ""  # empty: $TFDS_DATA_DIR or ~/tensorflow_datasets

# %%
import os

from ganjax.xla_flags import set_xla_flags

set_xla_flags()  # before JAX starts: the XLA flags every ganjax run computes with

import jax
import numpy as np
from tqdm.auto import tqdm

from experiments import dcgan
from ganjax import checkpoint, images
from ganjax.data.pipeline import Batches, BatchSpec, load_source
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import lazy_r1_due, make_train_step
from ganjax.families.gan.task import grid_noise
from ganjax.models import build_gan
from ganjax.sampling import make_sampler

os.makedirs(OUT, exist_ok=True)
STEPS = 300 if QUICK else dcgan.DEFAULTS.steps

# %% [markdown]
# ## The config
#
# One frozen dataclass per run. The run's own fields (data, steps, optimisation) sit on the
# config; the GAN family's (latent size, loss, tricks) on `config.family`. Flags keep their
# flat names: `replace(ema_decay=0.999)` finds the field wherever it lives.

# %%
config = dcgan.DEFAULTS.replace(steps=STEPS, data_dir=DATA_DIR, workdir=os.path.join(OUT, "dcgan"))
print("run:   ", {k: getattr(config, k) for k in ("width", "batch_size", "steps", "lr", "b1")})
print("family:", {k: getattr(config.family, k) for k in ("latent_dim", "loss", "dropout", "ema_decay", "r1_penalty")})

# %% [markdown]
# ## Two pure Flax modules and one state pytree
#
# `build_gan` returns Linen modules: G maps noise [N, 100] to images [N, 28, 28, 1] in
# [-1, 1], D maps images to one logit each. `create_state` initialises both from the seed and
# gathers everything that changes during training (the step, both players' weights,
# BatchNorm statistics, Adam's moments, the EMA of G) into one pytree.

# %%
source = load_source(config.dataset, "train", config.data_dir or None)
generator, discriminator = build_gan(config, source.image_shape, axis_name=None)
state = create_state(config, generator, discriminator, source.image_shape, jax.random.key(config.seed))
count = lambda tree: sum(x.size for x in jax.tree.leaves(tree))  # noqa: E731
print(f"G: {count(state.g_params):,} weights, D: {count(state.d_params):,}")
print("state leaves:", len(jax.tree.leaves(state)))

# %% [markdown]
# ## The train step: a pure function
#
# `make_train_step` returns `(state, batch, seed_key) -> (state, metrics)`: one D update,
# one G update, the EMA. No globals, no side effects: the randomness (noise, dropout) is
# folded from `seed_key` and `state.step`, so the same inputs give the same outputs. The
# training loop `pmap`s it over devices with `axis_name="data"`; here we only `jit` it.
#
# The default's R1 penalty is lazy: it is paid on every 16th step only, at 16 times its
# weight (`r1_every`). So there are two step functions, one with the penalty and one
# without, and the step number picks one, as the command line's loop does.

# %%
train_steps = {
  due: jax.jit(make_train_step(config, generator, discriminator, axis_name=None, r1_due=due)) for due in (True, False)
}
seed_key = jax.random.key(config.seed)
batches = Batches(source, BatchSpec(global_batch=config.batch_size, local_devices=1), seed=config.seed)
sample = make_sampler(config, source.image_shape)
noise = grid_noise(config)


def write_grid(state, name):
  fakes = sample(state.sampling_params(), state.g_batch_stats, noise)
  path = os.path.join(OUT, name)
  images.save_png(path, images.grid(images.to_uint8(np.asarray(fakes)), columns=8))
  return path


bar = tqdm(range(STEPS), desc="dcgan")
for step in bar:
  batch = {"image": next(batches)["image"][0]}  # [batch, 28, 28, 1]: one device's part
  state, metrics = train_steps[bool(lazy_r1_due(step, config.family.r1_every))](state, batch, seed_key)
  if step % 50 == 0 or step == STEPS - 1:
    bar.set_postfix(d=f"{float(metrics['d_loss']):.3f}", g=f"{float(metrics['g_loss']):.3f}")
  if step == STEPS // 3:
    print("wrote", write_grid(state, "dcgan_early.png"))
batches.close()
print("wrote", write_grid(state, "dcgan_final.png"))

# %% [markdown]
# ## A checkpoint, saved and restored
#
# Orbax saves the state's leaves with the data position and the config. Restoring needs a
# template of the same structure (a fresh `create_state`) and refuses a checkpoint of
# another architecture. The restored state continues exactly where this one stopped.

# %%
manager = checkpoint.open_manager(config.workdir, keep=1)
checkpoint.save(manager, state, {"seed": config.seed}, config)
manager.wait_until_finished()
template = create_state(config, generator, discriminator, source.image_shape, jax.random.key(config.seed))
restored, position, saved_config = checkpoint.restore(manager, int(state.step), template, config)
manager.close()
# The optimisers are code, not leaves: compare what a checkpoint holds.
equal = lambda a, b: np.array_equal(np.asarray(a), np.asarray(b))  # noqa: E731
same = jax.tree.map(equal, state.checkpoint_items(), restored.checkpoint_items())
assert all(jax.tree.leaves(same))
print(f"restored step {int(restored.step)}: all {len(jax.tree.leaves(same))} leaves equal")

# %% [markdown]
# ## The same run from the command line
#
# `python -m experiments.dcgan` does all of the above, plus what a long run needs: batches
# for several devices, periodic grids, checkpoints and evaluation, resuming, stop signals and
# a progress bar. Its flags are the config's fields. Here, 20 steps of it:

# %%

flags = [f"--steps={20 if QUICK else STEPS}", f"--workdir={os.path.join(OUT, 'dcgan_cli')}", "--eval_every=0"]
if DATA_DIR:
  flags.append(f"--data_dir={DATA_DIR}")
assert dcgan.main(flags) == 0

# %% [markdown]
# At the end of this chapter you have `runs/tutorial/dcgan_early.png` and
# `dcgan_final.png` (after 100 and 300 steps in the quick setting: noise turning into
# stroke-like blobs; after 9,500 steps in the full one: the README's digits), a checkpoint
# that restores bitwise, and a command-line run in `runs/tutorial/dcgan_cli`.
