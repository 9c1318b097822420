"""The registry: every family package is found by name, the core imports none of them, and a
family defined outside ganjax (here a toy one, written by the test) trains through the
ordinary loop, saves a checkpoint and resumes exactly."""

import ast
import importlib
import pathlib
import sys
import textwrap

import numpy as np
import pytest

from ganjax.config import Config, validate
from ganjax.errors import UsageError
from ganjax.train import registry

ROOT = pathlib.Path(__file__).resolve().parents[1]
FAMILIES = {
  "gan": {"dcgan", "mlp"},
  "cyclegan": {"cyclegan"},
  "srgan": {"srgan"},
  "pix2pix": {"pix2pix"},
  "vae": {"vae"},
}


def test_every_family_package_is_found_with_its_models():
  found = {}
  for model, package in registry.models().items():
    found.setdefault(package.rsplit(".", 1)[-1], set()).add(model)
  assert {k: v for k, v in found.items() if k in FAMILIES} == FAMILIES


@pytest.mark.parametrize(
  "module", sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "ganjax").rglob("*.py"))
)
def test_every_module_imports(module):
  importlib.import_module(module.removesuffix(".__init__"))


def _imports(path: pathlib.Path) -> set[str]:
  names = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module:
      names.add(node.module)
    elif isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
  return names


def test_the_core_imports_no_family():
  core = [p for p in (ROOT / "ganjax").rglob("*.py") if "families" not in p.parts]
  offenders = {
    str(p.relative_to(ROOT)): sorted(n for n in _imports(p) if n.startswith("ganjax.families")) for p in core
  }
  assert not {k: v for k, v in offenders.items() if v}


def test_every_flag_a_family_reads_is_one_its_config_has():
  # `config.family.X` must be a field of the family's own dataclass and `config.X` a run field
  # (a family reading another's flag, or a run field it thinks is its own, fails here, not
  # halfway through a run).
  import dataclasses
  import re

  from ganjax.config import RUN_FIELDS

  run_names = set(RUN_FIELDS) | {"family", "replace", "flat", "to_json"}
  wrong = {}
  for model, package in registry.models().items():
    folder = ROOT / pathlib.Path(*package.split("."))
    own = {f.name for f in dataclasses.fields(registry.family_config(model))}
    for path in folder.glob("*.py"):
      text = path.read_text()
      missing = set(re.findall(r"\bconfig\.family\.(\w+)", text)) - own
      missing |= set(re.findall(r"\bconfig\.(?!family\b)(\w+)", text)) - run_names
      if missing:
        wrong[f"{model}: {path.name}"] = sorted(missing)
  assert not wrong


def test_a_flag_of_another_family_is_refused_by_name():
  with pytest.raises(UsageError, match="--spectral_norm is not an option of --model=vae \\(the vae family\\)"):
    Config.from_flags(model="vae", spectral_norm=True)
  # The same name can mean different things to two families: each has its own default.
  assert Config.from_flags(model="srgan").family.adversarial_weight == 1e-3
  assert Config.from_flags(model="pix2pix").family.adversarial_weight == 1.0


def test_a_config_reads_back_from_its_json_and_from_the_flat_layout_of_older_workdirs():
  import json

  config = Config.from_flags(model="pix2pix", width=8, l1_weight=50.0)
  assert Config.from_dict(json.loads(config.to_json())) == config
  flat = config.flat() | {"latent_dim": 100, "spectral_norm": False}  # the old layout had every field
  assert Config.from_dict(flat) == config


def test_a_family_checks_its_own_flags_through_the_registry():
  with pytest.raises(UsageError, match="--likelihood=student"):
    validate(Config.from_flags(model="vae", likelihood="student"))
  with pytest.raises(UsageError, match="--model=stylegan is not one of"):
    validate(Config.from_flags(model="stylegan"))


TOY_INIT = '''
"""A toy family: least squares of y = w.x + b on fixed random data, trained by SGD."""
MODELS = ("toy_linear",)
SCORED_AFTER_TRAINING = False
'''

TOY_TASK = """
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from ganjax import images, rng
from ganjax.train.task import Task, pmean


class Source:
  def __init__(self):
    data = np.random.default_rng(0)
    self.x = data.normal(size=(256, 3)).astype(np.float32)
    self.y = (self.x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * data.normal(size=256)).astype(np.float32)

  def __len__(self):
    return len(self.x)

  def read(self, indices):
    return {"x": self.x[indices], "y": self.y[indices]}


class ToyState(struct.PyTreeNode):
  step: jax.Array
  params: dict
  opt_state: optax.OptState
  tx: optax.GradientTransformation = struct.field(pytree_node=False)

  def checkpoint_items(self):
    return {"step": self.step, "params": self.params, "opt_state": self.opt_state}

  def with_checkpoint_items(self, items):
    return self.replace(**items)


def make_task(config):
  tx = optax.sgd(config.lr, momentum=0.9)
  params = {"w": jnp.zeros(3), "b": jnp.zeros(())}
  state = ToyState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), tx=tx)

  def make_step(phase):
    def step(state, batch, seed_key):
      # Randomness folded from the run's key and the step, as every family draws it.
      noise = 0.01 * jax.random.normal(rng.step_key(seed_key, state.step), (3,))

      def loss(p):
        return jnp.mean((batch["x"] @ (p["w"] + noise) + p["b"] - batch["y"]) ** 2)

      value, grads = jax.value_and_grad(loss)(state.params)
      grads = pmean(grads, "data")
      updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
      return (state.replace(step=state.step + 1, params=optax.apply_updates(state.params, updates),
                            opt_state=opt_state), pmean({"loss": value}, "data"))
    return step

  def write_samples(host_state, step, path):
    images.save_png(path, np.zeros((8, 8, 1), np.uint8))

  return Task(state=state, source=Source(), make_step=make_step, write_samples=write_samples,
              progress=(("loss", "loss"),), curves=(("loss", ("loss",)),))
"""


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
  package = tmp_path / "toy_family"
  package.mkdir()
  (package / "__init__.py").write_text(textwrap.dedent(TOY_INIT))
  (package / "task.py").write_text(textwrap.dedent(TOY_TASK))
  monkeypatch.syspath_prepend(str(tmp_path))
  registry.register("toy_family")
  yield "toy_linear"
  registry._registered.remove("toy_family")
  for name in [n for n in sys.modules if n.startswith("toy_family")]:
    del sys.modules[name]


def test_a_family_from_outside_trains_saves_and_resumes_through_the_loop(toy_family, tmp_path):
  from ganjax.train.loop import train_and_evaluate

  config = validate(
    Config.from_flags(
      model=toy_family,
      lr=0.05,
      batch_size=16,
      steps=4,
      checkpoint_every=2,
      log_every=1,
      sample_every=2,
      eval_every=0,
      workdir=str(tmp_path / "straight"),
    )
  )
  straight = train_and_evaluate(config)
  assert int(straight.step) == 4
  assert (tmp_path / "straight" / "checkpoints" / "4").is_dir()
  resumed_dir = str(tmp_path / "resumed")
  assert int(train_and_evaluate(config.replace(steps=2, workdir=resumed_dir)).step) == 2
  resumed = train_and_evaluate(config.replace(workdir=resumed_dir))
  assert int(resumed.step) == 4
  for a, b in zip(np.asarray(straight.params["w"]), np.asarray(resumed.params["w"])):
    assert a == b  # bitwise: the resumed run read the same batches and noise
  assert np.abs(np.asarray(straight.params["w"])).sum() > 0  # it learned something


@pytest.mark.parametrize(
  "model, flag",
  [
    ("vae", "spectral_norm"),
    ("pix2pix", "d_steps"),
    ("srgan", "dropout"),
    ("cyclegan", "latent_dim"),
    ("dcgan", "beta"),
  ],
)
def test_a_flag_the_family_does_not_take_is_refused_by_name(model, flag):
  value = {"spectral_norm": True, "d_steps": 2, "dropout": 0.5, "latent_dim": 7, "beta": 2.0}[flag]
  extra = {"loss": "lsgan", "eval_every": 0} if model == "cyclegan" else {}
  with pytest.raises(UsageError, match=f"--{flag}"):
    validate(Config.from_flags(model=model, **extra, **{flag: value}))


def test_replace_keeps_the_family_within_it_and_starts_afresh_in_another():
  from ganjax.families.vae.config import VAEConfig

  dcgan = Config.from_flags(ema_decay=0.99, latent_dim=8)
  mlp = dcgan.replace(model="mlp")
  assert (mlp.family.ema_decay, mlp.family.latent_dim) == (0.99, 8)  # dcgan and mlp: one family
  assert dcgan.replace(model="vae").family == VAEConfig()
  assert dcgan.replace(model="vae", latent_dim=4).family == VAEConfig(latent_dim=4)
  with pytest.raises(UsageError, match="--model=stylegan is not one of"):
    dcgan.replace(model="stylegan", latent_dim=4)
