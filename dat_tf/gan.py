"""``GAN``: a Keras model that trains any generator/discriminator pair.

Design notes: docs/design.md, "The GAN model: schedule, randomness".

Example:

>>> import keras, numpy as np
>>> from dat_tf.gan import GAN
>>> G = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
>>> D = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> gan = GAN(G, D, latent_dim=2, loss="ns", regularizer="dat")
>>> gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
>>> h = gan.fit(np.random.randn(64, 2).astype("float32"), batch_size=32, epochs=1, verbose=0)
>>> sorted(h.history)[:3]
['d_fake', 'd_loss', 'd_real']

Reference: paper Algorithm 1.
"""

from __future__ import annotations

import inspect
import math

import keras
import numpy as np
import tensorflow as tf

from dat_tf import replicas
from dat_tf.replicas import RNG_ALG
from dat_tf.critic import Critic
from dat_tf.keras_adapter import learning_rate_source, monitored_metrics
from dat_tf.losses import get_loss
from dat_tf.regularizers import DStep, get_regularizer, interpolate
from dat_tf.regularizers.base import mean_perturbation_norm

# Each generator step owns _SEEDS_PER_STEP stateless seeds: 0 for G's latents,
# 1 + 2k and 2 + 2k for the k-th D step's latents and regularizer draws.
_SEEDS_PER_STEP = 1024
_MAX_N_DIS = (_SEEDS_PER_STEP - 2) // 2
_SEED_LATENT_G = 0
_SEED_DIAGNOSTICS = _SEEDS_PER_STEP - 1


def _seed_latent_d(k):
    return 1 + 2 * k


def _seed_regularizer(k):
    return 2 + 2 * k


@keras.saving.register_keras_serializable(package="dat_tf")
class GAN(keras.Model):
    """Generator + discriminator trained adversarially with a chosen regularizer.

    Args:
      generator: Keras model ``z [B, latent_dim] -> x [B, ...]``.
      discriminator: Keras model ``x [B, ...] -> logits [B] or [B, 1]``.
      latent_dim: size of ``z``; latents are standard normal.
      loss: name in :data:`dat_tf.losses.LOSSES` or a
        :class:`dat_tf.losses.GANLoss` (saved with the model).
      regularizer: name in :data:`dat_tf.regularizers.REGULARIZERS`, a
        :class:`dat_tf.regularizers.Regularizer` (saved with the model), or a
        serialized dict.
      n_dis: discriminator steps per generator step (>= 1).
      seed: integer seed for every random draw of training.
      log_gradient_norms: log ``grad_norm_real``, ``grad_norm_fake`` and
        ``grad_norm_interp``, the mean ``||dD/dx||`` at clean reals, fakes and
        random real-fake interpolates: local estimates of D's Lipschitz
        constant (three input-gradient passes, without changing D's state).
      diagnostics_every: when to compute those norms.  ``"epoch"`` (default):
        once per Keras epoch, on its last step, so the value an epoch logs
        describes D at the epoch's end and ``fit`` pays for one measurement per
        epoch, as the command line does.  An integer ``N``: on the generator
        steps that land on a multiple of ``N`` (1: every step), and on an
        epoch's last step if none landed in it (the command line passes
        ``--log_every``, where its epochs end).  The value logged is always the
        latest measurement.  Where Keras does not know an epoch's length (a
        dataset of unknown size without ``steps_per_epoch``, or
        ``train_on_batch``), the epoch's first step is measured instead.
      feature_layer: name of D's feature layer for ``rfm`` (default: the input
        of D's last layer).
      auxiliary: an auxiliary self-supervised task
        (:class:`dat_tf.nets.ssgan.SSGANTask`,
        :class:`dat_tf.nets.infomax.InfoMaxTask`) or ``None``.  Its heads are
        trained with D's optimizer; its D loss is added to every D step and is
        computed on the *clean* reals and fakes whatever the regularizer feeds
        D's adversarial loss (as the authors' code does); its G loss is added
        to the G step.
      d_weight_clip: if > 0, clip every D weight to ``[-c, c]`` after each D
        update (the original WGAN's Lipschitz constraint).

    The standard Keras surface works: ``evaluate`` and ``fit``'s validation
    run :meth:`test_step`; ``gan.optimizer`` gives learning-rate callbacks
    both rates (:attr:`optimizer`); the loss metrics (``d_loss``, ``g_loss``,
    ``reg``, auxiliary losses) are known to be minimized, so
    ``EarlyStopping``/``ModelCheckpoint`` in ``mode="auto"`` work on them;
    ``predict`` and :meth:`export` are the generator's ``z -> x``.
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        loss: str = "ns",
        regularizer="none",
        n_dis: int = 1,
        seed: int = 0,
        log_gradient_norms: bool = True,
        diagnostics_every: int | str = "epoch",
        feature_layer: str | None = None,
        auxiliary=None,
        d_weight_clip: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ValueError(f"latent_dim must be an integer >= 1, got {latent_dim!r}.")
        if not isinstance(n_dis, int) or isinstance(n_dis, bool) or not 1 <= n_dis <= _MAX_N_DIS:
            raise ValueError(f"n_dis must be an integer in [1, {_MAX_N_DIS}], got {n_dis!r}.")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ValueError(f"seed must be an integer, got {seed!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.gan_loss = get_loss(loss)
        self.regularizer = get_regularizer(regularizer)
        self.n_dis = n_dis
        self.seed = seed
        self.log_gradient_norms = bool(log_gradient_norms)
        if diagnostics_every != "epoch" and (
            not isinstance(diagnostics_every, int) or isinstance(diagnostics_every, bool) or diagnostics_every < 1
        ):
            raise ValueError(f"diagnostics_every must be 'epoch' or an integer >= 1, got {diagnostics_every!r}.")
        self.diagnostics_every = diagnostics_every
        self._epoch_end = _EpochEnd()
        self.feature_layer = feature_layer
        self.critic = Critic(discriminator, feature_layer=feature_layer)
        self._check_nets()
        if not isinstance(d_weight_clip, (int, float)) or isinstance(d_weight_clip, bool) or not d_weight_clip >= 0:
            raise ValueError(f"d_weight_clip must be a number >= 0 (0 disables it), got {d_weight_clip!r}.")
        self.d_weight_clip = float(d_weight_clip)
        if isinstance(auxiliary, dict):
            auxiliary = keras.saving.deserialize_keras_object(auxiliary)
        self.auxiliary = auxiliary
        self._aux_features = None
        if auxiliary is not None:
            from dat_tf.nets.auxiliary import feature_model

            auxiliary.build(discriminator)
            self._aux_features = feature_model(discriminator, auxiliary.feature_names)

        self.g_steps = self.add_weight(
            shape=(),
            dtype="int64",
            initializer="zeros",
            trainable=False,
            aggregation="only_first_replica",
            name="g_steps",
        )
        names = [
            "d_loss",
            "g_loss",
            "d_real",
            "d_fake",
            "reg",
            "grad_norm_real",
            "grad_norm_fake",
            "grad_norm_interp",
            "perturbation_norm",
            "perturbation_ratio",
        ]
        if auxiliary is not None:
            names += ["aux_d_loss", "aux_g_loss"]
        self.trackers = {name: (_Latest if name.startswith("grad_norm_") else keras.metrics.Mean)(name=name)
                         for name in names}
        self.d_optimizer = None
        self.g_optimizer = None
        self.built = True

    # ------------------------------------------------------------------ setup

    def _check_nets(self):
        """Checks that G takes ``latent_dim`` and that G's output feeds D.

        Functional and ``Sequential`` nets with an ``Input`` are checked from
        their symbolic shapes, without running them.  Subclassed or unbuilt
        nets have no symbolic shapes: G is built by calling it on a zeros
        batch of latents and D on a zeros batch shaped like G's output, and
        the shapes are read from those outputs.  Sets ``self._real_shape``, the
        per-example shape D takes, which real batches must have.
        """
        for role, net in (("generator", self.generator), ("discriminator", self.discriminator)):
            if not isinstance(net, keras.Model):
                raise ValueError(f"{role} must be a keras.Model, got {type(net).__name__}.")
        g, d = self.generator, self.discriminator
        g_shapes = _symbolic_shapes(g)
        if g_shapes is not None:
            g_in, g_out = g_shapes
            if g_in[-1] is not None and g_in[-1] != self.latent_dim:
                raise ValueError(f"latent_dim={self.latent_dim} does not match the generator's input shape {g_in}.")
            g_out = g_out[1:]
        else:
            probe = (_PROBE_BATCH, self.latent_dim)
            g_out = tuple(_build_by_calling(g, "generator", probe, f"latent_dim={self.latent_dim}").shape[1:])
        d_shapes = _symbolic_shapes(d)
        if d_shapes is not None:
            d_in, d_out = d_shapes[0][1:], d_shapes[1][1:]
            known_differ = any(a is not None and b is not None and a != b for a, b in zip(g_out, d_in))
            if len(d_in) != len(g_out) or known_differ:
                raise ValueError(f"The generator outputs shape {g_out} but the discriminator expects {d_in}.")
        elif any(dim is None for dim in g_out):
            if not d.built:
                raise ValueError(
                    f"The generator's output shape {g_out} has unknown dimensions, so the discriminator "
                    f"{d.name!r} cannot be built from it; build the discriminator first (call it on a batch)."
                )
            d_in, d_out = g_out, ()  # a built subclassed D and no full shape to probe it with: trust it
        else:
            probe, source = (_PROBE_BATCH, *g_out), f"the generator's output shape {g_out}"
            d_out = tuple(_build_by_calling(d, "discriminator", probe, source).shape[1:])
            d_in = g_out
        if all(dim is not None for dim in d_out) and int(np.prod(d_out)) != 1:
            raise ValueError(
                f"The discriminator must output one logit per example (shape [B] or [B, 1]); "
                f"it outputs per-example shape {d_out}."
            )
        self._real_shape = tuple(d_in)

    def call(self, z, training=False):
        """Generates images from latents ``z`` (the generator's forward pass)."""
        return self.generator(z, training=training)

    def compile(self, d_optimizer, g_optimizer, jit_compile=False, **kwargs):
        """Sets and builds both optimizers.

        Building them here (rather than lazily on the first step) matters:
        Keras only restores optimizer state that exists when weights are
        loaded, so resumed runs keep their Adam moments.

        Args:
          d_optimizer, g_optimizer: ``keras.optimizers.Optimizer`` instances (or
            identifiers accepted by ``keras.optimizers.get``).
          jit_compile: compile the train step with XLA.  Off by default, as in
            the command line (``--xla``): Keras's ``"auto"`` would turn XLA on
            when a GPU is present, and XLA's stateless random ops give other
            numbers, so the same seed would give another run.  ``True`` (or
            ``"auto"``) is accepted.
          **kwargs: passed to ``keras.Model.compile`` (e.g. ``run_eagerly``,
            ``steps_per_execution``); ``optimizer``, ``loss`` and ``metrics``
            are not accepted.
        """
        for bad in ("optimizer", "loss", "metrics"):
            if bad in kwargs:
                raise ValueError(
                    f"GAN.compile() takes d_optimizer and g_optimizer; {bad}={kwargs[bad]!r} is not supported."
                )
        self.d_optimizer = self.g_optimizer = None  # no `optimizer` view while Keras compiles
        super().compile(optimizer=None, jit_compile=jit_compile, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two different optimizer objects.")
        self.d_optimizer.build(self._d_variables())
        self.g_optimizer.build(self.generator.trainable_variables)

    def _d_variables(self):
        d_vars = list(self.discriminator.trainable_variables)
        if self.auxiliary is not None:
            d_vars += list(self.auxiliary.trainable_variables)
        return d_vars

    def _aux_features_fn(self, x):
        return self._aux_features(x, training=True)

    @property
    def metrics(self):
        # The losses minimized, for callbacks' mode="auto" (EarlyStopping(monitor="d_loss")): Keras has no
        # public way to say so (dat_tf/keras_adapter.py).
        return monitored_metrics(self.trackers.values(), _LOWER_IS_BETTER, name="gan_trackers")

    @property
    def metrics_names(self):
        return list(self.trackers)

    @property
    def optimizer(self):
        """Both learning rates, as Keras's learning-rate callbacks see them.

        ``None`` before :meth:`compile`.  Its ``optimizers`` are views of
        ``d_optimizer`` and ``g_optimizer`` named ``"d_optimizer"`` and
        ``"g_optimizer"``: ``ReduceLROnPlateau`` multiplies each rate by its
        ``factor`` (the D/G ratio is kept), ``LearningRateScheduler`` calls its
        schedule on each (``schedule(epoch, lr)`` gets each optimizer's own
        rate; ``schedule(epoch)`` sets both to the same value), and both log
        ``learning_rate_d_optimizer`` and ``learning_rate_g_optimizer``.
        ``gan.optimizer.learning_rate = lr`` sets both rates to ``lr``; reading
        it needs the two rates to be equal (else read
        ``gan.d_optimizer.learning_rate`` and ``gan.g_optimizer.learning_rate``).
        A rate given as a ``LearningRateSchedule`` cannot be set this way: pass
        the schedule to the optimizer before :meth:`compile`.
        ``iterations`` is ``g_steps`` (TensorBoard's step for evaluations).

        Example:

        >>> import keras
        >>> from dat_tf.gan import GAN
        >>> G = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> D = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> gan = GAN(G, D, latent_dim=2)
        >>> gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(4e-3))
        >>> gan.optimizer.learning_rate = 5e-4
        >>> round(float(gan.g_optimizer.learning_rate), 6)
        0.0005
        """
        if getattr(self, "d_optimizer", None) is None or getattr(self, "g_optimizer", None) is None:
            return None
        return _BothOptimizers(self)

    @optimizer.setter
    def optimizer(self, value):
        if value is not None:  # keras.Model.compile sets None (GAN.compile passes optimizer=None)
            raise AttributeError(
                "GAN has two optimizers: pass them to GAN.compile(d_optimizer, g_optimizer); "
                "gan.optimizer cannot be assigned."
            )

    # --------------------------------------------------------------- sampling

    def _step_seed(self, purpose):
        base = tf.constant([self.seed & 0x7FFFFFFF, (self.seed >> 31) & 0x7FFFFFFF], tf.int64)
        counter = tf.cast(self.g_steps, tf.int64) * _SEEDS_PER_STEP + purpose
        return tf.random.experimental.stateless_fold_in(base, counter, alg=RNG_ALG)

    def _latents(self, batch_size, purpose):
        seed = self._step_seed(purpose)

        def draw(n):
            return tf.random.stateless_normal([n, self.latent_dim], seed=seed, alg=RNG_ALG)

        return replicas.replica_slice_of_global(draw, batch_size)

    def sample(self, num, seed=None, batch_size=256):
        """``num`` generated examples as a numpy array (inference mode).

        Latents: :func:`dat_tf.latents.tf_stream` of ``seed`` (default: the
        model's), drawn ``batch_size`` at a time.
        """
        from dat_tf.latents import tf_stream

        draw = tf_stream(self.seed if seed is None else seed, self.latent_dim)
        out = []
        for start in range(0, num, batch_size):
            z = draw(min(batch_size, num - start))
            out.append(keras.ops.convert_to_numpy(self.generator(z, training=False)))
        return np.concatenate(out, axis=0)

    # ---------------------------------------------------------------- training

    def fit(self, *args, **kwargs):
        """``keras.Model.fit`` (same arguments), with the GAN's rule for batches.

        Each batch feeds one generator step.  A batch of ``b`` examples trains
        on its first ``n_dis * (b // n_dis)`` examples, the ``k``-th
        discriminator step on examples ``k, k + n_dis, ...`` of those; the
        ``b % n_dis`` left over are dropped (under a ``tf.distribute``
        strategy, the rule applies to each replica's slice of the batch).  So the last batch of 17 examples
        with ``n_dis=2`` trains two D steps on 8 examples each and drops one.
        A batch must hold at least ``n_dis`` examples, and ``fit`` checks what
        it can before training:

        - arrays: ``batch_size`` and the number of examples must be at least
          ``n_dis`` (else ``ValueError``); if the last batch would hold fewer
          than ``n_dis`` examples, the array's last ``len(x) % batch_size``
          examples (and the same rows of ``y``, ``sample_weight``) are left
          out, so every step trains;
        - a ``tf.data.Dataset`` with a known batch size below ``n_dis``:
          ``ValueError``.  With an unknown batch size a smaller batch fails
          when it arrives (``InvalidArgumentError`` naming ``n_dis``), also
          under ``jit_compile`` (XLA drops in-graph asserts, so the check then
          runs in the input pipeline).

        ``keras.callbacks.TerminateOnNaN`` watches a ``loss`` that a GAN does
        not log: ``fit`` runs it on ``d_loss`` and ``g_loss`` instead.  ``fit``
        also tells the train step where each epoch ends (the gradient-norm
        diagnostics are measured there, ``diagnostics_every``).

        Example:

        >>> import keras, numpy as np
        >>> from dat_tf.gan import GAN
        >>> G = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> D = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> gan = GAN(G, D, latent_dim=2, n_dis=2)
        >>> gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
        >>> _ = gan.fit(np.zeros((37, 2), "float32"), batch_size=16, verbose=0)  # 16, 16, 5 -> 4
        >>> int(gan.g_steps.numpy()), int(gan.d_optimizer.iterations.numpy())
        (3, 6)
        """
        arguments = _FIT_SIGNATURE.bind(self, *args, **kwargs).arguments
        del arguments["self"]
        callbacks = arguments.get("callbacks")
        if not isinstance(callbacks, keras.callbacks.CallbackList):  # Keras uses a CallbackList as given
            arguments["callbacks"] = [_EpochEndClock(self), *(_watch_gan_losses(cb) for cb in callbacks or [])]
        if self.n_dis > 1:
            self._check_fit_data(arguments)
        return super().fit(**arguments)

    def _check_fit_data(self, arguments):
        """The before-training half of :meth:`fit`'s batch rule; edits ``arguments`` in place."""
        n, x = self.n_dis, arguments.get("x")
        if isinstance(x, tf.data.Dataset):
            spec = _first_leaf(x.element_spec)
            if not isinstance(spec, tf.TensorSpec) or spec.shape.rank in (None, 0):
                return  # left to train_step, which names what it expected
            static = spec.shape[0]
            if static is not None and static < n:
                raise ValueError(
                    f"The dataset's batches hold {static} examples, fewer than n_dis={n}: a generator step "
                    f"needs n_dis * B examples (B >= 1). Batch the data by {n} * B (see dat_tf.data.batch_for_gan)."
                )
            if static is None and self.jit_compile:
                arguments["x"] = x.map(self._assert_holds_a_group)
            return
        if not _is_array(x):
            return  # generators, PyDatasets, distributed datasets: checked in train_step
        total = int(x.shape[0])
        batch_size = arguments.get("batch_size")
        if batch_size is None:
            steps = arguments.get("steps_per_epoch")
            batch_size = int(math.ceil(total / steps)) if steps else _KERAS_DEFAULT_BATCH
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
            return  # left to Keras, which names what it accepts
        if batch_size < n:
            raise ValueError(
                f"batch_size={batch_size} is smaller than n_dis={n}: a generator step needs n_dis * B "
                f"examples (B >= 1). Use batch_size={n} * B."
            )
        if total < n:
            raise ValueError(
                f"The data holds {total} examples, fewer than n_dis={n}: a generator step needs n_dis * B "
                f"examples (B >= 1)."
            )
        left = total % batch_size
        if 0 < left < n:
            keep = total - left
            for key in ("x", "y", "sample_weight"):
                v = arguments.get(key)
                if _is_array(v) and int(v.shape[0]) == total:
                    arguments[key] = v[:keep]

    def _assert_holds_a_group(self, *element):
        """Input-pipeline check that a batch holds at least ``n_dis`` examples (runs outside XLA)."""
        size = tf.shape(_first_leaf(element))[0]
        check = tf.debugging.Assert(size >= self.n_dis, [_too_small_message(self.n_dis), size])
        with tf.control_dependencies([check]):
            element = tf.nest.map_structure(tf.identity, element)
        return element if len(element) > 1 else element[0]

    def _real_tensor(self, data):
        """The real images of a batch (``x`` of ``(x, ...)``), checked against D's input and cast."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            raise ValueError(f"GAN expects batches of real image tensors, got a dict with keys {sorted(data)}.")
        x = tf.convert_to_tensor(data)
        expected = self._real_shape
        got = tuple(x.shape[1:])
        if len(got) != len(expected) or any(e is not None and g is not None and e != g for g, e in zip(got, expected)):
            raise ValueError(
                f"Real batch has per-example shape {got} (batch shape {tuple(x.shape)}), "
                f"but the discriminator expects {expected}."
            )
        inputs = getattr(self.discriminator, "inputs", None)
        return tf.cast(x, inputs[0].dtype if inputs else tf.float32)

    def _real_batches(self, data):
        """Splits a real batch into the ``n_dis`` D steps' batches (rule in :meth:`fit`)."""
        x = self._real_tensor(data)
        n = self.n_dis
        if n == 1:
            return [x]
        static = x.shape[0]
        if static is not None:
            if static < n:
                raise ValueError(f"{_too_small_message(n)} {static}.")
            if static % n:
                x = x[: static - static % n]  # the remainder is dropped
            static = x.shape[0]
        else:
            # Unknown static batch size (graph mode): the check must run before the
            # slicing, or a too-small batch trains on empty groups.  XLA drops Asserts:
            # fit() then checks in the input pipeline; for other inputs, at least one
            # group is kept, so that the reshape below fails rather than train on nothing.
            size = tf.shape(x)[0]
            check = tf.debugging.Assert(size >= n, [_too_small_message(n), size])
            with tf.control_dependencies([check]):
                x = tf.identity(x)
            x = x[: tf.maximum(size // n, 1) * n]  # the remainder is dropped
        if static is not None and all(d is not None for d in x.shape[1:]):
            grouped = tf.reshape(x, [static // n, n, *x.shape[1:]])  # static shapes (XLA)
        else:
            b = tf.shape(x)[0] // n
            grouped = tf.reshape(x, tf.concat([[b, n], tf.shape(x)[1:]], 0))
        return [grouped[:, k] for k in range(n)]

    def _discriminator_step(self, x_real, k):
        """One D update of Algorithm 1: perturb, then D's loss plus the penalty, then the update."""
        n_rep = replicas.num_replicas()
        z = self._latents(replicas.batch_size(x_real), _seed_latent_d(k))
        x_fake = tf.stop_gradient(tf.cast(self.generator(z, training=True), tf.float32))
        step = DStep(self.critic, self.gan_loss, x_real, x_fake, self._step_seed(_seed_regularizer(k)))
        pert = self.regularizer.perturb(step)  # x_r', x_f': what D is trained on (lines 4-7)
        d_vars = self._d_variables()
        aux = tf.constant(0.0)
        with tf.GradientTape() as tape:
            real_logits = self.critic.score(pert.real)
            fake_logits = self.critic.score(pert.fake)
            penalty = tf.cast(self.regularizer.penalty(step, pert), tf.float32)
            d_loss = self.gan_loss.discriminator_loss(real_logits, fake_logits) + penalty  # line 8
            total = d_loss
            if self.auxiliary is not None:
                aux = self.auxiliary.discriminator_loss(self._aux_features_fn, x_real, x_fake, step.seed)
                total = total + aux
            # scale_loss: loss scaling under mixed_float16 (a LossScaleOptimizer); identity otherwise.
            scaled = self.d_optimizer.scale_loss(total / n_rep)
        grads = tape.gradient(scaled, d_vars)
        self.d_optimizer.apply_gradients(zip(grads, d_vars))
        if self.d_weight_clip > 0:
            for v in self.discriminator.trainable_variables:
                v.assign(tf.clip_by_value(v, -self.d_weight_clip, self.d_weight_clip))
        # The perturbation against the clean inputs' size (both per example, global means): DAT's or ASGAN's
        # step as a share of an image, e.g. to tell a method that acts from one that is switched off in effect.
        ratio = pert.norm / tf.maximum(mean_perturbation_norm(x_real, x_fake), 1e-12)
        return {"d_loss": d_loss, "reg": penalty, "d_real": tf.reduce_mean(real_logits),
                "d_fake": tf.reduce_mean(fake_logits), "perturbation_norm": pert.norm, "perturbation_ratio": ratio,
                "aux_d_loss": aux}, x_fake

    def _generator_step(self, batch):
        n_rep = replicas.num_replicas()
        z = self._latents(batch, _SEED_LATENT_G)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = tf.cast(self.generator(z, training=True), tf.float32)
            g_loss = self.gan_loss.generator_loss(self.critic.score(fake))
            aux = tf.constant(0.0)
            if self.auxiliary is not None:
                aux = self.auxiliary.generator_loss(self._aux_features_fn, fake, self._step_seed(_SEED_LATENT_G))
            scaled = self.g_optimizer.scale_loss((g_loss + aux) / n_rep)
        grads = tape.gradient(scaled, g_vars)
        self.g_optimizer.apply_gradients(zip(grads, g_vars))
        return g_loss, aux

    def train_step(self, data):
        if self.d_optimizer is None:
            raise RuntimeError("Call GAN.compile(d_optimizer, g_optimizer) before fit().")
        chunks = self._real_batches(data)
        for k, x_real in enumerate(chunks):
            d_logs, x_fake = self._discriminator_step(x_real, k)
        g_loss, aux_g = self._generator_step(replicas.batch_size(chunks[-1]))

        t = self.trackers
        for name, value in d_logs.items():  # the last D step's values
            if name in t:
                t[name].update_state(value)
        t["g_loss"].update_state(g_loss)
        if self.auxiliary is not None:
            t["aux_g_loss"].update_state(aux_g)
        if self.log_gradient_norms:
            self._gradient_norm_diagnostics(chunks[-1], x_fake)
        self.g_steps.assign_add(1)
        logs = {name: m.result() for name, m in t.items()}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras reduces step logs with strategy.reduce(MEAN, axis=0) under multi-worker
            # strategies, which rejects scalars; epoch logs come from the trackers as scalars.
            logs = {name: tf.reshape(v, [1]) for name, v in logs.items()}
        return logs

    def _gradient_norm_diagnostics(self, x_real, x_fake):
        """Mean ``||dD/dx||`` at reals, fakes and interpolates, on the steps ``diagnostics_every`` asks for."""
        t = self.trackers

        def norms():
            seed = self._step_seed(_SEED_DIAGNOSTICS)
            alpha = replicas.replica_slice_of_global(
                lambda n: tf.random.stateless_uniform([n], seed=seed, alg=RNG_ALG), replicas.batch_size(x_real)
            )
            x_interp = interpolate(x_real, x_fake, alpha)
            # One pass per batch, as D is trained (BatchNorm statistics per batch).
            return tf.stack([tf.reduce_mean(self.critic.gradient_norms(x)) for x in (x_real, x_fake, x_interp)])

        if self.diagnostics_every == 1:
            due, values = tf.constant(True), norms()
        else:  # a multiple; else the epoch's last step (its first if its length is unknown) if it has no value yet
            step, every = self.g_steps + 1, self.diagnostics_every
            lands = tf.equal(step % every, 0) if every != "epoch" else tf.constant(False)
            end = self._epoch_end.step
            fallback = tf.logical_or(tf.equal(step, end), tf.equal(end, 0))
            due = tf.logical_or(lands, tf.logical_and(fallback, tf.logical_not(t["grad_norm_real"].has_value())))
            values = tf.cond(due, norms, lambda: tf.zeros([3]))
        for i, name in enumerate(("real", "fake", "interp")):
            t[f"grad_norm_{name}"].update_state(values[i], due)

    def test_step(self, data):
        """D's loss and logits on a real batch and fresh fakes, without any update.

        What ``evaluate``, ``fit(validation_data=...)`` and ``validation_split``
        run; they report ``d_loss``, ``g_loss``, ``d_real`` and ``d_fake`` (``fit``
        prefixes them with ``val_``).  Both nets run in inference mode
        (``training=False``, as Keras evaluates any model): no BatchNorm
        statistics, power iteration, weight or ``g_steps`` change.  ``d_loss``
        is the loss's D term on the clean batches, without the regularizer's
        penalty or perturbation (training's ``d_loss`` includes both).

        The fakes come from a seed of ``seed`` and ``g_steps`` that training
        never uses: every real batch of one evaluation is scored against the
        same latents (its first ``B`` for a batch of ``B``), so evaluating the
        same model twice gives the same numbers and training's draws do not
        change.
        """
        x_real = self._real_tensor(data)
        z = self._evaluation_latents(replicas.batch_size(x_real))
        x_fake = self.generator(z, training=False)
        real_logits = _flat_logits(self.discriminator(x_real, training=False))
        fake_logits = _flat_logits(self.discriminator(x_fake, training=False))
        values = {
            "d_loss": self.gan_loss.discriminator_loss(real_logits, fake_logits),
            "g_loss": self.gan_loss.generator_loss(fake_logits),
            "d_real": tf.reduce_mean(real_logits),
            "d_fake": tf.reduce_mean(fake_logits),
        }
        logs = {}
        for name, value in values.items():
            self.trackers[name].update_state(value)
            logs[name] = self.trackers[name].result()
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            logs = {name: tf.reshape(v, [1]) for name, v in logs.items()}  # as in train_step
        return logs

    def _evaluation_latents(self, batch_size):
        """Latents for :meth:`test_step`: a negative counter, which training's seeds never fold in."""
        base = tf.constant([self.seed & 0x7FFFFFFF, (self.seed >> 31) & 0x7FFFFFFF], tf.int64)
        seed = tf.random.experimental.stateless_fold_in(base, -1 - tf.cast(self.g_steps, tf.int64), alg=RNG_ALG)

        def draw(n):
            return tf.random.stateless_normal([n, self.latent_dim], seed=seed, alg=RNG_ALG)

        return replicas.replica_slice_of_global(draw, batch_size)

    # ------------------------------------------------------------------ export

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Exports the generator's inference function ``z -> x`` (``keras.Model.export``).

        The discriminator is not exported: the artifact is what sampling needs,
        the same as a run's ``generator_savedmodel``.  Its ``serve`` endpoint
        maps float32 latents ``[B, latent_dim]`` to samples.

        Example:

        >>> import keras, tensorflow as tf, tempfile, os
        >>> from dat_tf.gan import GAN
        >>> G = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
        >>> D = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        >>> gan = GAN(G, D, latent_dim=2)
        >>> path = os.path.join(tempfile.mkdtemp(), "gen")
        >>> gan.export(path, verbose=False)
        >>> loaded = tf.saved_model.load(path)  # keep it referenced while calling it
        >>> tuple(loaded.serve(tf.zeros([4, 2])).shape)
        (4, 3)
        """
        return self.generator.export(
            filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs
        )

    # ----------------------------------------------------------- serialization

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": keras.saving.serialize_keras_object(self.gan_loss),
            "regularizer": keras.saving.serialize_keras_object(self.regularizer),
            "n_dis": self.n_dis,
            "seed": self.seed,
            "log_gradient_norms": self.log_gradient_norms,
            "diagnostics_every": self.diagnostics_every,
            "feature_layer": self.feature_layer,
            "auxiliary": None if self.auxiliary is None else keras.saving.serialize_keras_object(self.auxiliary),
            "d_weight_clip": self.d_weight_clip,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)

    def get_compile_config(self):
        if self.d_optimizer is None:
            return None
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
        )


# ------------------------------------------------------------------ helpers

_LOWER_IS_BETTER = ("d_loss", "g_loss", "reg", "aux_d_loss", "aux_g_loss")  # trackers with direction "down"


class _Latest(keras.metrics.Metric):
    """The latest value given with ``due=True`` (not an average): a diagnostic computed now and then.

    Replicas compute it on the same steps; reading it across replicas averages their values.
    """

    def __init__(self, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.value = self.add_variable(shape=(), initializer="zeros", aggregation="mean", name="value")
        self.count = self.add_variable(shape=(), initializer="zeros", aggregation="mean", name="count")

    def update_state(self, value, due=True):
        due = tf.convert_to_tensor(due)
        self.value.assign(tf.where(due, tf.cast(value, self.value.dtype), self.value))
        self.count.assign(tf.where(due, tf.ones_like(self.count), self.count))

    def has_value(self):
        return self.count > 0

    def result(self):
        return tf.identity(self.value)


class _EpochEnd:
    """The generator step that ends the running Keras epoch (0: unknown), read by the train step.

    A plain holder, so that the variable is no model weight: it is in no checkpoint or saved model.
    """

    def __init__(self):
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch_end_step")


class _EpochEndClock(keras.callbacks.Callback):
    """Tells the train step where each epoch of ``fit`` ends (``GAN.diagnostics_every``)."""

    def __init__(self, gan):
        super().__init__()
        self._gan = gan

    def on_epoch_begin(self, epoch, logs=None):
        steps = self.params.get("steps")
        start = int(self._gan.g_steps.numpy())
        self._gan._epoch_end.step.assign(start + steps if steps else 0)

    def on_train_end(self, logs=None):
        self._gan._epoch_end.step.assign(0)  # train_on_batch and other loops: unknown


def _flat_logits(out):
    out = tf.cast(out, tf.float32)
    return tf.reshape(out, [tf.shape(out)[0]])


class _TerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """``TerminateOnNaN`` on the GAN's ``d_loss`` and ``g_loss`` (Keras's watches ``loss``)."""

    def on_batch_end(self, batch, logs=None):
        for name in ("d_loss", "g_loss"):
            value = (logs or {}).get(name)
            if value is not None and not np.all(np.isfinite(value)):
                super().on_batch_end(batch, {"loss": float(np.mean(value))})
                return


def _watch_gan_losses(callback):
    if type(callback) is keras.callbacks.TerminateOnNaN:
        return _TerminateOnNaN(raise_error=callback.raise_error)
    return callback


class _LearningRate:
    """One optimizer's learning rate, named for Keras's per-optimizer logs."""

    def __init__(self, optimizer, name):
        self._optimizer = optimizer
        self.name = name

    @property
    def learning_rate(self):
        return self._optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        _check_settable(self._optimizer, self.name, value)
        self._optimizer.learning_rate = value


class _BothOptimizers:
    """``GAN.optimizer``: both optimizers' learning rates (rule in :attr:`GAN.optimizer`)."""

    built = True  # both optimizers are built by GAN.compile

    def __init__(self, gan):
        self._gan = gan
        self.optimizers = [
            _LearningRate(gan.d_optimizer, "d_optimizer"),
            _LearningRate(gan.g_optimizer, "g_optimizer"),
        ]

    def build(self, variables=None):
        """Nothing to build (Keras calls it on a model's optimizer)."""

    @property
    def iterations(self):
        return self._gan.g_steps

    @property
    def learning_rate(self):
        d, g = (float(keras.ops.convert_to_numpy(o.learning_rate)) for o in self.optimizers)
        if d != g:
            raise ValueError(
                f"D and G have different learning rates ({d} and {g}); read "
                "gan.d_optimizer.learning_rate and gan.g_optimizer.learning_rate."
            )
        return d

    @learning_rate.setter
    def learning_rate(self, value):
        for view in self.optimizers:  # both checked before either is set
            _check_settable(view._optimizer, view.name, value)
        for view in self.optimizers:
            view.learning_rate = value


def _check_settable(optimizer, name, value):
    schedule = keras.optimizers.schedules.LearningRateSchedule
    if isinstance(value, schedule) or callable(value):
        raise TypeError(
            f"Cannot assign the learning-rate schedule {value!r} to the GAN's {name}: pass it to the "
            f"optimizer before GAN.compile, e.g. keras.optimizers.Adam(learning_rate=schedule)."
        )
    source = learning_rate_source(optimizer)
    if isinstance(source, schedule) or callable(source):
        raise TypeError(
            f"The GAN's {name} takes its learning rate from a schedule "
            f"({type(source).__name__}), so it cannot be set (e.g. by ReduceLROnPlateau "
            "or LearningRateScheduler): use a float learning rate, or leave the schedule alone."
        )

_FIT_SIGNATURE = inspect.signature(keras.Model.fit)
_KERAS_DEFAULT_BATCH = 32  # keras.Model.fit's batch_size for arrays when neither it nor steps_per_epoch is given
_PROBE_BATCH = 2  # batch size of the zeros batches that build subclassed nets


def _too_small_message(n_dis):
    return f"With n_dis={n_dis} a batch must hold at least n_dis examples (n_dis * B, B >= 1); got a batch of"


def _first_leaf(structure):
    while isinstance(structure, (tuple, list)) and structure:
        structure = structure[0]
    return structure


def _is_array(x):
    """Whether Keras batches ``x`` itself (a numpy array or a tensor, not a dataset)."""
    return hasattr(x, "shape") and hasattr(x, "__getitem__") and not isinstance(x, tf.data.Dataset) and len(x.shape) > 0


def _symbolic_shapes(net):
    """``(input_shape, output_shape)`` of a functional or built ``Sequential`` net; ``None`` otherwise."""
    try:
        shapes = net.input_shape, net.output_shape
    except (AttributeError, ValueError):  # subclassed, or a Sequential without an Input
        return None
    if not all(isinstance(s, tuple) and all(d is None or isinstance(d, int) for d in s) for s in shapes):
        return None  # several inputs or outputs: let the probe call decide
    return shapes


def _build_by_calling(net, role, shape, source):
    """Builds ``net`` by calling it on zeros of ``shape``; returns the output."""
    try:
        out = net(tf.zeros(shape), training=False)
    except Exception as e:  # the net's own error, whatever its type, with what we fed it
        raise ValueError(
            f"The {role} {net.name!r} could not be built on a zeros batch of shape {shape} "
            f"(from {source}): {type(e).__name__}: {e}"
        ) from e
    if isinstance(out, (tuple, list, dict)) or not hasattr(out, "shape"):
        raise ValueError(f"The {role} {net.name!r} must return one tensor, got {type(out).__name__}.")
    return out
