"""CycleGAN's flags (`config.family` of --model=cyclegan) and their checks (Zhu et al. 2017).
The generators' and PatchGAN Ds' base width is --width (64 in the paper)."""

from __future__ import annotations

import dataclasses

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.families.players import PlayersConfig, validate_players


@dataclasses.dataclass(frozen=True)
class CycleGANConfig(PlayersConfig):
  """Two generators, two PatchGAN Ds, least-squares losses, cycle and identity terms."""

  loss: str = "lsgan"  # the least-squares GAN losses, the only ones CycleGAN takes
  cyclegan_blocks: int = 9  # residual blocks of each generator (paper: 6 at 128x128, 9 at 256x256)
  cycle_weight: float = 10.0  # lambda: weight of the L1 cycle-consistency losses, A->B->A and B->A->B
  identity_ratio: float = 0.5  # identity loss weight as a multiple of --cycle_weight (paper: 0.5); 0: off
  history_pool: int = 50  # past fakes kept for each D (paper: 50); 0: D sees only the latest fakes


CONFIG = CycleGANConfig  # the registry finds a family's flags by this name


def validate(config: Config) -> None:
  """CycleGAN's own ranges."""
  cycle = config.family
  validate_players(cycle)
  if cycle.loss != "lsgan":
    raise UsageError(
      f"CycleGAN trains with least-squares losses (Zhu et al. 2017): use --loss=lsgan, not --loss={cycle.loss}."
    )
  for name in ("cyclegan_blocks", "cycle_weight", "identity_ratio", "history_pool"):
    if not getattr(cycle, name) >= 0:
      raise UsageError(f"--{name}={getattr(cycle, name)} must be 0 or positive.")
  if config.eval_every:
    raise UsageError("CycleGAN evaluates once training ends (results.json), not during it: pass --eval_every=0.")
