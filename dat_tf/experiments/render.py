"""Writes ``<out_dir>/results.md`` from the section files of :mod:`dat_tf.experiments.study`.

The page is the header, a summary table and one part per section of
:data:`dat_tf.experiments.study.SECTIONS`, in the registry's order; each part
is written by its section's ``markdown`` from ``<out_dir>/results/<name>.json``.
Nothing is typed in by hand except what :mod:`dat_tf.experiments.paper` holds.
"""

from __future__ import annotations

import os

from dat_tf.experiments.common import load_section, minutes, results_command
from dat_tf.experiments.study import SECTIONS
from dat_tf.experiments.verdicts import RULES_TEXT, Claim


def render_page(opts) -> str:
    """Writes ``<out_dir>/results.md`` (and the sections' plots) from the stored sections; returns its path."""
    os.makedirs(opts.artefacts, exist_ok=True)
    cli = results_command(opts)
    header = [
        "# Results: the paper's claims rerun on a small CPU machine",
        "",
        f"Every number and plot on this page is written by `{cli}` "
        "(`dat_tf/experiments/study.py`, `render.py`) from its runs; nothing is typed in by hand but the paper's "
        "numbers and the claims. Runs are miniatures: 2D mixtures at the paper's size, image experiments on "
        f"scikit-learn's 8x8 digits (resized to {opts.resolution}x{opts.resolution}, DCGAN width {opts.width}) "
        "with FID/KID from the project's own digits classifier, because CIFAR-10 and Inception weights cannot be "
        "downloaded here. " + RULES_TEXT,
        "",
    ]
    if opts.quick:
        header += ["> **--quick smoke run: the numbers on this page mean nothing.**", ""]
    summary = ["| # | claim | setup | effect [95% CI] | p (Holm) | verdict | measured |",
               "|---|---|---|---|---|---|---|"]
    body = []
    total = 0.0
    for i, (name, section) in enumerate(SECTIONS.items(), 1):
        title, cmd = section.title, section.command.format(results=cli)
        body += [f"## {i}. {title}", "", f"*Claim:* {section.claim}", "", f"*Here:* `{cmd}`", "",
                 f"*At full scale:* `{section.full_command}`", ""]
        sec = load_section(opts, name)
        if sec is None:
            body += ["Not run yet.", ""]
            summary.append(f"| {i} | {title} | | | | not run | - |")
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
        for j, c in enumerate(typed, 1):
            eff, p = c.effect_and_p()
            v = c.verdict
            counts = (f"{v.better}/{v.worse}/{v.tie} of {v.counted} better/worse/tie"
                      + (f", {v.degenerate} degenerate" if v.degenerate else ""))
            summary.append(f"| {i}.{j} | {c.text} | {c.setup} | {eff} | {p} | **{v.word}** ({counts}) | "
                           f"{c.measured or date} |")
        if not typed:
            summary.append(f"| {i} | {title} | | | | {overall} | {date} |")
    header += summary + ["", f"Sum of the section times above: {minutes(total)}.", ""]
    path = os.path.join(opts.out_dir, "results.md")
    with open(path, "w") as f:
        f.write("\n".join(header + body) + "\n")
    return path
