"""Which weights a trained run samples with: the EMA generator's by default, G's own on request."""

import chex
import jax
import numpy as np
import pytest

from ganjax.errors import UsageError
from ganjax.sampling import load_generator
from ganjax.train.loop import train_and_evaluate


def test_generator_flag_picks_the_ema_or_g_weights(tiny_config):
  state = train_and_evaluate(tiny_config.replace(ema_decay=0.5, eval_every=0))
  auto = load_generator(tiny_config.workdir)
  ema = load_generator(tiny_config.workdir, generator="ema")
  own = load_generator(tiny_config.workdir, generator="g")
  assert (auto.weights, ema.weights, own.weights) == ("ema", "ema", "g")
  chex.assert_trees_all_close(auto.g_params, jax.device_get(state.g_ema_params))
  chex.assert_trees_all_close(own.g_params, jax.device_get(state.g_params))
  assert not np.allclose(auto.generate(8), own.generate(8))


def test_asking_for_an_ema_generator_a_run_did_not_keep_is_refused(tiny_config):
  train_and_evaluate(tiny_config.replace(steps=2, eval_every=0))
  assert load_generator(tiny_config.workdir).weights == "g"
  with pytest.raises(UsageError, match="kept no EMA generator"):
    load_generator(tiny_config.workdir, generator="ema")
