"""The model families by name: which package trains a config's `--model`.

Every package under `ganjax.families` is a family: its `__init__` names the `MODELS` it trains
and whether it is `SCORED_AFTER_TRAINING`; its `task.make_task(config)` builds the `Task` the
loop runs; its optional `config.validate(config)` checks its own flags; a family scored after
training has `evaluate.evaluate(config, state) -> dict`. Adding a family is one new package
(and an experiment file); nothing here names one. A family that lives elsewhere (a user's own
package, a test's toy family) joins with `register`.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
  from ganjax.config import Config
  from ganjax.train.task import Task

PACKAGE = "ganjax.families"

# Families outside ganjax.families, by package name, in the order registered. A registry is
# process state by nature: `register` is the one way in, and it only ever adds.
_registered: list[str] = []


def register(package: str) -> None:
  """Makes the family package `package` (importable by that name) trainable by its MODELS."""
  importlib.import_module(package)
  if package not in _registered:
    _registered.append(package)


def _packages() -> list[str]:
  root = importlib.import_module(PACKAGE)
  found = [f"{PACKAGE}.{m.name}" for m in pkgutil.iter_modules(root.__path__) if m.ispkg]
  return sorted(found) + _registered


def models() -> dict[str, str]:
  """--model name -> the package of the family that trains it."""
  table = {}
  for package in _packages():
    for model in importlib.import_module(package).MODELS:
      table[model] = package
  return table


def family(model: str) -> types.ModuleType:
  """The family package that trains `model` (KeyError for a model no family trains)."""
  return importlib.import_module(models()[model])


def family_name(model: str) -> str:
  """The family's short name: 'gan' for dcgan and mlp, 'srgan', ..."""
  return family(model).__name__.rsplit(".", 1)[-1]


def scored_after_training(model: str) -> bool:
  return bool(family(model).SCORED_AFTER_TRAINING)


def _module(model: str, name: str) -> types.ModuleType | None:
  package = family(model).__name__
  try:
    return importlib.import_module(f"{package}.{name}")
  except ModuleNotFoundError as e:
    if e.name != f"{package}.{name}":  # a missing import inside the module is a real error
      raise
    return None


def family_fields(model: str) -> tuple[str, ...]:
  """The Config fields `model`'s family takes beyond RUN_FIELDS; every field when it lists none."""
  import dataclasses

  from ganjax.config import Config  # a cycle

  checks = _module(model, "config")
  if checks is None or not hasattr(checks, "FIELDS"):
    return tuple(f.name for f in dataclasses.fields(Config))
  return tuple(checks.FIELDS)


def validate(config: Config) -> None:
  """The family's own flag checks (`<family>.config.validate`), then one rule for every family
  that lists its `config.FIELDS`: a flag it does not take (beyond the config's RUN_FIELDS) is
  an error naming it, not silently ignored."""
  import dataclasses

  from ganjax.config import RUN_FIELDS, Config  # a cycle
  from ganjax.errors import UsageError

  checks = _module(config.model, "config")
  if checks is not None and hasattr(checks, "validate"):
    checks.validate(config)
  taken, defaults = set(RUN_FIELDS) | set(family_fields(config.model)), Config()
  for field in dataclasses.fields(Config):
    if field.name not in taken and getattr(config, field.name) != getattr(defaults, field.name):
      raise UsageError(
        f"--{field.name} is not an option of --model={config.model} "
        f"(the {family_name(config.model)} family); leave it out."
      )


def make_task(config: Config) -> Task:
  return _module(config.model, "task").make_task(config)


def evaluate_after_training(config: Config, state) -> dict:
  """A finished run's scores, by its family's `evaluate.evaluate(config, state)`."""
  return _module(config.model, "evaluate").evaluate(config, state)
