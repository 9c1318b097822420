#!/usr/bin/env bash
# The PyTorch peer needs torch, which must not enter the project's own environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.torch-venv"
"$here/.torch-venv/bin/pip" install -q torch==2.13.0 numpy
