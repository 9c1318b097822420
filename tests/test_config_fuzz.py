"""Property tests of the command line: random invalid configs end in one line and status 2,
random valid ones parse back to themselves and build a step.

Generic over the DCGAN experiment's flags (the run's fields and the GAN family's): every flag
gets values of the wrong type, and flags named in the tables below also out-of-range values
and valid ranges. A field added
later is fuzzed with wrong types at once and, until a table names it, keeps its default in
the valid configs.
"""

import contextlib
import io

import jax
import jax.numpy as jnp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experiments import dcgan
from ganjax import cli
from ganjax import config as config_lib
from ganjax.config import Config
from ganjax.families import gan as gan_family
from ganjax.families import players
from ganjax.families.gan import config as gan_config
from ganjax.families.gan.state import create_state
from ganjax.families.gan.step import make_train_step
from ganjax.models import build_gan
from ganjax.train import registry
from ganjax.train.guards import skip_nonfinite

DEVICES = 4  # tests/conftest.py
TYPES = config_lib.field_types() | config_lib.field_types(gan_config.GANConfig)
DEFAULTS = Config().flat()  # the run's and the GAN family's own defaults
CHOICES = {
  "model": tuple(registry.models()),
  "init": gan_config.INITS,
  "loss": gan_config.LOSSES,
  "accelerator": config_lib.ACCELERATORS,
}
POSITIVE = (
  "latent_dim",
  "width",
  "batch_size",
  "steps",
  "log_every",
  "sample_every",
  "checkpoint_every",
  "keep_checkpoints",
  "d_steps",
  "decay_steps",
  "cycle_steps",
)
NON_NEGATIVE = (
  "gradient_penalty",
  "r1_penalty",
  "clip_weights",
  "d_l2",
  "d_weight_decay",
  "instance_noise",
  "instance_noise_steps",
  "top_k_steps",
  "replay_size",
  "d_lr",
  "warmup_steps",
  "num_classes",
  "image_size",
  "progressive_steps",
  "d_extra_convs",
)

# Text that does not parse as the field's type.
NOT_OF_TYPE = {
  int: st.sampled_from(["ten", "1.5", "", "1e3", "0x10", "--"]),
  float: st.sampled_from(["abc", "", "nan", "inf", "-inf", "1e400", "1,5"]),
  bool: st.sampled_from(["maybe", "2", "", "on?"]),
}


def out_of_range(name):
  """Values of the right type that the config must refuse, or None if any value goes."""
  if name in POSITIVE:
    return st.integers(max_value=0)
  if name in NON_NEGATIVE:
    return st.integers(max_value=-1) if TYPES[name] is int else st.floats(max_value=-1e-9, allow_infinity=False)
  if name in CHOICES:
    return st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12).filter(
      lambda v: v not in CHOICES[name]
    )
  return {
    "eval_every": st.integers(max_value=-1),
    "lr": st.floats(max_value=0.0, allow_nan=False),
    "b1": st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0)),
    "b2": st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0)),
    "dropout": st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0)),
    "leak": st.floats(max_value=-1e-9),
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63)),
    "workdir": st.just(""),
    "dataset": st.sampled_from(["", "not_a_dataset", "mnist_but_wrong"]),
    "real_label": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0 + 1e-6, allow_infinity=False)),
    "ema_decay": st.one_of(st.floats(max_value=-1e-9, allow_infinity=False), st.floats(min_value=1.0)),
    "top_k": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0 + 1e-6, allow_infinity=False)),
    "min_lr_ratio": st.one_of(st.floats(max_value=-1e-9, allow_infinity=False), st.floats(min_value=1.0 + 1e-6)),
    "decay_rate": st.floats(max_value=0.0, allow_infinity=False),
    "num_processes": st.integers(max_value=-1),
  }.get(name)


@st.composite
def invalid_flags(draw):
  """[flag, ...extra flags] where the first makes the configuration invalid."""
  name = draw(st.sampled_from(list(TYPES)))
  choices = [NOT_OF_TYPE[TYPES[name]]] if TYPES[name] in NOT_OF_TYPE else []
  if out_of_range(name) is not None:
    choices.append(out_of_range(name).map(str))
  combination = []
  if name == "batch_size":  # also: a batch that does not split over the devices
    choices.append(st.integers(1, 64).filter(lambda b: b % DEVICES).map(str))
  if name == "eval_samples":  # only nonsense while evaluation is on
    choices.append(st.integers(max_value=256).map(str))
    combination = ["--eval_every=10"]
  if name == "process_id":  # only nonsense for a given number of processes
    choices.append(st.one_of(st.integers(max_value=-1), st.integers(min_value=3)).map(str))
    combination = ["--num_processes=3"]
  if not choices:
    return draw(invalid_flags())  # a free-form field (a path): any text is a value
  return [f"--{name}={draw(st.one_of(choices))}", *combination]


def valid_values(mnist_dir, workdir):
  """A strategy per field; fields not named keep the experiment's default."""
  unit = st.floats(0.0, 0.999)
  return {
    "model": st.sampled_from(gan_family.MODELS),
    "init": st.sampled_from(gan_config.INITS),
    "loss": st.sampled_from(gan_config.LOSSES),
    "accelerator": st.just("cpu"),
    "latent_dim": st.integers(1, 32),
    "width": st.integers(1, 12),
    "leak": st.floats(0.0, 1.0),
    "dropout": unit,
    "b1": unit,
    "b2": unit,
    "lr": st.floats(1e-7, 1.0),
    "batch_size": st.integers(1, 8).map(lambda k: k * DEVICES),
    "steps": st.integers(1, 10**6),
    "seed": st.integers(0, 2**63 - 1),
    "log_every": st.integers(1, 10**4),
    "sample_every": st.integers(1, 10**4),
    "checkpoint_every": st.integers(1, 10**4),
    "keep_checkpoints": st.integers(1, 10),
    "eval_every": st.integers(0, 10**4),
    "eval_samples": st.integers(257, 5000),
    "skip_nonfinite": st.booleans(),
    "dataset": st.just("mnist"),
    "data_dir": st.just(mnist_dir),
    "workdir": st.just(workdir),
    # The GAN family's switches; `consistent` below repairs the combinations validate refuses.
    "g_batchnorm": st.booleans(),
    "d_batchnorm": st.booleans(),
    "spectral_norm": st.booleans(),
    "real_label": st.floats(0.5, 1.0),
    "d_steps": st.integers(1, 3),
    "gradient_penalty": st.floats(0.0, 20.0),
    "r1_penalty": st.floats(0.0, 10.0),
    "d_l2": st.floats(0.0, 1e-2),
    "d_weight_decay": st.floats(0.0, 1e-2),
    "instance_noise": st.floats(0.0, 0.5),
    "instance_noise_steps": st.integers(0, 1000),
    "top_k": st.floats(0.05, 1.0),
    "top_k_steps": st.integers(0, 1000),
    "replay_size": st.sampled_from([0, 16]),
    "replay_share": st.floats(0.1, 0.9),
    "ema_decay": unit,
    "g_optimizer": st.sampled_from(players.OPTIMIZERS),
    "d_optimizer": st.sampled_from(players.OPTIMIZERS),
    "d_lr": st.floats(0.0, 1e-2),
    "lr_schedule": st.sampled_from(config_lib.LR_SCHEDULES),
    "num_classes": st.sampled_from([0, 10]),
    "d_conditioning": st.sampled_from(gan_config.CONDITIONINGS),
    "progressive_steps": st.sampled_from([0, 50]),
    "d_extra_convs": st.sampled_from([0, 1]),
  }


def consistent(values: dict) -> dict:
  """`values` with the combinations the config refuses repaired (each repair a documented rule)."""
  v = dict(values)
  if v["loss"] != "wgan":
    v["clip_weights"] = 0.0
  elif not (v["spectral_norm"] or v["gradient_penalty"]):
    v["clip_weights"] = 0.01
  if v["loss"] == "wgan_gp" and not v["gradient_penalty"]:
    v["gradient_penalty"] = 10.0
  if v["loss"] not in gan_config.LABELLED_LOSSES:
    v["real_label"] = 1.0
  if v["gradient_penalty"]:
    v["d_batchnorm"] = False
  if v["model"] != "dcgan" or v["replay_size"]:
    v["progressive_steps"] = 0
  if v["replay_size"]:
    v["num_classes"] = 0
  if v["model"] != "dcgan" or v["progressive_steps"]:
    v["d_extra_convs"] = 0
  return v


def run_cli(argv):
  err = io.StringIO()
  with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    status = dcgan.main(argv)
  return status, err.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flags=invalid_flags())
def test_invalid_configurations_end_in_one_line_and_status_2(flags, mnist_dir, tmp_path_factory):
  base = [
    "--accelerator=cpu",
    "--steps=1",
    "--eval_every=0",
    "--width=4",
    "--latent_dim=4",
    f"--data_dir={mnist_dir}",
    f"--workdir={tmp_path_factory.getbasetemp() / 'fuzz_run'}",
    "--batch_size=8",
  ]
  status, err = run_cli(base + flags)  # argparse: the last of repeated flags wins
  lines = err.strip().splitlines()
  assert status == 2, (flags, err)
  assert "Traceback" not in err, err
  assert lines and lines[-1].startswith("error: ") and len(lines[-1]) < 400, (flags, err)
  assert sum(line.startswith("error:") for line in lines) == 1, err


@pytest.mark.slow
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_configurations_parse_back_and_build_a_step(data, mnist_dir, tmp_path_factory):
  strategies = valid_values(mnist_dir, str(tmp_path_factory.getbasetemp() / "fuzz_valid"))
  values = consistent(
    {
      name: data.draw(strategies[name], label=name) if name in strategies else default
      for name, default in DEFAULTS.items()
    }
  )
  config = Config.from_flags(**values)
  argv = [f"--{name}={value!r}" if isinstance(value, float) else f"--{name}={value}" for name, value in values.items()]
  assert cli.parse_flags(dcgan.DEFAULTS, argv) == config

  # Traced, not compiled or run: the shapes and the code paths are what is being checked.
  generator, discriminator = build_gan(config, (28, 28, 1), axis_name=None)
  state = jax.eval_shape(
    lambda key: create_state(config, generator, discriminator, (28, 28, 1), key), jax.random.key(config.seed)
  )
  step = make_train_step(config, generator, discriminator, axis_name=None)
  if config.skip_nonfinite:
    step = skip_nonfinite(step, axis_name=None)
  local = config.family.d_steps * config.batch_size // DEVICES
  batch = {
    "image": jax.ShapeDtypeStruct((local, 28, 28, 1), jnp.float32),
    "label": jax.ShapeDtypeStruct((local,), jnp.int32),
  }
  new_state, metrics = jax.eval_shape(step, state, batch, jax.random.key(0))
  assert new_state.step.shape == () and metrics["d_loss"].shape == ()
