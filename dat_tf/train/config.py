"""``TrainConfig``: the typed description of one training run.

Command-line flags are read only in ``bin/`` and turned into a
:class:`TrainConfig`; the library takes the config.  :meth:`TrainConfig.validate`
checks every field before any work starts and names the field (the flag of the
same name), the bad value and what is allowed.

Example:

>>> cfg = TrainConfig(dataset="mixture_balanced", regularizer="dat", n_iter=100)
>>> cfg.validate().regularizer
'dat'
"""

from __future__ import annotations

import dataclasses
import math

from dat_tf.losses import LOSSES
from dat_tf.regularizers import REGULARIZERS

TOY_DATASETS = ("mixture_balanced", "mixture_imbalanced")
IMAGE_DATASETS = ("cifar10", "cifar100", "stl10", "tinyimagenet", "lsun_bedroom")
TFDS_DATASETS = ("cifar10", "cifar100", "stl10", "lsun_bedroom")
DATASETS = TOY_DATASETS + ("digits",) + IMAGE_DATASETS + ("folder:<path>",)
NETS = ("mlp", "dcgan", "sngan", "ssgan", "infomaxgan")
SNGAN_FAMILY = ("sngan", "ssgan", "infomaxgan")
LR_DECAYS = ("none", "linear")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
ON_NAN = ("stop", "restore")
DAT_VARIANTS = ("paper", "reference")
DAT_CLIPS = ("default", "none", "fake", "both")
SAMPLE_KINDS = ("auto", "scatter", "grid")


@dataclasses.dataclass
class TrainConfig:
    """One run.  Field names are the ``bin/train.py`` flag names.

    Data: ``dataset`` (one of :data:`DATASETS`), ``mixture_std`` (std of each
    Gaussian; the paper's "variance 0.1" is std ``sqrt(0.1)``), ``resolution``
    (0: the dataset's own, 8 for digits), ``data_dir`` (prepared tfds data or
    image folder), ``download`` (let tfds download), ``mock_data`` (random
    images through ``tfds.testing.mock_data``, for offline smoke runs).

    Nets: ``net`` (one of :data:`NETS`; ``ssgan`` and ``infomaxgan`` are the
    SNGAN nets plus their auxiliary task), ``latent_dim``, ``width`` (hidden
    units / base channels; 0: the net's default), ``d_batch_norm``,
    ``d_spectral_norm`` (mlp/dcgan; the SNGAN-family D always has it),
    ``d_weight_clip`` (WGAN weight clipping; 0: off).

    Objective: ``loss`` (:data:`dat_tf.losses.LOSSES`), ``regularizer``
    (:data:`dat_tf.regularizers.REGULARIZERS`), ``reg_weight`` (lambda of the
    penalties; negative means the method's default), ``reg_epsilon`` (attack
    size of ar/rfm/asgan; negative means default), ``dat_epsilon``,
    ``dat_variant``, ``dat_clip``.

    Schedule: ``batch_size``, ``n_dis``, ``n_iter`` (generator steps), Adam's
    ``lr_d``, ``lr_g``, ``beta1``, ``beta2``, ``lr_decay`` (``none`` or
    ``linear`` to zero at ``n_iter``, counted in generator steps), ``seed``.

    Checkpoints: ``checkpoint_every`` (generator steps; 0: only at the end),
    ``keep_checkpoints``.  A rerun with the same ``run_dir`` resumes from the
    newest checkpoint.

    Metrics: ``metrics_every`` (generator steps between FID/KID/IS in
    TensorBoard; 0: off), ``metrics_classifier``, ``metrics_num_samples``.

    Scale: ``strategy`` (``default``: one device; ``mirrored``: all local
    GPUs, or ``num_devices`` logical CPUs; ``multi_worker``: from
    ``TF_CONFIG``; ``tpu``), ``xla`` (``jit_compile`` per device),
    ``precision`` (``float32``, ``mixed_float16`` with loss scaling,
    ``mixed_bfloat16``), ``sync_batch_norm`` (G's BatchNorm statistics over
    all replicas).

    Faults: ``on_nan`` (``stop``: save the last finite state and stop;
    ``restore``: reload the last checkpoint and multiply both learning rates
    by ``nan_lr_factor``).

    Logging: ``run_dir`` (TensorBoard logs, samples and the final model),
    ``log_every`` (generator steps per Keras epoch: scalars and progress),
    ``sample_every`` (steps between TensorBoard sample images; 0 = never),
    ``steps_per_execution``, ``verbose``, ``log_gradient_norms``.
    """

    dataset: str = "mixture_balanced"
    mixture_std: float = math.sqrt(0.1)
    resolution: int = 0
    data_dir: str = ""
    download: bool = False
    mock_data: bool = False
    net: str = "mlp"
    latent_dim: int = 2
    width: int = 0
    d_batch_norm: bool = True
    d_spectral_norm: bool = False
    d_weight_clip: float = 0.0
    loss: str = "ns"
    regularizer: str = "none"
    reg_weight: float = -1.0
    reg_epsilon: float = -1.0
    dat_epsilon: float = 1.0
    dat_variant: str = "paper"
    dat_clip: str = "default"
    batch_size: int = 256
    n_dis: int = 1
    n_iter: int = 10000
    lr_d: float = 2e-4
    lr_g: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay: str = "none"
    seed: int = 0
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    run_dir: str = "runs/default"
    log_every: int = 500
    sample_every: int = 1000
    sample_kind: str = "auto"
    steps_per_execution: int = 50
    verbose: int = 1
    log_gradient_norms: bool = True
    metrics_every: int = 0
    metrics_classifier: str = "digits"
    metrics_num_samples: int = 5000
    strategy: str = "default"
    num_devices: int = 0
    xla: bool = False
    precision: str = "float32"
    sync_batch_norm: bool = False
    on_nan: str = "stop"
    nan_lr_factor: float = 0.5

    # ------------------------------------------------------------ validation

    def validate(self) -> "TrainConfig":
        """Checks every field; returns ``self`` or raises one ``ValueError``."""
        problems = []

        def choice(name, allowed):
            v = getattr(self, name)
            if v not in allowed:
                problems.append(f"--{name}={v!r} is not allowed; expected one of {list(allowed)}")

        def integer(name, low, high=None):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low or (high is not None and v > high):
                rng = f">= {low}" if high is None else f"in [{low}, {high}]"
                problems.append(f"--{name}={v!r} is not allowed; expected an integer {rng}")

        def number(name, low=None, strict=False, high=None):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if ok and low is not None:
                ok = v > low if strict else v >= low
            if ok and high is not None:
                ok = v <= high
            if not ok:
                bound = "" if low is None else (f" > {low}" if strict else f" >= {low}")
                bound += "" if high is None else f" and <= {high}"
                problems.append(f"--{name}={v!r} is not allowed; expected a finite number{bound}")

        if not (isinstance(self.dataset, str) and self.dataset.startswith("folder:") and len(self.dataset) > 7):
            choice("dataset", DATASETS)
        choice("net", NETS)
        choice("loss", sorted(LOSSES))
        choice("regularizer", sorted(REGULARIZERS))
        choice("dat_variant", DAT_VARIANTS)
        choice("dat_clip", DAT_CLIPS)
        choice("sample_kind", SAMPLE_KINDS)
        choice("lr_decay", LR_DECAYS)
        number("d_weight_clip", 0.0)
        integer("checkpoint_every", 0)
        integer("keep_checkpoints", 1)
        integer("metrics_every", 0)
        choice("strategy", STRATEGIES)
        choice("precision", PRECISIONS)
        choice("on_nan", ON_NAN)
        integer("num_devices", 0)
        number("nan_lr_factor", 0.0, strict=True, high=1.0)
        integer("metrics_num_samples", 2)
        if not isinstance(self.metrics_classifier, str) or not (
            self.metrics_classifier in ("digits", "inception") or self.metrics_classifier.endswith((".keras", ".h5"))
        ):
            problems.append(
                f"--metrics_classifier={self.metrics_classifier!r} is not allowed; expected 'digits', 'inception' "
                "or a .keras/.h5 classifier file"
            )
        number("mixture_std", 0.0, strict=True)
        integer("resolution", 0)
        integer("latent_dim", 1)
        integer("width", 0)
        number("reg_weight")
        number("reg_epsilon")
        number("dat_epsilon", 0.0)
        integer("batch_size", 1)
        integer("n_dis", 1, 511)
        integer("n_iter", 1)
        number("lr_d", 0.0, strict=True)
        number("lr_g", 0.0, strict=True)
        number("beta1", 0.0, high=1.0)
        number("beta2", 0.0, high=1.0)
        integer("seed", 0)
        integer("log_every", 1)
        integer("sample_every", 0)
        integer("steps_per_execution", 1)
        integer("verbose", 0, 2)
        if not isinstance(self.run_dir, str) or not self.run_dir:
            problems.append(f"--run_dir={self.run_dir!r} is not allowed; expected a non-empty path")
        if not problems:
            problems += self._combination_problems()
        if problems:
            raise ValueError("Invalid configuration:\n  " + "\n  ".join(problems))
        return self

    def _combination_problems(self):
        problems = []
        res = self.image_resolution()
        if self.dataset in TOY_DATASETS and self.net != "mlp":
            problems.append(f"--net={self.net!r} is not allowed with --dataset={self.dataset!r}; expected 'mlp'")
        if self.net == "dcgan" and (res < 8 or res & (res - 1)):
            problems.append(
                f"--resolution={self.resolution!r} (image size {res}) is not allowed with --net=dcgan; "
                "expected a power of two >= 8"
            )
        if self.net in SNGAN_FAMILY and res not in (32, 48, 64):
            problems.append(
                f"--resolution={self.resolution!r} (image size {res}) is not allowed with --net={self.net}; "
                "expected 32, 48 or 64"
            )
        if self.dataset.startswith("folder:") and not self.resolution:
            problems.append(f"--resolution=0 is not allowed with --dataset={self.dataset!r}; give the image size")
        if self.metrics_every and self.dataset in TOY_DATASETS:
            problems.append(f"--metrics_every={self.metrics_every} is not allowed with --dataset={self.dataset!r}: FID needs images")
        if self.mock_data and self.dataset not in TFDS_DATASETS:
            problems.append(f"--mock_data is only for the tfds datasets {list(TFDS_DATASETS)}, not --dataset={self.dataset!r}")
        return problems

    def image_resolution(self) -> int:
        """Side of the training images (0 for the 2D mixtures)."""
        if self.dataset in TOY_DATASETS:
            return 0
        if self.resolution:
            return self.resolution
        native = {"digits": 8, "cifar10": 32, "cifar100": 32, "stl10": 48, "tinyimagenet": 64, "lsun_bedroom": 64}
        return native.get(self.dataset, 0)

    # --------------------------------------------------------------- helpers

    def regularizer_kwargs(self) -> dict:
        """Constructor arguments for :func:`dat_tf.regularizers.get_regularizer`."""
        name = self.regularizer
        kw = {}
        if name in ("gp", "lp", "zero_gp", "r1", "ar", "rfm") and self.reg_weight >= 0:
            kw["weight"] = self.reg_weight
        if name in ("ar", "rfm", "asgan") and self.reg_epsilon >= 0:
            kw["epsilon"] = self.reg_epsilon
        if name in ("dat", "datt"):
            kw["epsilon"] = self.dat_epsilon
            kw["variant"] = self.dat_variant
            if self.dat_clip != "default":
                kw["clip"] = self.dat_clip
        return kw

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def field_names(cls):
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_flagfile(cls, path, **overrides) -> "TrainConfig":
        """Reads ``--name=value`` lines (``#`` comments) into a config.

        The same files ``bin/train.py --flagfile=`` reads; for library code that
        runs many configs without absl.  ``overrides`` win over the file.
        """
        types = {f.name: type(f.default) for f in dataclasses.fields(cls)}
        values = {}
        with open(path) as f:
            for lineno, raw in enumerate(f, 1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    continue
                if not line.startswith("--") or "=" not in line:
                    raise ValueError(f"{path}:{lineno}: expected --name=value, got {line!r}")
                name, value = line[2:].split("=", 1)
                if name not in types:
                    raise ValueError(f"{path}:{lineno}: unknown flag --{name}; known flags are {sorted(types)}")
                values[name] = _parse(types[name], value, f"{path}:{lineno}: --{name}")
        values.update(overrides)
        return cls(**values)


def _parse(kind, text, where):
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return text.lower() in ("true", "1")
        return kind(text)
    except ValueError:
        raise ValueError(f"{where}={text!r} is not a valid {kind.__name__}") from None


HELP = {
    "dataset": f"Training data: one of {list(DATASETS)}.",
    "mixture_std": "Std of each Gaussian of the 2D mixtures (paper: 'variance 0.1', so sqrt(0.1)).",
    "resolution": "Image size; 0 keeps the dataset's own (8 for digits, 32 CIFAR, 48 STL-10, 64 others).",
    "data_dir": "tfds data_dir with prepared data, or the image folder (tinyimagenet); empty: tfds default.",
    "download": "Let tensorflow-datasets download and prepare the dataset (needs internet).",
    "mock_data": "Offline smoke runs: random images via tfds.testing.mock_data instead of the real tfds data.",
    "d_weight_clip": "Clip D's weights to [-c, c] after each update (original WGAN); 0 disables.",
    "lr_decay": f"Learning-rate decay over n_iter generator steps: one of {list(LR_DECAYS)}.",
    "checkpoint_every": "Generator steps between checkpoints (0: only at the end); reruns resume from the newest.",
    "keep_checkpoints": "How many checkpoints to keep.",
    "net": f"Architecture: one of {list(NETS)}.",
    "latent_dim": "Size of the latent vector z.",
    "width": "Hidden units (mlp) or base channels (dcgan, sngan family); 0: the net's default (64; mimicry's for SNGAN).",
    "d_batch_norm": "BatchNorm in the DCGAN discriminator (off for WGAN-GP critics).",
    "d_spectral_norm": "Spectral normalization on the discriminator's layers.",
    "loss": f"GAN loss: one of {sorted(LOSSES)}.",
    "regularizer": f"Discriminator regularizer: one of {sorted(REGULARIZERS)}.",
    "reg_weight": "Lambda of gp/lp/zero_gp/r1/ar/rfm; negative keeps the method's default.",
    "reg_epsilon": "Attack size of ar/rfm/asgan; negative keeps the method's default.",
    "dat_epsilon": "DAT step size epsilon (1 in the paper).",
    "dat_variant": f"DAT variant: one of {list(DAT_VARIANTS)}.",
    "dat_clip": f"Which DAT-perturbed batches are clipped to [-1, 1]: one of {list(DAT_CLIPS)}.",
    "batch_size": "Examples per discriminator step.",
    "n_dis": "Discriminator steps per generator step.",
    "n_iter": "Generator steps to train for.",
    "lr_d": "Adam learning rate of the discriminator.",
    "lr_g": "Adam learning rate of the generator.",
    "beta1": "Adam beta_1.",
    "beta2": "Adam beta_2.",
    "seed": "Seed of every random draw (weights, latents, data order).",
    "run_dir": "Output folder: TensorBoard logs, config.json, gan.keras, generator.keras.",
    "log_every": "Generator steps per Keras epoch (scalars to TensorBoard, progress bar).",
    "sample_every": "Generator steps between sample pictures in TensorBoard (0: none).",
    "sample_kind": f"Sample picture: one of {list(SAMPLE_KINDS)}.",
    "steps_per_execution": "Training steps per compiled call (fewer Python round trips).",
    "verbose": "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch.",
    "log_gradient_norms": "Log the mean input-gradient norm of D at reals, fakes and interpolates.",
    "strategy": f"tf.distribute strategy: one of {list(STRATEGIES)} (multi_worker reads TF_CONFIG).",
    "num_devices": "mirrored on CPU: split the CPU into this many logical devices (0: all GPUs, or 1 CPU).",
    "xla": "Compile the train step with XLA (jit_compile); off by default (slower on CPU).",
    "precision": f"Keras dtype policy: one of {list(PRECISIONS)}; mixed_float16 uses loss scaling.",
    "sync_batch_norm": "Synchronize the generator's BatchNorm statistics across replicas.",
    "on_nan": f"On a NaN/Inf loss: one of {list(ON_NAN)} (stop saves the last finite state).",
    "nan_lr_factor": "With --on_nan=restore: multiply both learning rates by this after restoring.",
    "metrics_every": "Generator steps between FID/KID/IS evaluations logged to TensorBoard (0: none).",
    "metrics_classifier": "Classifier for in-training metrics: digits, inception, or a .keras file.",
    "metrics_num_samples": "Generated images per in-training evaluation.",
}
