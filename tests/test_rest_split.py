import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import rest_split  # noqa: E402

from experiments import dcgan  # noqa: E402


def test_each_knockout_leaves_out_only_a_part_the_network_has():
  """The default has an EMA, D's BatchNorm and no dropout, the tutorial preset dropout and
  neither of the others; each variant differs from its network in the one part named, and
  passes the config's checks."""
  default = dict(rest_split.knockouts(dcgan.DEFAULTS))
  assert list(default) == [
    "the EMA update of G's weights",
    "G's BatchNorm (G then has biases)",
    "D's BatchNorm",
    "Adam's moments (plain SGD instead)",
  ]
  assert default["the EMA update of G's weights"].family.ema_decay == 0.0
  assert not default["G's BatchNorm (G then has biases)"].family.g_batchnorm
  assert not default["D's BatchNorm"].family.d_batchnorm
  assert default["Adam's moments (plain SGD instead)"].family.g_optimizer == "sgd"
  for without in default.values():
    assert (without.width, without.batch_size, without.family.r1_penalty) == (32, 64, 1.0)

  tutorial = dict(rest_split.knockouts(dcgan.TUTORIAL))
  assert "D's dropout" in tutorial and "the EMA update of G's weights" not in tutorial
  assert tutorial["D's dropout"].family.dropout == 0.0


def test_the_lazy_r1_variant_times_a_step_that_pays_the_penalty():
  from ganjax.families.gan.step import lazy_r1_due

  for every in (1, 4, 16):
    index = rest_split.r1_step_index(every)
    assert index >= 1 and lazy_r1_due(index, every)
  assert not lazy_r1_due(1, 16)  # the ordinary step the others time
