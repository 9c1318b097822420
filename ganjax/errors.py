"""Errors a user can cause and fix: the CLI prints their message as one line, exit status 2."""

from __future__ import annotations

import errno
import logging
import sys
import threading


class UsageError(Exception):
  """A bad flag, missing device, unreadable checkpoint, bad data: says what to do."""


def is_disk_full(error: BaseException | None) -> bool:
  """ENOSPC anywhere in the chain; TensorStore reports it as text, not as an OSError."""
  while error is not None:
    if getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(error):
      return True
    error = error.__cause__ or error.__context__
  return False


class _NotDiskFull(logging.Filter):
  def filter(self, record: logging.LogRecord) -> bool:
    return not (record.exc_info and is_disk_full(record.exc_info[1]))


def report_full_disk_once() -> None:
  """Leaves the libraries' own reports of a full disk out; the run reports it in one line.

  When the disk fills, every background writer meets it beside the main thread, and each
  prints its traceback: Orbax's save threads log theirs (`logging.exception`), TensorBoard's
  event thread dies of it (`threading.excepthook`) and its writer's flush at exit fails again
  (`sys.unraisablehook`). The loop turns the same failure into one line with exit status 2
  (ganjax.checkpoint.SaveFailed), so these are echoes. Any other error keeps its traceback.
  """
  if getattr(threading.excepthook, "ganjax_wrapped", False):
    return
  thread_hook, unraisable_hook = threading.excepthook, sys.unraisablehook

  def on_thread_error(args):
    if not is_disk_full(args.exc_value):
      thread_hook(args)

  def on_unraisable(unraisable):
    if not is_disk_full(unraisable.exc_value):
      unraisable_hook(unraisable)

  on_thread_error.ganjax_wrapped = True
  threading.excepthook, sys.unraisablehook = on_thread_error, on_unraisable
  logging.getLogger("absl").addFilter(_NotDiskFull())  # Orbax logs through absl
