"""SRGAN and SRResNet (Ledig et al. 2017): 4x super-resolution.

task: state, pure step and Task; losses: content, perceptual, adversarial; evaluate: scored once
training ends (PSNR, SSIM, VIF against bicubic).
"""

# The --model names this family trains.
MODELS = ("srgan",)
# Scored once after its last step by `evaluate.evaluate(config, state)` (results.json);
# otherwise the family evaluates during training.
SCORED_AFTER_TRAINING = True
