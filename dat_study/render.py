"""Writes ``<out_dir>/results.md`` from the section files of :mod:`dat_study.study`.

The page is the header, a summary table and one part per section of
:data:`dat_study.study.SECTIONS`, in the registry's order; each part
is written by its section's ``markdown`` from ``<out_dir>/results/<name>.json``.
Nothing is typed in by hand except what :mod:`dat_study.paper` holds.
"""

from __future__ import annotations

import dataclasses
import os

from dat_study.common import load_section, minutes, results_command
from dat_study.study import SECTIONS
from dat_study import stats
from dat_study.verdicts import RULES_TEXT, Claim


def not_counted_summary(claim) -> str:
    """``"2 inactive, 1 failed"``: the cells a claim's verdict did not count, by kind (details in its section),
    then the counted cells an arm's failure decided (``"2 lost by an arm that did not learn (counted)"``)."""
    kinds = [stats.kind_of(c.note) for c in claim.cells if c.outcome == "degenerate"]
    parts = [f"{kinds.count(k)} {k}" for k in stats.KINDS if k in kinds]
    lost = sum(bool(c.failed_arm) for c in claim.cells if c.outcome != "degenerate")
    if lost:
        parts.append(f"{lost} lost by an arm that did not learn (counted)")
    return ", ".join(parts) or "-"


def render_page(opts) -> str:
    """Writes ``<out_dir>/results.md`` (and the sections' plots) from the stored sections; returns its path."""
    os.makedirs(opts.artefacts, exist_ok=True)
    cli = results_command(opts)
    header = [
        "# Results: the paper's claims rerun on a small CPU machine",
        "",
        f"Every number and plot on this page is written by `{cli}` "
        "(`dat_study/study.py`, `render.py`) from its runs; nothing is typed in by hand but the paper's "
        "numbers and the claims. Runs are miniatures: 2D mixtures at the paper's size, image experiments on "
        f"scikit-learn's 8x8 digits (resized to {opts.resolution}x{opts.resolution}, DCGAN width {opts.width}) "
        "with FID/KID from the project's own digits classifier, because CIFAR-10 and Inception weights cannot be "
        "downloaded here. " + RULES_TEXT,
        "",
    ]
    if opts.quick:
        header += ["> **--quick smoke run: the numbers on this page mean nothing.**", ""]
    summary = ["| # | claim | scope | effect [95% CI] | p (Holm) | verdict | not counted | measured |",
               "|---|---|---|---|---|---|---|---|"]
    body = []
    page_claims = []  # every section's claims, in page order: the README's table reads them (one source)
    total = 0.0
    for i, (name, section) in enumerate(SECTIONS.items(), 1):
        title, cmd = section.title, section.command.format(results=cli)
        body += [f"## {i}. {title}", "", f"*Claim:* {section.claim}", "", f"*Here:* `{cmd}`", "",
                 f"*At full scale:* `{section.full_command}`", ""]
        sec = load_section(opts, name)
        if sec is None:
            body += ["Not run yet.", ""]
            summary.append(f"| {i} | {title} | | | | not run | | - |")
            continue
        lines, claims, overall = section.markdown(opts, sec)
        seconds, note = section.wall_time(sec)
        date = section.measured(sec)
        total += seconds or 0.0
        body += lines + ["", "*Verdict:*", ""]
        for c in claims:
            body.append(f"- {c.line()}" if isinstance(c, Claim) else f"- {c}")
        body += ["", f"*Measured:* {date}. *Wall time:* {minutes(seconds)}{note}, {sec['machine']}.", ""]
        typed = [c for c in claims if isinstance(c, Claim)]
        page_claims += typed
        for j, c in enumerate(typed, 1):
            eff, p = c.effect_and_p()
            v = c.verdict
            counts = f"{v.better}/{v.worse}/{v.tie} of {v.counted} better/worse/tie"
            summary.append(f"| {i}.{j} | {c.text} | {c.scope or c.setup} | {eff} | {p} | **{v.word}** ({counts}) | "
                           f"{not_counted_summary(c)} | {c.measured or date} |")
        if not typed:
            summary.append(f"| {i} | {title} | | | | {overall} | | {date} |")
    header += summary + ["", (f"Sum of the section times above: {minutes(total)} (each as its section states: the wall time of one "
                                     "pass, or the sum of its runs' own times where they ran over several passes)."), ""]
    path = os.path.join(opts.out_dir, "results.md")
    with open(path, "w") as f:
        f.write("\n".join(header + body) + "\n")
    if opts.readme:
        update_readme(opts.readme, readme_table(opts, claims=page_claims))
    return path


README_START = "<!-- results table: written by `python bin/results.py --render --out_dir=docs` from docs/results/; edit there -->"
README_END = "<!-- end of the results table -->"


def readme_table(opts, claims=None) -> list:
    """The README's results table: one row per claim of the page, its verdict word and scope (one source: the
    stored sections, through the same :class:`dat_study.verdicts.Claim` s as the page).

    ``claims``: the page's claims in page order when the caller has them (:func:`render_page`, which would
    otherwise build every section's statistics a second time); else built from the stored sections, drawing
    nothing (the committed plots are the page's: a test that reads the table leaves them alone).
    """
    if claims is None:
        claims, text_only = [], dataclasses.replace(opts, draw=False)  # the page's plots are the page's to draw
        for name, section in SECTIONS.items():
            sec = load_section(opts, name)
            if sec is not None:
                claims += [c for c in section.markdown(text_only, sec)[1] if isinstance(c, Claim)]
    lines = ["| claim of the paper | verdict here | scope | not counted |", "|---|---|---|---|"]
    for c in claims:
        v = c.verdict
        eff, _ = c.effect_and_p()
        effect = "" if eff.endswith("in the section") or eff.startswith("-") else f"; {eff}"
        lines.append(f"| {c.text} | **{v.word}** ({v.better}/{v.worse}/{v.tie} of {v.counted} better/worse/tie"
                     f"{effect}) | {c.scope or c.setup} | {not_counted_summary(c)} |")
    return lines


def update_readme(path: str, table: list) -> None:
    """Replaces the lines between :data:`README_START` and :data:`README_END` of ``path`` by ``table``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{path} has no results-table markers ({README_START!r} ... {README_END!r}).")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + README_START + "\n" + "\n".join(table) + "\n" + README_END + tail)
