"""Errors a user can cause and fix: the CLI prints their message as one line, exit status 2."""


class UsageError(Exception):
  """A bad flag, missing device, unreadable checkpoint, bad data: says what to do."""
