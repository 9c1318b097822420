"""Each adversarial loss against hand-computed values on tiny logits."""

import jax
import numpy as np
import pytest

from ganjax import losses

REAL, FAKE = np.array([2.0, -1.0], np.float32), np.array([0.5, -3.0], np.float32)


def sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def classifier_d_loss(real_label):
  real_term = real_label * np.log(sigmoid(REAL)) + (1 - real_label) * np.log(1 - sigmoid(REAL))
  return -np.mean(real_term) - np.mean(np.log(1 - sigmoid(FAKE)))


@pytest.mark.parametrize(
  "name, real_label, d_expected, g_expected",
  [
    ("non_saturating", 1.0, classifier_d_loss(1.0), -np.mean(np.log(sigmoid(FAKE)))),
    ("non_saturating", 0.9, classifier_d_loss(0.9), -np.mean(np.log(sigmoid(FAKE)))),
    ("minimax", 1.0, classifier_d_loss(1.0), np.mean(np.log(1 - sigmoid(FAKE)))),
    # mean(fake) - mean(real) = -1.25 - 0.5; -mean(fake) = 1.25
    ("wgan", 1.0, -1.75, 1.25),
    ("wgan_gp", 1.0, -1.75, 1.25),
    # 1/2 mean((r-1)^2) + 1/2 mean(f^2) = 1/2 (1+4)/2 + 1/2 (0.25+9)/2; 1/2 mean((f-1)^2) = 1/2 (0.25+16)/2
    ("lsgan", 1.0, 3.5625, 4.0625),
    # 1/2 mean((r-0.9)^2) = 1/2 (1.21 + 3.61)/2 = 1.205, + 2.3125
    ("lsgan", 0.9, 3.5175, 4.0625),
    # mean(relu(1-r)) = (0+2)/2; mean(relu(1+f)) = (1.5+0)/2; -mean(f) = 1.25
    ("hinge", 1.0, 1.75, 1.25),
  ],
)
def test_loss_values(name, real_label, d_expected, g_expected):
  loss = losses.make_loss(name, real_label)
  np.testing.assert_allclose(loss.d_loss(REAL, FAKE), d_expected, rtol=1e-5)
  np.testing.assert_allclose(loss.g_loss(FAKE), g_expected, rtol=1e-5)


def test_minimax_generator_saturates_where_non_saturating_does_not():
  confident_reject = np.array([-10.0], np.float32)  # D is sure the fake is fake
  minimax = jax.grad(losses.minimax_g_loss)(confident_reject)
  non_saturating = jax.grad(losses.non_saturating_g_loss)(confident_reject)
  assert abs(minimax[0]) < 1e-4 < abs(non_saturating[0])


def test_unknown_loss_is_refused():
  with pytest.raises(ValueError):
    losses.make_loss("nope")
