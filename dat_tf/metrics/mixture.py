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
"""

from __future__ import annotations

import numpy as np

from dat_tf.data.toy import DEFAULT_STD, mixture_modes, mixture_weights


def mixture_metrics(samples, kind="balanced", std=DEFAULT_STD, min_fraction=0.01) -> dict:
    """Returns ``{"modes_covered", "high_quality", "kl"}`` for ``samples [N, 2]``."""
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
        kl = float("nan")
    else:
        q = counts / counts.sum()
        q = np.maximum(q, 1e-10)
        q /= q.sum()
        kl = float(np.sum(q * np.log(q / p)))
    return {"modes_covered": covered, "high_quality": float(good.mean()), "kl": kl}
