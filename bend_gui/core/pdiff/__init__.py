"""The p-diff generator: a parameter autoencoder and a DDPM in its latent space."""
