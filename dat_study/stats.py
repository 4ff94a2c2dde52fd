"""The numbers behind a verdict: sample spreads, paired comparisons by seed, Holm's correction.

The rules are fixed before any run and applied mechanically
(:mod:`dat_study.verdicts` turns them into words):

* **Spread** is the sample standard deviation (``ddof=1``) everywhere
  (:func:`sample_std`); it is undefined (NaN) for one value.
* **Pairing.** Runs with the same seed share their initialisation and data
  order, so two arms are compared seed by seed (:func:`paired`).  Both arms
  must hold exactly the same seeds; a seed in only one arm is an error that
  names it.
* **Effect.** The paired difference of a seed is signed so that a *positive*
  value means the method is better than the baseline: ``baseline - method``
  when lower is better (FID, KL), ``method - baseline`` when higher is better
  (modes covered, attack steps).  The effect is the mean paired difference
  with its 95% interval ``mean ± t(0.975, n-1) * sd / sqrt(n)``.
* **Tests.** The paired t test (two-sided, ``n-1`` degrees of freedom) is
  the test that decides a cell.  The exact two-sided sign test (zero
  differences dropped) is reported beside it as a distribution-free check; it
  cannot decide a cell at 5% with few seeds (its smallest p is ``2 / 2**n``:
  0.0625 at n = 5).  With fewer than 2 pairs there is no test (p is NaN).
* **Diverged runs** (NaN or Inf metric): a seed where *both* arms diverged is
  dropped and listed.  A seed where exactly *one* arm diverged is lost by the
  diverged arm; its difference is unbounded, so the cell is then decided by
  the sign test over all remaining seeds (the mean and interval are over the
  seeds where both arms are finite and say so).
* **Undefined values** that are not divergences (``undefined``; e.g. Figure
  1's steps per gap over the fooled examples, which has no value in a run
  where no example was fooled after a step: a D never fooled is counted by
  the success rate, not as a loss of its arm): the seed is dropped from that
  cell and listed with the reason; with fewer than 2 seeds left the cell is
  degenerate, unless an arm did not learn where the baseline did (below):
  that arm still loses it.  (Added after Figure 1's runs, before its cells
  were read as verdicts: the divergence rule had been applied to these
  values, which counted a D that no attack fooled as a loss of its arm.)
* **Degenerate cells** cannot measure the claim and are listed apart, not
  tested: every value of both arms at the metric's bound (``bound``, e.g. 9 of
  9 modes: *saturated*); every paired difference exactly zero (*no
  difference in any seed*, e.g. two bit-identical trajectories); or a reason
  the caller knows from the setup (``no_headroom``, e.g. the attack starts
  inside its success tolerance).
* **Cells that cannot move** (fixed before the third edition's runs) are not
  tested either, and are named with their numbers (``cannot_move``):

  - *failed*: an arm that did not learn.  A run did not learn when its final
    Inception-style score is below :data:`FAILED_IS` (a collapsed generator
    scores about 1 with the digits classifier, trained ones 5-8), its FID is
    above :data:`FAILED_FID` (half the FID of an untrained generator, about
    300 with the digits classifier), or it diverged (:func:`run_failed`); an
    arm did not learn when at least half of its seeds did not
    (:func:`arm_failed`).  A cell is *failed* when the baseline arm of its
    setting (no regularizer) did not learn, so that the setup cannot test the
    method, or when both of its arms did not (:func:`failed_cell`).  A
    method that fails where its setting's baseline learns is a result, not a
    failed setup: that cell is counted, and the failed arm loses it, whatever
    its metric says, and also where that metric is undefined (a critic wrong
    on every example has no wrong/right ratio) (:func:`failed_cell`; the
    paired test still runs, over the seeds it can pair, and keeps its place
    in Holm's family: with no seed to pair its p is NaN and counts as 1).  (Revised
    after the pilot, before any comparison run: the first version also called
    a run failed at 3x the row's best FID, which at the pilot's budgets called
    baselines that had plainly learned failed, e.g. the GAN row's None at FID
    16 with IS 6.7 beside DAT's 4.5.)
  - *inactive*: the method under test did almost nothing.  DAT's (or
    ASGAN's) mean perturbation is under :data:`INACTIVE_SHARE` of the mean
    norm of the inputs it perturbs, or a penalty's mean is under that share of
    D's loss without it, both averaged over the last quarter of training and
    then over seeds (:func:`inactive_reason`).
  - *saturated* / *no difference* / *no headroom*: as above.
* **Several cells**: :func:`holm` adjusts the p values of a family (Holm's
  step-down method, controlling the family-wise error rate).  **One rule for
  every section**: the cells of the paper's claims in a section form one
  family; each group of comparisons that are not claims of the paper (the two
  DAT variants against each other, an epsilon sweep, a setting of our own)
  forms a family of its own (:data:`FAMILY_RULE`).

Example:

>>> c = paired({0: 1.0, 1: 2.0, 2: 3.5}, {0: 2.0, 1: 2.5, 2: 5.0}, lower_is_better=True)
>>> c.effect, c.n
(1.0, 3)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

CONFIDENCE = 0.95
# Cells that cannot move (see the module doc), fixed before the third edition's runs.
FAILED_IS = 2.0
FAILED_FID = 150.0  # digits classifier: an untrained generator scores ~300, trained ones 3-60
INACTIVE_SHARE = 0.01
KINDS = ("saturated", "no difference", "no headroom", "failed", "inactive", "undefined")  # why a cell is not counted
FAMILY_RULE = ("Holm's correction runs over one family per section for the paper's claims (every tested cell of "
               "the section's claims together) and over one family of its own for each group of comparisons that "
               "are not claims of the paper (the DAT variants against each other, a sweep, a setting of our own).")


def _finite_list(values, name):
    v = np.asarray([values] if np.isscalar(values) else list(values), np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name} must be a list of numbers, got {values!r}.")
    return v


def sample_std(values) -> float:
    """Sample standard deviation (``ddof=1``); NaN for fewer than two values."""
    v = _finite_list(values, "values")
    return float(np.std(v, ddof=1)) if v.size >= 2 else float("nan")


def t_two_sided_p(t: float, df: int) -> float:
    """Two-sided p value of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t as student_t

    if math.isinf(t):
        return 0.0
    return float(2.0 * student_t.sf(abs(t), df))


def t_quantile(q: float, df: int) -> float:
    """The ``q`` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t as student_t

    return float(student_t.ppf(q, df))


def sign_test_p(wins: int, losses: int) -> float:
    """Exact two-sided sign test: ``min(1, 2 * P(X <= min(wins, losses)))``, X ~ Binomial(wins + losses, 1/2).

    Ties are not passed in (they are dropped before).  No pair left: p = 1.
    """
    for name, v in (("wins", wins), ("losses", losses)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}.")
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1))
    return min(1.0, 2.0 * tail / 2**n)


def holm(pvalues) -> list:
    """Holm-adjusted p values, in the input order.

    ``p_adj(i) = max over j <= i of min(1, (m - j + 1) * p(j))`` with the p
    values sorted ascending and ``m`` the number of them.  A NaN p (a cell
    without a test) counts in ``m`` as if it were 1 and stays NaN.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    p = [float(x) for x in pvalues]
    bad = [x for x in p if not (math.isnan(x) or 0.0 <= x <= 1.0)]
    if bad:
        raise ValueError(f"p values must lie in [0, 1] (or be NaN), got {bad}.")
    m = len(p)
    order = sorted(range(m), key=lambda i: (1.0 if math.isnan(p[i]) else p[i], i))
    out, running = [float("nan")] * m, 0.0
    for rank, i in enumerate(order):
        pi = 1.0 if math.isnan(p[i]) else p[i]
        running = max(running, min(1.0, (m - rank) * pi))
        out[i] = float("nan") if math.isnan(p[i]) else running
    return out


@dataclasses.dataclass(frozen=True)
class Paired:
    """One cell: a method against its baseline over the same seeds.

    Attributes:
      seeds: the seeds compared, sorted.
      n: seeds whose two values are both finite (the t test's pairs).
      effect: mean paired difference, positive = the method is better (see the module doc).
      ci: its 95% interval ``(low, high)`` (NaN with fewer than 2 pairs).
      sd: sample std of the paired differences.
      t, df, p_t: the paired t test (two-sided).
      wins, losses, zeros: seeds where the method is better / worse / equal
        (a one-sided divergence counts as a loss of the diverged arm).
      p_sign: exact two-sided sign test over ``wins`` and ``losses``.
      p: the p value that decides the cell (``p_t``, or ``p_sign`` under the divergence rule).
      test: ``"paired t"``, ``"sign test"`` or ``"none"`` (fewer than 2 pairs, or degenerate).
      degenerate: why the cell cannot measure the claim, or ``None``.
      both_diverged: seeds dropped because both arms diverged.
      method_mean, method_sd, baseline_mean, baseline_sd: over the finite pairs.
      lower_is_better: the metric's direction.
      failed_arm: ``"method"`` or ``"baseline"``: that arm did not learn where its setting's arm without a
        regularizer did (:func:`failed_cell`), so it loses the cell whatever the metric says.
      undefined, undefined_seeds: why a metric had no value in some seed that is not a divergence, and the seeds
        dropped for it (``paired(undefined=...)``).
    """

    seeds: tuple
    n: int
    effect: float
    ci: tuple
    sd: float
    t: float
    df: int
    p_t: float
    wins: int
    losses: int
    zeros: int
    p_sign: float
    p: float
    test: str
    degenerate: str | None
    both_diverged: tuple
    method_mean: float
    method_sd: float
    baseline_mean: float
    baseline_sd: float
    lower_is_better: bool
    failed_arm: str | None = None
    undefined: str | None = None
    undefined_seeds: tuple = ()


def by_seed(values, seeds) -> dict:
    """``{seed: value}`` from two equally long lists (each seed once)."""
    values, seeds = list(values), list(seeds)
    if len(values) != len(seeds):
        raise ValueError(f"{len(values)} values but {len(seeds)} seeds ({seeds}); each value needs its seed.")
    dup = sorted({s for s in seeds if seeds.count(s) > 1})
    if dup:
        raise ValueError(f"seeds {dup} appear more than once in {seeds}.")
    return dict(zip(seeds, values))


def _value(v) -> float:
    """A stored value as a float: ``None`` is how strict JSON stores NaN (a run that diverged, or whose metric is
    undefined, e.g. no mixture sample near a mode)."""
    return float("nan") if v is None else float(v)


def paired(method: dict, baseline: dict, lower_is_better: bool, bound=None, no_headroom: str | None = None,
           cannot_move: str | None = None, failed_arm: str | None = None, undefined: str | None = None) -> Paired:
    """Compares ``method`` with ``baseline`` seed by seed (see the module doc for every rule).

    Args:
      method, baseline: ``{seed: value}``, the same seeds in both (see :func:`by_seed`).
      lower_is_better: ``True`` for FID, KID, KL, gradient norms; ``False`` for modes covered, attack steps.
      bound: the best or worst value the metric can take (e.g. 9 modes of 9);
        a cell where every run of both arms sits at it is degenerate.
      no_headroom: a reason, known from the setup, why the cell cannot move
        (e.g. the attack starts within its tolerance); makes it degenerate.
      cannot_move: a *failed* or *inactive* reason (:func:`failed_cell`, :func:`inactive_reason`);
        makes the cell not counted, with that reason.
      failed_arm: the arm that did not learn where the setting's baseline did (:func:`failed_cell`): it loses the
        cell, which stays counted and tested (its p keeps its place in Holm's family).
      undefined: for a metric whose missing value is not a divergence, what it means (e.g. "no example was fooled
        after a step"): a seed where either arm's value is missing is then dropped and listed with this reason,
        not lost by that arm; fewer than 2 seeds left make the cell degenerate, unless ``failed_arm`` is set.
    """
    if failed_arm not in (None, "method", "baseline"):
        raise ValueError(f"failed_arm must be None, 'method' or 'baseline', got {failed_arm!r}.")
    if not isinstance(method, dict) or not isinstance(baseline, dict):
        raise ValueError("method and baseline must be {seed: value} dicts (see by_seed).")
    only_m, only_b = sorted(set(method) - set(baseline)), sorted(set(baseline) - set(method))
    if only_m or only_b:
        raise ValueError(f"the arms must hold the same seeds: seeds {only_m} only in the method, "
                         f"{only_b} only in the baseline.")
    if not method:
        raise ValueError("no seeds to compare.")
    seeds = tuple(sorted(method))
    a = np.array([_value(method[s]) for s in seeds])
    b = np.array([_value(baseline[s]) for s in seeds])
    dropped = ()
    if undefined:
        keep = np.isfinite(a) & np.isfinite(b)
        dropped = tuple(s for s, k in zip(seeds, keep) if not k)
        seeds, a, b = tuple(s for s, k in zip(seeds, keep) if k), a[keep], b[keep]
    fa, fb = np.isfinite(a), np.isfinite(b)
    both_bad = tuple(s for s, x, y in zip(seeds, fa, fb) if not x and not y)
    ok = fa & fb
    d = (b - a if lower_is_better else a - b)[ok]
    n = int(d.size)
    wins = int(np.sum(d > 0) + np.sum(fa & ~fb))
    losses = int(np.sum(d < 0) + np.sum(~fa & fb))
    zeros = int(np.sum(d == 0))
    one_sided = bool(np.any(fa ^ fb))
    effect = float(d.mean()) if n else float("nan")
    sd = sample_std(d)
    df = n - 1
    if n >= 2:
        half = t_quantile(0.5 + CONFIDENCE / 2, df) * sd / math.sqrt(n)
        ci = (effect - half, effect + half)
        if sd > 0:
            t = effect / (sd / math.sqrt(n))
        else:
            t = 0.0 if effect == 0 else math.copysign(math.inf, effect)
        p_t = t_two_sided_p(t, df)
    else:
        ci, t, p_t = (float("nan"), float("nan")), float("nan"), float("nan")
    p_sign = sign_test_p(wins, losses)

    degenerate = None
    finite_vals = np.concatenate([a[fa], b[fb]])
    if cannot_move:
        degenerate = cannot_move
    elif undefined and n < 2 and not failed_arm:  # an arm that did not learn loses the cell all the same
        degenerate = f"undefined: {undefined} in {len(dropped)} of {len(dropped) + n} seeds ({n} left to pair)"
    elif no_headroom:
        degenerate = f"no headroom: {no_headroom}"
    elif bound is not None and not one_sided and n and np.all(finite_vals == bound):
        degenerate = f"saturated: every run of both arms at the metric's bound {bound:g}"
    elif not one_sided and n and np.all(d == 0):
        degenerate = "no difference in any seed (zero paired spread)"
    if degenerate:
        test, p = "none", float("nan")
    elif one_sided:
        test, p = "sign test", p_sign
    elif n >= 2:
        test, p = "paired t", p_t
    else:
        test, p = "none", float("nan")
    return Paired(
        seeds=seeds, n=n, effect=effect, ci=ci, sd=sd, t=t, df=df, p_t=p_t, wins=wins, losses=losses, zeros=zeros,
        p_sign=p_sign, p=p, test=test, degenerate=degenerate, both_diverged=both_bad,
        method_mean=float(a[ok].mean()) if n else float("nan"), method_sd=sample_std(a[ok]),
        baseline_mean=float(b[ok].mean()) if n else float("nan"), baseline_sd=sample_std(b[ok]),
        lower_is_better=bool(lower_is_better), failed_arm=failed_arm, undefined=undefined if dropped else None,
        undefined_seeds=dropped,
    )


# ------------------------------------------------------------------ cells that cannot move


def run_failed(fid, inception_score=None) -> bool:
    """True when a run did not learn (see the module doc): non-finite FID, IS under :data:`FAILED_IS`, or FID over
    :data:`FAILED_FID`.

    >>> run_failed(300.0, 1.0), run_failed(160.0, 4.1), run_failed(62.5, 6.0), run_failed(float("nan"))
    (True, True, False, True)
    """
    fid = float("nan") if fid is None else float(fid)
    if not math.isfinite(fid):
        return True
    if inception_score is not None and math.isfinite(float(inception_score)) and inception_score < FAILED_IS:
        return True
    return fid > FAILED_FID


def arm_failed(failed_by_seed: dict) -> bool:
    """An arm did not learn when at least half of its seeds did not (``{seed: bool}``).

    >>> arm_failed({0: True, 1: True, 2: False}), arm_failed({0: True, 1: False, 2: False})
    (True, False)
    """
    if not failed_by_seed:
        return False
    return 2 * sum(bool(v) for v in failed_by_seed.values()) >= len(failed_by_seed)


def failed_cell(setting_baseline: bool, method: bool, baseline: bool, names=("method", "baseline"),
                setting="the setting") -> tuple:
    """The rule for arms that did not learn, for one cell: ``(failed reason or None, losing arm or None)``.

    The reason (for ``paired(cannot_move=)``) sets the cell apart when the setup cannot test the method: the
    setting's arm without a regularizer did not learn, or neither of the cell's arms did.  Otherwise, when exactly
    one arm did not learn, that arm (``"method"`` or ``"baseline"``, for ``paired(failed_arm=)``) loses the cell,
    whatever its metric says: a collapsed generator's D can have a small gradient norm, a failed run a short IS
    decline.

    Args:
      setting_baseline: the arm without a regularizer of the cell's setting did not learn.
      method, baseline: the cell's arms did not learn.
      names, setting: how the page names the arms and the setting.

    >>> failed_cell(True, False, False, setting="WGAN (sigmoid)")
    ("failed: WGAN (sigmoid)'s arm without a regularizer did not learn, so the setup cannot test the method", None)
    >>> failed_cell(False, True, False), failed_cell(False, False, True)  # a result: counted, that arm loses
    ((None, 'method'), (None, 'baseline'))
    """
    if setting_baseline:
        return f"failed: {setting}'s arm without a regularizer did not learn, so the setup cannot test the method", None
    if method and baseline:
        return f"failed: neither arm learned ({names[0]} and {names[1]})", None
    if method != baseline:
        return None, "method" if method else "baseline"
    return None, None


def inactive_reason(shares, what="DAT's perturbation", of="the inputs' norm") -> str | None:
    """Why a cell is *inactive*, or None: the mean over seeds of the method's effect share is under
    :data:`INACTIVE_SHARE` (``shares``: one share per seed, NaN ignored).

    >>> inactive_reason([0.0005, 0.0024])
    "inactive: DAT's perturbation is 0.00145 of the inputs' norm (< 0.01)"
    """
    v = np.asarray([x for x in shares if x is not None and math.isfinite(float(x))], np.float64)
    if v.size == 0:
        return None
    m = float(np.mean(v))
    return f"inactive: {what} is {m:.3g} of {of} (< {INACTIVE_SHARE:g})" if m < INACTIVE_SHARE else None


def kind_of(reason: str | None) -> str | None:
    """The kind (one of :data:`KINDS`) of a not-counted cell's reason."""
    if reason is None:
        return None
    return next((k for k in KINDS if reason.startswith(k)), "no headroom")
