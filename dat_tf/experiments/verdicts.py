"""The fixed rules that turn a study's numbers into the words on the results page.

The rules are written down before the runs and applied mechanically, so that
no threshold is chosen after seeing which way it makes a claim fall:

* :func:`compare`: a method is ``better`` (``worse``) than its baseline when
  the difference of the means over seeds exceeds the sum of the two standard
  deviations (population std over seeds) in the good (bad) direction, and
  ``tie`` otherwise.  With one seed each there is no spread, and any
  difference counts: the page states the seed count beside every verdict.
* :func:`verdict`: a claim that "the method improves on the baseline" over
  several cells (datasets, steps, settings) is ``reproduced`` when at least
  one cell is better and none worse, ``not reproduced`` when at least one is
  worse and none better, ``mixed`` when there are both, and ``inconclusive``
  when all are ties.
* :func:`spearman`: rank agreement of two orderings (ties share the mean rank).

Example:

>>> compare([1.0, 1.2], [2.0, 2.2])            # lower is better by default
'better'
>>> verdict(["better", "tie", "better"])
'reproduced'
"""

from __future__ import annotations

import numpy as np

OUTCOMES = ("better", "worse", "tie")


def _values(values, name):
    v = np.asarray([values] if np.isscalar(values) else list(values), np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers, got {values!r}.")
    return v


def compare(method, baseline, lower_is_better: bool = True) -> str:
    """``"better"``, ``"worse"`` or ``"tie"`` for ``method`` against ``baseline``.

    Args:
      method, baseline: one value per seed (a number is one seed).  A
        non-finite value (a diverged run) is the worst possible outcome.
      lower_is_better: ``True`` for FID, KID, KL; ``False`` for modes covered,
        attack iterations.
    """
    a, b = _values(method, "method"), _values(baseline, "baseline")
    a_bad, b_bad = not np.all(np.isfinite(a)), not np.all(np.isfinite(b))
    if a_bad or b_bad:
        if a_bad and b_bad:
            return "tie"
        return "worse" if a_bad else "better"
    diff = float(np.mean(a) - np.mean(b))
    if not lower_is_better:
        diff = -diff
    spread = float(np.std(a) + np.std(b))
    if diff < -spread:
        return "better"
    if diff > spread:
        return "worse"
    return "tie"


def verdict(outcomes) -> str:
    """Aggregates per-cell :func:`compare` outcomes into one verdict (see module doc)."""
    outcomes = list(outcomes)
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown or not outcomes:
        raise ValueError(f"outcomes must be a non-empty list of {list(OUTCOMES)}, got {outcomes!r}.")
    better, worse = outcomes.count("better"), outcomes.count("worse")
    if better and not worse:
        return "reproduced"
    if worse and not better:
        return "not reproduced"
    if better and worse:
        return "mixed"
    return "inconclusive"


def ranks(values) -> np.ndarray:
    """1-based ranks, ascending; tied values share their mean rank."""
    v = _values(values, "values")
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v), np.float64)
    r[order] = np.arange(1, len(v) + 1)
    for x in np.unique(v):
        tied = v == x
        r[tied] = r[tied].mean()
    return r


def spearman(x, y) -> float:
    """Spearman's rank correlation of two equally long lists (NaN if either is constant)."""
    rx, ry = ranks(x), ranks(y)
    if len(rx) != len(ry):
        raise ValueError(f"x and y must have the same length, got {len(rx)} and {len(ry)}.")
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = np.sqrt((rx**2).sum() * (ry**2).sum())
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def counts(outcomes) -> str:
    """``"2 better, 1 tie, 0 worse"``."""
    outcomes = list(outcomes)
    return f"{outcomes.count('better')} better, {outcomes.count('tie')} tie, {outcomes.count('worse')} worse"
