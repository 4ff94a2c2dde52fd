"""Mode-collapse metrics for the 2D Gaussian mixtures (paper Figure 3).

As in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):

* each sample is assigned to its nearest mode; it is *high quality* when it
  lies within ``3 * std`` of that mode;
* a mode is *covered* when it holds at least ``min_fraction`` of the samples
  as high-quality samples (1% by default, fixed before any run);
* ``kl`` is ``KL(q || p)`` between ``q``, the histogram of high-quality
  samples over modes, and ``p``, the true mode weights (the reverse KL of
  PacGAN), with empty bins smoothed by ``1e-10``.  It is ``nan`` when no sample
  is high quality.
* ``mode_mass_error`` is the mean over the nine modes of ``|q_k - p_k| / p_k``,
  the relative error of each mode's share (``q`` as for ``kl``; ``nan`` when
  no sample is high quality).  It weighs every mode alike, so a lost small
  mode costs ``1 / 9`` whatever its weight, where ``kl`` gives a lost mode no
  term of its own (``q_k = 0``); and it does not saturate when wide modes
  make every mode "covered".  A perfect sampler does not score 0: sampling
  noise gives about 0.03-0.07 at 2,500 samples, and at std 0.316 the heavy
  column's tails fall nearest the light column's means, so the imbalanced
  mixture's own samples score about 0.35.
"""

from __future__ import annotations

import numpy as np

from dat_tf.data.toy import DEFAULT_STD, mixture_modes, mixture_weights


def mixture_metrics(samples, kind="balanced", std=DEFAULT_STD, min_fraction=0.01) -> dict:
    """Returns ``{"modes_covered", "high_quality", "kl", "mode_mass_error"}`` for ``samples [N, 2]``.

    >>> x = np.repeat(mixture_modes(), [2, 1, 1, 1, 1, 1, 1, 1, 1], axis=0)  # mode 0 twice: q_0 = 0.2, others 0.1
    >>> round(mixture_metrics(x)["mode_mass_error"], 6)  # (0.8 + 8 * 0.1) / 9: |0.2 - 1/9| * 9 = 0.8, |0.1 - 1/9| * 9 = 0.1
    0.177778
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must have shape [N, 2] with N >= 1, got {samples.shape}.")
    modes = mixture_modes().astype(np.float64)
    p = mixture_weights(kind)
    dist = np.linalg.norm(samples[:, None, :] - modes[None, :, :], axis=-1)
    nearest = dist.argmin(axis=1)
    good = dist[np.arange(len(samples)), nearest] <= 3.0 * std
    counts = np.bincount(nearest[good], minlength=len(modes)).astype(np.float64)
    covered = int((counts >= min_fraction * len(samples)).sum())
    if counts.sum() == 0:
        kl = mass_error = float("nan")
    else:
        mass_error = float(np.mean(np.abs(counts / counts.sum() - p) / p))
        q = counts / counts.sum()
        q = np.maximum(q, 1e-10)
        q /= q.sum()
        kl = float(np.sum(q * np.log(q / p)))
    return {"modes_covered": covered, "high_quality": float(good.mean()), "kl": kl, "mode_mass_error": mass_error}
