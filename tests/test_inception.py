"""The FID Inception without torch: the torch.save reader, the weight mapping, the resize, the command.

Parity with pytorch-fid itself needs torch and lives in tests/parity/ (separately runnable).
Files in PyTorch's format are written here by hand: a stand-in `torch` module in
`sys.modules` lets the standard pickler name `torch._utils._rebuild_tensor_v2` and
`torch.FloatStorage` exactly as torch.save does.
"""

import collections
import io
import json
import os
import pickle
import sys
import types
import zipfile

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ganjax import cli
from ganjax.errors import UsageError
from ganjax.metrics import inception, inception_features, torch_file

_STORAGE_NAMES = {
  np.dtype(np.float32): "FloatStorage",
  np.dtype(np.int64): "LongStorage",
  np.dtype(np.float16): "HalfStorage",
}


class _Storage:
  def __init__(self, key, data):
    self.key, self.data = key, data


class _Tensor:
  """Pickles as torch.save pickles a tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

  def __init__(self, storage, offset, size, stride):
    self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

  def __reduce__(self):
    return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


def install_fake_torch(monkeypatch) -> None:
  """Just enough of a `torch` module for pickle to write references to it."""
  torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

  def _rebuild_tensor_v2(*args):
    raise AssertionError("only pickled, never called")

  _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
  utils._rebuild_tensor_v2 = _rebuild_tensor_v2
  torch._utils = utils
  for name in _STORAGE_NAMES.values():
    setattr(torch, name, type(name, (), {"__module__": "torch"}))
  monkeypatch.setitem(sys.modules, "torch", torch)
  monkeypatch.setitem(sys.modules, "torch._utils", utils)


@pytest.fixture
def fake_torch(monkeypatch):
  install_fake_torch(monkeypatch)


def tensors_of(arrays: dict) -> dict:
  """{name: array} -> {name: _Tensor}, each on its own contiguous storage."""
  out = collections.OrderedDict()
  for i, (name, array) in enumerate(arrays.items()):
    array = np.array(array, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    strides = tuple(s // array.itemsize for s in array.strides)
    out[name] = _Tensor(_Storage(str(i), array.ravel()), 0, array.shape, strides)
  return out


def write_torch_file(path, tensors: dict, legacy: bool = False) -> None:
  """torch.save's zip format (or its pre-1.6 stream with `legacy`) of {name: _Tensor}."""
  torch = sys.modules["torch"]
  storages = {}

  def persistent_id(obj):
    if not isinstance(obj, _Storage):
      return None
    storages[obj.key] = obj.data
    record = ("storage", getattr(torch, _STORAGE_NAMES[obj.data.dtype]), obj.key, "cpu", obj.data.size)
    return record + (None,) if legacy else record

  buffer = io.BytesIO()
  pickler = pickle.Pickler(buffer, protocol=2)
  pickler.persistent_id = persistent_id
  pickler.dump(tensors)
  if legacy:
    with open(path, "wb") as f:
      for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, f, protocol=2)
      f.write(buffer.getvalue())
      keys = sorted(storages)
      pickle.dump(keys, f, protocol=2)
      for key in keys:
        f.write(np.int64(storages[key].size).tobytes() + storages[key].tobytes())
    return
  with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
    archive.writestr("archive/data.pkl", buffer.getvalue())
    archive.writestr("archive/byteorder", "little")
    for key, data in storages.items():
      archive.writestr(f"archive/data/{key}", data.tobytes())
    archive.writestr("archive/version", "3\n")


# The torch reader.


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.usefixtures("fake_torch")
def test_torch_file_round_trip_keeps_values_offsets_and_strides(tmp_path, legacy):
  base = np.arange(24, dtype=np.float32)
  shared = _Storage("shared", base)
  tensors = tensors_of(
    {
      "w": np.random.default_rng(0).normal(size=(4, 3, 2, 2)).astype(np.float32),
      "count": np.array(7, np.int64),
      "half": np.linspace(0, 1, 5).astype(np.float16),
    }
  )
  tensors["tail"] = _Tensor(shared, 20, (4,), (1,))  # a view at an offset
  tensors["transposed"] = _Tensor(shared, 0, (4, 3), (1, 4))  # non-contiguous
  path = tmp_path / "t.pth"
  write_torch_file(path, tensors, legacy)
  loaded = torch_file.load(str(path))
  assert list(loaded) == ["w", "count", "half", "tail", "transposed"]
  np.testing.assert_array_equal(loaded["w"], tensors["w"].args[0].data.reshape(4, 3, 2, 2))
  assert loaded["count"].shape == () and loaded["count"] == 7 and loaded["half"].dtype == np.float16
  np.testing.assert_array_equal(loaded["tail"], [20, 21, 22, 23])
  np.testing.assert_array_equal(loaded["transposed"], base[:12].reshape(3, 4).T)


def test_torch_file_refuses_code_and_damage(tmp_path):
  marker = tmp_path / "ran"

  class Payload:
    def __reduce__(self):
      return os.system, (f"touch {marker}",)

  evil = tmp_path / "evil.pth"
  with zipfile.ZipFile(evil, "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"x": Payload()}, protocol=2))
  with pytest.raises(torch_file.TorchFileError, match="system"):
    torch_file.load(str(evil))
  assert not marker.exists()
  garbage = tmp_path / "garbage.pth"
  garbage.write_bytes(b"not a torch file at all")
  with pytest.raises(torch_file.TorchFileError):
    torch_file.load(str(garbage))


@pytest.mark.usefixtures("fake_torch")
def test_torch_file_refuses_a_tensor_past_its_storage(tmp_path):
  path = tmp_path / "short.pth"
  write_torch_file(path, {"x": _Tensor(_Storage("0", np.zeros(4, np.float32)), 2, (3,), (1,))})
  with pytest.raises(torch_file.TorchFileError, match="past the end"):
    torch_file.load(str(path))


# The resize.


def test_bilinear_matrix_is_pytorchs_align_corners_false():
  # F.interpolate(size=4, mode='bilinear', align_corners=False) of 2 pixels, by hand.
  np.testing.assert_allclose(inception.bilinear_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])
  np.testing.assert_array_equal(inception.bilinear_matrix(5, 5), np.eye(5))
  shrink = inception.bilinear_matrix(341, 299)
  np.testing.assert_allclose(shrink.sum(1), 1.0, rtol=1e-6)
  assert (np.count_nonzero(shrink, axis=1) <= 2).all()  # no antialiasing: two taps per pixel


def test_upsampling_agrees_with_jax_image_resize():
  column = np.random.default_rng(0).uniform(size=(1, 28, 1, 1)).astype(np.float32)
  theirs = jax.image.resize(column, (1, 299, 1, 1), "bilinear", antialias=False)[0, :, 0, 0]
  np.testing.assert_allclose(inception.bilinear_matrix(28, 299) @ column[0, :, 0, 0], theirs, atol=2e-6)


# The weights: pytorch-fid's state-dict names and layouts onto the Flax module.


def torch_name_and_shape(path, shape):
  """Independent statement of pytorch-fid's layout: names as in its state dict, OIHW kernels."""
  collection, *modules, leaf = path
  prefix = ".".join(modules)
  if collection == "batch_stats":
    return f"{prefix}.running_{leaf}", shape
  if leaf == "kernel":
    return f"{prefix}.weight", (shape[3], shape[2], shape[0], shape[1]) if len(shape) == 4 else shape[::-1]
  return f"{prefix}.{ {'scale': 'weight', 'bias': 'bias'}[leaf] }", shape


@pytest.fixture(scope="module")
def random_state_dict():
  template = jax.eval_shape(inception.init_variables, jax.random.key(0))
  rng = np.random.default_rng(0)
  state_dict = {}
  for key_path, leaf in jax.tree_util.tree_flatten_with_path(template)[0]:
    name, shape = torch_name_and_shape(tuple(k.key for k in key_path), leaf.shape)
    values = rng.standard_normal(shape, dtype=np.float32) * 0.05
    state_dict[name] = np.abs(values) + 1 if name.endswith("running_var") else values
    if name.endswith("running_var"):
      state_dict[name.replace("running_var", "num_batches_tracked")] = np.array(1, np.int64)
  return state_dict


@pytest.fixture(scope="module")
def weights_file(random_state_dict, tmp_path_factory):
  path = tmp_path_factory.mktemp("inception") / "random_inception.pth"
  with pytest.MonkeyPatch.context() as patch:
    install_fake_torch(patch)
    write_torch_file(path, tensors_of(random_state_dict))
  return str(path)


def test_state_dict_has_pytorch_fids_names_and_shapes(random_state_dict):
  assert len(random_state_dict) == 566  # 94 convs, 94 BatchNorms (5 tensors each), fc weight and bias
  assert random_state_dict["Conv2d_1a_3x3.conv.weight"].shape == (32, 3, 3, 3)
  assert random_state_dict["Mixed_6b.branch7x7_2.conv.weight"].shape == (128, 128, 1, 7)
  assert random_state_dict["Mixed_7c.branch_pool.conv.weight"].shape == (192, 2048, 1, 1)
  assert random_state_dict["Mixed_5b.branch_pool.bn.running_var"].shape == (32,)
  assert random_state_dict["fc.weight"].shape == (1008, 2048)


def test_weights_load_into_the_module_and_run(weights_file, random_state_dict):
  variables = inception_features.load_variables(weights_file)
  kernel = variables["params"]["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"]
  chex.assert_shape(kernel, (1, 7, 128, 128))
  torch_kernel = random_state_dict["Mixed_6b.branch7x7_2.conv.weight"]
  assert kernel[0, 5, 3, 9] == torch_kernel[9, 3, 0, 5]  # [O, I, H, W] -> [H, W, I, O]
  np.testing.assert_array_equal(variables["params"]["fc"]["kernel"], random_state_dict["fc.weight"].T)
  np.testing.assert_array_equal(
    variables["batch_stats"]["Mixed_7c"]["branch_pool"]["bn"]["var"],
    random_state_dict["Mixed_7c.branch_pool.bn.running_var"],
  )
  images = np.random.default_rng(0).integers(0, 256, (1, 28, 28, 1), dtype=np.uint8)
  pool3, logits = inception_features.uint8_features(images, variables, batch_size=1)
  chex.assert_shape([pool3, logits], [(1, 2048), (1, 1008)])
  assert np.isfinite(pool3).all() and (pool3 >= 0).all()  # a mean of ReLUs


@pytest.mark.parametrize(
  "change,fragment",
  [
    (lambda d: d.pop("Mixed_6e.branch_pool.bn.running_mean"), "lacks the tensor Mixed_6e.branch_pool.bn.running_mean"),
    (lambda d: d.update({"fc.weight": np.zeros((1000, 2048), np.float32)}), "holds fc.weight with shape [1000, 2048]"),
    (lambda d: d.update({"AuxLogits.fc.weight": np.zeros((1008, 768), np.float32)}), "does not have (AuxLogits"),
  ],
)
def test_wrong_state_dicts_are_refused(random_state_dict, change, fragment):
  state_dict = dict(random_state_dict)
  change(state_dict)
  with pytest.raises(UsageError) as error:
    inception_features.variables_from_state_dict(state_dict)
  assert fragment in str(error.value)


def test_missing_or_unreadable_weights_are_usage_errors(tmp_path):
  with pytest.raises(UsageError, match="needs --inception_weights"):
    inception_features.load_variables("")
  with pytest.raises(UsageError, match="does not exist"):
    inception_features.load_variables(str(tmp_path / "nowhere.pth"))
  (tmp_path / "bad.pth").write_bytes(b"\x00" * 100)
  with pytest.raises(UsageError, match="not a readable PyTorch state dict"):
    inception_features.load_variables(str(tmp_path / "bad.pth"))


# The command.


def test_evaluate_refuses_inception_without_weights(capsys):
  from experiments import evaluate

  assert cli.run(evaluate.main, ["--real_floor", "--feature_network=inception"]) == 2
  assert "needs --inception_weights" in capsys.readouterr().err
  flags = ["--real_floor", "--feature_network=inception", "--inception_weights=/no/such.pth"]
  assert cli.run(evaluate.main, flags) == 2
  assert "does not exist" in capsys.readouterr().err


def tiny_network(variables, images):
  """A stand-in for the Inception forward pass (minutes on CPU): 16 pooled pixels as features."""
  del variables
  x = images.astype(jnp.float32) / 255.0
  n = x.shape[0]
  features = x[..., :1].reshape(n, 4, 7, 4, 7).mean((2, 4)).reshape(n, 16)
  return features, jnp.pad(8.0 * features, ((0, 0), (0, inception.NUM_CLASSES - 16)))


class StubGenerator:
  """What `load_generator` returns, without training a run: noise images at step 1."""

  config = types.SimpleNamespace(dataset="mnist", family=types.SimpleNamespace(num_classes=0, truncation=0.0))
  step = 1
  source = "a stand-in generator at step 1"  # what the command names as the checkpoint it read
  weights = "g"  # G's own: the stand-in keeps no EMA generator

  def generate(self, num, seed):
    return np.random.default_rng(seed).uniform(-1, 1, (num, 28, 28, 1)).astype(np.float32)


@pytest.mark.slow
def test_evaluate_command_with_inception_features(weights_file, mnist_dir, tmp_path, monkeypatch, capsys):
  from experiments import evaluate
  from ganjax import sampling

  monkeypatch.setattr(
    sampling,
    "load_generator",
    lambda workdir, step, generator, ema_bn_stats="", truncation=None, d_filter=1.0: StubGenerator(),
  )
  monkeypatch.setattr(inception_features, "pool3_and_logits", jax.jit(tiny_network))
  monkeypatch.setattr(inception, "POOL3_DIM", 16)
  status = cli.run(
    evaluate.main,
    [
      f"--workdir={tmp_path}",
      "--num_samples=300",
      "--feature_network=inception",
      f"--inception_weights={weights_file}",
      f"--data_dir={mnist_dir}",
    ],
  )
  assert status == 0, capsys.readouterr().err
  with open(tmp_path / "eval_000001.json") as f:
    report = json.load(f)
  assert {"fid_inception", "kid_inception", "is_inception", "precision_inception", "recall_inception"} <= set(report)
  assert "fid_mnist" not in report and report["num_samples"] == 300 and report["num_reference"] == 10_000
  assert "pytorch-fid's FID variant" in report["feature_network"] and "uint8" in report["feature_network"]
  digest = inception_features.weights_digest(weights_file)
  assert os.path.exists(os.path.join(mnist_dir, "ganjax_reference", f"mnist_test_inception-{digest}_all.npy"))
  assert "fid_inception" in capsys.readouterr().out


def test_samples_are_quantised_to_uint8_before_features(monkeypatch):
  seen = []
  monkeypatch.setattr(
    inception_features,
    "pool3_and_logits",
    lambda v, images: (seen.append(np.asarray(images)), tiny_network(v, images))[1],
  )
  monkeypatch.setattr(
    inception_features,
    "load_variables",
    lambda path: {"params": {"fc": {"bias": np.zeros(inception.NUM_CLASSES, np.float32)}}},
  )
  images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.float32) / 127.5 - 1
  _, probabilities = inception_features.features_and_probabilities(
    np.minimum(images + 1e-3, 1.0), "unused", batch_size=4
  )
  assert seen[0].dtype == np.uint8
  np.testing.assert_array_equal(seen[0][:3], np.rint((images + 1) * 127.5))
  np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
