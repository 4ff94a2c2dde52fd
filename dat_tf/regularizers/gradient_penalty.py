"""Penalties on the norm of D's input gradient: GP, LP, 0-GP and R1.

Reference: Gulrajani et al. 2017 (GP); Petzka et al. 2018 (LP);
Thanh-Tung et al. 2019 (0-GP); Mescheder et al. 2018 (R1).
"""

from __future__ import annotations

from dat_tf.lazy import lazy_module
from dat_tf.regularizers.base import Regularizer, param, register

tf = lazy_module("tensorflow")  # loaded on first use (see dat_tf.lazy)


def interpolate(x_real, x_fake, alpha):
    """``alpha * x_real + (1 - alpha) * x_fake`` with one alpha per example."""
    shape = [-1] + [1] * (len(x_real.shape) - 1)
    alpha = tf.reshape(tf.cast(alpha, x_real.dtype), shape)
    return alpha * x_real + (1.0 - alpha) * x_fake


def one_centered_penalty(grad_norm):
    """WGAN-GP: ``E[(||g|| - 1)^2]``."""
    return tf.reduce_mean(tf.square(grad_norm - 1.0))


def one_sided_penalty(grad_norm):
    """WGAN-LP: ``E[max(0, ||g|| - 1)^2]``."""
    return tf.reduce_mean(tf.square(tf.nn.relu(grad_norm - 1.0)))


def zero_centered_penalty(grad_norm):
    """0-GP / R1: ``E[||g||^2]``."""
    return tf.reduce_mean(tf.square(grad_norm))


_KINDS = {"one_centered": one_centered_penalty, "one_sided": one_sided_penalty, "zero_centered": zero_centered_penalty}


@register("r1", fixed={"kind": "zero_centered", "where": "real"}, help="R1: lambda E[||grad D(x_r)||^2] on reals.")
@register("zero_gp", fixed={"kind": "zero_centered"}, help="0-GP: lambda E[||grad D(x_hat)||^2].")
@register("lp", fixed={"kind": "one_sided"}, help="WGAN-LP: lambda E[max(0, ||grad D(x_hat)|| - 1)^2].")
@register("gp", fixed={"kind": "one_centered"}, help="WGAN-GP: lambda E[(||grad D(x_hat)|| - 1)^2].")
class GradientPenalty(Regularizer):
    """A penalty on the norm of D's input gradient, added to D's loss.

    Args:
      weight: lambda, >= 0.
      where: ``"interpolates"`` (x_hat on real-fake lines, alpha ~ U[0, 1] per
        example, as WGAN-GP) or ``"real"`` (R1).
      kind: ``"one_centered"`` (gp), ``"one_sided"`` (lp) or
        ``"zero_centered"`` (zero_gp, r1).
    """

    flag_prefix = "gp"

    weight: float = param(10.0, "Lambda of the gradient penalty (gp, lp, zero_gp, r1).", low=0.0)
    where: str = param("interpolates", "Where the gradient is taken (r1 fixes 'real').",
                       choices=("interpolates", "real"))
    kind: str = param("one_centered", "Which penalty of the gradient norm (fixed by the name).",
                      choices=tuple(_KINDS), flag=False)

    def points(self, x_real, x_fake, seed):
        from dat_tf import replicas

        if self.where == "real":
            return tf.convert_to_tensor(x_real)

        def draw(n):
            return tf.random.stateless_uniform([n], seed=seed, alg=replicas.RNG_ALG)

        alpha = replicas.replica_slice_of_global(draw, replicas.batch_size(x_real))
        return interpolate(x_real, x_fake, alpha)

    def penalty(self, step, pert):
        from dat_tf.critic import per_example_norm

        x_hat = self.points(step.real, step.fake, step.seed)
        with tf.GradientTape() as tape:
            tape.watch(x_hat)
            total = tf.reduce_sum(step.critic.score(x_hat, stateless=True))
        grad_norm = per_example_norm(tape.gradient(total, x_hat))
        return self.weight * _KINDS[self.kind](grad_norm)
