"""24 SIGKILLs of one run, by hand (about 4-8 minutes on 2 cores; not in the default suite):

    python -m pytest tests/soak_sigkill.py -s

Prints each kill (its kind, the step it resumed from, the step it reached, whether an Orbax
save was in progress) and the steps each kill cost.
"""

import collections

from test_sigkill import kill_resume_and_compare, tiny_kill_config

KILLS = 24


def test_two_dozen_sigkills_lose_only_steps_since_the_last_checkpoint(tiny_config, tmp_path):
  config = tiny_kill_config(tiny_config, steps=200)
  history = kill_resume_and_compare(config, tmp_path, kills=KILLS, seed=0)
  assert len(history) == KILLS
  resumes = [k.resumed_from for k in history[1:]] + [None]
  lost = []
  for kill, next_resume in zip(history, resumes):
    print(kill)
    if kill.reached is not None and next_resume is not None:
      lost.append(kill.reached - next_resume)
  print(
    "kinds:",
    dict(collections.Counter(k.mode for k in history)),
    "killed during a save:",
    sum(k.saving for k in history),
  )
  print("steps lost per kill (checkpoint_every=2):", lost, "max", max(lost))
  assert any(k.saving for k in history)
