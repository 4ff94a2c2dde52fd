"""Figure 1's diagnostic: how many targeted attack steps it takes to fool D.

Design notes: docs/design.md, "Figure 1: the targeted attack".
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from dat_tf.experiments import paper, stats, verdicts
from dat_tf.experiments.common import fmt
from dat_tf.experiments.parallel import limit_threads, map_processes
from dat_tf.files import write_jsonl_atomic

SCORES = ("auto", "sigmoid", "logit")
# Loss families whose D is a classifier with a sigmoid output in the paper's DCGAN.
SIGMOID_LOSSES = ("ns", "minimax")
DEFAULT_STEP = 2.0 / 255.0  # 1/255 of the [0, 1] pixel range, in the models' [-1, 1] units
DEFAULT_TOL = paper.FIGURE1_TOL  # paper Eq. (1): 0.02
DEFAULT_MAX_ITERS = 200


# ----------------------------------------------------------------- the attack


def targeted_attack(score_fn, x, target_scores, step, tol=DEFAULT_TOL, max_iters=DEFAULT_MAX_ITERS, clip=(-1.0, 1.0)):
    """Iterated targeted sign-gradient attack (paper Eq. 7), per example.

    Each example ``i`` takes steps ``x_i <- clip(x_i - step * sign(grad |s(x_i) - t_i|))``
    until ``|s(x_i) - t_i| <= tol`` or ``max_iters`` steps were taken; an
    example that has succeeded stops moving.  One forward and backward pass of
    ``score_fn`` per iteration over the whole batch, in a ``tf.while_loop``.

    Args:
      score_fn: ``x [B, ...] -> scores [B]`` (or ``[B, 1]``); must treat
        examples independently (e.g. D in inference mode).
      x: ``[B, ...]`` starting points.
      target_scores: ``[B]`` target score of each example.
      step: step size ``alpha`` (> 0), in the units of ``x``.
      tol: success threshold on ``|s(x) - t|`` (>= 0).
      max_iters: cap on the number of steps (integer >= 0).
      clip: ``(low, high)`` box the iterates are projected on, or ``None``.

    Returns:
      ``(x_adv, iterations, success)``: ``x_adv`` like ``x``; ``iterations``
      int32 ``[B]`` (steps taken; ``max_iters`` for the failures); ``success``
      bool ``[B]`` (``|s(x_adv) - t| <= tol``).
    """
    _check_attack_args(step, tol, max_iters, clip)
    x = tf.convert_to_tensor(x, tf.float32)
    t = tf.reshape(tf.convert_to_tensor(target_scores, tf.float32), [-1])
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"x must be a batch [B, ...], got shape {x.shape}.")
    if t.shape[0] is not None and x.shape[0] is not None and t.shape[0] != x.shape[0]:
        raise ValueError(f"target_scores has {t.shape[0]} entries but x holds {x.shape[0]} examples.")
    low, high = (-math.inf, math.inf) if clip is None else clip
    return _attack_loop(
        score_fn, x, t, tf.constant(step, tf.float32), tf.constant(tol, tf.float32),
        tf.constant(max_iters, tf.int32), tf.constant(low, tf.float32), tf.constant(high, tf.float32),
    )


def _check_attack_args(step, tol, max_iters, clip):
    if not _finite_number(step) or step <= 0:
        raise ValueError(f"step must be a finite number > 0, got {step!r}.")
    if not _finite_number(tol) or tol < 0:
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}.")
    if isinstance(max_iters, bool) or not isinstance(max_iters, (int, np.integer)) or max_iters < 0:
        raise ValueError(f"max_iters must be an integer >= 0, got {max_iters!r}.")
    if clip is not None:
        if len(clip) != 2 or not all(isinstance(c, (int, float)) for c in clip) or not clip[0] < clip[1]:
            raise ValueError(f"clip must be None or (low, high) with low < high, got {clip!r}.")


def _finite_number(v):
    return isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool) and math.isfinite(v)


@tf.function(reduce_retracing=True)
def _attack_loop(score_fn, x, t, step, tol, max_iters, low, high):
    def score_and_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reshape(tf.cast(score_fn(x), tf.float32), [-1])
            # Examples are independent, so the gradient of the sum is each
            # example's gradient of its own |s_i - t_i|.
            objective = tf.reduce_sum(tf.abs(s - t))
        return s, tape.gradient(objective, x)

    def not_done(s):
        return tf.abs(s - t) > tol

    def cond(i, x, iters, s, g):
        return tf.logical_and(i < max_iters, tf.reduce_any(not_done(s)))

    def body(i, x, iters, s, g):
        active = not_done(s)
        moved = tf.clip_by_value(x - step * tf.sign(g), low, high)
        mask = tf.reshape(active, tf.concat([tf.shape(active), tf.ones([tf.rank(x) - 1], tf.int32)], 0))
        x = tf.where(mask, moved, x)
        iters = iters + tf.cast(active, tf.int32)
        s, g = score_and_grad(x)
        return i + 1, x, iters, s, g

    s0, g0 = score_and_grad(x)
    iters0 = tf.zeros(tf.shape(t), tf.int32)
    _, x_adv, iters, s, _ = tf.while_loop(cond, body, (tf.constant(0), x, iters0, s0, g0))
    return x_adv, iters, tf.logical_not(not_done(s))


# ------------------------------------------------------------- D as a score


def resolve_score(score: str, loss_name: str) -> str:
    """``"sigmoid"`` or ``"logit"`` for ``score`` (one of :data:`SCORES`) and a loss family."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)}, got {score!r}.")
    if score == "auto":
        return "sigmoid" if loss_name in SIGMOID_LOSSES else "logit"
    return score


def make_score_fn(discriminator: keras.Model, score: str = "logit"):
    """``x -> [B]`` scores of ``discriminator`` in inference mode (its state is never changed).

    Args:
      score: ``"logit"`` (D's raw output) or ``"sigmoid"`` (its probability).
    """
    if score not in ("sigmoid", "logit"):
        raise ValueError(f"score must be 'sigmoid' or 'logit' here (resolve 'auto' first), got {score!r}.")

    def score_fn(x):
        out = tf.cast(discriminator(x, training=False), tf.float32)
        out = tf.reshape(out, [tf.shape(out)[0]])
        return tf.sigmoid(out) if score == "sigmoid" else out

    return score_fn


# ------------------------------------------------------------ a trained run


@dataclasses.dataclass
class AttackExamples:
    """The images and per-example counts behind one :func:`attack_run` summary."""

    fake: np.ndarray
    fake_adv: np.ndarray
    real: np.ndarray
    real_adv: np.ndarray
    iterations_fake: np.ndarray
    iterations_real: np.ndarray
    success_fake: np.ndarray
    success_real: np.ndarray


def load_run(run_dir: str, checkpoint=None):
    """``(gan, cfg)`` of a run directory written by :func:`dat_tf.train.loop.train`.

    Args:
      checkpoint: ``None``: the newest checkpoint (the final model; ``gan.keras``
        for a run without checkpoints); an integer: the checkpoint of that
        generator step in ``run_dir/checkpoints``; a string: a checkpoint path
        (prefix).  See :class:`dat_tf.train.run_dir.RunDir`.
    """
    from dat_tf.train.run_dir import RunDir

    run = RunDir(run_dir)
    gan, _ = run.load_gan(checkpoint)
    return gan, run.config


def real_examples(cfg, num: int, seed: int) -> np.ndarray:
    """The first ``num`` examples of the run's training pipeline, shuffled with ``seed``.

    ``tf.data`` shuffles depend on TensorFlow's global seed as well as their
    own, so this sets the global seed to ``seed`` (``tf.random.set_seed``),
    as :func:`dat_tf.train.loop.build_gan` does with the run's seed before the
    run builds its pipeline: with ``seed == cfg.seed`` these are exactly the
    first ``num`` examples the run trained on.
    """
    from dat_tf.train.loop import build_dataset

    tf.random.set_seed(seed)
    ds = build_dataset(dataclasses.replace(cfg, seed=seed)).unbatch().take(num)
    x = [np.asarray(e) for e in ds.as_numpy_iterator()]
    if len(x) < num:
        raise ValueError(f"the dataset of {cfg.run_dir!r} gave only {len(x)} examples, fewer than num={num}.")
    return np.stack(x).astype(np.float32)


def attack_run(
    run_dir: str,
    num: int = 64,
    seed: int = 0,
    step: float = DEFAULT_STEP,
    tol: float = DEFAULT_TOL,
    max_iters: int = DEFAULT_MAX_ITERS,
    score: str = "auto",
    clip=(-1.0, 1.0),
    checkpoint=None,
    return_examples: bool = False,
):
    """Figure 1 for a trained run: attack ``num`` fakes and ``num`` reals.

    Fakes are ``G(z)`` (inference mode, latents from ``seed``), reals the first
    ``num`` examples of the run's data pipeline shuffled with ``seed`` (image
    datasets only; see :func:`real_examples`, which sets TensorFlow's global
    seed).  Fake ``i`` and real ``i`` are a pair: each is attacked
    towards the other's clean score.  ``checkpoint`` picks the training
    point (see :func:`load_run`; default the final model).

    Returns:
      ``{"k_fake", "k_real", "success_fake", "success_real", "num", "step",
      "tol", "score", "max_iters", "seed", "loss", "step_of_model", "dataset",
      "resolution", "regularizer", "train_seed",
      "k_fake_successful", "k_real_successful", "score_fake_mean",
      "score_real_mean", "initial_gap", "initially_within_tol", "rate_fake",
      "rate_real"}``: ``k_*``
      the mean iteration count over all examples (failures count
      ``max_iters``), ``success_*`` the fraction within ``tol``,
      ``k_*_successful`` the mean over successful examples only (``None`` if
      none), ``score`` the resolved score, ``step_of_model`` the generator
      step of the attacked model, ``dataset`` to ``train_seed`` the run's
      config; ``score_*_mean`` the mean clean scores,
      ``initial_gap`` the mean clean ``|s(x_f) - s(x_r)|`` of the pairs and
      ``initially_within_tol`` the fraction of pairs already within ``tol``
      (attacked in 0 steps, both ways); ``rate_*`` the mean score gap
      closed per step, ``(|gap before| - |gap after|) / K``, over the examples
      that took steps (``None`` if none; not in the paper: it separates D's
      sensitivity from how far apart it scores the pair).  With
      ``return_examples`` also ``"examples"``: an :class:`AttackExamples`.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
        raise ValueError(f"num must be an integer >= 1, got {num!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    _check_attack_args(step, tol, max_iters, clip)
    gan, cfg = load_run(run_dir, checkpoint)
    resolved = resolve_score(score, gan.gan_loss.name)
    if len(gan.generator.output_shape) != 4:
        raise ValueError(
            f"the attack diagnostic is for image data; run {run_dir!r} (dataset {cfg.dataset!r}) "
            f"generates shape {gan.generator.output_shape[1:]}."
        )
    x_fake = gan.sample(num, seed=seed).astype(np.float32)
    x_real = real_examples(cfg, num, seed)
    score_fn = make_score_fn(gan.discriminator, resolved)
    s_fake, s_real = score_fn(x_fake), score_fn(x_real)
    gap0 = np.abs(s_fake.numpy() - s_real.numpy())
    fake_adv, it_fake, ok_fake = targeted_attack(score_fn, x_fake, s_real, step, tol, max_iters, clip)
    real_adv, it_real, ok_real = targeted_attack(score_fn, x_real, s_fake, step, tol, max_iters, clip)
    it_fake, it_real, ok_fake, ok_real = (v.numpy() for v in (it_fake, it_real, ok_fake, ok_real))

    def successful_mean(iters, ok):
        return float(iters[ok].mean()) if ok.any() else None

    def rate(x_adv, targets, iters):
        # Score gap closed per step, over the examples that took steps.
        closed = gap0 - np.abs(score_fn(x_adv).numpy() - targets.numpy())
        moved = iters > 0
        return float(np.mean(closed[moved] / iters[moved])) if moved.any() else None

    out = {
        "k_fake": float(it_fake.mean()),
        "k_real": float(it_real.mean()),
        "success_fake": float(ok_fake.mean()),
        "success_real": float(ok_real.mean()),
        "k_fake_successful": successful_mean(it_fake, ok_fake),
        "k_real_successful": successful_mean(it_real, ok_real),
        "num": int(num),
        "step": float(step),
        "tol": float(tol),
        "max_iters": int(max_iters),
        "score": resolved,
        "loss": gan.gan_loss.name,
        "seed": int(seed),
        "step_of_model": int(keras.ops.convert_to_numpy(gan.g_steps)),
        "dataset": cfg.dataset,
        "resolution": cfg.image_resolution(),
        "regularizer": cfg.regularizer,
        "train_seed": cfg.seed,
        "score_fake_mean": float(np.mean(s_fake)),
        "score_real_mean": float(np.mean(s_real)),
        "initial_gap": float(gap0.mean()),
        "initially_within_tol": float(np.mean(gap0 <= tol)),
        "rate_fake": rate(fake_adv, s_real, it_fake),
        "rate_real": rate(real_adv, s_fake, it_real),
    }
    if return_examples:
        out["examples"] = AttackExamples(
            x_fake, fake_adv.numpy(), x_real, real_adv.numpy(), it_fake, it_real, ok_fake, ok_real
        )
    return out


def figure_grid(examples: AttackExamples, columns: int = 16, scale: int = 4) -> np.ndarray:
    """Figure 1's layout as a uint8 ``[H, W, C]`` image.

    Rows: clean fakes, their adversarial versions, clean reals, their
    adversarial versions; the first ``columns`` pairs; each pixel repeated
    ``scale`` times per side.
    """
    from dat_tf.viz import image_grid

    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be an integer >= 1, got {columns!r}.")
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}.")
    n = min(columns, len(examples.fake))
    rows = [examples.fake[:n], examples.fake_adv[:n], examples.real[:n], examples.real_adv[:n]]
    grid = image_grid(np.concatenate(rows, axis=0), columns=n)
    return np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)


def write_png(image: np.ndarray, path: str):
    """Writes a uint8 ``[H, W, C]`` image as PNG (parent folders created)."""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    tf.io.write_file(path, tf.image.encode_png(tf.convert_to_tensor(image, tf.uint8)))


def attack_line(run_dir: str, checkpoint=None, png: str | None = None, png_columns: int = 16, png_scale: int = 4,
                **attack_kwargs) -> dict:
    """One line of ``results.jsonl``: :func:`attack_run`'s summary plus ``run_dir``, and the PNG if asked.

    What ``bin/attack.py`` prints.  With ``png`` (a path) the Figure 1 grid of
    the first ``png_columns`` pairs is written there and the line gets ``"png"``.
    ``attack_kwargs`` go to :func:`attack_run` (``num``, ``seed``, ``step``, ...).
    """
    result = attack_run(run_dir, checkpoint=checkpoint, return_examples=bool(png), **attack_kwargs)
    examples = result.pop("examples", None)
    result["run_dir"] = run_dir
    if examples is not None:
        write_png(figure_grid(examples, columns=png_columns, scale=png_scale), png)
        result["png"] = png
    return result


# ------------------------------------------------------ the reproduction (docs/attack/)

RESULTS = "results.jsonl"
TABLES = "tables.md"
STAGES = ("train", "attack", "tables")
# Both arms train alike (no tuning); --regularizer=dat is the paper variant, epsilon 1.
TRAIN_FIELDS = dict(dataset="digits", net="dcgan", loss="ns", batch_size=64, width=32, latent_dim=32, lr_d=2e-4,
                    lr_g=2e-4, beta1=0.5, verbose=2)
SETTINGS = {
    # run-folder prefix -> (TrainConfig fields on top of TRAIN_FIELDS, PNG name suffix, PNG upscaling)
    "attack": ({}, "", 4),  # A: the 8x8 digits as shipped (DCGAN D: one stride-2 conv + dense)
    "attack32": (dict(resolution=32, checkpoint_every=500, keep_checkpoints=5), "32", 2),  # B: resized to 32x32
}


def _default_checkpoints():
    return {"attack": ((1000,), (1000,)), "attack32": ((500, 1000, 1500), (1000,))}


@dataclasses.dataclass
class Figure1Options:
    """What :func:`reproduce` trains and attacks (defaults: the committed ``docs/attack/``, ~35 min + 10 min).

    Args:
      out_dir: ``results.jsonl``, ``tables.md`` and the PNGs (``"docs/attack"``: the committed ones).
      runs_dir: the training runs, ``<prefix>_<regularizer>[_s<seed>]`` (a rerun resumes or skips them).
      settings: keys of :data:`SETTINGS`.
      checkpoints: per setting, the generator steps attacked before the final
        model: ``(for training seed 0, for the other seeds)``.
      eval_seeds: one attack of ``num`` pairs per evaluation seed.
      workers: processes at once (training: one CPU thread each; attacks:
        TensorFlow's default threads, as ``bin/attack.py``).
    """

    out_dir: str = os.path.join("runs", "figure1")
    runs_dir: str = "runs"
    settings: tuple = ("attack", "attack32")
    train_seeds: tuple = (0, 1, 2)
    regularizers: tuple = ("none", "dat")
    n_iter: int = 2000
    checkpoints: dict = dataclasses.field(default_factory=_default_checkpoints)
    eval_seeds: tuple = (0, 1, 2)
    num: int = 64
    workers: int = 2

    def validate(self) -> "Figure1Options":
        bad = [s for s in self.settings if s not in SETTINGS]
        if bad:
            raise ValueError(f"settings {bad} are not allowed; expected some of {list(SETTINGS)}.")
        missing = [s for s in self.settings if s not in self.checkpoints]
        if missing:
            raise ValueError(f"checkpoints has no entry for settings {missing}; give (steps for seed 0, others).")
        for name in ("n_iter", "num", "workers"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}.")
        if not self.train_seeds or not self.eval_seeds or not self.regularizers:
            raise ValueError("train_seeds, eval_seeds and regularizers must not be empty.")
        return self


def run_dir_of(opts: Figure1Options, prefix: str, regularizer: str, seed: int) -> str:
    return os.path.join(opts.runs_dir, f"{prefix}_{regularizer}" + ("" if seed == 0 else f"_s{seed}"))


def train_configs(opts: Figure1Options) -> list:
    """The ``TrainConfig`` fields of every run, in training order."""
    out = []
    for seed in opts.train_seeds:
        for reg in opts.regularizers:
            for prefix in opts.settings:
                out.append(dict(TRAIN_FIELDS, **SETTINGS[prefix][0], n_iter=opts.n_iter, regularizer=reg, seed=seed,
                                run_dir=run_dir_of(opts, prefix, reg, seed)))
    return out


def attack_jobs(opts: Figure1Options) -> list:
    """The :func:`attack_line` arguments of every line of ``results.jsonl``, in order."""
    jobs = []
    for seed in opts.train_seeds:
        for reg in opts.regularizers:
            for prefix in opts.settings:
                _, suffix, scale = SETTINGS[prefix]
                steps = opts.checkpoints[prefix][0 if seed == 0 else 1]
                for ck in (*steps, None):  # None: the final model
                    for eval_seed in opts.eval_seeds:
                        job = dict(run_dir=run_dir_of(opts, prefix, reg, seed), num=opts.num, seed=eval_seed,
                                   checkpoint=ck)
                        if ck is None and seed == opts.train_seeds[0] and eval_seed == opts.eval_seeds[0]:
                            job.update(png=os.path.join(opts.out_dir, f"{reg}{suffix}.png"), png_scale=scale)
                        jobs.append(job)
    return jobs


def _train_job(fields):
    limit_threads()
    from dat_tf.train.config import TrainConfig
    from dat_tf.train.loop import train

    train(TrainConfig(**fields).validate())  # resumes a run that has checkpoints; returns at once if finished
    return fields["run_dir"]


def _attack_job(job):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return attack_line(**job)


def read_results(path: str) -> list:
    """The JSON lines of a ``results.jsonl``."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def reproduce(opts: Figure1Options, stages=STAGES, log=print) -> str:
    """Runs ``stages`` of the reproduction; returns the tables (markdown; empty without the tables stage).

    ``train`` trains every run of :func:`train_configs`; ``attack`` attacks
    them (:func:`attack_jobs`) and writes ``out_dir/results.jsonl`` and the
    PNGs (the final models of the first training seed, first evaluation
    seed); ``tables`` writes ``out_dir/tables.md`` from ``results.jsonl``.
    """
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ValueError(f"stages {bad} are not allowed; expected some of {list(STAGES)}.")
    opts.validate()
    if "train" in stages:
        configs = train_configs(opts)
        log(f"figure1: training {len(configs)} runs in {opts.runs_dir} ...")
        map_processes(_train_job, configs, opts.workers)
    results = os.path.join(opts.out_dir, RESULTS)
    if "attack" in stages:
        jobs = attack_jobs(opts)
        log(f"figure1: {len(jobs)} attacks -> {results} ...")
        lines = map_processes(_attack_job, jobs, opts.workers)
        os.makedirs(opts.out_dir, exist_ok=True)
        write_jsonl_atomic(results, lines)
    if "tables" not in stages:
        return ""
    if not os.path.isfile(results):
        raise FileNotFoundError(f"no {results}: run the attack stage first.")
    text = tables_markdown(read_results(results))
    with open(os.path.join(opts.out_dir, TABLES), "w") as f:
        f.write(text)
    return text


def _fmt_runs(values, digits=2):
    """``mean ± std`` with ddof=1 (a few evaluation or training seeds), None skipped."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def tables_markdown(rows) -> str:
    """``tables.md`` of ``results.jsonl`` rows.

    Table 1: each training run and checkpoint, mean ± std (ddof=1) over the
    evaluation seeds.  Table 2: the training seeds pooled: mean ± std (ddof=1)
    over training seeds of each run's eval-seed mean.
    """
    runs = collections.defaultdict(list)
    for r in rows:
        runs[(r["resolution"], r["regularizer"], r["train_seed"], r["step_of_model"])].append(r)
    keys = sorted(runs, key=lambda k: (k[0], k[3], k[2], k[1] != "none"))
    out = [
        "Table 1: per training run (mean ± std over evaluation seeds)", "",
        "| images | D | train seed | G step | K_fake | K_real | success fake | success real | "
        "initial gap | pairs within tol | gap closed/step fake | gap closed/step real | eval seeds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in keys:
        v = runs[k]

        def col(name, d=2):
            return _fmt_runs([x[name] for x in v], d)

        out.append(f"| {k[0]}x{k[0]} | {k[1]} | {k[2]} | {k[3]} | {col('k_fake')} | {col('k_real')} | "
                   f"{col('success_fake', 3)} | {col('success_real', 3)} | {col('initial_gap', 3)} | "
                   f"{col('initially_within_tol')} | {col('rate_fake', 4)} | {col('rate_real', 4)} | "
                   f"{sorted(x['seed'] for x in v)} |")
    pooled = collections.defaultdict(list)
    for k in keys:
        pooled[(k[0], k[3], k[1])].append(runs[k])
    out += [
        "", "Table 2: training seeds pooled (mean ± std over training seeds of each run's eval-seed mean)", "",
        "| images | G step | D | train seeds | K_fake | K_real | success fake | success real | initial gap | "
        "gap closed/step fake | gap closed/step real |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (res, step, reg), group in sorted(pooled.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] != "none")):
        if len(group) < 2:
            continue

        def col(name, d=2):
            per_run = [[x[name] for x in v if x[name] is not None] for v in group]
            return _fmt_runs([np.mean(vals) for vals in per_run if vals], d)

        seeds = sorted(v[0]["train_seed"] for v in group)
        out.append(f"| {res}x{res} | {step} | {reg} | {seeds} | {col('k_fake')} | {col('k_real')} | "
                   f"{col('success_fake', 3)} | {col('success_real', 3)} | {col('initial_gap', 3)} | "
                   f"{col('rate_fake', 4)} | {col('rate_real', 4)} |")
    return "\n".join(out) + "\n"


# ------------------------------------------------------ the study's section


def section_reproduction(opts) -> Figure1Options:
    """The reproduction the study reruns: the full one, or with ``opts.quick`` 2 short runs on 8x8 digits."""
    out_dir = os.path.join(opts.out_dir, "attack")
    if opts.quick:
        return Figure1Options(out_dir=out_dir, runs_dir=os.path.join(opts.figure1_runs_dir, "figure1"),
                              settings=("attack",), train_seeds=(0,), n_iter=opts.table3_iters,
                              checkpoints={"attack": ((), ())}, eval_seeds=(0, 1), workers=opts.workers)
    return Figure1Options(out_dir=out_dir, runs_dir=opts.figure1_runs_dir, workers=opts.workers)


def run_section(opts) -> dict:
    """Reruns the reproduction (or, with ``opts.figure1_reuse``, reads ``opts.figure1_results``) and summarizes it."""
    if opts.figure1_reuse:
        path = opts.figure1_results
        source = f"{path} as committed (not rerun by this invocation)"
    else:
        fo = section_reproduction(opts)
        reproduce(fo)
        path = os.path.join(fo.out_dir, RESULTS)
        source = f"{path}, rerun by this invocation"
        if opts.quick:
            source = (f"quick: {len(fo.regularizers)} runs of {fo.n_iter} steps on 8x8 digits, "
                      f"{len(fo.eval_seeds)} evaluation seeds")
    return {"source": source, "rows": summarize_attack(read_results(path))}


def summarize_attack(rows) -> list:
    """Per (resolution, regularizer) at each run's final model: K per training seed (mean over eval seeds)."""
    final_step = collections.defaultdict(int)
    for r in rows:
        final_step[(r["resolution"], r["regularizer"], r["train_seed"])] = max(
            final_step[(r["resolution"], r["regularizer"], r["train_seed"])], r["step_of_model"])
    per_run = collections.defaultdict(list)
    for r in rows:
        key = (r["resolution"], r["regularizer"], r["train_seed"])
        if r["step_of_model"] == final_step[key]:
            per_run[key].append(r)
    out = collections.defaultdict(lambda: {"k_fake": [], "k_real": [], "initial_gap": [], "seeds": []})
    for (res, reg, seed), group in sorted(per_run.items()):
        cell = out[(res, reg)]
        for k in ("k_fake", "k_real", "initial_gap"):
            cell[k].append(float(np.mean([g[k] for g in group])))
        cell["seeds"].append(seed)
        cell["step"] = group[0]["step_of_model"]
        # what the page states beside the verdict (absent from files written before they were kept)
        cell["tol"] = group[0].get("tol")
        cell["num"] = group[0].get("num")
        cell["eval_seeds"] = sorted({g["seed"] for g in group})
    return [{"resolution": res, "regularizer": reg, **cell} for (res, reg), cell in sorted(out.items())]


def comparisons(rows) -> dict:
    """The section's cells: DAT's K against the baseline's, per resolution and side, paired by training seed.

    ``(resolution, "k_fake" | "k_real")``; higher K is better.  A resolution where every run of both arms
    starts with its mean clean score gap at or below the success tolerance has no headroom: the attack has
    (on average) nothing to do, and K cannot measure robustness.
    """
    by = {(r["resolution"], r["regularizer"]): r for r in rows}
    out = {}
    for res in sorted({r["resolution"] for r in rows}):
        if (res, "dat") not in by or (res, "none") not in by:
            continue
        dat, none = by[(res, "dat")], by[(res, "none")]
        tol = dat.get("tol") or DEFAULT_TOL
        gaps = dat["initial_gap"] + none["initial_gap"]
        headroom = None
        if all(g <= tol for g in gaps):
            headroom = (f"every run's mean clean score gap ({min(gaps):.3f}-{max(gaps):.3f}) is at or below the "
                        f"success tolerance {tol:g}")
        for k in ("k_fake", "k_real"):
            out[(res, k)] = stats.paired(stats.by_seed(dat[k], dat["seeds"]), stats.by_seed(none[k], none["seeds"]),
                                         False, no_headroom=headroom)
    return out


def section_markdown(opts, sec):
    rows = sec["data"]["rows"]
    lines = [
        f"Source: {sec['data']['source']}. K = mean attack steps until D's score is within {DEFAULT_TOL:g} of the "
        "partner's "
        "(higher = harder to attack); per training seed the mean over evaluation seeds, then mean ± sample std over "
        "training seeds. Setting and choices: [docs/attack/README.md](attack/README.md).",
        "",
        "| images | D | training seeds | G steps | pairs x eval seeds | K_fake | K_real | initial score gap |",
        "|---|---|---|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        pairs = "not stored" if r.get("num") is None else f"{r['num']} x {len(r['eval_seeds'])}"
        lines.append(f"| {r['resolution']}x{r['resolution']} | {r['regularizer']} | {r['seeds']} | {r['step']} | "
                     f"{pairs} | {fmt(r['k_fake'])} | {fmt(r['k_real'])} | {fmt(r['initial_gap'], 3)} |")
    cells = verdicts.decide(comparisons(rows))
    table = [(f"{res}x{res}, {k}: DAT vs none", c) for (res, k), c in cells.items()]
    lines += ["", "Cells (paired by training seed):", ""] + verdicts.cells_table(table)
    lines += ["", paper.figure1_line()]
    n_seeds = min((len(r["seeds"]) for r in rows), default=0)
    steps = "/".join(str(s) for s in sorted({r["step"] for r in rows}))
    claims = [verdicts.Claim("DAT raises K", f"attack on digits DCGANs, {steps} G steps, {n_seeds} training seeds, "
                             "resolution x {K_fake, K_real}", tuple(cells.values()))] if cells else []
    return lines, claims, claims[0].verdict.word if claims else "not run"


def measured(sec):
    """The measurement date: a reused reproduction's date is not in the section's JSON."""
    if "not rerun" in sec["data"]["source"]:
        return f"not stored (summarized on {sec['date']} from the committed results)"
    return sec["date"]


def wall_time(sec):
    """A reused reproduction took no time here, and its own time is not in the JSON."""
    if "not rerun" in sec["data"]["source"]:
        return None, " (reused, not rerun; its wall time is not stored in the JSON)"
    return sec["seconds"], ""
