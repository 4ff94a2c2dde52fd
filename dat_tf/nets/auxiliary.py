"""Auxiliary self-supervised tasks on D's features (SSGAN, InfoMax-GAN) and D's feature model."""

from __future__ import annotations

import keras
from keras import ops


def feature_tensor(discriminator: keras.Model, name: str):
    """The symbolic output of D's layer ``name``.

    ``"features"`` falls back to the input of D's last layer (the penultimate
    activations) for discriminators without a layer of that name.
    """
    try:
        return discriminator.get_layer(name).output
    except ValueError:
        if name == "features":
            return discriminator.layers[-1].input
        raise ValueError(
            f"The discriminator {discriminator.name!r} has no layer {name!r}; its layers are "
            f"{[layer.name for layer in discriminator.layers]}."
        ) from None


def feature_model(discriminator: keras.Model, names=("features",), logits: bool = False):
    """A Keras model ``x -> {name: D's layer output}`` sharing D's weights.

    With ``logits=True`` the dict also holds ``"logits"`` (D's output), so one
    forward pass gives the score and the features.  Calling it with
    ``training=True`` runs D's spectral-norm power iterations like ``D(x,
    training=True)`` would; use ``stateless_call`` to leave D's state alone.

    This is the natural ``features_fn`` for the auxiliary tasks
    (:class:`dat_tf.nets.ssgan.SSGANTask`, :class:`dat_tf.nets.infomax.InfoMaxTask`)::

        fm = feature_model(D, task.feature_names)
        features_fn = lambda x: fm(x, training=True)
    """
    if not getattr(discriminator, "inputs", None):
        raise ValueError(f"feature_model needs a functional Keras discriminator, got {type(discriminator).__name__}.")
    outputs = {name: feature_tensor(discriminator, name) for name in names}
    if logits:
        outputs["logits"] = discriminator.outputs[0]
    inputs = discriminator.inputs[0] if len(discriminator.inputs) == 1 else discriminator.inputs
    return keras.Model(inputs, outputs, name=f"{discriminator.name}_features")


class AuxiliaryTask(keras.layers.Layer):
    """Base of the auxiliary self-supervised tasks of SSGAN and InfoMax-GAN.

    The protocol a GAN model drives (no per-net ``train_step`` needed):

    * ``feature_names``: the D layers the task reads (a tuple of names).
    * ``build(discriminator)``: creates the heads from the shapes of those
      layers (once; later calls with the same shapes are no-ops).  It also
      accepts a dict ``{name: per-example shape}`` instead of a model.
    * ``trainable_variables``: the heads' weights, to be trained by D's
      optimizer (the task is a Keras layer: assigned as an attribute of a
      Keras model its variables, including the spectral-norm ``vector_u``,
      are tracked by ``save_weights`` and checkpoints).
    * ``discriminator_loss(features_fn, x_real, x_fake, seed=None)`` and
      ``generator_loss(features_fn, x_fake, seed=None)``: scalar float32
      losses, already scaled, to be *added* to D's and G's losses.
      ``features_fn(x)`` must return D's features of ``x`` in training mode
      with gradients to D's weights: a dict with (at least) the keys
      ``feature_names``, e.g. ``feature_model(D, task.feature_names)(x,
      training=True)``; a bare tensor is accepted as ``"features"`` when that
      is the only name.  ``seed`` is accepted for the protocol; both mimicry
      tasks are deterministic and ignore it.
    * ``training`` (keyword of both losses, default True): passed to the
      heads' spectral normalisation (power iteration + kernel update).

    Under ``tf.distribute`` the losses are means over the per-replica batch;
    the caller divides by the number of replicas as for the GAN loss.
    """

    feature_names: tuple = ("features",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._feature_shapes = None

    def __setattr__(self, name, value):
        if name == "_build_shapes_dict":
            # Keras' build wrapper records build()'s arguments here; ours is the
            # discriminator, which must not become a tracked sub-layer of the task
            # (its weights would show up in the task's trainable_variables).
            # get_build_config() is overridden below.
            object.__setattr__(self, name, None)
            return
        super().__setattr__(name, value)

    def build(self, discriminator):
        if isinstance(discriminator, dict):
            shapes = {k: tuple(int(d) for d in v) for k, v in discriminator.items()}
        else:
            shapes = {n: tuple(int(d) for d in feature_tensor(discriminator, n).shape[1:]) for n in self.feature_names}
        missing = [n for n in self.feature_names if n not in shapes]
        if missing:
            raise ValueError(f"{type(self).__name__}.build: no shape for {missing}; got {sorted(shapes)}.")
        shapes = {n: shapes[n] for n in self.feature_names}
        if self._feature_shapes is not None:
            if shapes != self._feature_shapes:
                raise ValueError(
                    f"{type(self).__name__} was built for feature shapes {self._feature_shapes}, "
                    f"not {shapes}."
                )
            return
        self._feature_shapes = shapes
        self._build_heads(shapes)

    def _build_heads(self, shapes):  # pragma: no cover - abstract
        raise NotImplementedError

    def get_build_config(self):
        if self._feature_shapes is None:
            return None
        return {"feature_shapes": {k: list(v) for k, v in self._feature_shapes.items()}}

    def build_from_config(self, config):
        if config and "feature_shapes" in config:
            self.build(config["feature_shapes"])

    def _features(self, features_fn, x):
        if self._feature_shapes is None:
            raise RuntimeError(f"Call {type(self).__name__}.build(discriminator) before computing its losses.")
        out = features_fn(x)
        if isinstance(out, dict):
            missing = [n for n in self.feature_names if n not in out]
            if missing:
                raise ValueError(
                    f"{type(self).__name__} needs D features {list(self.feature_names)}; "
                    f"features_fn returned the keys {sorted(out)}."
                )
            return {n: ops.cast(out[n], "float32") for n in self.feature_names}
        if tuple(self.feature_names) == ("features",):
            return {"features": ops.cast(out, "float32")}
        raise ValueError(
            f"{type(self).__name__} needs D features {list(self.feature_names)}: features_fn must return a dict "
            f"(e.g. dat_tf.nets.auxiliary.feature_model(D, {tuple(self.feature_names)})), got {type(out).__name__}."
        )

    def discriminator_loss(self, features_fn, x_real, x_fake, seed=None, training=True):  # pragma: no cover
        raise NotImplementedError

    def generator_loss(self, features_fn, x_fake, seed=None, training=True):  # pragma: no cover
        raise NotImplementedError

