"""A discriminator as regularizers see it: scores, features and input gradients.

Why a wrapper: a regularizer needs to score extra inputs (interpolates,
perturbed images) without disturbing the discriminator.  Keras layers change
state when called with ``training=True`` — BatchNormalization updates its
moving statistics and ``keras.layers.SpectralNormalization`` runs a power
iteration and overwrites its kernel.  :meth:`Critic.score` with
``stateless=True`` runs the same training-mode function through
:func:`stateless_forward` so that none of those updates is applied, while
gradients still flow to the inputs and the weights.
"""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf


class Critic:
    """Wraps a Keras discriminator ``x -> logits``.

    Args:
      discriminator: a built Keras model whose output has shape ``[B]``,
        ``[B, 1]`` or, with ``feature_layer``, whose penultimate features can be
        read.
      feature_layer: name of the layer whose output are the features ``phi``
        used by robust feature matching; ``None`` means the layer named
        ``"features"`` if D has one (every net of :mod:`dat_tf.nets` names
        it), else the input of the last layer (the penultimate activations of
        a functional model).
    """

    def __init__(self, discriminator: keras.Model, feature_layer: str | None = None):
        self.discriminator = discriminator
        self.feature_layer = feature_layer
        self._feature_model = None

    # Scoring ---------------------------------------------------------------

    def score(self, x, stateless: bool = False):
        """Training-mode logits of ``x`` as a ``[B]`` float32 tensor."""
        d = self.discriminator
        return _flat(stateless_forward(d, x, training=True) if stateless else d(x, training=True))

    def features_and_scores(self, x):
        """``(phi(x), logits)`` without changing D's state."""
        phi, out = stateless_forward(self._features_model(), x, training=True)
        return tf.reshape(tf.cast(phi, tf.float32), [tf.shape(phi)[0], -1]), _flat(out)

    def input_gradient(self, objective, x):
        """Gradient of ``objective(logits)`` with respect to the input ``x`` only.

        D's state is left unchanged and no gradient reaches its weights: the
        result is wrapped in ``stop_gradient``, so an enclosing weight tape sees
        a constant (no second-order term).

        Returns:
          ``(grad, logits)`` with ``grad`` shaped like ``x``.
        """
        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            logits = self.score(x, stateless=True)
            value = objective(logits)
        grad = tape.gradient(value, x)
        return tf.stop_gradient(grad), tf.stop_gradient(logits)

    def pair_input_gradients(self, objective, x_real, x_fake):
        """Gradients of ``objective(logits_real, logits_fake)`` w.r.t. both batches.

        One forward and one backward pass over each batch.  As in
        :meth:`input_gradient`, D's state and weights are untouched.
        """
        x_real, x_fake = tf.convert_to_tensor(x_real), tf.convert_to_tensor(x_fake)
        with tf.GradientTape() as tape:
            tape.watch([x_real, x_fake])
            value = objective(self.score(x_real, stateless=True), self.score(x_fake, stateless=True))
        grad_r, grad_f = tape.gradient(value, [x_real, x_fake])
        return tf.stop_gradient(grad_r), tf.stop_gradient(grad_f)

    def gradient_norms(self, x):
        """Per-example ``||d D(x_i) / d x_i||_2`` (diagnostics; no state change)."""
        grad, _ = self.input_gradient(tf.reduce_sum, x)
        return per_example_norm(grad)

    # Internals -------------------------------------------------------------

    def _features_model(self):
        if self._feature_model is None:
            d = self.discriminator
            if not getattr(d, "_is_graph_network", False) and not hasattr(d, "inputs"):
                raise ValueError(
                    "Feature-based regularizers need a functional Keras discriminator; "
                    f"got {type(d).__name__}."
                )
            if self.feature_layer is None:
                names = [layer.name for layer in d.layers]
                feats = d.get_layer("features").output if "features" in names else d.layers[-1].input
            else:
                try:
                    feats = d.get_layer(self.feature_layer).output
                except ValueError:
                    raise ValueError(
                        f"feature_layer={self.feature_layer!r} is not a layer of the "
                        f"discriminator; its layers are {[l.name for l in d.layers]}."
                    ) from None
            inputs = d.inputs[0] if len(d.inputs) == 1 else d.inputs
            self._feature_model = keras.Model(inputs, [feats, d.outputs[0]])
        return self._feature_model


def takes_training(net) -> bool:
    """Whether ``net.call`` names a ``training`` argument (``**kwargs`` alone does not count, as for Keras).

    >>> class D(keras.Model):
    ...     def call(self, x):
    ...         return x
    >>> takes_training(D()), takes_training(keras.Sequential([keras.layers.Dense(1)]))
    (False, True)
    """
    return "training" in inspect.signature(net.call).parameters


def stateless_forward(net, x, training=True):
    """``net(x, training=training)`` without changing ``net``'s state; gradients reach inputs and weights.

    Why two paths: ``Model.stateless_call`` hands its keyword arguments
    straight to ``call``, so a net whose ``call(self, x)`` takes no
    ``training`` would fail, and one with ``call(self, x, **kwargs)`` would
    drop it (its layers then run in inference mode).  A net that names
    ``training`` goes through ``stateless_call``; any other runs through
    ``net(...)``, which passes ``training`` only to a ``call`` that takes it
    and hands it on to the inner layers, inside a ``keras.StatelessScope``
    that discards every variable update.

    Args:
      net: a built Keras model (any form: functional, ``Sequential``, subclassed).
      x: its input batch.
      training: the mode (``True``: batch statistics, spectral-norm power iteration).

    Returns:
      ``net``'s output, as ``net(x, training=training)`` would give it.
    """
    trainable, non_trainable = net.trainable_variables, net.non_trainable_variables
    if takes_training(net):
        out, _ = net.stateless_call(trainable, non_trainable, x, training=training)
        return out
    with keras.StatelessScope(state_mapping=[(v, v) for v in (*trainable, *non_trainable)]):
        return net(x, training=training)


def _flat(out):
    out = tf.cast(out, tf.float32)
    return tf.reshape(out, [tf.shape(out)[0]])


def per_example_norm(t):
    """L2 norm of each example of a ``[B, ...]`` tensor, shape ``[B]``."""
    t = tf.reshape(tf.cast(t, tf.float32), [tf.shape(t)[0], -1])
    return tf.sqrt(tf.reduce_sum(tf.square(t), axis=1) + 1e-12)
