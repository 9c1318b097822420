"""The train step: a pure function `train_step(state, batch, seed_key) -> (state, metrics)`.

Built by `make_train_step` from the config, so every static choice (loss, regularisers,
tricks, D steps, axis) is made before tracing: what a run does not use is not in its graph.
Written for one device: with `axis_name='data'` it averages gradients, batch statistics
and metrics over that pmap axis; with `axis_name=None` it can be jitted and called directly.

Update order:
- `d_steps == 1` (the DCGAN tutorial's simultaneous update): G runs forward once and D once
  on the fakes; both players' gradients come from those passes (G's through the D before
  its update).
- `d_steps > 1` (WGAN's Algorithm 1): `d_steps` D updates, each on its own real minibatch
  and fresh fakes, then one G update against the updated D.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from ganjax import losses, regularisers, rng
from ganjax.config import Config
from ganjax.families.gan import replay
from ganjax.families.gan.state import GANState
from ganjax.families.players import player_schedules
from ganjax.models import progressive
from ganjax.train.task import pmean

Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def lazy_r1_on(family) -> bool:
  """Whether R1 is lazy: paid on every `r1_every`-th step only, by a second step program."""
  return family.r1_penalty > 0 and family.r1_every > 1


def lazy_r1_due(step, r1_every: int):
  """Whether the step numbered `step` (0-based) pays lazy R1: 0, k, 2k, ... (int or array)."""
  return step % r1_every == 0


def make_train_step(
  config: Config,
  generator: nn.Module,
  discriminator: nn.Module,
  axis_name: str | None = "data",
  stage: int | None = None,
  r1_due: bool | None = None,
) -> Callable[[GANState, Batch, jax.Array], tuple[GANState, Metrics]]:
  """`generator` and `discriminator` must be built with the same `axis_name`.

  The batch holds `config.family.d_steps` real minibatches, one after the other on each device.
  With progressive growing, `stage` (static: it sets the resolution) picks the step of that
  stage; its fade-in weight follows from the state's step.

  With lazy R1 (`r1_every` > 1), `r1_due` says whether this step function is for the steps
  that pay the penalty (`lazy_r1_due`). None decides inside the step, from the state's step,
  with `lax.cond`: right for any caller, but XLA:CPU runs convolutions inside a conditional
  on a slow generic path (the R1 step 3.7x slower at batch 64), so the training loop compiles
  one step for each case instead.
  """
  loss = losses.make_loss(config.family.loss, config.family.real_label)
  g_schedule, d_schedule = player_schedules(config)
  noise_anneal_steps = config.family.instance_noise_steps or config.steps
  top_k_anneal_steps = config.family.top_k_steps or config.steps

  def growth(step):
    """The models' progressive-growing arguments at `step` (none without growing)."""
    if stage is None:
      return {}
    return {"stage": stage, "alpha": progressive.alpha_at(step, stage, config.family.progressive_steps)}

  def generate(g_params, g_batch_stats, z, labels, step):
    fake, updates = generator.apply(
      {"params": g_params, "batch_stats": g_batch_stats},
      z,
      train=True,
      labels=labels,
      mutable=["batch_stats"],
      **growth(step),
    )
    return fake, updates.get("batch_stats", g_batch_stats)

  def discriminate(d_params, d_batch_stats, images, labels, key, step):
    """D's outputs [N] in training mode, and its batch_stats after this pass."""
    logits, updates = discriminator.apply(
      {"params": d_params, "batch_stats": d_batch_stats},
      images,
      train=True,
      labels=labels,
      rngs={"dropout": key},
      mutable=["batch_stats"],
      **growth(step),
    )
    return logits, updates.get("batch_stats", d_batch_stats)

  def noisy(images, step, key):
    """D's input with instance noise, when it is on."""
    if not config.family.instance_noise:
      return images
    std = regularisers.instance_noise_std(step, config.family.instance_noise, noise_anneal_steps)
    return images + std * rng.example_normal(key, images.shape, axis_name)

  def latents(key, local_batch):
    return rng.example_normal(rng.stream(key, "noise"), (local_batch, config.family.latent_dim), axis_name)

  def g_loss_on_fresh(fake_logits, replaced, step):
    """G's loss over the fakes D saw fresh (all of them without replay), and with top-k
    training only over the share of those that D scores highest.

    With replay or top-k, each device sums its kept examples' terms and divides by the global
    kept count over the device count, so the pmean over devices is the global mean. Top-k
    ranks the global batch (D's scores gathered from every device), so a pmapped step keeps
    the fakes one device would.
    """
    if replaced is None and config.family.top_k == 1.0:
      return loss.g_loss(fake_logits)
    terms = jax.vmap(lambda logit: loss.g_loss(logit[None]))(fake_logits)
    devices = jax.lax.psum(1, axis_name) if axis_name else 1
    if config.family.top_k == 1.0:  # replay alone: the fresh count is known from the share
      global_batch = fake_logits.shape[0] * devices
      global_fresh = global_batch - jnp.floor(global_batch * config.family.replay_share)
      return jnp.sum(jnp.where(replaced, 0.0, terms)) * devices / global_fresh
    local = fake_logits.shape[0]
    fresh = jnp.ones(local, bool) if replaced is None else ~replaced
    scores = jax.lax.stop_gradient(fake_logits)
    if axis_name:  # in device order: global example i sits at row i, as on one device
      scores, fresh = (jax.lax.all_gather(x, axis_name, tiled=True) for x in (scores, fresh))
    share = regularisers.top_k_share(step, config.family.top_k, top_k_anneal_steps)
    kept_globally = regularisers.top_k_mask(scores, share, fresh)
    kept = kept_globally
    if axis_name:
      kept = jax.lax.dynamic_slice_in_dim(kept_globally, jax.lax.axis_index(axis_name) * local, local)
    return jnp.sum(jnp.where(kept, terms, 0.0)) * devices / jnp.sum(kept_globally).astype(jnp.float32)

  def d_objective(d_params, d_batch_stats, real, fake, labels, replaced, step, key):
    """D's loss (adversarial + penalties) and, from the same pass, G's loss on the fresh fakes.

    The rows of `fake` where `replaced` is true (None: no replay) come from the replay
    buffer: constants that D sees and G's loss leaves out. A conditional model's fakes were
    drawn for the reals' `labels` (None when unconditional): D sees the same class mix in
    both, and the gradient penalty interpolates within a class.
    """
    real_logits, stats = discriminate(
      d_params,
      d_batch_stats,
      noisy(real, step, rng.stream(key, "noise_real")),
      labels,
      rng.stream(key, "dropout_real"),
      step,
    )
    fake_logits, stats = discriminate(
      d_params, stats, noisy(fake, step, rng.stream(key, "noise_fake")), labels, rng.stream(key, "dropout_fake"), step
    )
    d_adversarial = loss.d_loss(real_logits, fake_logits)
    penalties = {}

    def critic(images):  # for the input-gradient penalties; its batch_stats updates are dropped
      return discriminate(d_params, stats, images, labels, rng.stream(key, "dropout_penalty"), step)[0]

    if config.family.gradient_penalty:
      alpha = jax.vmap(lambda k: jax.random.uniform(k))(
        rng.example_keys(rng.stream(key, "gp_alpha"), real.shape[0], axis_name)
      )
      penalties["gradient_penalty"] = config.family.gradient_penalty * regularisers.gradient_penalty(
        critic, real, fake, alpha
      )
    if config.family.r1_penalty:
      every = config.family.r1_every
      weight = 0.5 * config.family.r1_penalty * every

      def r1_term():
        return weight * regularisers.r1_penalty(critic, real)

      if every == 1 or r1_due:
        penalties["r1_penalty"] = r1_term()
      elif r1_due is None:
        penalties["r1_penalty"] = jax.lax.cond(lazy_r1_due(step, every), r1_term, lambda: jnp.zeros((), jnp.float32))
      else:  # a lazy step without it: logged as 0, so the curve averages to its weight per step
        penalties["r1_penalty"] = jnp.zeros((), jnp.float32)
    if config.family.d_l2:
      penalties["d_l2"] = config.family.d_l2 * regularisers.l2_penalty(d_params)
    d_total = d_adversarial + sum(penalties.values())
    g_loss = g_loss_on_fresh(fake_logits, replaced, step)
    outputs = jax.nn.sigmoid if loss.outputs_logits else (lambda x: x)
    aux = {
      "d_loss": d_adversarial,
      "g_loss": g_loss,
      "d_real": jnp.mean(outputs(real_logits)),
      "d_fake": jnp.mean(outputs(fake_logits)),
      **penalties,
    }
    return (d_total, g_loss), (stats, aux)

  def mix_replay(state, fake, key):
    """(D's fake batch, which rows are replayed or None): past fakes mixed in when on."""
    if state.replay is None:
      return fake, None
    replaced = replay.replay_mask(fake.shape[0], config.family.replay_share, axis_name)
    return replay.mix(state.replay, fake, replaced, rng.stream(key, "replay"), axis_name), replaced

  def apply_d_update(state, d_grads, d_batch_stats, fake):
    d_updates, d_opt_state = state.d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_params = optax.apply_updates(state.d_params, d_updates)
    if config.family.clip_weights:
      d_params = regularisers.clip_weights(d_params, config.family.clip_weights)
    buffer = state.replay if state.replay is None else replay.insert(state.replay, fake, axis_name)
    return state.replace(d_params=d_params, d_opt_state=d_opt_state, d_batch_stats=d_batch_stats, replay=buffer)

  def apply_g_update(state, g_grads, g_batch_stats):
    g_updates, g_opt_state = state.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    ema = state.g_ema_params
    if ema is not None:
      decay = config.family.ema_decay
      if config.family.ema_warmup:  # state.step: the updates before this one
        t = state.step.astype(jnp.float32)
        decay = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
      ema = regularisers.ema_update(ema, g_params, decay)
    return state.replace(g_params=g_params, g_opt_state=g_opt_state, g_batch_stats=g_batch_stats, g_ema_params=ema)

  def simultaneous_update(state, real, labels, key):
    """One D and one G update from one G forward pass and one D pass on the fakes."""
    z = latents(key, real.shape[0])
    fake, g_vjp, g_batch_stats = jax.vjp(
      lambda p: generate(p, state.g_batch_stats, z, labels, state.step), state.g_params, has_aux=True
    )

    def both_losses(d_params, fake):
      d_fake, replaced = mix_replay(state, fake, key)  # replayed rows carry no gradient to G
      return d_objective(d_params, state.d_batch_stats, real, d_fake, labels, replaced, state.step, key)

    (d_total, g_loss), d_vjp, (d_batch_stats, aux) = jax.vjp(both_losses, state.d_params, fake, has_aux=True)
    one, zero = jnp.ones_like(d_total), jnp.zeros_like(g_loss)
    d_grads, _ = d_vjp((one, zero))
    _, fake_cotangent = d_vjp((zero, one))
    (g_grads,) = g_vjp(fake_cotangent)
    d_grads, g_grads, d_batch_stats = pmean((d_grads, g_grads, d_batch_stats), axis_name)
    state = apply_d_update(state, d_grads, d_batch_stats, fake)
    state = apply_g_update(state, g_grads, g_batch_stats)
    return state, {**aux, "d_grad_norm": optax.tree.norm(d_grads), "g_grad_norm": optax.tree.norm(g_grads)}

  def d_update(state, real, labels, key):
    """One D update on `real` and fresh fakes from the current G (G's statistics untouched)."""
    fake, _ = generate(state.g_params, state.g_batch_stats, latents(key, real.shape[0]), labels, state.step)
    fake = jax.lax.stop_gradient(fake)
    d_fake, replaced = mix_replay(state, fake, key)

    def d_total(d_params):
      (total, _), (stats, aux) = d_objective(
        d_params, state.d_batch_stats, real, d_fake, labels, replaced, state.step, key
      )
      return total, (stats, aux)

    d_grads, (d_batch_stats, aux) = jax.grad(d_total, has_aux=True)(state.d_params)
    d_grads, d_batch_stats = pmean((d_grads, d_batch_stats), axis_name)
    aux = {k: v for k, v in aux.items() if k != "g_loss"}
    return apply_d_update(state, d_grads, d_batch_stats, fake), {**aux, "d_grad_norm": optax.tree.norm(d_grads)}

  def alternating_update(state, reals, labels, key):
    def one_d_update(state, xs):
      real, real_labels, i = xs
      return d_update(state, real, real_labels, jax.random.fold_in(key, i))

    # Unrolled: XLA:CPU runs the weight-gradient convolutions inside a while loop on a slow
    # generic path (100 ms instead of 4 ms for the DCGAN critic's at batch 64: WGAN-GP's step was
    # 10 s). Unrolled, the D updates compile to straight-line code, the same ops in the same order.
    state, d_metrics = jax.lax.scan(
      one_d_update, state, (reals, labels, jnp.arange(config.family.d_steps)), unroll=True
    )
    g_labels = None if labels is None else labels[-1]
    d_metrics = jax.tree.map(jnp.mean, d_metrics)
    g_key = rng.stream(key, "generator_update")
    z = latents(g_key, reals.shape[1])

    def g_objective(g_params):
      fake, g_batch_stats = generate(g_params, state.g_batch_stats, z, g_labels, state.step)
      fake_logits, _ = discriminate(
        state.d_params,
        state.d_batch_stats,
        noisy(fake, state.step, rng.stream(g_key, "noise_fake")),
        g_labels,
        rng.stream(g_key, "dropout_fake"),
        state.step,
      )
      return g_loss_on_fresh(fake_logits, None, state.step), g_batch_stats

    (g_loss, g_batch_stats), g_grads = jax.value_and_grad(g_objective, has_aux=True)(state.g_params)
    g_grads = pmean(g_grads, axis_name)
    state = apply_g_update(state, g_grads, g_batch_stats)
    return state, {**d_metrics, "g_loss": g_loss, "g_grad_norm": optax.tree.norm(g_grads)}

  def train_step(state: GANState, batch: Batch, seed_key: jax.Array) -> tuple[GANState, Metrics]:
    """batch['image']: [d_steps * b, H, W, C] in [-1, 1] (and 'label' [d_steps * b] for a
    conditional model); seed_key: the run's key, same every step."""
    key = rng.step_key(seed_key, state.step)
    images = batch["image"]
    local_batch = images.shape[0] // config.family.d_steps
    if stage is not None:  # the reals at the stage's resolution, faded in as G's output is
      images = progressive.reals_at(images, stage, growth(state.step)["alpha"])
    reals = images.reshape(config.family.d_steps, local_batch, *images.shape[1:])
    labels = batch["label"].reshape(config.family.d_steps, local_batch) if config.family.num_classes else None
    if config.family.d_steps == 1:
      new_state, metrics = simultaneous_update(state, reals[0], None if labels is None else labels[0], key)
    else:
      new_state, metrics = alternating_update(state, reals, labels, key)
    new_state = new_state.replace(step=state.step + 1)
    metrics.update(
      g_param_norm=optax.tree.norm(new_state.g_params),
      d_param_norm=optax.tree.norm(new_state.d_params),
      g_lr=g_schedule(state.step),
      d_lr=d_schedule(state.step),
    )
    if stage is not None:
      metrics["resolution"] = jnp.asarray(progressive.RESOLUTIONS[stage], jnp.float32)
      metrics["fade_in"] = growth(state.step)["alpha"]
    if config.family.instance_noise:
      metrics["instance_noise"] = regularisers.instance_noise_std(
        state.step, config.family.instance_noise, noise_anneal_steps
      )
    if config.family.top_k < 1.0:
      metrics["top_k_share"] = regularisers.top_k_share(state.step, config.family.top_k, top_k_anneal_steps)
    return new_state, pmean(metrics, axis_name)

  return train_step
