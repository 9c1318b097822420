"""The model families, one package each, found by name (`ganjax.train.registry`).

A family package holds `MODELS` (the --model names it trains), `SCORED_AFTER_TRAINING`,
`task.make_task(config) -> Task` and, where it checks flags of its own, `config.validate`.
"""
