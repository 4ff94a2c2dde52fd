"""The fixed rules that turn a study's per-seed numbers into the words on the results page.

The rules are written down before the runs and applied mechanically, so that
no threshold is chosen after seeing which way it makes a claim fall.  The
numbers come from :mod:`dat_study.stats` (paired by seed, sample
std, paired t test, sign test, Holm); this module decides:

* **A cell** (one method against one baseline on one metric and setting) of
  a section is *better* (*worse*) when its Holm-adjusted p value is at most
  :data:`ALPHA` and the effect favours the method (the baseline); else a
  *tie*.  Holm corrects over one family per section for the paper's claims
  and one family of its own per group of comparisons that are not claims
  (:data:`dat_study.stats.FAMILY_RULE`): a section calls
  :func:`decide` once per family.  A cell that cannot move (saturated, no
  difference, no headroom, *failed*, *inactive*; see
  :mod:`dat_study.stats`) is not tested, not counted, and listed
  beside its claim's verdict with its numbers.
* **A claim** over its cells gets one of these words (``k`` cells better,
  ``m`` worse, of ``n`` counted cells; seeds = the fewest seeds of a counted
  cell):

  - ``reproduced``: m = 0 and k > n / 2 (most counted cells better, none worse);
  - ``partly reproduced (k of n)``: m = 0 and 1 <= k <= n / 2;
  - ``not reproduced at this scale``: k = 0 and m >= 1 (the opposite is shown);
  - ``mixed (k better, m worse of n)``: k >= 1 and m >= 1;
  - ``not shown``: every counted cell a tie (no evidence either way);
  - ``cannot be judged here``: no counted cell (every cell failed, inactive or degenerate).

  With fewer than :data:`MIN_SEEDS` seeds, ``reproduced`` / ``partly reproduced``
  / ``not reproduced at this scale`` / ``mixed`` read ``suggestive`` /
  ``suggestive (k of n)`` / ``suggestive against`` / ``mixed (suggestive)``.
  Every verdict carries its scope (data and resolution, classifier, steps,
  samples, seeds: :attr:`Claim.scope`).

Example:

>>> from dat_study import stats
>>> cells = decide({"a": stats.paired({0: 1.0, 1: 1.1, 2: 0.9, 3: 1.0, 4: 1.05},
...                                   {0: 2.0, 1: 2.2, 2: 2.0, 3: 2.1, 4: 2.1}, lower_is_better=True)})
>>> cells["a"].outcome, verdict(cells.values()).word
('better', 'reproduced')
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from dat_study import stats

ALPHA = 0.05
MIN_SEEDS = 5
OUTCOMES = ("better", "worse", "tie", "degenerate")  # "degenerate": not counted (see stats.KINDS for why)
WORDS = ("reproduced", "partly reproduced", "not reproduced at this scale", "mixed", "not shown",
         "cannot be judged here", "suggestive", "suggestive against", "mixed (suggestive)")


@dataclasses.dataclass(frozen=True)
class Cell:
    """A decided cell.

    Attributes:
      label: what the cell compares (for the page).
      outcome: one of :data:`OUTCOMES`.
      p_holm: Holm-adjusted p within the section (NaN if not tested).
      seeds: seeds the decision rests on.
      comparison: the :class:`dat_study.stats.Paired` behind it
        (``None`` for a cell combined from others, see :func:`both`).
      family: the number of cells Holm corrected over.
      note: why it is degenerate, or how it was combined.
      failed_arm: ``"method"`` or ``"baseline"`` when the cell was decided by that arm not learning
        (:func:`dat_study.stats.failed_arm`), else ``None``.
    """

    label: object
    outcome: str
    p_holm: float
    seeds: int
    comparison: stats.Paired | None
    family: int
    note: str = ""
    failed_arm: str | None = None


def _direction(c: stats.Paired) -> int:
    if c.test == "sign test":
        return (c.wins > c.losses) - (c.wins < c.losses)
    return (c.effect > 0) - (c.effect < 0)


def decide(comparisons: dict, alpha: float = ALPHA) -> dict:
    """``{label: Cell}`` for a section's ``{label: Paired}``, Holm-corrected over its tested cells."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}.")
    bad = [k for k, c in comparisons.items() if not isinstance(c, stats.Paired)]
    if bad:
        raise ValueError(f"comparisons must map labels to stats.Paired, got other values for {bad}.")
    tested = [k for k, c in comparisons.items() if c.degenerate is None]
    adjusted = dict(zip(tested, stats.holm([comparisons[k].p for k in tested])))
    out = {}
    for k, c in comparisons.items():
        if c.degenerate is not None:
            out[k] = Cell(k, "degenerate", float("nan"), c.n, c, len(tested), c.degenerate)
            continue
        p = adjusted[k]
        outcome = "tie"
        if not math.isnan(p) and p <= alpha and _direction(c):
            outcome = "better" if _direction(c) > 0 else "worse"
        note = ""
        if c.failed_arm:  # the rule of stats.failed_arm: the arm that did not learn loses, whatever the test says
            outcome = "worse" if c.failed_arm == "method" else "better"
            note = (f"the {c.failed_arm}'s arm did not learn where the setting's arm without a regularizer did: "
                    f"it loses the cell")
        # a cell lost by an arm that did not learn rests on every seed it compared, its measure defined or not
        seeds = len(c.seeds) + len(c.undefined_seeds) if c.failed_arm else c.n
        out[k] = Cell(k, outcome, p, seeds, c, len(tested), note, c.failed_arm)
    return out


def both(label, supports: Cell, also: Cell, note: str) -> Cell:
    """A cell that supports a claim only when two cells both do (e.g. "below None *and* above 0-GP").

    ``supports`` and ``also`` are already oriented so that "better" supports
    the claim.  The result is better when both are, worse when either is
    worse, degenerate when either is, else a tie; its p is the larger of the
    two (an intersection-union test).
    """
    outcomes = (supports.outcome, also.outcome)
    if "degenerate" in outcomes:
        outcome = "degenerate"
        note = supports.note if supports.outcome == "degenerate" else also.note
    elif "worse" in outcomes:
        outcome = "worse"
    elif outcomes == ("better", "better"):
        outcome = "better"
    else:
        outcome = "tie"
    failed = next((c.failed_arm for c in (supports, also) if c.failed_arm and c.outcome == outcome), None)
    return Cell(label, outcome, max(supports.p_holm, also.p_holm), min(supports.seeds, also.seeds), None,
                supports.family, note, failed)


def flipped(cell: Cell) -> Cell:
    """The same cell read the other way round (better <-> worse), for claims that the baseline wins.

    A cell decided by a failed arm (:func:`dat_study.stats.failed_arm`) keeps its outcome: the method that did not
    learn loses it however the claim reads the metric.
    """
    if cell.failed_arm:
        return cell
    swap = {"better": "worse", "worse": "better"}
    return dataclasses.replace(cell, outcome=swap.get(cell.outcome, cell.outcome))


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A claim's verdict over its cells (see the module doc for the words)."""

    word: str
    better: int
    worse: int
    tie: int
    degenerate: int
    seeds: int
    family: int

    @property
    def counted(self) -> int:
        return self.better + self.worse + self.tie

    @property
    def base_word(self) -> str:
        """The word without its counts (one of :data:`WORDS`)."""
        return self.word.split(" (")[0] if not self.word.startswith("mixed (suggestive") else "mixed (suggestive)"

    def text(self) -> str:
        """``"4 of 6 cells better, 0 worse, 2 tie at alpha=0.05 (Holm over 7 tested cells of its family); 5 seeds"``."""
        if not self.counted:
            return f"no cell can be counted: {self.degenerate} not counted"
        s = (f"{self.better} of {self.counted} cells better, {self.worse} worse, {self.tie} tie "
             f"at alpha={ALPHA:g} (Holm over the {self.family} tested cells of its family); {self.seeds} seeds")
        if self.seeds < MIN_SEEDS:
            s += f" (< {MIN_SEEDS}: at most suggestive)"
        if self.degenerate:
            s += f"; {self.degenerate} cell{'s' if self.degenerate > 1 else ''} not counted"
        return s


def verdict(cells) -> Verdict:
    """The claim's :class:`Verdict` over its decided cells."""
    cells = list(cells)
    if not cells:
        raise ValueError("a claim needs at least one cell.")
    unknown = [c.outcome for c in cells if c.outcome not in OUTCOMES]
    if unknown:
        raise ValueError(f"cell outcomes must be some of {list(OUTCOMES)}, got {unknown}.")
    counts = {o: sum(c.outcome == o for c in cells) for o in OUTCOMES}
    counted = [c for c in cells if c.outcome != "degenerate"]
    seeds = min((c.seeds for c in counted), default=0)
    enough = seeds >= MIN_SEEDS
    b, w, n = counts["better"], counts["worse"], len(counted)
    if not counted:
        word = "cannot be judged here"
    elif b and w:
        word = f"mixed ({b} better, {w} worse of {n})" if enough else "mixed (suggestive)"
    elif b and 2 * b > n:
        word = "reproduced" if enough else "suggestive"
    elif b:
        word = f"partly reproduced ({b} of {n})" if enough else f"suggestive ({b} of {n})"
    elif w:
        word = "not reproduced at this scale" if enough else "suggestive against"
    else:
        word = "not shown"
    return Verdict(word, b, w, counts["tie"], counts["degenerate"], seeds, max((c.family for c in cells), default=0))


# ------------------------------------------------------------------ the page


def readable(x, digits=2, sign=False) -> str:
    """``x`` with ``digits`` decimals, or 3 significant digits where those decimals would show fewer than two
    (so that 0.0005 prints as ``0.0005``, not ``0.00``).

    >>> readable(12.345), readable(0.000512), readable(-0.0004, sign=True), readable(0.0)
    ('12.35', '0.000512', '-0.0004', '0.00')
    """
    plus = "+" if sign else ""
    if x != 0 and abs(x) < 10.0 ** (1 - digits):
        return f"{x:{plus}.3g}"
    return f"{x:{plus}.{digits}f}"


def num(x, digits=2) -> str:
    """A number for the page (``-`` for NaN)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return readable(x, digits)


def pvalue(p) -> str:
    """A p value for the page: 3 significant digits, ``< 0.0001`` below that."""
    if p is None or math.isnan(p):
        return "-"
    return "< 0.0001" if p < 1e-4 else f"{p:.3g}"


def effect(c: stats.Paired, digits=2) -> str:
    """``"+1.23 [0.45, 2.01]"``: the mean paired difference (positive = method better) and its 95% interval."""
    if c.n == 0:
        return "-"
    s = readable(c.effect, digits, sign=True)
    if c.n >= 2:
        s += f" [{readable(c.ci[0], digits, sign=True)}, {readable(c.ci[1], digits, sign=True)}]"
    return s


def _mean_sd(mean, sd, digits):
    if math.isnan(mean):
        return "-"
    return readable(mean, digits) if math.isnan(sd) else f"{readable(mean, digits)} ± {readable(sd, digits)}"


def mean_sd(values, digits=2) -> str:
    """``mean ± sample std`` of ``values`` for the page, small values readable (``-`` if empty)."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    if v.size == 0:
        return "-"
    if not np.all(np.isfinite(v)):
        return f"diverged ({int(np.sum(~np.isfinite(v)))}/{v.size})"
    return _mean_sd(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), digits)


def cells_table(rows, digits=2) -> list:
    """The page's table of a section's cells, degenerate cells listed apart below it.

    Args:
      rows: ``(label, Cell)`` pairs; ``label`` says what is compared ("GAN loss: DAT vs None").
      digits: decimals of the values and effects.
    """
    lines = ["| cell | method | baseline | effect (+ = method better) [95% CI] | seeds | paired t p | sign test p "
             "| p (Holm) | outcome |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    apart = []
    for label, cell in rows:
        c = cell.comparison
        if cell.outcome == "degenerate":
            what = "" if c is None else (f" (method {_mean_sd(c.method_mean, c.method_sd, digits)}, baseline "
                                         f"{_mean_sd(c.baseline_mean, c.baseline_sd, digits)}, {c.n} seeds)")
            kind = stats.kind_of(cell.note)
            why = cell.note[len(kind):] if cell.note.startswith(kind) else f": {cell.note}"  # the kind once, in bold
            apart.append(f"- {label}: **{kind}**{why}{what}")
            continue
        if c is None:
            lines.append(f"| {label} | | | ({cell.note}) | {cell.seeds} | | | {pvalue(cell.p_holm)} | "
                         f"**{cell.outcome}** |")
            continue
        extra = ""
        if c.test == "sign test":
            extra = "; one arm diverged in some seed: decided by the sign test"
        if c.both_diverged:
            extra += f"; seeds {list(c.both_diverged)} diverged in both arms, dropped"
        if c.undefined_seeds:
            extra += f"; seeds {list(c.undefined_seeds)} dropped ({c.undefined})"
        if c.failed_arm:
            extra += f": {cell.note}"
        lines.append(
            f"| {label} | {_mean_sd(c.method_mean, c.method_sd, digits)} | "
            f"{_mean_sd(c.baseline_mean, c.baseline_sd, digits)} | {effect(c, digits)} | {c.n} | {pvalue(c.p_t)} | "
            f"{pvalue(c.p_sign)} | {pvalue(cell.p_holm)} | **{cell.outcome}**{extra} |")
    if apart:
        lines += ["", "Cells not counted (not tested; why, with their numbers):", ""] + apart
    return lines


RULES_TEXT = (
    f"Verdicts are mechanical (`dat_study/stats.py`, `verdicts.py`), fixed before the runs: arms are "
    "compared **paired by seed** (same seed = same initialisation and data order); the effect is the mean paired "
    "difference, signed so that + means the method is better, with its 95% t interval; a cell is *better* or "
    f"*worse* when its two-sided paired t test is significant at alpha={ALPHA:g} after Holm's correction, else a "
    "*tie* (the exact sign test is shown as a check; with one arm diverged the diverged arm loses that seed and "
    f"the sign test decides). {stats.FAMILY_RULE} Spreads are sample standard deviations (ddof 1). A cell that "
    "cannot move is not counted and is listed beside its verdict with its numbers: *failed* (the setting's arm "
    f"without a regularizer did not learn, or neither arm did: final IS under {stats.FAILED_IS:g}, FID over "
    f"{stats.FAILED_FID:g}, or diverged, in at least half of the seeds), *inactive* (the "
    f"method's perturbation under {stats.INACTIVE_SHARE:g} of the inputs' norm, or its penalty under that share of "
    "D's loss), *saturated* (every run of both arms at the metric's bound), *no difference* in any seed, *no "
    "headroom*, or *undefined* (a measure with no value in a seed, e.g. no example fooled, is not a loss: that "
    "seed leaves the cell, listed, and fewer than 2 seeds left leave the cell uncounted). A method that fails "
    "where its setting's baseline learns loses its cell, whatever its metric says, defined or not (counted, and "
    "listed beside the verdict). A claim is "
    "*reproduced* when most counted cells are better and none worse, *partly reproduced (k of n)* with fewer "
    "better and none worse, *not reproduced at this scale* with some worse and none better, *mixed* with both, "
    "*not shown* with only ties, *cannot be judged here* with no counted cell; with fewer than "
    f"{MIN_SEEDS} seeds the words become *suggestive*. Runs train for the budgets of the pilot (section 1). No "
    "seed, learning rate or threshold was tuned."
)


# ------------------------------------------------------------------ rank agreement


def ranks(values) -> np.ndarray:
    """1-based ranks, ascending; tied values share their mean rank."""
    v = np.asarray([values] if np.isscalar(values) else list(values), np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"values must be a non-empty list of numbers, got {values!r}.")
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


# ------------------------------------------------------------------ claims


def named(cell: Cell, text: str) -> Cell:
    """``cell`` with a label for the page (the claims list their cells that were not counted by it)."""
    return dataclasses.replace(cell, label=text)


@dataclasses.dataclass(frozen=True)
class Claim:
    """One claim of the paper as a section tests it: its decided cells and what they ran on.

    Args:
      text: the claim, in the page's words.
      setup: what the cells compare (for the summary table).
      cells: the decided :class:`Cell` s (from :func:`decide`, :func:`both`, :func:`flipped`), labelled for the
        page by :func:`named`.
      scope: what the verdict rests on: data and resolution, classifier, steps, samples, seeds.
      digits: decimals of the effect on the page.
      measured: the measurement date when it is not the section's (e.g. an earlier run it includes).
    """

    text: str
    setup: str
    cells: tuple
    scope: str = ""
    digits: int = 2
    measured: str | None = None
    effect_text: str | None = None  # the summary's effect for a claim whose cell is not a paired comparison

    @property
    def verdict(self) -> Verdict:
        return verdict(self.cells)

    def not_counted(self) -> list:
        """``"reason: label (method m ± s, baseline m ± s); label (...)"``, one line per reason, for the cells the
        verdict did not count."""
        groups = {}
        for c in self.cells:
            if c.outcome != "degenerate":
                continue
            cmp = c.comparison
            nums = "" if cmp is None else (f" (method {_mean_sd(cmp.method_mean, cmp.method_sd, self.digits)}, "
                                           f"baseline {_mean_sd(cmp.baseline_mean, cmp.baseline_sd, self.digits)})")
            groups.setdefault(c.note, []).append(f"{c.label}{nums}")
        return [f"{note}: {'; '.join(cells)}" for note, cells in groups.items()]

    def line(self) -> str:
        v = self.verdict
        s = f"{self.text}: **{v.word}** ({v.text()})"
        if self.scope:
            s += f". Scope: {self.scope}"
        apart = self.not_counted()
        if apart:
            s += ". Not counted: " + " | ".join(apart)
        lost = self.lost_by_failure()
        if lost:
            s += ". Decided by an arm that did not learn (counted: that arm loses): " + "; ".join(lost)
        return s

    def lost_by_failure(self) -> list:
        """``"label: the <arm> did not learn (method m ± s, baseline m ± s)"`` for each counted cell decided by
        :func:`dat_study.stats.failed_arm`, so that a reader sees which part of the verdict they make."""
        out = []
        for c in self.cells:
            if not c.failed_arm:
                continue
            cmp = c.comparison
            nums = "" if cmp is None else (f", method {_mean_sd(cmp.method_mean, cmp.method_sd, self.digits)}, "
                                           f"baseline {_mean_sd(cmp.baseline_mean, cmp.baseline_sd, self.digits)}")
            out.append(f"{c.label} ({c.outcome}: the {c.failed_arm} did not learn{nums})")
        return out

    def effect_and_p(self) -> tuple:
        """``(effect [CI], Holm p)`` of a one-cell claim; for several cells, where to find them."""
        if self.effect_text:
            return self.effect_text, "-"
        counted = [c for c in self.cells if c.outcome != "degenerate"]
        if not counted:
            return "- (no cell counted)", "-"
        if len(self.cells) == 1 and counted and counted[0].comparison is not None:
            return effect(counted[0].comparison, self.digits), pvalue(counted[0].p_holm)
        return f"{len(counted)} cells: in the section", "per cell"
