"""The generators of members: p-diff's parameter autoencoder and the DDPM in its latent space (schedules,
denoiser, EMA, DDPM/DDIM samplers, their training loops), and the baselines beside them (raw, noised and
averaged snapshots, a per-coordinate Gaussian). Pure tensors in, tensors out: no project folder."""
