"""Reading a run folder: :class:`RunDir`, the one reader used by eval, sample, the attack and the study.

:func:`dat_tf.train.loop.train` (``bin/train.py``) writes a run folder::

    config.json              the TrainConfig of the run
    checkpoints/ckpt-N.*     every state the run kept, N = generator step
    gan.keras                the whole model at the end (needs dat_tf to load)
    generator.keras          the generator alone at the end
    generator_savedmodel/    the generator as a TF SavedModel (loads without dat_tf)
    logs/                    TensorBoard
    nan_report.json, nan_state/ckpt-N.*   only after a NaN/Inf (dat_tf.train.nan_guard)

Config policy: a key of ``config.json`` that :class:`TrainConfig` does not
know is an error naming the keys and the run (the run was written by another
version of dat_tf, and silently dropping a setting could rebuild another
model); a key it lacks takes the field's default and is reported (a
``UserWarning`` and :attr:`RunDir.defaulted`).  The config is validated, and
its ``run_dir`` is the folder read (a moved folder reads as where it is now).

Which model: newest checkpoint first (``checkpoint=None``; unreadable ones are
skipped with a message, as when resuming), then the exported files when a run
has no checkpoints; an integer picks the checkpoint of that generator step
(an error lists the steps there are), a string a checkpoint path such as
``nan_state/ckpt-12``.

Example:

>>> run = RunDir("runs/digits")  # doctest: +SKIP
>>> run.config.dataset, run.checkpoint_steps()  # doctest: +SKIP
('digits', [4000, 5000])
>>> generator, step = run.load_generator()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import re
import warnings

import numpy as np

from dat_tf.train.config import TrainConfig, upgrade_dict
from dat_tf.train.export import GAN_FILE, GENERATOR_FILE, SAVEDMODEL_DIR

CONFIG = "config.json"
CHECKPOINTS = "checkpoints"
_CKPT_FILE = re.compile(r"^ckpt-\d+\.(index|data-\d{5}-of-\d{5})$")


def read_config(path: str, run: str | None = None) -> tuple[TrainConfig, tuple]:
    """``(config, defaulted keys)`` from a ``config.json`` under the policy of the module docstring.

    Args:
      path: the ``config.json`` file.
      run: the run folder, named in messages (default: the file's folder).
    """
    run = os.path.dirname(path) if run is None else run
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); run {run!r} cannot be read.") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{path} must hold a JSON object of config fields, got {type(saved).__name__}.")
    saved = upgrade_dict(saved)  # older runs' flat regularizer keys
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(saved) - set(fields))
    if unknown:
        raise ValueError(
            f"{path} has config keys this version of dat_tf does not know: {unknown}. Run {run!r} was written by "
            "another version; read it with that version, or remove the keys if they do not matter to you."
        )
    defaulted = tuple(sorted(set(fields) - set(saved)))
    if defaulted:
        defaults = {k: getattr(TrainConfig(), k) for k in defaulted}
        warnings.warn(f"{path} lacks the config keys {list(defaulted)}; run {run!r} is read with the defaults "
                      f"{defaults}.", UserWarning, stacklevel=3)
    try:
        cfg = TrainConfig(**saved).validate()
    except ValueError as e:
        raise ValueError(f"{path} (run {run!r}): {e}") from None
    return cfg, defaulted


class RunDir:
    """A run folder of :func:`dat_tf.train.loop.train`; reads its config at construction.

    Args:
      path: the run folder (holds ``config.json``).

    Attributes:
      path: the folder.
      config: its :class:`TrainConfig` (validated; ``run_dir`` is ``path``).
      defaulted: config keys ``config.json`` lacked, which took their defaults.

    Raises:
      FileNotFoundError: ``path`` is not a folder or has no ``config.json``.
      ValueError: ``config.json`` is not JSON, has unknown keys or invalid values.
    """

    def __init__(self, path):
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise FileNotFoundError(f"run_dir={path!r} is not a directory.")
        config_path = os.path.join(path, CONFIG)
        if not os.path.isfile(config_path):
            raise FileNotFoundError(f"run_dir={path!r} has no {CONFIG}; is it a run directory of bin/train.py?")
        self.path = path
        cfg, self.defaulted = read_config(config_path, path)
        self.config = dataclasses.replace(cfg, run_dir=path)

    def __repr__(self):
        return f"RunDir({self.path!r})"

    # ------------------------------------------------------------------ paths

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.path, CHECKPOINTS)

    @property
    def exported_gan_path(self) -> str:
        """``gan.keras`` (exists once training finished)."""
        return os.path.join(self.path, GAN_FILE)

    @property
    def exported_generator_path(self) -> str:
        """``generator.keras`` (exists once training finished)."""
        return os.path.join(self.path, GENERATOR_FILE)

    @property
    def exported_savedmodel_path(self) -> str:
        """``generator_savedmodel/`` (exists once training finished; loads without dat_tf)."""
        return os.path.join(self.path, SAVEDMODEL_DIR)

    def checkpoint_steps(self) -> list[int]:
        """Generator steps of the checkpoints in ``checkpoints/`` (those with an index file), ascending."""
        names = glob.glob(os.path.join(glob.escape(self.checkpoint_dir), "ckpt-*.index"))
        stems = (os.path.basename(n)[len("ckpt-") : -len(".index")] for n in names)
        return sorted(int(s) for s in stems if s.isdigit())

    def has_checkpoints(self) -> bool:
        """Whether ``checkpoints/`` holds any checkpoint file or a state file naming one."""
        if not os.path.isdir(self.checkpoint_dir):
            return False
        return any(n == "checkpoint" or _CKPT_FILE.match(n) for n in os.listdir(self.checkpoint_dir))

    def checkpoint_path(self, step: int) -> str:
        """The checkpoint prefix of generator step ``step``; ``FileNotFoundError`` listing the steps if absent."""
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"step must be an integer >= 0, got {step!r}.")
        steps = self.checkpoint_steps()
        if step not in steps:
            raise FileNotFoundError(
                f"checkpoint={step} does not exist: run {self.path!r} has steps {steps} (in {self.checkpoint_dir})."
            )
        return os.path.join(self.checkpoint_dir, f"ckpt-{step}")

    # ---------------------------------------------------------------- models

    def load_gan(self, checkpoint=None):
        """``(gan, step)``: the run's :class:`dat_tf.gan.GAN` and its generator step.

        Args:
          checkpoint: ``None`` (the newest readable checkpoint, else
            ``gan.keras``), a generator step (``int``) or a checkpoint path
            (prefix, e.g. ``<run>/nan_state/ckpt-12``).

        A checkpoint is restored into the model built from the config (on the
        default device, whatever strategy the run trained with); every
        variable must get a value from it.
        """
        import keras

        from dat_tf.train.checkpoints import RunCheckpointer

        path = self._checkpoint_prefix(checkpoint)
        if path is not None or self.has_checkpoints():
            gan = self._build()
            ckpt = RunCheckpointer(gan, self.checkpoint_dir, keep=self.config.keep_checkpoints)
            step = ckpt.restore(path) if path is not None else ckpt.restore_latest()
            return gan, step
        if not os.path.isfile(self.exported_gan_path):
            raise FileNotFoundError(f"run_dir={self.path!r} has neither a checkpoint in {CHECKPOINTS}/ nor gan.keras.")
        import dat_tf.gan  # noqa: F401 - registers GAN for load_model

        gan = keras.models.load_model(self.exported_gan_path, compile=False)
        return gan, int(keras.ops.convert_to_numpy(gan.g_steps))

    def load_generator(self, checkpoint=None):
        """``(generator, step)``; as :meth:`load_gan`, but a run without checkpoints gives ``generator.keras``.

        ``step`` is ``None`` for ``generator.keras`` (it does not record it).
        """
        path = self._checkpoint_prefix(checkpoint)
        if path is None and not self.has_checkpoints():
            if not os.path.isfile(self.exported_generator_path):
                raise FileNotFoundError(
                    f"run_dir={self.path!r} has neither a checkpoint in {CHECKPOINTS}/ nor generator.keras."
                )
            from dat_tf.metrics.evaluation import load_generator

            return load_generator(self.exported_generator_path), None
        gan, step = self.load_gan(path)
        return gan.generator, step

    # --------------------------------------------------------------- helpers

    def _checkpoint_prefix(self, checkpoint):
        """``None`` for "newest", else the prefix of an existing checkpoint."""
        if checkpoint is None:
            return None
        if isinstance(checkpoint, str) and checkpoint:
            if not os.path.isfile(checkpoint + ".index"):
                raise FileNotFoundError(
                    f"checkpoint={checkpoint!r}: no checkpoint {checkpoint + '.index'!r}; run {self.path!r} has "
                    f"steps {self.checkpoint_steps()}."
                )
            return checkpoint
        if isinstance(checkpoint, np.integer):
            checkpoint = int(checkpoint)
        if isinstance(checkpoint, bool) or not isinstance(checkpoint, int):
            raise ValueError(f"checkpoint must be None, a generator step or a checkpoint path, got {checkpoint!r}.")
        return self.checkpoint_path(checkpoint)

    def _build(self):
        import tensorflow as tf

        from dat_tf.train.loop import build_gan

        return build_gan(self.config, strategy=tf.distribute.get_strategy())
