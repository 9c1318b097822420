"""Stop requests (SIGINT, SIGTERM) as a flag the loop checks between steps, agreed by every
process of a run so that all of them stop after the same step and save one checkpoint.

Agreed on the host, not by a collective on the devices: a second program of collectives in
flight beside the train step's can pair its messages with the step's in another process
(tried: two CPU processes on gloo hung at the first stop).
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import jax

from ganjax import distributed


@contextlib.contextmanager
def stop_requests() -> Iterator[list[int]]:
  """The signals received while inside, in a list the loop reads between steps."""
  received: list[int] = []
  handler = lambda signum, frame: received.append(signum)  # noqa: E731
  previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
  try:
    yield received
  finally:
    for s, h in previous.items():
      signal.signal(s, h)


# Steps between the stop request and the step all processes stop after: more than the host
# loops of two processes can be apart. One's loop cannot run more than its steps in flight
# (plus the one it dispatches) ahead of another's, since it waits on a step that needs them all.
STOP_MARGIN = 8
STOP_KEY = "ganjax/stop_after_step"


class StopVote:
  """Whether the run should stop now, decided for the same step in every process.

  A signal reaches one process (SIGTERM from a scheduler to one task, Ctrl-C in one
  terminal), but a checkpoint needs every process to save it, at the same step. The first
  process asked to stop announces, in the distributed runtime's key-value store, a step
  STOP_MARGIN ahead of its own; every process looks for the announcement after each step and
  stops after that step. With one process the signal is read directly.
  """

  def __init__(self, signals: list[int], margin: int = STOP_MARGIN):
    self.signals = signals
    self.margin = margin
    self.client = (
      distributed.coordination_client(("key_value_set", "key_value_try_get")) if jax.process_count() > 1 else None
    )
    self.stop_after: int | None = None

  def after_step(self, step: int) -> bool:
    """True when the run should stop after `step` (call once after each step)."""
    if self.client is None:
      return bool(self.signals)
    if self.stop_after is None:
      if self.signals:
        try:
          self.client.key_value_set(STOP_KEY, str(step + self.margin))
        except Exception:
          pass  # another process announced first: its step stands
      try:
        self.stop_after = int(self.client.key_value_try_get(STOP_KEY))
      except Exception:
        # Nothing announced yet; or, when this process was signalled, a store it cannot reach:
        # then it stops on its own, as a run of one process would.
        return bool(self.signals)
    return step >= self.stop_after

  def reason(self) -> str:
    """What stopped the run: this process's signal, or another process's."""
    if self.signals:
      return f"Stopped by {signal.Signals(self.signals[0]).name}"
    return "Stopped with the other processes of the run (another one was asked to stop)"
