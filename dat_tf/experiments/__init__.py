"""Scripts that rerun the paper's experiments (the library side of ``bin/``).

* :mod:`.paper`: the paper's numbers, experiment grid and claims, typed in once.
* One module per claim, each with ``run_section`` and ``section_markdown`` for the study:
  :mod:`.figure3` (2D mixtures; ``bin/figure3.py``), :mod:`.figure1` (the attack
  diagnostic, both arms trained and attacked by the section; ``bin/attack.py`` for one run), :mod:`.table3`,
  :mod:`.figures45`, :mod:`.lipschitz`, :mod:`.cost` (the step-time harness; ``benchmarks/``).
* :mod:`.study`: the section registry and the driver; :mod:`.render`: the results page
  (``bin/results.py``).  Imports go one way: sections <- study <- render.
* Shared: :mod:`.common` (options, section files, formatting), :mod:`.runner` (one
  training run), :mod:`.parallel` (worker processes), :mod:`.stats` (paired tests by seed,
  Holm) and :mod:`.verdicts` (the fixed rules that turn them into words).
"""
