"""Wrappers around a train step that change what happens on a bad update, not what a step computes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ganjax.train.task import PyTree, Step


def skip_nonfinite(train_step: Step, axis_name: str | None = "data") -> Step:
  """`train_step` that keeps the old state when any metric (losses, grad norms) is NaN/Inf.

  Only the step counter moves on, so the next step reads the next batch and draws the next
  noise, exactly as the loop and a resumed run expect. The metrics gain `skipped` (1.0 for a
  skipped update, else 0.0) and keep their non-finite values, so the log says what happened.
  The metrics are already averaged over `axis_name`, and the decision is reduced over it
  once more, so every device keeps or drops the update together.
  """

  def guarded(state: PyTree, batch: dict, seed_key: jax.Array) -> tuple[PyTree, dict]:
    new_state, metrics = train_step(state, batch, seed_key)
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(metrics)]))
    if axis_name:
      finite = jax.lax.pmin(finite.astype(jnp.int32), axis_name).astype(bool)
    kept = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, state)
    metrics = {**metrics, "skipped": jnp.where(finite, 0.0, 1.0).astype(jnp.float32)}
    return kept.replace(step=new_state.step), metrics

  return guarded
