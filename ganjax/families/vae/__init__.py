"""The variational autoencoder (Kingma & Welling 2014), beta-VAE (Higgins et al. 2017).

task: the ELBO, state, pure step and Task; evaluate: scored once training ends.
"""

# The --model names this family trains.
MODELS = ("vae",)
# Scored once after its last step by `evaluate.evaluate(config, state)` (results.json);
# otherwise the family evaluates during training.
SCORED_AFTER_TRAINING = True
