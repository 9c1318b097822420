"""What every two-player family (a G and a D, each its own optimiser) shares: its optimiser
flags and the optimisers they build."""

from __future__ import annotations

import dataclasses

import optax

from ganjax.config import Config
from ganjax.errors import UsageError
from ganjax.train.schedules import make_optimizer, make_schedule

OPTIMIZERS = ("adam", "rmsprop", "sgd")


@dataclasses.dataclass(frozen=True)
class PlayersConfig:
  """G's and D's optimisers; --lr, --b1, --b2 and the schedule are the run's."""

  g_optimizer: str = "adam"  # adam | rmsprop | sgd
  d_optimizer: str = "adam"  # adam | rmsprop | sgd
  d_lr: float = 0.0  # 0: same as --lr; set it for two time-scale updates (Heusel et al. 2017)
  d_weight_decay: float = 0.0  # decoupled weight decay of D's optimizer (AdamW)


def validate_players(players: PlayersConfig) -> None:
  for name in ("g_optimizer", "d_optimizer"):
    if getattr(players, name) not in OPTIMIZERS:
      raise UsageError(f"--{name}={getattr(players, name)} is not one of {', '.join(OPTIMIZERS)}.")
  for name in ("d_lr", "d_weight_decay"):
    if not getattr(players, name) >= 0:
      raise UsageError(f"--{name}={getattr(players, name)} must be 0 (off) or positive.")


def player_schedules(config: Config) -> tuple[optax.Schedule, optax.Schedule]:
  """(G's, D's) learning rate as functions of the training step."""
  return make_schedule(config, config.lr), make_schedule(config, config.family.d_lr or config.lr)


def player_optimizers(
  config: Config, d_updates_per_step: int = 1
) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
  """G's and D's optimisers; D's schedule counts steps when it updates several times per step."""
  players = config.family
  g_schedule, d_schedule = player_schedules(config)
  return (
    make_optimizer(players.g_optimizer, config, g_schedule),
    make_optimizer(players.d_optimizer, config, d_schedule, d_updates_per_step, players.d_weight_decay),
  )
