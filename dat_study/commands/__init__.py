"""The study's command lines: ``dat-results`` and ``dat-figure3`` once installed, ``bin/results.py`` and
``bin/figure3.py`` in a checkout. Here, not in ``dat_tf.commands``, because dat_tf never imports dat_study;
they run as those do (:func:`dat_tf.commands.start`).
"""
