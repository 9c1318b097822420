"""Several processes, one run: JAX's own distributed runtime (`jax.distributed`), started from flags.

Each process drives its local devices; `pmap`'s `pmean` spans the devices of all of them, so
the step is the one-process step on a bigger device axis. Each process reads only its slice
of every global batch (`BatchSpec`), all save and restore the same Orbax checkpoints (Orbax
writes once, from process 0), and process 0 alone writes the logs and sample grids.
"""

from __future__ import annotations

import itertools
import os

from ganjax.config import Config
from ganjax.errors import UsageError

# How long a process waits for the others at start-up, and how long the coordinator waits
# for a silent process before telling the rest (JAX's default is 100 s).
JOIN_TIMEOUT_S = 300
HEARTBEAT_TIMEOUT_S = 30


class LostContact(UsageError):
  """Another process of the run died or became unreachable.

  The CLI exits at once after saying so: JAX's shutdown at interpreter exit waits at a
  barrier for every process and aborts the survivor when one is gone.
  """

  exit_immediately = True


def lost_contact(error: BaseException) -> LostContact | None:
  """The LostContact that `error` means in a run of several processes, else None."""
  import jax

  if jax.process_count() == 1:
    return None
  cause = error
  while cause is not None and not isinstance(cause, jax.errors.JaxRuntimeError):
    cause = cause.__cause__ or cause.__context__
  if cause is None:
    return None
  return LostContact(
    f"Process {jax.process_index()} lost contact with the other processes of the run "
    f"({str(cause).splitlines()[0][:160]}); the newest checkpoint is intact: start every "
    "process again with the same command to resume."
  )


def initialize(config: Config) -> None:
  """Joins the run's other processes; nothing for one process. Before any other JAX call."""
  if config.num_processes == 1:
    return
  import jax

  if config.accelerator == "cpu":  # CPU devices of several processes talk through gloo
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if config.num_processes == 0:
    where, kwargs = "the cluster its environment describes", {}
  else:
    address = config.coordinator_address or os.environ.get("JAX_COORDINATOR_ADDRESS", "")
    if not address:
      raise UsageError(
        f"--num_processes={config.num_processes} needs --coordinator_address=host:port "
        "(process 0's machine and a free port), the same for every process."
      )
    where = address
    kwargs = dict(coordinator_address=address, num_processes=config.num_processes, process_id=config.process_id)
  try:
    jax.distributed.initialize(
      initialization_timeout=JOIN_TIMEOUT_S, heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S, **kwargs
    )
  except Exception as e:  # RuntimeError, ValueError, XLA's errors: all mean "could not join"
    raise UsageError(
      f"Could not join the distributed run at {where} ({type(e).__name__}: "
      f"{str(e).splitlines()[0][:200]}); start every process with the same --num_processes "
      "and --coordinator_address."
    ) from e


# Our own barriers go through the coordination service, not a collective on the devices: a
# device collective beside a train step can pair one process's step with another's barrier
# (gloo: "Received data size doesn't match expected size. 392 vs 4"), which aborts the run.
def coordination_client(needs: tuple[str, ...] = ("wait_at_barrier",)):
  """JAX's distributed runtime client, with its barriers and key-value store (private API in
  JAX 0.10/0.11): None with one process, or where it moved or lacks one of `needs`."""
  try:
    from jax._src import distributed as jax_distributed
  except ImportError:
    return None
  client = getattr(jax_distributed.global_state, "client", None)
  return client if client is not None and all(hasattr(client, n) for n in needs) else None


def is_primary() -> bool:
  import jax

  return jax.process_index() == 0


BARRIER_TIMEOUT_S = 600
# How often this process has passed each named barrier (a process-wide count by nature: the
# coordination service wants a fresh id for each pass).
_barrier_passes: dict[str, itertools.count] = {}


def wait_for_all(name: str) -> None:
  """A barrier across processes (nothing with one process), on the coordination service where
  it can be reached, so that it never races a train step's collectives (see above)."""
  import jax

  if jax.process_count() == 1:
    return
  client = coordination_client()
  if client is not None:
    # Each pass of the same barrier gets its own id: every process passes them in one order.
    passes = _barrier_passes.setdefault(name, itertools.count())
    client.wait_at_barrier(f"{name}.{next(passes)}", BARRIER_TIMEOUT_S * 1000)
  else:
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices(name)
