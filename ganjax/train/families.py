"""Which Task a config's `--model` trains: the model families by name."""

from __future__ import annotations

import importlib

from ganjax.config import Config
from ganjax.train.task import Task

# --model -> the module whose `make_task(config)` builds its Task.
FAMILIES = {
    "dcgan": "ganjax.train.gan",
    "mlp": "ganjax.train.gan",
    "cyclegan": "ganjax.train.cyclegan",
    "srgan": "ganjax.train.srgan",
    "vae": "ganjax.train.vae",
    "pix2pix": "ganjax.train.pix2pix",
}


def make_task(config: Config) -> Task:
  return importlib.import_module(FAMILIES[config.model]).make_task(config)
