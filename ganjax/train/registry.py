"""The model families by name: which package trains a config's `--model`.

Every package under `ganjax.families` is a family: its `__init__` names the `MODELS` it trains
and whether it is `SCORED_AFTER_TRAINING`; its `task.make_task(config)` builds the `Task` the
loop runs; its optional `config` module holds the frozen dataclass of its own flags (`CONFIG`,
a run's `config.family`) and `validate(config)`, their checks; a family scored after
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


def family_config(model: str) -> type:
  """The frozen dataclass of `model`'s family's own flags (`<family>.config.CONFIG`), or the
  empty `NoFamilyFlags` of a family that takes none."""
  from ganjax.config import NoFamilyFlags  # a cycle

  module = _module(model, "config")
  return getattr(module, "CONFIG", NoFamilyFlags) if module is not None else NoFamilyFlags


def family_fields(model: str) -> tuple[str, ...]:
  """The flags `model`'s family takes beyond the run's."""
  import dataclasses

  return tuple(f.name for f in dataclasses.fields(family_config(model)))


def flag_types() -> dict[str, type]:
  """Every flag any family takes, the run's first, with its type: what the command line parses."""
  from ganjax.config import field_types  # a cycle

  types = field_types()
  for model in models():
    for name, kind in field_types(family_config(model)).items():
      types.setdefault(name, kind)
  return types


def validate(config: Config) -> None:
  """The family's own flag checks (`<family>.config.validate`). A flag the family does not take
  has no place in its config at all: `Config.replace` refuses it by name."""
  module = _module(config.model, "config")
  if module is not None and hasattr(module, "validate"):
    module.validate(config)


def make_task(config: Config) -> Task:
  return _module(config.model, "task").make_task(config)


def evaluate_after_training(config: Config, state) -> dict:
  """A finished run's scores, by its family's `evaluate.evaluate(config, state)`."""
  return _module(config.model, "evaluate").evaluate(config, state)
