"""CycleGAN's own flag checks."""

from __future__ import annotations

from ganjax.config import PLAYER_FIELDS, Config
from ganjax.errors import UsageError

FIELDS = PLAYER_FIELDS + ("loss", "cyclegan_blocks", "cycle_weight", "identity_ratio", "history_pool")


def validate(config: Config) -> None:
  """CycleGAN's own ranges. The GAN-family options it does not take (not in FIELDS) are refused
  by the registry's rule for every family."""
  if config.loss != "lsgan":
    raise UsageError(
      f"CycleGAN trains with least-squares losses (Zhu et al. 2017): use --loss=lsgan, not --loss={config.loss}."
    )
  for name in ("cyclegan_blocks", "cycle_weight", "identity_ratio", "history_pool"):
    if not getattr(config, name) >= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 or positive.")
  if config.eval_every:
    raise UsageError("CycleGAN evaluates once training ends (results.json), not during it: pass --eval_every=0.")
