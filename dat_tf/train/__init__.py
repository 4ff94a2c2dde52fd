"""Running a GAN: typed config, training loop, strategy, checkpoints, callbacks, run folders."""
