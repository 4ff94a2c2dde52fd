"""The reproduction study: the paper's claims rerun and judged (``bin/results.py``, ``bin/figure3.py``).

A package of its own beside the library: it imports :mod:`dat_tf`, never the other way round (a
Keras user's ``dat_tf`` holds no study code), and it is installed with it so that ``dat-results``
and the flagfiles work without the checkout.

* :mod:`.paper`: the paper's numbers, experiment grid and claims, typed in once.
* :mod:`.pilot` and :mod:`.convergence`: how long each family of runs trains, fixed before the
  comparison runs.
* One module per claim, each with ``run_section`` and ``section_markdown``: :mod:`.figure3` (2D
  mixtures; also ``bin/figure3.py``), :mod:`.figure1` (the targeted attack of
  :mod:`dat_tf.metrics.attack`, both arms trained and attacked), :mod:`.table3`,
  :mod:`.figures45`, :mod:`.lipschitz`, :mod:`.cost` (reads the benchmarks' step table),
  :mod:`.tables12`.
* :mod:`.study`: the section registry and the driver; :mod:`.render`: the results page and the
  README's results table.  Imports go one way: sections <- study <- render.
* Shared: :mod:`.common` (options, section files, formatting, the pilot's budgets), :mod:`.runner`
  (one training run), :mod:`.parallel` (worker processes), :mod:`.stats` (paired tests by seed,
  Holm, cells that cannot move) and :mod:`.verdicts` (the fixed rules that turn them into words).
"""
