"""pix2pix (Isola et al. 2017): a U-Net G and a PatchGAN D on paired images.

task: state, pure step and Task; evaluate: scored once training ends.
"""

# The --model names this family trains.
MODELS = ("pix2pix",)
# Scored once after its last step by `evaluate.evaluate(config, state)` (results.json);
# otherwise the family evaluates during training.
SCORED_AFTER_TRAINING = True
