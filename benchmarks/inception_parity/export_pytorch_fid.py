"""pytorch-fid's InceptionV3 with random weights: its weights, some images and their pool3 features.

Runs in the separate torch environment (torch must never enter ganjax's own):

    python3 -m venv benchmarks/.torch-fid-venv
    benchmarks/.torch-fid-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 pytorch-fid==0.3.0 numpy scipy pillow
    benchmarks/.torch-fid-venv/bin/python benchmarks/inception_parity/export_pytorch_fid.py OUT_DIR

Writes into OUT_DIR: `weights.pth` (torch.save's zip format), `weights_legacy.pth` (the
pre-1.6 format, which older published files use), and `features.npz` with, per image set,
`<set>_images` (uint8 NHWC, what both sides read) plus pytorch-fid's `<set>_pool3` [N, 2048]
and `<set>_logits` [N, 1008]. `tests/parity/test_inception_pytorch_fid.py` runs this and
compares ganjax's features with them.

The real FID weights are never downloaded: pytorch-fid's `fid_inception_v3` fetches them
with `load_state_dict_from_url`, which is replaced by a function that hands back a freshly
built network's own (random) state dict. Random weights with PyTorch's initial
BatchNorm statistics (mean 0, variance 1) would make the features vanish or explode, so
BatchNorm gets random scales and shifts and then running statistics measured on a batch of
noise: features are O(1) and every BatchNorm term matters.
"""

import argparse
import os

import numpy as np
import torch
import torchvision
from pytorch_fid import inception as fid_inception

# (name, [N, H, W, C]): MNIST-sized grey (replicated to RGB), native 299, non-square
# upsampling, and downsampling (no antialiasing in pytorch-fid's resize).
IMAGE_SETS = (
  ("grey28", (4, 28, 28, 1)),
  ("rgb299", (2, 299, 299, 3)),
  ("rgb48x80", (2, 48, 80, 3)),
  ("rgb341x320", (2, 341, 320, 3)),
)


def random_state_dict(seed: int) -> dict:
  """A key-compatible random state dict: torchvision's Inception with the FID layout's 1008 classes."""
  torch.manual_seed(seed)
  net = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=True)
  return net.state_dict()


def as_input(images: np.ndarray) -> torch.Tensor:
  """uint8 [N, H, W, 1 or 3] -> float [N, 3, H, W] in [0, 1], as torchvision's ToTensor makes it."""
  x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
  return x.expand(-1, 3, -1, -1) if images.shape[-1] == 1 else x


def randomise_batch_norms(net: torch.nn.Module, calibration: torch.Tensor, seed: int) -> None:
  """Random BatchNorm scales and shifts, then running statistics measured on `calibration`.

  The statistics come last so that they account for everything upstream: each layer's
  output is then O(1), neither vanishing nor exploding through the 94 layers, and the
  means and variances are far from PyTorch's initial 0 and 1. `calibration` is [N, 3, 299,
  299] in [-1, 1]: the test images themselves, so that smooth (upsampled) and rough images
  both give features of order 1.
  """
  generator = torch.Generator().manual_seed(seed)
  batch_norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
  with torch.no_grad():
    for bn in batch_norms:
      c = bn.num_features
      bn.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=generator))
      # Positive shifts keep most ReLUs in their linear part. With zero-mean shifts this random
      # net is chaotic: float32 rounding (1e-7) grows ~1.6x per block, to 1e-4 at pool3 on
      # both sides alike, which would hide what the test is for (the real weights are tamer).
      bn.bias.copy_(torch.empty(c).uniform_(0.0, 1.0, generator=generator))
      bn.reset_running_stats()
      bn.momentum = None  # a cumulative average: after one pass, that batch's statistics
    net.fc.bias.copy_(0.5 * torch.randn(net.fc.out_features, generator=generator))
    net.train()
    net(calibration)
  net.eval()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("out_dir")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  os.makedirs(args.out_dir, exist_ok=True)
  torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

  rng = np.random.default_rng(args.seed)
  images = {name: rng.integers(0, 256, shape, dtype=np.uint8) for name, shape in IMAGE_SETS}
  calibration = (
    torch.cat([torch.nn.functional.interpolate(as_input(x), size=(299, 299), mode="bilinear") for x in images.values()])
    * 2
    - 1
  )

  handed_out = {"state_dict": random_state_dict(args.seed)}
  fid_inception.load_state_dict_from_url = lambda *args, **kwargs: handed_out["state_dict"]
  net = fid_inception.fid_inception_v3()  # the FID layout, loaded with the random weights
  randomise_batch_norms(net, calibration, args.seed)
  state_dict = net.state_dict()
  torch.save(state_dict, os.path.join(args.out_dir, "weights.pth"))
  torch.save(state_dict, os.path.join(args.out_dir, "weights_legacy.pth"), _use_new_zipfile_serialization=False)

  # The feature extractor pytorch-fid's fid_score uses, built the usual way (pool3 block).
  handed_out["state_dict"] = state_dict
  model = fid_inception.InceptionV3([fid_inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
  arrays = {}
  with torch.no_grad():
    for name, x in images.items():
      pool3 = model(as_input(x))[0][:, :, 0, 0]
      arrays[f"{name}_images"] = x
      arrays[f"{name}_pool3"] = pool3.numpy()
      arrays[f"{name}_logits"] = net.fc(pool3).numpy()
  np.savez(os.path.join(args.out_dir, "features.npz"), **arrays)
  scale = np.mean([np.abs(v).mean() for k, v in arrays.items() if k.endswith("_pool3")])
  print(
    f"pytorch-fid {fid_inception.__name__}: {len(IMAGE_SETS)} image sets, mean |pool3| {scale:.3g}, "
    f"written to {args.out_dir}"
  )


if __name__ == "__main__":
  main()
