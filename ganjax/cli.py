"""Shared command line: flags from the Config fields, accelerator choice, one-line errors.

Every experiment calls `run(defaults, train_fn)`; a user's mistake ends with one sentence
on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence

from ganjax.config import ACCELERATORS, RUN_FIELDS, RUN_SECTIONS, Config, validate
from ganjax.errors import UsageError, report_full_disk_once

INSTALL_HINT = {
  "gpu": "install the CUDA build of JAX (pip install -e '.[cuda]') or use --accelerator=cpu",
  "tpu": "install the TPU build of JAX (pip install -e '.[tpu]') on a TPU VM or use --accelerator=cpu",
}


class Parser(argparse.ArgumentParser):
  """argparse, but a bad flag is a UsageError (one line, status 2) like every other mistake, and
  a flag is spelled out: argparse's prefix matching would read `--progress=false` as
  `--progressive_steps` and a typo as whichever flag it happens to start."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, allow_abbrev=False, **kwargs)

  def error(self, message):  # argparse would print the usage block too
    raise UsageError(f"{message} (see --help).")


def checkpoint_step(text: str) -> int | str:
  """`--step` of the commands that read a checkpoint: a step number or `best`."""
  if text == "best":
    return text
  try:
    return int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a step number or best, got {text!r}") from None


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
  """`--generator`, `--ema_bn_stats`, `--truncation` and `--d_filter` of the commands that draw
  from a checkpoint."""
  parser.add_argument(
    "--generator",
    choices=("auto", "ema", "g"),
    default="auto",
    help="the weights that draw: auto (the EMA generator's when the run kept one), ema, or g (G's own)",
  )
  parser.add_argument(
    "--ema_bn_stats",
    choices=("", "g", "standing"),
    default="",
    help="the EMA generator's BatchNorm statistics: g (G's running averages) or standing "
    "(recomputed for the EMA weights); empty: as the run was configured",
  )
  parser.add_argument(
    "--truncation",
    type=float,
    default=None,
    help="draw each noise coordinate from the normal truncated to (-t, t) (Brock et al. 2019); "
    "0: the full normal; default: as the run was configured",
  )
  parser.add_argument(
    "--d_filter",
    type=float,
    default=1.0,
    help="keep this share of the draws, those the run's own D scores most real (discriminator "
    "filtering, after Azadi et al. 2019's rejection sampling); 1: all",
  )


def _parse_bool(text: str) -> bool:
  if text.lower() in ("1", "true", "yes"):
    return True
  if text.lower() in ("0", "false", "no"):
    return False
  raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def choose_preset(defaults: Config, presets: Mapping[str, Config], argv: Sequence[str] | None) -> Config:
  """The defaults that `--preset=NAME` in `argv` names (an experiment's other documented
  settings, e.g. the tutorial's), or `defaults` without one."""
  if not presets:
    return defaults
  pre = Parser(add_help=False)
  pre.add_argument("--preset", default="")
  known, _ = pre.parse_known_args(argv)
  if known.preset and known.preset not in presets:
    raise UsageError(f"--preset={known.preset} is not one of {', '.join(presets)}.")
  return presets[known.preset] if known.preset else defaults


def field_comments(cls: type = Config) -> dict[str, str]:
  """Each field's trailing comment in the source of a config dataclass (and the dataclasses it
  extends): its --help line."""
  comments = {}
  for klass in reversed(cls.__mro__):
    if dataclasses.is_dataclass(klass):
      source = inspect.getsource(klass)
      comments.update(
        {m.group(1): m.group(2).strip() for m in re.finditer(r"^  (\w+): [^=\n]+=[^#\n]+#(.*)$", source, re.M)}
      )
  return comments


def _add_config_flags(parser: argparse.ArgumentParser, defaults: Config) -> None:
  """A flag per run field and per field of the experiment's family, in --help sections. The
  other families' flags stay out of --help but parse, so that the family refuses them by name.
  A flag left out keeps the experiment's value: only the flags given reach `Config.replace`."""
  from ganjax.train import registry

  family = registry.family_name(defaults.model) if defaults.family is not None else None
  comments = field_comments() | (field_comments(type(defaults.family)) if family else {})
  values = defaults.flat()
  sections = {name: parser.add_argument_group(f"{name} flags") for name in RUN_SECTIONS}
  if family:
    sections[family] = parser.add_argument_group(f"the {family} family's flags (--model={defaults.model})")
  where = {field: section for section, fields in RUN_SECTIONS.items() for field in fields}
  own = registry.family_fields(defaults.model) if family else ()
  where.update({name: family for name in own})
  types = registry.flag_types()
  for name in [*RUN_FIELDS, *own, *(n for n in types if n not in where)]:
    kind = types[name]
    group = sections[where[name]] if name in where else None
    about = f"{comments[name]} " if name in comments else ""
    (group or parser).add_argument(
      f"--{name}",
      type=_parse_bool if kind is bool else kind,
      default=argparse.SUPPRESS,
      help=f"{about}(default: {values[name]!r})" if group else argparse.SUPPRESS,
    )


def parse_flags(
  defaults: Config, argv: Sequence[str] | None, description: str = "", presets: Mapping[str, Config] | None = None
) -> Config:
  """`--name=value` for every flag of the run and of the experiment's family, over the
  experiment's values (or those of the `--preset` chosen from `presets`)."""
  from ganjax.train import registry

  defaults = choose_preset(defaults, presets or {}, argv)
  parser = Parser(
    description=description,
    usage=f"python -m experiments.{os.path.splitext(os.path.basename(sys.argv[0]))[0]} [--flag=value ...]",
    formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's own lines
  )
  if presets:
    parser.add_argument(
      "--preset",
      default="",
      help=f"start from other defaults: {', '.join(presets)} (the other flags still override them)",
    )
  _add_config_flags(parser, defaults)
  given = vars(parser.parse_args(argv))
  given.pop("preset", None)
  model, models = given.get("model", defaults.model), registry.models()
  if model in models and defaults.model in models and models[model] != models[defaults.model]:
    own = registry.family_name(defaults.model)
    raise UsageError(
      f"--model={model} is a model of the {registry.family_name(model)} family; this experiment trains "
      f"the {own} family's ({', '.join(m for m, p in models.items() if p == models[defaults.model])})."
    )
  return validate(defaults.replace(**given))


def select_accelerator(name: str) -> None:
  """Points JAX at the requested platform; must run before JAX starts a backend."""
  if name not in ACCELERATORS:
    raise UsageError(f"--accelerator={name} is not one of {', '.join(ACCELERATORS)}.")
  import jax

  if name == "cpu":
    jax.config.update("jax_platforms", "cpu")
    return
  if name == "auto":
    return
  try:
    found = jax.devices(name)
  except RuntimeError:
    found = []
  if not found:
    raise UsageError(f"--accelerator={name} was asked for but JAX sees no {name.upper()}; {INSTALL_HINT[name]}.")


def quiet_libraries() -> None:
  """TensorFlow and absl chatter would bury the progress bar."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  # TensorFlow only prepares data here; its oneDNN banner is noise (it computes nothing).
  os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
  import absl.logging

  absl.logging.set_verbosity(absl.logging.ERROR)


def start_backend(accelerator: str, config: Config | None = None) -> None:
  """What every command does before touching JAX: quiet the libraries, join the other
  processes of a distributed run (`config`'s --num_processes), pick the platform. The
  project's XLA flags (ganjax.xla_flags) are set first: XLA reads them when JAX starts."""
  from ganjax.xla_flags import set_xla_flags

  set_xla_flags()
  quiet_libraries()
  if config is not None:
    from ganjax import distributed

    distributed.initialize(config)
  select_accelerator(accelerator)


def run(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> int:
  """Calls `main(argv)`; a UsageError becomes one line on stderr and status 2."""
  report_full_disk_once()
  try:
    main(argv)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    if getattr(e, "exit_immediately", False):  # see ganjax.distributed.LostContact
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(2)
    return 2
  except KeyboardInterrupt:  # only before training starts: the loop handles SIGINT itself
    print("Interrupted before training started; nothing was saved.", file=sys.stderr)
    return 130
  return 0


def run_experiment(
  defaults: Config,
  argv: Sequence[str] | None = None,
  description: str = "",
  presets: Mapping[str, Config] | None = None,
) -> int:
  """Parses flags over `defaults` (or a `--preset` of `presets`), picks the accelerator, trains,
  for the families scored once at the end (ganjax.train.results) scores the finished run, and
  ends with a summary of where the results are (ganjax.train.summary). Returns the exit status."""

  def main(args):
    started = time.perf_counter()
    config = parse_flags(defaults, args, description, presets)
    start_backend(config.accelerator, config)
    from ganjax import distributed
    from ganjax.train import results, summary
    from ganjax.train.loop import train_and_evaluate

    state = train_and_evaluate(config)
    results.evaluate_after_training(config, state)
    if distributed.is_primary():  # the others' copies of the same lines would only repeat them
      command = summary.experiment_command(defaults, args)
      for line in summary.closing_lines(config, int(state.step), time.perf_counter() - started, command):
        print(line)

  return run(main, argv)
