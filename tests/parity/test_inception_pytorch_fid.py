"""Parity with pytorch-fid 0.3.0: ganjax's FID Inception gives its pool3 features to within 1e-4.

Separately runnable, not part of CI: pytorch-fid needs torch and torchvision (5.5 GB), which
live in their own environment and never in ganjax's. Without that environment this test
skips and says so. To run it:

    python3 -m venv benchmarks/.torch-fid-venv
    benchmarks/.torch-fid-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 pytorch-fid==0.3.0 numpy scipy pillow
    python -m pytest tests/parity/test_inception_pytorch_fid.py -s    # about a minute on 2 CPU cores

`GANJAX_TORCH_FID_PYTHON` names another interpreter that has pytorch-fid. The exporter
(benchmarks/inception_parity/export_pytorch_fid.py) builds pytorch-fid's network with random
weights, saves them in both torch.save formats and runs it on uint8 images of four sizes;
here ganjax reads those files without torch and compares.
"""

import os
import pathlib
import subprocess

import numpy as np
import pytest

from ganjax.metrics import inception_features, torch_file

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPORTER = ROOT / "benchmarks" / "inception_parity" / "export_pytorch_fid.py"
TORCH_PYTHON = os.environ.get(
  "GANJAX_TORCH_FID_PYTHON", str(ROOT / "benchmarks" / ".torch-fid-venv" / "bin" / "python")
)
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> pathlib.Path:
  if not os.path.exists(TORCH_PYTHON):
    pytest.skip(
      f"pytorch-fid parity needs the torch environment {TORCH_PYTHON} (5.5 GB, kept out of CI); "
      "the module docstring says how to make it."
    )
  out = tmp_path_factory.mktemp("pytorch_fid")
  env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
  result = subprocess.run(
    [TORCH_PYTHON, str(EXPORTER), str(out)], capture_output=True, text=True, timeout=900, env=env, check=False
  )
  assert result.returncode == 0, result.stderr[-3000:]
  return out


def test_both_torch_save_formats_read_the_same(exported):
  zipped = torch_file.load(str(exported / "weights.pth"))
  legacy = torch_file.load(str(exported / "weights_legacy.pth"))
  assert list(zipped) == list(legacy) and len(zipped) == 566
  for name, array in zipped.items():
    np.testing.assert_array_equal(legacy[name], array, err_msg=name)


def test_pool3_features_match_pytorch_fid(exported):
  variables = inception_features.load_variables(str(exported / "weights.pth"))
  expected = np.load(exported / "features.npz")
  worst = {}
  for name in sorted({k.rsplit("_", 1)[0] for k in expected.files}):
    images = expected[f"{name}_images"]
    pool3, logits = inception_features.uint8_features(images, variables, batch_size=len(images))
    worst[name] = float(np.max(np.abs(pool3 - expected[f"{name}_pool3"])))
    # The features differ between images far more than the tolerance: the comparison can fail.
    assert np.std(expected[f"{name}_pool3"], axis=0).mean() > 100 * TOLERANCE
    np.testing.assert_allclose(logits, expected[f"{name}_logits"], atol=10 * TOLERANCE)
  print(f"\nmax |pool3 - pytorch-fid pool3| per image set: {worst}")
  assert max(worst.values()) < TOLERANCE, worst
