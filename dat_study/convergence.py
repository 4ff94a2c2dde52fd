"""How long the study trains: the convergence rule, fixed before the comparison runs, and the curves' measures.

Why: a "final FID" taken while a curve is still falling measures early speed, not where a method
ends up, and the stability claims (an IS decline, jumps of the Wasserstein estimate) cannot show
yet.  So every family of runs (a Table 3 loss row, a Figure 4/5 setting, Figure 1's arms, a
Figure 3 mixture std) trains for a step budget picked from a **pilot** (seed 0 of the family's
central arms, trained to the family's cap with a curve of :data:`PILOT_POINTS` evaluations) by
the rule below, before any comparison run starts.

**The rule** (:func:`choose_budget`).  For a curve of a lower-is-better metric (FID, the mode mass
error) and a candidate budget ``S``, the *end-of-training improvement* is

    improvement(S) = (m(0.8 S) - m(S)) / m(0.8 S)

where ``m(s)`` is the mean of the curve's points within one evaluation spacing of ``s`` (three
points, two at the curve's end), so that one noisy evaluation decides nothing.  The family's
budget is the smallest ``S`` of its grid such that, in every piloted arm that learned
(:func:`dat_study.stats.did_not_learn` rules the others out), ``improvement(S')`` stays
below :data:`SLOWED` (5%) for ``S`` and for every larger grid value up to the cap ("learning has
slowed, and stays slowed over the pilot"); if no grid value passes, the cap, said as such.

Speed claims ("fits faster") are judged on the curve at fixed early steps; end-state claims at the
budget.  Every comparison run stores its own curve (every :data:`CURVE_FRACTION` of its budget),
and the page prints each family's end-of-training improvement as measured on those runs
(:func:`end_improvement`).

Example:

>>> curve = [(s, 100.0 / (1 + s / 500)) for s in range(100, 4001, 100)]  # still falling at 4000
>>> choose_budget({"none": curve}, grid=(1000, 2000, 3000, 4000), cap=4000)["budget"]
4000
>>> flat = [(s, 50.0 if s >= 800 else 300.0) for s in range(100, 4001, 100)]
>>> choose_budget({"none": flat}, grid=(1000, 2000, 3000, 4000), cap=4000)["budget"]  # m(800) straddles the drop
2000
"""

from __future__ import annotations

import math

import numpy as np

SLOWED = 0.05  # improvement over the last 20% of training below 5%: learning has slowed
TAIL = 0.2  # "the last 20% of training"
PILOT_POINTS = 40  # evaluations along a pilot run (every 2.5% of the cap)
CURVE_FRACTION = 0.05  # comparison runs: one evaluation every 5% of the budget


def _points(curve):
    """``(steps, values)`` as float arrays from ``[(step, value), ...]`` or ``[{"step":, key: ...}]``-like pairs."""
    pts = sorted((int(s), float("nan") if v is None else float(v)) for s, v in curve)
    return np.array([p[0] for p in pts], np.float64), np.array([p[1] for p in pts], np.float64)


def smoothed(curve, step) -> float:
    """Mean of the curve's values within one evaluation spacing of ``step`` (NaN if none, or non-finite).

    >>> smoothed([(100, 3.0), (200, 2.0), (300, 1.0), (400, 9.0)], 200)
    2.0
    >>> smoothed([(100, 3.0), (200, 2.0), (300, 1.0), (400, 9.0)], 400)
    5.0
    """
    steps, vals = _points(curve)
    if steps.size == 0:
        return float("nan")
    spacing = float(np.min(np.diff(steps))) if steps.size > 1 else float(steps[0])
    near = np.abs(steps - step) <= spacing * 1.0001
    if not np.any(near) or not np.all(np.isfinite(vals[near])):
        return float("nan")
    return float(np.mean(vals[near]))


def improvement(curve, budget) -> float:
    """``(m(0.8 budget) - m(budget)) / m(0.8 budget)`` of a lower-is-better curve (NaN if undefined).

    >>> round(improvement([(s, 10.0 - s / 1000) for s in range(100, 1001, 100)], 1000), 4)  # (9.2 - 9.05) / 9.2
    0.0163
    """
    early, late = smoothed(curve, (1 - TAIL) * budget), smoothed(curve, budget)
    if not (math.isfinite(early) and math.isfinite(late)) or early == 0:
        return float("nan")
    return (early - late) / abs(early)


def choose_budget(curves: dict, grid, cap, slowed=SLOWED) -> dict:
    """The family's step budget by the module's rule.

    Args:
      curves: ``{arm: [(step, value), ...]}`` of the pilot arms that learned, each reaching ``cap``.
      grid: candidate budgets, each a multiple of the curves' spacing whose 80% point is one too.
      cap: the largest budget the family may get.
      slowed: the improvement below which learning counts as slowed.

    Returns:
      ``{"budget", "capped" (True if no grid value passed), "improvement": {arm: {budget: value}}}``.
    """
    grid = sorted(int(g) for g in grid if g <= cap)
    if not grid or grid[-1] != cap:
        raise ValueError(f"the grid must reach the cap {cap}, got {grid}.")
    if not curves:
        raise ValueError("no pilot curve to choose a budget from (every piloted arm failed to learn?).")
    table = {arm: {g: improvement(c, g) for g in grid} for arm, c in curves.items()}

    def ok(g):
        return all(math.isfinite(table[a][g]) and table[a][g] < slowed for a in table)

    for i, g in enumerate(grid):
        if all(ok(h) for h in grid[i:]):
            return {"budget": g, "capped": False, "improvement": table}
    return {"budget": cap, "capped": True, "improvement": table}


def end_improvement(curve) -> float:
    """A finished run's own end-of-training improvement: :func:`improvement` at its last curve point."""
    steps, _ = _points(curve)
    return improvement(curve, float(steps[-1])) if steps.size else float("nan")


def area(curve) -> float:
    """Mean of a curve's values over its evaluations (the area under it per evaluation; NaN if any is missing).

    The measure of the speed claims that read a whole curve: lower is better for FID.

    >>> area([(100, 4.0), (200, 2.0)])
    3.0
    """
    _, vals = _points(curve)
    return float(np.mean(vals)) if vals.size and np.all(np.isfinite(vals)) else float("nan")


def curve_of(run, key="fid_train") -> list:
    """``[(step, value)]`` of a stored run's evaluation curve for ``key``."""
    return [(c["step"], c.get(key)) for c in run.get("curve") or []]


def curve_every(budget: int, fraction=CURVE_FRACTION) -> int:
    """Steps between the evaluations of a comparison run of ``budget`` steps (at least 1).

    >>> curve_every(4000)
    200
    """
    return max(1, int(round(budget * fraction)))
