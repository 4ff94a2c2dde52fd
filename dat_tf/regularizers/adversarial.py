"""Adversarial-example regularizers the paper compares DAT with: AR, RFM (Zhou et al. 2019) and ASGAN."""

from __future__ import annotations

import dataclasses

from dat_tf.lazy import keras_serializable, lazy_module
from dat_tf.regularizers.base import Perturbation, Regularizer, d_loss_gradients, mean_perturbation_norm, param, register

tf = lazy_module("tensorflow")  # loaded on first use (see dat_tf.lazy)


def _unit(g):
    from dat_tf.critic import per_example_norm

    shape = [-1] + [1] * (len(g.shape) - 1)
    return g / tf.reshape(per_example_norm(g), shape)


@register("rfm", fixed={"target": "features"}, help="Robust feature matching on D's penultimate features.")
@register("ar", fixed={"target": "logits"}, help="Adversarial robustness of D's score.")
@keras_serializable(package="dat_tf")
@dataclasses.dataclass
class RobustRegularizer(Regularizer):
    """AR and RFM: consistency of D between clean and adversarial inputs.

    ``x_adv = x + epsilon * g / ||g||`` with ``g`` the per-example gradient of
    D's loss (the direction that fools D most), for reals and fakes.  The
    penalty is ``weight * (mean ||h(x_r_adv) - h(x_r)|| + mean ||h(x_f_adv) -
    h(x_f)||)`` with ``h`` D's penultimate features (``target="features"``,
    RFM) or its logit (``target="logits"``, AR).  D's adversarial loss is on
    the clean inputs.

    Args:
      weight: lambda (10 in the authors' code).
      epsilon: L2 radius of the attack (1e-4 in the authors' code).
      target: ``"features"`` or ``"logits"``.

    Reference: Zhou et al. 2019, "Don't let your discriminator be fooled".
    """

    flag_prefix = "robust"

    weight: float = param(10.0, "Lambda of ar/rfm.", low=0.0)
    epsilon: float = param(1e-4, "L2 radius of the ar/rfm attack.", low=0.0)
    target: str = param("features", "What must stay close (fixed by the name).", choices=("features", "logits"),
                        flag=False)

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
            return tf.reduce_mean(per_example_norm(self._embed(step.critic, adv) - self._embed(step.critic, clean)))

        return self.weight * (gap(pert.real, pert.real_adv) + gap(pert.fake, pert.fake_adv))


@register("asgan", help="ASGAN: D trained on FGSM examples of reals and fakes.")
@keras_serializable(package="dat_tf")
@dataclasses.dataclass
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
