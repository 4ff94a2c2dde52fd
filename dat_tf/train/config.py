"""``TrainConfig``: the typed description of one training run.

Every field carries its help, its choices and its bounds (:func:`dat_tf.hparams.param`);
``bin/train.py`` generates its flags from them (:mod:`dat_tf.train.cli`) and
:meth:`TrainConfig.validate` checks them all, once, before any work starts,
naming the flag, the bad value and what is allowed.  Choices of ``dataset``,
``net``, ``loss`` and ``regularizer`` are read from their registries, and the
chosen regularizer's hyperparameters live in ``reg_args`` (flags
``--<prefix>_<field>``, e.g. ``--dat_epsilon``, generated from the
regularizer's own fields).  ``regularizer="module:Class"`` runs a regularizer of
your own: the module is imported when the config is validated (or its flags
defined) and the class's fields become flags as a registered one's do.

Example:

>>> cfg = TrainConfig(dataset="mixture_balanced", regularizer="dat", reg_args={"epsilon": 0.5})
>>> cfg.validate().build_regularizer().epsilon
0.5
"""

from __future__ import annotations

import dataclasses
import math

from dat_tf.data.registry import DATASETS, get_dataset
from dat_tf.hparams import allowed, check_value, kind_of, param, parse, problems
from dat_tf.losses import LOSSES
from dat_tf.nets.registry import NETS, get_net
from dat_tf.regularizers import REGULARIZERS, get_regularizer, names_of

CLASSIFIERS = ("digits", "inception")


def _nonempty(v):
    return isinstance(v, str) and bool(v)


@dataclasses.dataclass
class TrainConfig:
    """One run.  Field names are the ``bin/train.py`` flag names; ``help`` says what each means."""

    # Data
    dataset: str = param("mixture_balanced", "Training data (a registered dataset, or folder:<path>).",
                         choices=DATASETS.names)
    mixture_std: float = param(math.sqrt(0.1), "Std of each Gaussian of the 2D mixtures "
                               "(paper: 'variance 0.1', so sqrt(0.1)).", low=0.0, strict=True)
    resolution: int | None = param(None, "Image size; None keeps the dataset's own (8 digits, 32 CIFAR, "
                                   "48 STL-10, 64 others).", low=1, optional=True)
    data_dir: str | None = param(None, "tfds data_dir with prepared data, or the image folder (tinyimagenet); "
                                 "None: tfds's default.", optional=True)
    download: bool = param(True, "Download and prepare a tfds dataset that is not prepared yet (tfds's default), "
                           "after a probe of its host of at most 3 s (offline: a clear error at once); "
                           "--download=false never reaches out.")
    mock_data: bool = param(False, "Offline smoke runs: random images via tfds.testing.mock_data instead of "
                            "the real tfds data.")
    # Nets
    net: str = param("mlp", "Architecture (a registered net).", choices=NETS.names)
    latent_dim: int = param(2, "Size of the latent vector z.", low=1)
    width: int | None = param(None, "Hidden units (mlp) or base channels (dcgan, sngan family); None: the "
                              "net's default (64; mimicry's for SNGAN).", low=1, optional=True)
    d_batch_norm: bool = param(True, "BatchNorm in the DCGAN discriminator (off for WGAN-GP critics).")
    d_spectral_norm: bool = param(False, "Spectral normalization on the discriminator's layers (mlp, dcgan).")
    d_sigmoid: bool = param(False, "End D in a sigmoid, as the AR/RFM code base does for its LSGAN and WGAN lines "
                            "(--net=dcgan_rfm only; the ns/minimax losses already take the sigmoid of a logit).")
    d_weight_clip: float = param(0.0, "Clip D's weights to [-c, c] after each update (original WGAN); "
                                 "0 disables.", low=0.0)
    # Objective
    loss: str = param("ns", "GAN loss (a registered loss).", choices=LOSSES.names)
    regularizer: str = param("none", "Discriminator regularizer (a registered regularizer, or module:Class: a "
                             "Regularizer subclass of your own, its fields' flags defined once the module is "
                             "imported).", choices=REGULARIZERS.names)
    reg_args: dict = param({}, "Hyperparameters of the regularizer (flags --<prefix>_<name>, e.g. "
                           "--dat_epsilon); missing ones take the regularizer's defaults.", flag=False)
    # Schedule
    batch_size: int = param(256, "Examples per discriminator step.", low=1)
    n_dis: int = param(1, "Discriminator steps per generator step.", low=1, high=511)
    n_iter: int = param(10000, "Generator steps to train for.", low=1)
    lr_d: float = param(2e-4, "Adam learning rate of the discriminator.", low=0.0, strict=True)
    lr_g: float = param(2e-4, "Adam learning rate of the generator.", low=0.0, strict=True)
    beta1: float = param(0.5, "Adam beta_1.", low=0.0, high=1.0)
    beta2: float = param(0.999, "Adam beta_2.", low=0.0, high=1.0)
    lr_decay: str = param("none", "Learning-rate decay over n_iter generator steps.", choices=("none", "linear"))
    seed: int = param(0, "Seed of every random draw (weights, latents, data order).", low=0)
    # Checkpoints
    checkpoint_every: int = param(1000, "Generator steps between checkpoints (0: only at the end), whatever "
                                  "log_every is; reruns resume from the newest.", low=0)
    keep_checkpoints: int = param(3, "How many checkpoints to keep.", low=1)
    # Logging
    run_dir: str = param("runs/default", "Output folder: TensorBoard logs, config.json, checkpoints, "
                         "gan.keras, generator.keras.")
    log_every: int = param(500, "Generator steps per Keras epoch (scalars to TensorBoard, a progress line).", low=1)
    sample_every: int = param(1000, "Generator steps between sample pictures in TensorBoard (0: none).", low=0)
    sample_kind: str = param("auto", "Sample picture.", choices=("auto", "scatter", "grid"))
    steps_per_execution: int = param(50, "Training steps per compiled call (fewer Python round trips).", low=1)
    verbose: int = param(1, "Progress output: 0 none; 1 a line every log_every generator steps (step of n_iter "
                         "counted across resumes, losses, speed, ETA); 2 Keras' own line per epoch instead.",
                         low=0, high=2)
    log_gradient_norms: bool = param(True, "Log the mean input-gradient norm of D at reals, fakes and "
                                     "interpolates, computed on the steps that land on a multiple of --log_every "
                                     "(the points logged), not in between.")
    # Metrics
    metrics_every: int = param(0, "Generator steps between FID/KID/IS evaluations logged to TensorBoard "
                               "(0: none).", low=0)
    metrics_classifier: str = param("digits", "Classifier for in-training metrics: digits, inception, or a "
                                    ".keras/.h5 classifier file.")
    metrics_num_samples: int = param(5000, "Generated images per in-training evaluation.", low=2)
    # Scale
    strategy: str = param("default", "tf.distribute strategy (multi_worker reads TF_CONFIG).",
                          choices=("default", "mirrored", "multi_worker", "tpu"))
    num_devices: int | None = param(None, "mirrored on CPU: split the CPU into this many logical devices "
                                    "(None: all GPUs, or 1 CPU).", low=1, optional=True)
    xla: bool = param(False, "Compile the train step with XLA (jit_compile); off by default (slower on CPU).")
    precision: str = param("float32", "Keras dtype policy; mixed_float16 uses loss scaling.",
                           choices=("float32", "mixed_float16", "mixed_bfloat16"))
    sync_batch_norm: bool = param(False, "Synchronize the generator's BatchNorm statistics across replicas.")
    # Faults
    on_nan: str = param("stop", "On a NaN/Inf loss: stop (save the last finite state) or restore.",
                        choices=("stop", "restore"))
    nan_lr_factor: float = param(0.5, "With --on_nan=restore: multiply both learning rates by this after "
                                 "restoring.", low=0.0, strict=True, high=1.0)

    # ------------------------------------------------------------ validation

    def validate(self) -> "TrainConfig":
        """Checks every field; returns ``self`` or raises one ``ValueError`` listing every problem."""
        found, patterns = [], set()
        for field, registry in (("dataset", DATASETS), ("regularizer", REGULARIZERS)):
            value = getattr(self, field)
            if isinstance(value, str) and ":" in value:  # folder:<path>, module:Class: the registry resolves it
                patterns.add(field)
                try:
                    registry.lookup(value)
                except ValueError as e:
                    found.append(f"--{field}={value!r} is not allowed: {e}")
        found += [f"--{p}" for p in problems(self) if p.split("=", 1)[0] not in patterns]
        if not _nonempty(self.run_dir):
            found.append(f"--run_dir={self.run_dir!r} is not allowed; expected a non-empty path")
        if not isinstance(self.metrics_classifier, str) or not (
            self.metrics_classifier in CLASSIFIERS or self.metrics_classifier.endswith((".keras", ".h5"))
        ):
            found.append(f"--metrics_classifier={self.metrics_classifier!r} is not allowed; expected "
                         "'digits', 'inception' or a .keras/.h5 classifier file")
        if not found:
            found += self._regularizer_problems()
        if not found:
            found += self._combination_problems()
        if found:
            raise ValueError("Invalid configuration:\n  " + "\n  ".join(found))
        return self

    def _regularizer_problems(self):
        entry = REGULARIZERS[self.regularizer]
        if not isinstance(self.reg_args, dict):
            return [f"reg_args={self.reg_args!r} is not allowed; expected a dict of {entry.cls.__name__} arguments"]
        fields = {f.name: f for f in dataclasses.fields(entry.cls) if f.init}
        out = []
        for key, value in self.reg_args.items():
            flag = _reg_flag_name(entry.cls, key)
            if key in entry.fixed:
                out.append(f"{flag}={value!r} is not allowed with --regularizer={self.regularizer} "
                           f"(the name fixes {key}={entry.fixed[key]!r})")
            elif key not in fields:
                takes = [_reg_flag_name(entry.cls, f.name) for f in entry.hyperparameters()] or ["no arguments"]
                out.append(f"{flag}={value!r} is not allowed with --regularizer={self.regularizer}; it takes "
                           f"{', '.join(takes)}")
            elif not check_value(fields[key], value, entry.cls):
                out.append(f"{flag}={value!r} is not allowed; expected {allowed(fields[key], entry.cls)}")
        if not out:
            try:
                self.build_regularizer()
            except ValueError as e:
                out.append(str(e))
        return out

    def _combination_problems(self):
        out = []
        data = get_dataset(self.dataset)
        if data.source == "folder" and not self.resolution:
            out.append(f"--resolution=None is not allowed with --dataset={self.dataset!r}; give the image size")
            return out
        why = get_net(self.net).check(self.data_shape())
        if why:
            out.append(f"--net={self.net!r} is not allowed with --dataset={self.dataset!r} "
                       f"(--resolution={self.resolution!r}): it {why}")
        if self.d_sigmoid and self.net != "dcgan_rfm":
            out.append(f"--d_sigmoid is not allowed with --net={self.net!r}; only dcgan_rfm ends in an optional sigmoid")
        elif self.d_sigmoid and self.loss in ("ns", "minimax"):
            out.append(f"--d_sigmoid is not allowed with --loss={self.loss}: that loss applies the sigmoid to D's "
                       "logit itself (BCE on a sigmoid output is the ns loss on the logit); drop --d_sigmoid")
        if self.metrics_every and data.kind != "images":
            out.append(f"--metrics_every={self.metrics_every} is not allowed with --dataset={self.dataset!r}: "
                       "FID needs images")
        if self.strategy == "mirrored" and self.num_devices and self.batch_size % self.num_devices:
            out.append(f"--batch_size={self.batch_size} is not allowed with --strategy=mirrored "
                       f"--num_devices={self.num_devices}: each replica takes an equal share of the batch; "
                       f"expected a multiple of {self.num_devices}")
        if self.mock_data and data.source != "tfds":
            out.append(f"--mock_data is only for the tfds datasets, not --dataset={self.dataset!r}")
        return out

    # --------------------------------------------------------------- helpers

    def image_resolution(self) -> int:
        """Side of the training images (0 for the 2D mixtures)."""
        return get_dataset(self.dataset).image_resolution(self.resolution)

    def data_shape(self) -> tuple:
        """Per-example shape of the training data."""
        return get_dataset(self.dataset).shape(self.resolution)

    def build_regularizer(self):
        """The :class:`dat_tf.regularizers.Regularizer` this config trains with."""
        return get_regularizer(self.regularizer, **self.reg_args)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def resolved(self) -> "TrainConfig":
        """This config with ``reg_args`` holding every hyperparameter of its regularizer, defaults included.

        What a run folder stores: a default that changes in a later version then shows as a change
        of the run's configuration instead of silently altering a resumed run.
        """
        return dataclasses.replace(self, reg_args=_full_reg_args(self.regularizer, self.reg_args))

    @classmethod
    def from_flags(cls, values: dict) -> "TrainConfig":
        """A config from flag values: ``TrainConfig`` fields and regularizer flags (``dat_epsilon``...).

        Regularizer flags whose value is ``None`` are unset; the others go to
        ``reg_args`` if they belong to the chosen regularizer's class, and are
        otherwise an error naming the flag.
        """
        base = {k: v for k, v in values.items() if k in _FIELDS}
        reg_flags = regularizer_flags()
        unknown = sorted(set(values) - set(base) - set(reg_flags))
        if unknown:
            raise ValueError(f"Unknown flag(s) {', '.join('--' + u for u in unknown)}.")
        reg_args = dict(base.pop("reg_args", None) or {})
        name = base.get("regularizer", _FIELDS["regularizer"].default)
        entry = _entry(name)
        for flag, value in values.items():
            if flag not in reg_flags or value is None:
                continue
            owner, field = reg_flags[flag]
            if entry is None or owner is not entry.cls:
                users = names_of(owner)
                raise ValueError(f"--{flag}={value!r} is not allowed with --regularizer={name}; it is for "
                                 f"{', '.join(users)}")
            reg_args[field.name] = value
        return cls(**base, reg_args=reg_args)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """A config from a stored ``config.json`` dict (older runs' keys translated, see :func:`upgrade_dict`)."""
        return cls(**upgrade_dict(values))

    @classmethod
    def from_flagfile(cls, path, **overrides) -> "TrainConfig":
        """Reads ``--name=value`` lines (``#`` comments) into a config.

        The same files ``bin/train.py --flagfile=`` reads; ``overrides`` (flag
        names, regularizer flags included) win over the file.
        """
        lines = []
        with open(path) as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if not line.startswith("--") or "=" not in line:
                    raise ValueError(f"{path}:{lineno}: expected --name=value, got {line!r}")
                lines.append((lineno, *line[2:].split("=", 1)))
        # A module:Class regularizer's flags exist once its module is imported.
        _entry(overrides.get("regularizer", {n: t for _, n, t in lines}.get("regularizer", "none")))
        kinds = flag_kinds()
        values = {}
        for lineno, name, text in lines:
            if name not in kinds:
                raise ValueError(f"{path}:{lineno}: unknown flag --{name}; known flags are {sorted(kinds)}")
            try:
                values[name] = parse(kinds[name], text)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: --{name}={text!r} is not a valid {kinds[name].__name__}") from None
        values.update(overrides)
        return cls.from_flags(values)


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_LEGACY_REG_KEYS = {"dat_epsilon": "epsilon", "dat_variant": "variant", "dat_clip": "clip",
                    "reg_weight": "weight", "reg_epsilon": "epsilon"}


# Fields added after runs were stored, whose default is what those runs did: a stored config without one
# means that default (not a changed configuration).
_ADDED_LATER = ("d_sigmoid",)


def _entry(regularizer):
    """The registry entry of ``regularizer`` (a ``module:Class`` is imported), or ``None`` if there is none."""
    try:
        return REGULARIZERS.lookup(regularizer)
    except ValueError:
        return None


def _full_reg_args(regularizer: str, given: dict) -> dict:
    """``given`` completed with today's defaults of ``regularizer``'s hyperparameters."""
    entry = _entry(regularizer)
    if entry is None or not isinstance(given, dict):
        return given
    return {**{f.name: f.default for f in entry.hyperparameters()}, **given}


def upgrade_dict(values: dict) -> dict:
    """A stored config dict in today's form: the flat regularizer keys of older runs (``dat_epsilon``,
    ``reg_weight``, ...) go to ``reg_args``, their 0 / "" / negative sentinels become ``None`` (unset), and
    fields added later (:data:`_ADDED_LATER`) take their defaults."""
    values = dict(values)
    for key in _ADDED_LATER:
        values.setdefault(key, _FIELDS[key].default)
    legacy = {k: values.pop(k) for k in _LEGACY_REG_KEYS if k in values}
    for key in ("resolution", "width", "num_devices"):
        if values.get(key) == 0:
            values[key] = None
    if values.get("data_dir") == "":
        values["data_dir"] = None
    if not legacy:
        return _with_full_reg_args(values)
    reg_args = dict(values.get("reg_args") or {})
    name = values.get("regularizer", "none")
    entry = _entry(name)
    takes = {f.name for f in entry.hyperparameters()} if entry else set()
    for key, value in legacy.items():
        if key.startswith("dat_") != (name in ("dat", "datt")):
            continue  # dat_* flags belonged to dat/datt, reg_* to the others
        sentinel = value == "default" or (key.startswith("reg_") and (value is None or value < 0))
        if _LEGACY_REG_KEYS[key] in takes and not sentinel:
            reg_args.setdefault(_LEGACY_REG_KEYS[key], value)
    values["reg_args"] = reg_args
    return _with_full_reg_args(values)


def _with_full_reg_args(values: dict) -> dict:
    # Runs stored before config.json held every hyperparameter: the missing ones are read as today's defaults.
    if "reg_args" in values or "regularizer" in values:
        values["reg_args"] = _full_reg_args(values.get("regularizer", "none"), dict(values.get("reg_args") or {}))
    return values


def _reg_flag_name(cls, field_name):
    return f"--{cls.flag_prefix}_{field_name}"


def regularizer_flags() -> dict:
    """``{flag name: (regularizer class, field)}`` for every registered regularizer's hyperparameters.

    A field becomes a flag ``<flag_prefix>_<field>`` unless it is declared
    ``flag=False`` or every name of its class fixes it.
    """
    out = {}
    for entry in REGULARIZERS.values():
        for field in entry.hyperparameters():
            if not field.metadata.get("flag", True):
                continue
            if all(field.name in REGULARIZERS[n].fixed for n in names_of(entry.cls)):
                continue
            flag = f"{entry.cls.flag_prefix}_{field.name}"
            if flag in _FIELDS:
                raise ValueError(f"Regularizer flag --{flag} of {entry.cls.__name__} clashes with a TrainConfig field.")
            if flag in out and out[flag][0] is not entry.cls:
                raise ValueError(f"Regularizer flag --{flag} is claimed by {out[flag][0].__name__} and "
                                 f"{entry.cls.__name__}; give one of them another flag_prefix.")
            out[flag] = (entry.cls, field)
    return out


def flag_kinds() -> dict:
    """``{flag name: type}`` of every flag ``bin/train.py`` takes."""
    kinds = {f.name: kind_of(f, TrainConfig) for f in dataclasses.fields(TrainConfig) if f.metadata.get("flag", True)}
    for flag, (cls, field) in regularizer_flags().items():
        kinds[flag] = kind_of(field, cls)
    return kinds
