"""The noise-to-image GANs: the DCGAN (conditional, progressive, every loss and trick of the
config) and the MLP GAN. Scored during training (`evaluate.Evaluator`: fid_mnist and friends).

task: the Task; state: G, D, optimisers, EMA, replay; step: the pure train step; evaluate: the
in-training evaluator; replay: the buffer of past fakes.
"""

# The --model names this family trains.
MODELS = ("dcgan", "mlp")
# Scored once after its last step by `evaluate.evaluate(config, state)` (results.json);
# otherwise the family evaluates during training.
SCORED_AFTER_TRAINING = False
