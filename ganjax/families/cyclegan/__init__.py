"""CycleGAN (Zhu et al. 2017): two generators and two discriminators on unpaired image sets.

task: state, pure step and Task; evaluate: scored once training ends; history_pool: past fakes.
"""

# The --model names this family trains.
MODELS = ("cyclegan",)
# Scored once after its last step by `evaluate.evaluate(config, state)` (results.json);
# otherwise the family evaluates during training.
SCORED_AFTER_TRAINING = True
