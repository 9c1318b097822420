"""pix2pix's flags (`config.family` of --model=pix2pix) and their checks."""

from __future__ import annotations

import dataclasses

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.families.players import PlayersConfig, validate_players


@dataclasses.dataclass(frozen=True)
class Pix2pixConfig(PlayersConfig):
  """The U-Net G, the PatchGAN D and the objective of Isola et al. 2017."""

  leak: float = 0.2  # the encoder's and D's LeakyReLU slope
  dropout: float = 0.3  # in the decoder's first levels, in training and sampling alike (the paper: 0.5)
  l1_weight: float = 100.0  # lambda of the L1 term
  adversarial_weight: float = 1.0  # G's adversarial term; 0 trains the L1-only U-Net
  input_feature: str = "input"  # the paired dataset's condition image
  target_feature: str = "target"  # the paired dataset's image to produce


CONFIG = Pix2pixConfig  # the registry finds a family's flags by this name


def validate(config: Config) -> None:
  p2p = config.family
  validate_players(p2p)
  if not 0.0 <= p2p.dropout < 1.0:
    raise UsageError(f"--dropout={p2p.dropout} must be in [0, 1).")
  if p2p.leak < 0:
    raise UsageError(f"--leak={p2p.leak} must be non-negative.")
  for name in ("l1_weight", "adversarial_weight"):
    if not getattr(p2p, name) >= 0:
      raise UsageError(f"--{name}={getattr(p2p, name)} must be 0 (off) or positive.")
  if not (p2p.l1_weight or p2p.adversarial_weight):
    raise UsageError("--l1_weight and --adversarial_weight are both 0, so G has nothing to learn; set one.")
  if not p2p.input_feature or not p2p.target_feature or p2p.input_feature == p2p.target_feature:
    raise UsageError("--input_feature and --target_feature must name two different image features of the dataset.")
