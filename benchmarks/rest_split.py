"""What the DCGAN step spends outside its convolutions, split by knocking parts out.

    python benchmarks/rest_split.py                       # the default network, batch 64
    python benchmarks/rest_split.py --batches=64,256 --rounds=5

`conv_share.py` gives the convolutions' time and "the rest". This splits the rest: the same
step is compiled with one part left out at a time (the EMA update of G's weights, G's or
D's BatchNorm, Adam's moments in place of plain SGD), and each variant is timed in interleaved
rounds with the full step in one process. A part's cost is the full step's time minus the
variant's. Lazy R1 is timed the other way round: its step (every 16th of the default's) minus
an ordinary one, spread over the 16 steps it covers.

The parts interact (XLA fuses across them), so the costs are estimates that need not add up
to the rest; read them against the rounds' spread, which is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from ganjax.xla_flags import set_xla_flags  # noqa: E402

set_xla_flags()  # what a run computes with

from conv_share import seconds_per_call  # noqa: E402
from dcgan_step import add_network_arguments, network_configs, step_caller  # noqa: E402

from ganjax.families.gan.step import lazy_r1_due, lazy_r1_on  # noqa: E402

# Each variant: (what it leaves out, whether the config has it, the changes that leave it out).
KNOCKOUTS = (
  (
    "the EMA update of G's weights",
    lambda c: c.family.ema_decay > 0,
    {"ema_decay": 0.0, "ema_warmup": False, "ema_bn_stats": "g"},
  ),
  ("D's dropout", lambda c: c.family.dropout > 0, {"dropout": 0.0}),
  ("G's BatchNorm (G then has biases)", lambda c: c.family.g_batchnorm, {"g_batchnorm": False}),
  ("D's BatchNorm", lambda c: c.family.d_batchnorm, {"d_batchnorm": False}),
  (
    "Adam's moments (plain SGD instead)",
    lambda c: c.family.g_optimizer == c.family.d_optimizer == "adam",
    {"g_optimizer": "sgd", "d_optimizer": "sgd"},
  ),
)


def knockouts(config) -> list[tuple[str, object]]:
  """(what is left out, the config without it) for each part `config` has, each validated."""
  from ganjax.config import validate

  return [(name, validate(config.replace(**changes))) for name, has_it, changes in KNOCKOUTS if has_it(config)]


def r1_step_index(every: int) -> int:
  """The first step after step 0 that pays lazy R1 (step 0 compiles before the timing)."""
  return next(i for i in range(1, 2 * every + 1) if bool(lazy_r1_due(i, every)))


def measure(config, rounds: int, steps: int) -> dict[str, list[float]]:
  # Step 1 is an ordinary step (step 0 pays lazy R1).
  variants = {"full step": step_caller(config, 1)}
  if lazy_r1_on(config.family):
    variants["lazy R1's step"] = step_caller(config, r1_step_index(config.family.r1_every))
  for name, without in knockouts(config):
    variants[f"without {name}"] = step_caller(without, 1)
  times = {name: [] for name in variants}
  for _ in range(rounds):
    for name, call in variants.items():
      times[name].append(1e3 * seconds_per_call(call, (), steps))
  return times


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  add_network_arguments(parser, batches="64", steps=20)
  args = parser.parse_args(argv)
  for config in network_configs(parser, args):
    batch_size = config.batch_size
    times = measure(config, args.rounds, args.steps)
    full = statistics.median(times["full step"])
    print(f"{args.preset or 'default'} network, batch {batch_size}: median of {args.rounds} rounds, ms per step")
    print(f"  {'variant':<50} {'ms':>8} {'cost':>8} {'share':>7}  rounds")
    for name, values in times.items():
      ms = statistics.median(values)
      if name == "full step":
        cost = None
      elif name == "lazy R1's step":
        cost = (ms - full) / config.family.r1_every  # spread over the steps it covers
      else:
        cost = full - ms
      cost_text = f"{cost:8.2f} {100 * cost / full:6.1f}%" if cost is not None else f"{'':8} {'':7}"
      print(f"  {name:<50} {ms:8.2f} {cost_text}  {', '.join(f'{v:.1f}' for v in values)}")
    sys.stdout.flush()


if __name__ == "__main__":
  main()
