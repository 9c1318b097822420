#!/usr/bin/env bash
# The speed issue's GPU check in one command (issue 14): ganjax's DCGAN train step (the peers'
# network, then the default's) next to the PyTorch peer on the same GPU, batch 64, 256 and 1024.
#
#   bash benchmarks/gpu_quick.sh [PEERS_DIR] [STEPS]
#
# Needs a python with jax[cuda], flax, optax, orbax and grain, and torch with CUDA for the
# peer. Each row is its own process; ganjax's first row is repeated after the peer, so the
# table shows how much the machine drifted. Quote ratios from one run.
set -u
peers=${1:-../shared/peers}
steps=${2:-200}
python=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
$python -c "import jax, flax, optax, torch; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__, jax.devices())"
for batch in ${BATCHES:-64 256 1024}; do
  echo "== batch $batch, $steps timed steps"
  echo -n "ganjax (peers' network): "; $python benchmarks/train_step.py --only=ganjax --batch=$batch --steps=$steps
  echo -n "pytorch peer on GPU: "; $python benchmarks/peer_on_gpu.py "$peers/torch_dcgan.py" $batch $steps | tr '\n' ' '; echo
  echo -n "pytorch peer on GPU, cudnn.benchmark: "
  $python benchmarks/peer_on_gpu.py --cudnn_benchmark "$peers/torch_dcgan.py" $batch $steps | tr '\n' ' '; echo
  echo -n "ganjax again: "; $python benchmarks/train_step.py --only=ganjax --batch=$batch --steps=$steps
  echo -n "ganjax default network (width 32, lazy R1, EMA): "
  $python benchmarks/train_step.py --only=ganjax --network=default --batch=$batch --steps=$steps
done
