"""Runs a PyTorch step peer (../shared/peers/torch_dcgan.py) on the GPU, its code unchanged.

    python benchmarks/peer_on_gpu.py ../shared/peers/torch_dcgan.py 256 200
    python benchmarks/peer_on_gpu.py --cudnn_benchmark ../shared/peers/torch_dcgan.py 256 200

The peer builds its tensors and modules with torch's defaults and times its loop with
`time.perf_counter`. This sets torch's default device to CUDA, so the same code runs there,
and makes `perf_counter` wait for the GPU first: CUDA launches are asynchronous, and the peer's
clock would otherwise stop before its last steps have run. `--cudnn_benchmark` lets cuDNN time
its convolution algorithms first and keep the fastest (the peer as written does not).
"""

import resource
import runpy
import sys
import time

import torch


def main() -> None:
  if len(sys.argv) < 2 or sys.argv[1:] == ["--cudnn_benchmark"]:
    print("Usage: python benchmarks/peer_on_gpu.py [--cudnn_benchmark] PEER_SCRIPT [ARGS...]", file=sys.stderr)
    sys.exit(2)
  if not torch.cuda.is_available():
    sys.exit("No CUDA device: this launcher times the peer on a GPU only.")
  if sys.argv[1] == "--cudnn_benchmark":
    torch.backends.cudnn.benchmark = True
    sys.argv = sys.argv[1:]
  torch.set_default_device("cuda")
  wall_clock = time.perf_counter

  def synchronized_clock() -> float:
    torch.cuda.synchronize()
    return wall_clock()

  time.perf_counter = synchronized_clock
  script = sys.argv[1]
  sys.argv = sys.argv[1:]
  runpy.run_path(script, run_name="__main__")
  device = torch.cuda.get_device_name().replace(" ", "_")
  print(f"device={device} peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
  main()
