#!/usr/bin/env python
"""Writes a PNG grid and an .npz of samples from an exported generator.

    python bin/sample.py --generator=runs/x/generator_savedmodel --num=64 --out=samples

Reads either export of ``bin/train.py``: ``generator_savedmodel`` (a TF
SavedModel; needs neither dat_tf nor Keras) or ``generator.keras``.  Writes
``OUT.png`` (images in a grid, or a scatter plot for 2D data) and ``OUT.npz``
(``samples`` and the latents ``z``).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("generator", None, "generator_savedmodel folder or generator.keras file.", required=True)
flags.DEFINE_integer("num", 64, "Number of samples.")
flags.DEFINE_integer("seed", 0, "Seed of the latents.")
flags.DEFINE_string("out", "samples", "Output path without extension: OUT.png and OUT.npz.")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    if FLAGS.num < 1:
        raise app.UsageError(f"--num={FLAGS.num} is not allowed; expected an integer >= 1")
    if not os.path.exists(FLAGS.generator):
        raise app.UsageError(f"--generator={FLAGS.generator!r} does not exist")
    import numpy as np

    from dat_tf.train.export import load_exported_generator, write_samples

    generate, latent_dim = load_exported_generator(FLAGS.generator)
    z = np.random.default_rng(FLAGS.seed).standard_normal((FLAGS.num, latent_dim)).astype("float32")
    samples = generate(z)
    png, npz = write_samples(samples, z, FLAGS.out)
    print(f"wrote {png} and {npz}: samples {samples.shape}, range [{samples.min():.3f}, {samples.max():.3f}]")


if __name__ == "__main__":
    app.run(main)
