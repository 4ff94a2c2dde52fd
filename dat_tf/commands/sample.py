"""Writes a PNG grid and an .npz of samples from an exported generator or a run (``dat-sample``;
``python bin/sample.py`` in a checkout).

    python bin/sample.py --run_dir=runs/x [--step=5000] --num=64        # -> runs/x/samples.{png,npz}
    python bin/sample.py --generator=runs/x/generator_savedmodel --num=64 --out=runs/x/grid

``--generator`` reads either export of ``bin/train.py``: ``generator_savedmodel``
(a TF SavedModel; needs neither dat_tf nor Keras) or ``generator.keras``.
``--run_dir`` reads the run's newest checkpoint (or ``--step``'s; its
``generator.keras`` if it has no checkpoints).  Writes ``OUT.png`` (images in a
grid, or a scatter plot for 2D data) and ``OUT.npz`` (``samples`` and the
latents ``z``, drawn by :func:`dat_tf.latents.numpy_stream` from ``--seed``).
``OUT`` defaults to ``<run_dir>/samples`` with ``--run_dir`` (``<run_dir>/samples_step<N>`` with
``--step``) and to ``runs/samples`` with ``--generator``: under ``runs/`` (git-ignored), never in the
current folder.

Exit codes: 0 written; 2 bad flags or a generator / run folder that cannot be read.
"""

import os

from dat_tf.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: no CPU-only start-up noise

from absl import flags  # noqa: E402

from dat_tf.commands import checked_flags, generator_source, program, start  # noqa: E402
from dat_tf.train.cli import EXIT_USAGE as EXIT_BAD_FLAGS, FlagError, fail  # noqa: E402

flags.DEFINE_string("generator", None, "generator_savedmodel folder or generator.keras file.")
flags.DEFINE_string("run_dir", None, "A bin/train.py run directory instead of --generator.")
flags.DEFINE_integer("step", None, "With --run_dir: the checkpoint's generator step (default: the newest).")
flags.DEFINE_integer("num", 64, "Number of samples.")
flags.DEFINE_integer("seed", 0, "Seed of the latents.")
flags.DEFINE_string("out", None, "Output path without extension: OUT.png and OUT.npz (default: <run_dir>/samples "
                    "with --run_dir, <run_dir>/samples_step<N> with --step, runs/samples with --generator).")
FLAGS = flags.FLAGS


def _validate():
    """Checks the flags; returns the :class:`RunDir` of ``--run_dir`` (or ``None``)."""
    if FLAGS.num < 1:
        raise FlagError(f"--num={FLAGS.num} is not allowed; expected an integer >= 1")
    if FLAGS.seed < 0:
        raise FlagError(f"--seed={FLAGS.seed} is not allowed; expected an integer >= 0")
    if FLAGS.generator and not os.path.exists(FLAGS.generator):
        raise FlagError(f"--generator={FLAGS.generator!r} does not exist")
    return generator_source(FLAGS)


def default_out(run_dir=None, step=None):
    """Where samples go without ``--out``: inside the run, or under ``runs/`` for a bare generator."""
    if run_dir is None:
        return os.path.join("runs", "samples")
    return os.path.join(run_dir, "samples" if step is None else f"samples_step{step}")


def main(argv):
    run, code = checked_flags(argv, _validate)
    if code is not None:
        return code
    from dat_tf.latents import numpy_stream
    from dat_tf.train.export import keras_generator_fn, load_exported_generator, write_samples

    if run is None:
        try:
            generate, latent_dim = load_exported_generator(FLAGS.generator)
        except Exception as e:  # noqa: BLE001 - any load failure means a bad --generator
            return fail(EXIT_BAD_FLAGS, f"--generator={FLAGS.generator!r} cannot be loaded (expected "
                                        f"generator_savedmodel/ or generator.keras of bin/train.py): "
                                        f"{type(e).__name__}: {e}")
        source = FLAGS.generator
    else:
        from dat_tf.train.checkpoints import CheckpointRestoreError

        try:
            generator, step = run.load_generator(FLAGS.step)
        except (ValueError, FileNotFoundError, CheckpointRestoreError) as e:
            return fail(EXIT_BAD_FLAGS, str(e))
        generate, latent_dim = keras_generator_fn(generator)
        source = f"{FLAGS.run_dir}@{step}" if step is not None else run.exported_generator_path
    z = numpy_stream(FLAGS.seed, latent_dim)(FLAGS.num)
    samples = generate(z)
    out = FLAGS.out or default_out(FLAGS.run_dir, FLAGS.step)
    png, npz = write_samples(samples, z, out)
    print(f"wrote {png} and {npz} from {source}: samples {samples.shape}, "
          f"range [{samples.min():.3f}, {samples.max():.3f}]")
    return 0


def run():
    """The ``dat-sample`` entry point (``bin/sample.py`` calls it too)."""
    start(main, __name__, program("bin/sample.py", "dat-sample"))
