"""CycleGAN's own flag checks."""

from __future__ import annotations

from ganjax.config import PLAYER_FIELDS, Config
from ganjax.errors import UsageError

FIELDS = PLAYER_FIELDS + ("loss", "cyclegan_blocks", "cycle_weight", "identity_ratio", "history_pool")

# Options of the noise-to-image GANs that mean nothing to CycleGAN: left at their defaults.
CYCLEGAN_UNUSED = (
  "spectral_norm",
  "progressive_steps",
  "num_classes",
  "real_label",
  "d_steps",
  "gradient_penalty",
  "r1_penalty",
  "clip_weights",
  "d_l2",
  "instance_noise",
  "replay_size",
  "ema_decay",
)


def validate(config: Config) -> None:
  """CycleGAN's own ranges, and the GAN-family options it does not take."""
  if config.loss != "lsgan":
    raise UsageError(
      f"CycleGAN trains with least-squares losses (Zhu et al. 2017): use --loss=lsgan, not --loss={config.loss}."
    )
  for name in ("cyclegan_blocks", "cycle_weight", "identity_ratio", "history_pool"):
    if not getattr(config, name) >= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 or positive.")
  defaults = Config()
  for name in CYCLEGAN_UNUSED:
    if getattr(config, name) != getattr(defaults, name):
      raise UsageError(f"--{name} is an option of the noise-to-image GANs that CycleGAN does not take; leave it out.")
  if config.eval_every:
    raise UsageError("CycleGAN evaluates once training ends (results.json), not during it: pass --eval_every=0.")
