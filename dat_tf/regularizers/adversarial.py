"""Adversarial-example regularizers the paper compares DAT with: AR, RFM (Zhou et al. 2019) and ASGAN."""

from __future__ import annotations

from dat_tf.lazy import lazy_module
from dat_tf.regularizers.base import Perturbation, Regularizer, d_loss_gradients, mean_perturbation_norm, param, register

tf = lazy_module("tensorflow")  # loaded on first use (see dat_tf.lazy)


def _unit(g):
    from dat_tf.critic import per_example_norm

    shape = [-1] + [1] * (len(g.shape) - 1)
    return g / tf.reshape(per_example_norm(g), shape)


def _global_frobenius(diff):
    """``||diff||`` over the global batch, as a per-replica loss term.

    Its value is the global norm ``F = sqrt(S)``, ``S`` the all-replica sum of squares; its gradient is
    ``n * grad(S_local) / (2F)``, so that the replicas' gradients, averaged as the losses are, give
    ``grad F``.
    """
    from dat_tf import replicas

    local = tf.reduce_sum(tf.square(tf.cast(diff, tf.float32)))
    norm = tf.sqrt(replicas.global_sum(local) + 1e-12)
    return norm + replicas.num_replicas() * (local - tf.stop_gradient(local)) / (2.0 * norm)


@register("rfm", fixed={"target": "features"}, help="Robust feature matching on D's penultimate features.")
@register("ar", fixed={"target": "logits"}, help="Adversarial robustness of D's score.")
class RobustRegularizer(Regularizer):
    """AR and RFM: consistency of D between clean and adversarial inputs.

    ``x_adv = x + epsilon * g / ||g||`` with ``g`` the per-example gradient of
    D's loss (the direction that fools D most), for reals and fakes.  The
    penalty is ``weight * (||h(X_r_adv) - h(X_r)|| + ||h(X_f_adv) - h(X_f)||)``
    with ``h`` D's penultimate features (``target="features"``, RFM) or its
    logit (``target="logits"``, AR) and the norm taken over the whole batch
    (Frobenius, as the authors' ``(phi_adv - phi).norm()``; about sqrt(B)
    times the mean per-example norm), or with ``reduction="mean"`` the mean of
    the per-example norms.  The batch norm is over the global batch under
    ``tf.distribute``.  D's adversarial loss is on the clean inputs.

    Args:
      weight: lambda (10 in the authors' code).
      epsilon: L2 radius of the attack (1e-4 in the authors' code).
      target: ``"features"`` or ``"logits"``.
      reduction: ``"batch"`` (the authors' code) or ``"mean"``.

    Reference: Zhou et al. 2019, "Don't let your discriminator be fooled".
    """

    flag_prefix = "robust"

    weight: float = param(10.0, "Lambda of ar/rfm.", low=0.0)
    epsilon: float = param(1e-4, "L2 radius of the ar/rfm attack.", low=0.0)
    target: str = param("features", "What must stay close (fixed by the name).", choices=("features", "logits"),
                        flag=False)
    reduction: str = param("batch", "How ar/rfm reduce ||h(x_adv) - h(x)|| over the batch: 'batch' the norm of "
                           "the whole batch's difference (the authors' code), 'mean' the mean per-example norm.",
                           choices=("batch", "mean"))

    def perturb(self, step):
        grad_r, grad_f = d_loss_gradients(step)
        delta_r = self.epsilon * _unit(grad_r)
        delta_f = self.epsilon * _unit(grad_f)
        return Perturbation(
            real=step.real, fake=step.fake, real_adv=step.real + delta_r, fake_adv=step.fake + delta_f,
            norm=mean_perturbation_norm(delta_r, delta_f),
        )

    def _embed(self, critic, x):
        if self.target == "logits":
            return critic.score(x, stateless=True)[:, None]
        return critic.features_and_scores(x)[0]

    def penalty(self, step, pert):
        from dat_tf.critic import per_example_norm

        def gap(clean, adv):
            diff = self._embed(step.critic, adv) - self._embed(step.critic, clean)
            if self.reduction == "mean":
                return tf.reduce_mean(per_example_norm(diff))
            return _global_frobenius(diff)

        return self.weight * (gap(pert.real, pert.real_adv) + gap(pert.fake, pert.fake_adv))


@register("asgan", help="ASGAN: D trained on FGSM examples of reals and fakes.")
class FGSM(Regularizer):
    """ASGAN: D trained on FGSM examples of reals and fakes.

    ``x_adv = x - epsilon * sign(grad_x V_D)`` with ``V_D`` the value D
    maximises, so the step lowers D's objective (an untargeted attack, paper
    Eq. 6).  D's loss is computed on the adversarial reals and fakes.

    Args:
      epsilon: L-inf step, 1/255 by default (the paper's setting for [18]).

    Reference: [18] in the paper, section 5.4.
    """

    epsilon: float = param(1.0 / 255.0, "L-inf FGSM step of asgan.", low=0.0)

    def perturb(self, step):
        grad_r, grad_f = d_loss_gradients(step)
        # grad of D's loss = -grad of V_D, so "x - eps sign(grad V_D)" is "x + eps sign(grad loss)".
        delta_r = self.epsilon * tf.sign(grad_r)
        delta_f = self.epsilon * tf.sign(grad_f)
        return Perturbation(
            real=step.real + delta_r, fake=step.fake + delta_f, norm=mean_perturbation_norm(delta_r, delta_f)
        )
