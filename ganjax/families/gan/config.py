"""The noise-to-image GANs' flags. Their checks are the config's own (`ganjax.config`): the
losses, regularisers and tricks are this family's, and were written before families were."""

from __future__ import annotations

from ganjax.config import PLAYER_FIELDS

FIELDS = PLAYER_FIELDS + (
  "latent_dim",
  "d_width",
  "leak",
  "dropout",
  "init",
  "g_batchnorm",
  "d_batchnorm",
  "spectral_norm",
  "progressive_steps",
  "num_classes",
  "d_conditioning",
  "loss",
  "real_label",
  "d_steps",
  "gradient_penalty",
  "r1_penalty",
  "clip_weights",
  "d_l2",
  "instance_noise",
  "instance_noise_steps",
  "replay_size",
  "replay_share",
  "ema_decay",
  "ema_warmup",
)
