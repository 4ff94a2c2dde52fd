"""Direct Adversarial Training (the paper's method): D trained on batch-mean-targeted perturbations."""

from __future__ import annotations

from dat_tf.lazy import lazy_module
from dat_tf.regularizers.base import Perturbation, Regularizer, mean_perturbation_norm, param, register

tf = lazy_module("tensorflow")  # loaded on first use (see dat_tf.lazy)

VARIANTS = ("paper", "reference")


@register("datt", fixed={"with_clean": True}, help="DATT: D trained on clean and DAT-perturbed batches together.")
@register("dat", fixed={"with_clean": False}, help="DAT: D trained on DAT-perturbed reals and fakes.")
class DirectAdversarialTraining(Regularizer):
    """Direct Adversarial Training: D trained on batch-mean-targeted perturbations.

    Each example is pushed one gradient step towards where the *other* class
    sits under D, so D learns not to be fooled by the small moves a generator
    step can make (paper section 4).

    ``variant="paper"`` (Eq. 9-10, default)::

        t_r = mean_j g1(D(x_f_j))          t_f = mean_j g2(D(x_r_j))
        delta_r_i = -eps * grad_{x_r_i} |g1(D(x_r_i)) - t_r|
        delta_f_i = -eps * grad_{x_f_i} |g2(D(x_f_i)) - t_f|

    ``variant="reference"`` (the authors' released code, which produced
    Table 2): on raw logits, the objective is the gap of batch means
    ``|mean_i D(x_i) - mean_j D(x_other_j)|``, the step is
    ``-eps * clip(grad, -1, 1)``, and fakes are clipped to the pixel range.

    Targets are held constant while differentiating, means are global across
    replicas, and the gradient is with respect to the inputs only (no
    second-order term, no BatchNorm or spectral-norm update).

    Args:
      epsilon: step size (1 in every experiment of the paper), > 0.
      variant: ``"paper"`` or ``"reference"``.
      with_clean: False trains D on the perturbed batch only (``dat``); True on
        clean and perturbed together, as one batch of twice the size
        (``datt``, so the loss is the average of the two).
      clip: which perturbed batches are clipped to ``clip_range``: ``"none"``,
        ``"fake"`` or ``"both"``.  ``None`` picks the variant's default
        (``"none"`` for paper, ``"fake"`` for reference).
      clip_range: ``(low, high)`` pixel range for ``clip``.

    Example:

    >>> DirectAdversarialTraining(epsilon=1.0, variant="reference").clip
    'fake'

    Reference: paper Algorithm 1 and Eq. (9)-(11); docs/design.md, "DAT".
    """

    flag_prefix = "dat"

    epsilon: float = param(1.0, "DAT step size epsilon (1 in the paper); > 0 (with 0, DAT would silently be no "
                                "regularizer: use --regularizer=none for that).", low=0.0, strict=True)
    variant: str = param("paper", "DAT variant: the paper's Eq. 9-10 or the authors' released code.",
                         choices=VARIANTS)
    with_clean: bool = param(False, "Train D on clean and perturbed batches (fixed by dat / datt).", flag=False)
    clip: str | None = param(None, "Which DAT-perturbed batches are clipped to the pixel range "
                                   "(default: none for paper, fake for reference).",
                             choices=("none", "fake", "both"), optional=True)
    clip_range: tuple = param((-1.0, 1.0), "Pixel range (low, high) for clip.", flag=False)

    def __post_init__(self):
        if self.clip is None and self.variant in VARIANTS:
            self.clip = "none" if self.variant == "paper" else "fake"
        super().__post_init__()
        try:
            low, high = (float(v) for v in self.clip_range)
            ok = low < high
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"DirectAdversarialTraining: clip_range must be (low, high) with low < high, got {self.clip_range!r}."
            )
        self.clip_range = (low, high)

    def _paper_gradients(self, step):
        from dat_tf import replicas

        loss = step.loss

        def objective(lr, lf):
            # Targets are global batch means, held constant (global_mean stops gradients).
            t_r = replicas.global_mean(loss.g1(lf))
            t_f = replicas.global_mean(loss.g2(lr))
            return tf.reduce_sum(tf.abs(loss.g1(lr) - t_r)) + tf.reduce_sum(tf.abs(loss.g2(lf) - t_f))

        return step.critic.pair_input_gradients(objective, step.real, step.fake)

    def _reference_gradients(self, step):
        from dat_tf import replicas

        n = replicas.global_batch_size(tf.shape(step.real)[0])

        def objective(lr, lf):
            # d/dx_i |mean(D(x)) - m_other| = sign(gap) * dD(x_i)/dx_i / N_global, with
            # the means global over replicas and held constant.
            sign = tf.sign(replicas.global_mean(lr) - replicas.global_mean(lf))
            return sign * (tf.reduce_sum(lr) - tf.reduce_sum(lf)) / n

        grad_r, grad_f = step.critic.pair_input_gradients(objective, step.real, step.fake)
        return tf.clip_by_value(grad_r, -1.0, 1.0), tf.clip_by_value(grad_f, -1.0, 1.0)

    def adversarial_examples(self, step):
        """``(x_r_adv, x_f_adv, delta_r, delta_f)`` for one D step."""
        x_real, x_fake = step.real, step.fake
        if self.variant == "paper":
            grad_r, grad_f = self._paper_gradients(step)
        else:
            grad_r, grad_f = self._reference_gradients(step)
        delta_r = -self.epsilon * tf.cast(grad_r, x_real.dtype)
        delta_f = -self.epsilon * tf.cast(grad_f, x_fake.dtype)
        adv_r, adv_f = x_real + delta_r, x_fake + delta_f
        low, high = self.clip_range
        if self.clip in ("fake", "both"):
            adv_f = tf.clip_by_value(adv_f, low, high)
        if self.clip == "both":
            adv_r = tf.clip_by_value(adv_r, low, high)
        return adv_r, adv_f, adv_r - x_real, adv_f - x_fake

    def perturb(self, step):
        adv_r, adv_f, delta_r, delta_f = self.adversarial_examples(step)
        norm = mean_perturbation_norm(delta_r, delta_f)
        if self.with_clean:
            return Perturbation(real=tf.concat([step.real, adv_r], 0), fake=tf.concat([step.fake, adv_f], 0), norm=norm)
        return Perturbation(real=adv_r, fake=adv_f, norm=norm)
