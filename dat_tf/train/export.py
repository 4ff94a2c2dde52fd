"""Exporting a run's models, loading exported generators and writing sample files (``bin/sample.py``)."""

from __future__ import annotations

import os

import numpy as np


def load_exported_generator(path: str):
    """Returns ``(generate, latent_dim)`` for a ``generator_savedmodel`` folder or a ``.keras`` file.

    ``generate(z)`` maps a float32 numpy ``[N, latent_dim]`` to numpy samples,
    in batches of 256.  The SavedModel path uses only TensorFlow.
    """
    import tensorflow as tf

    if os.path.isdir(path):
        try:
            loaded = tf.saved_model.load(path)
        except (OSError, ValueError) as e:
            raise ValueError(f"{path!r} is not a loadable SavedModel: {e}") from None
        if not hasattr(loaded, "serve"):
            raise ValueError(f"SavedModel {path!r} has no 'serve' endpoint; export it with bin/train.py.")
        spec = loaded.serve.input_signature[0] if loaded.serve.input_signature else None
        latent_dim = int(spec.shape[-1]) if spec is not None else None

        def fn(z, _loaded=loaded):  # keeps the loaded object (and its variables) alive
            return _loaded.serve(z)

    elif path.endswith(".keras"):
        from dat_tf.metrics.evaluation import load_generator

        try:
            model = load_generator(path)
        except Exception as e:  # corrupt zip, missing custom objects, ...
            raise ValueError(f"Could not load the generator {path!r}: {e}") from None
        return keras_generator_fn(model)

    else:
        raise ValueError(f"--generator={path!r}: expected a generator_savedmodel folder or a .keras file")
    if latent_dim is None:
        raise ValueError(f"Cannot tell the latent size of {path!r}.")
    return _batched(fn), latent_dim


def keras_generator_fn(model):
    """``(generate, latent_dim)`` as :func:`load_exported_generator` gives, for a Keras generator in memory."""
    from dat_tf.latents import latent_dim_of

    return _batched(lambda z: model(z, training=False)), latent_dim_of(model)


def _batched(fn, batch_size=256):
    import tensorflow as tf

    def generate(z):
        z = np.asarray(z, np.float32)
        return np.concatenate(
            [np.asarray(fn(tf.constant(z[i : i + batch_size]))) for i in range(0, len(z), batch_size)], 0
        )

    return generate


def write_samples(samples, z, out: str):
    """Writes ``out.png`` (grid or 2D scatter) and ``out.npz``; returns both paths."""
    from dat_tf.viz import image_grid, scatter_png

    samples = np.asarray(samples)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    png_path, npz_path = out + ".png", out + ".npz"
    if samples.ndim == 2 and samples.shape[1] == 2:
        png = scatter_png(samples, title=f"{len(samples)} samples")
        with open(png_path, "wb") as f:
            f.write(png)
    elif samples.ndim == 4:
        import tensorflow as tf

        grid = image_grid(samples)
        tf.io.write_file(png_path, tf.image.encode_png(grid))
    else:
        raise ValueError(f"Cannot draw samples of shape {samples.shape}; expected [N, 2] or [N, H, W, C].")
    np.savez_compressed(npz_path, samples=samples, z=np.asarray(z))
    return png_path, npz_path


GAN_FILE, GENERATOR_FILE, SAVEDMODEL_DIR = "gan.keras", "generator.keras", "generator_savedmodel"
EXPORTS = (GAN_FILE, GENERATOR_FILE, SAVEDMODEL_DIR)  # what export() writes into a run folder


def export(gan, run_dir: str):
    """Writes ``gan.keras``, ``generator.keras`` and ``generator_savedmodel`` into ``run_dir``.

    Each is written under a temporary name and renamed into place, so a crash
    leaves the old file or the new one, never half of one.
    """
    import shutil

    def replace(tmp, final):
        if os.path.isdir(final):
            shutil.rmtree(final)
        os.replace(tmp, final)

    for name, save in ((GAN_FILE, gan.save), (GENERATOR_FILE, gan.generator.save)):
        tmp = os.path.join(run_dir, f".tmp-{name}")
        save(tmp)
        replace(tmp, os.path.join(run_dir, name))
    tmp = os.path.join(run_dir, f".tmp-{SAVEDMODEL_DIR}")
    if os.path.isdir(tmp):
        shutil.rmtree(tmp)
    gan.generator.export(tmp, format="tf_saved_model", verbose=False)
    replace(tmp, os.path.join(run_dir, SAVEDMODEL_DIR))


def exports_ok(run_dir: str) -> bool:
    """Whether the three exports exist and are whole (readable zip archives; a SavedModel with its variables)."""
    import zipfile

    for name in (GAN_FILE, GENERATOR_FILE):
        path = os.path.join(run_dir, name)
        try:
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None:
                    return False
        except (OSError, zipfile.BadZipFile):
            return False
    saved = os.path.join(run_dir, SAVEDMODEL_DIR)
    return os.path.isfile(os.path.join(saved, "saved_model.pb")) and os.path.isfile(
        os.path.join(saved, "variables", "variables.index")
    )
