"""Penalties on functions with known gradients, spectral norm against SVD, EMA, noise schedule."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ganjax import regularisers
from ganjax.models.layers import normalized


def linear_critic(w):
  return lambda x: jnp.sum(x * w, axis=(1, 2, 3))


def test_gradient_penalty_of_a_linear_critic_is_its_slope_minus_one_squared():
  w = jnp.full((1, 2, 2, 1), 1.0)  # gradient w everywhere, ||w|| = 2
  real, fake = jnp.ones((3, 2, 2, 1)), jnp.zeros((3, 2, 2, 1))
  gp = regularisers.gradient_penalty(linear_critic(w), real, fake, jnp.array([0.1, 0.5, 0.9]))
  np.testing.assert_allclose(gp, (2.0 - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_uses_one_alpha_per_example():
  # critic 1/2 ||x||^2 has gradient x: the norm at x_hat = alpha*real + (1-alpha)*fake is 2*alpha*|r|
  critic = lambda x: 0.5 * jnp.sum(x**2, axis=(1, 2, 3))  # noqa: E731
  real, fake = jnp.ones((2, 2, 2, 1)), jnp.zeros((2, 2, 2, 1))
  alpha = jnp.array([0.25, 1.0])
  expected = np.mean([(2 * 0.25 - 1) ** 2, (2 * 1.0 - 1) ** 2])
  np.testing.assert_allclose(regularisers.gradient_penalty(critic, real, fake, alpha), expected, rtol=1e-5)


def test_r1_penalty_is_the_mean_squared_input_gradient_norm():
  w = jnp.arange(4.0).reshape(1, 2, 2, 1)  # ||w||^2 = 0 + 1 + 4 + 9
  np.testing.assert_allclose(regularisers.r1_penalty(linear_critic(w), jnp.ones((5, 2, 2, 1))), 14.0, rtol=1e-6)


def test_l2_penalty_counts_kernels_not_biases_and_clipping_bounds_every_weight():
  params = {"Dense_0": {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([5.0, 5.0])}}
  np.testing.assert_allclose(regularisers.l2_penalty(params), 5.0)
  clipped = regularisers.clip_weights(params, 0.01)
  assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(clipped)) == np.float32(0.01)


def test_instance_noise_anneals_linearly_to_zero_and_stays_there():
  std = lambda step: float(regularisers.instance_noise_std(jnp.asarray(step), 0.2, 100))  # noqa: E731
  np.testing.assert_allclose([std(0), std(25), std(50), std(100), std(1000)], [0.2, 0.15, 0.1, 0.0, 0.0], atol=1e-7)


def test_top_k_share_falls_linearly_from_all_to_its_final_share_and_stays():
  share = lambda step: float(regularisers.top_k_share(jnp.asarray(step), 0.5, 100))  # noqa: E731
  np.testing.assert_allclose([share(0), share(50), share(100), share(1000)], [1.0, 0.75, 0.5, 0.5], atol=1e-7)


def test_top_k_mask_keeps_the_highest_scored_eligible_rows():
  scores = jnp.array([0.3, -1.0, 2.0, 0.5, 0.9, -0.2])
  everyone = jnp.ones(6, bool)
  mask = lambda share, eligible=everyone: np.asarray(regularisers.top_k_mask(scores, share, eligible))  # noqa: E731
  np.testing.assert_array_equal(mask(0.5), [False, False, True, True, True, False])
  np.testing.assert_array_equal(mask(1.0), [True] * 6)
  np.testing.assert_array_equal(mask(0.01), [False, False, True, False, False, False])  # at least one
  # Only eligible rows compete, and the share is of them: 0.5 of 4 keeps 2.
  eligible = jnp.array([True, True, False, True, False, True])
  np.testing.assert_array_equal(mask(0.5, eligible), [True, False, False, True, False, False])
  # Ties go to the earlier row.
  tied = regularisers.top_k_mask(jnp.zeros(4), 0.5, jnp.ones(4, bool))
  np.testing.assert_array_equal(np.asarray(tied), [True, True, False, False])


def test_ema_update_matches_its_closed_form():
  decay, sequence = 0.9, [jnp.array([0.0]), jnp.array([1.0]), jnp.array([3.0]), jnp.array([-2.0])]
  ema = sequence[0]
  for p in sequence[1:]:
    ema = regularisers.ema_update(ema, p, decay)
  k = len(sequence) - 1
  closed = decay**k * sequence[0] + (1 - decay) * sum(decay ** (k - i) * sequence[i] for i in range(1, k + 1))
  np.testing.assert_allclose(ema, closed, rtol=1e-6)


class SpectralDense(nn.Module):
  @nn.compact
  def __call__(self, x, train):
    return normalized(nn.Dense(6, use_bias=False), True, x, train)


def test_spectral_norm_estimate_converges_to_the_largest_singular_value():
  model, x = SpectralDense(), jnp.ones((2, 5))
  variables = model.init(jax.random.key(0), x, train=False)
  stats = variables["batch_stats"]
  for _ in range(30):  # one power iteration per training call, as in training
    _, updates = model.apply({**variables, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
    stats = updates["batch_stats"]
  kernel = np.asarray(variables["params"]["Dense_0"]["kernel"])
  top = np.linalg.svd(kernel, compute_uv=False)[0]
  sigma = float(jax.tree.leaves({k: v for k, v in stats["SpectralNorm_Dense_0"].items() if k.endswith("sigma")})[0])
  np.testing.assert_allclose(sigma, top, rtol=1e-4)
  # The normalised layer is then 1-Lipschitz: its output is x @ (W / sigma).
  y = model.apply({**variables, "batch_stats": stats}, x, train=False)
  np.testing.assert_allclose(y, np.asarray(x) @ kernel / top, rtol=1e-3, atol=1e-5)
