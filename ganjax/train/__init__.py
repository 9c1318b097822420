"""The shared training loop every family runs through (`loop`), the `Task` a family hands it,
and what the loop needs around the step: the registry of families, schedules, guards, stop
requests, the workdir lock and the closing summary. Nothing here imports a family.
"""
