"""pix2pix's own flag checks."""

from __future__ import annotations

from ganjax.config import PLAYER_FIELDS, Config
from ganjax.errors import UsageError

FIELDS = PLAYER_FIELDS + ("leak", "dropout", "l1_weight", "adversarial_weight", "input_feature", "target_feature")


def validate(config: Config) -> None:
  for name in ("l1_weight", "adversarial_weight"):
    if not getattr(config, name) >= 0:
      raise UsageError(f"--{name}={getattr(config, name)} must be 0 (off) or positive.")
  if not (config.l1_weight or config.adversarial_weight):
    raise UsageError("--l1_weight and --adversarial_weight are both 0, so G has nothing to learn; set one.")
  if not config.input_feature or not config.target_feature or config.input_feature == config.target_feature:
    raise UsageError("--input_feature and --target_feature must name two different image features of the dataset.")
