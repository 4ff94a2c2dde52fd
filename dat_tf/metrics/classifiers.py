"""Classifiers whose features and logits feed FID / KID / IS, pluggable by name.

A :class:`Classifier` maps a batch of images ``[B, H, W, C]`` in ``[-1, 1]``
to ``(features [B, D], logits [B, K])`` (float32 tensors).  It does its own
resizing and channel conversion, so generators and datasets of any size can
be scored.  Three kinds, chosen by :func:`get_classifier`:

* ``"inception"`` — the FID Inception network of TF-GAN (TF-Hub handle
  :data:`INCEPTION_TFHUB`, or a local SavedModel folder): ``pool_3``
  (2048) and ``logits`` (1008); images are resized to 299x299 with
  ``tf.image.resize(..., "bilinear")`` and kept in ``[-1, 1]``, as in TF-GAN's
  examples; grey images are repeated over 3 channels.  Nothing is downloaded
  unless the handle's host answers within seconds: offline, asking for it
  fails fast with :class:`InceptionUnavailableError` saying how to provide it.
* a Keras classifier file (``*.keras`` / ``*.h5``) plus the names of its feature
  and logit layers (:class:`KerasClassifier`).
* ``"digits"`` — the small CNN in ``dat_tf/metrics/assets/digits_classifier.keras``
  trained on scikit-learn's 8x8 digits (:mod:`dat_tf.metrics.digits`);
  features are its penultimate dense layer, logits its last layer; inputs of
  other sizes are resized to 8x8 (bilinear with antialiasing) and colour
  images averaged to grey.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse

import keras
import tensorflow as tf

from dat_tf.network import reachable

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
DIGITS_CLASSIFIER_PATH = os.path.join(ASSETS, "digits_classifier.keras")
DIGITS_CLASSIFIER_INFO = os.path.join(ASSETS, "digits_classifier.json")
INCEPTION_TFHUB = "https://tfhub.dev/tensorflow/tfgan/eval/inception/1"
INCEPTION_IMAGE_SIZE = 299
CLASSIFIERS = ("inception", "digits", "<path to a .keras/.h5 classifier>")


def _file_digest(path, length=12):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def _tree_digest(path, length=12):
    """Digest of a folder's file names, sizes and small files' bytes (a SavedModel)."""
    h = hashlib.sha1()
    for root, _, files in sorted(os.walk(path)):
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode())
            h.update(str(os.path.getsize(full)).encode())
            if name.endswith(".pb"):
                h.update(_file_digest(full).encode())
    return h.hexdigest()[:length]


class Classifier:
    """Base class: ``classifier(images) -> (features [B, D], logits [B, K])``.

    Subclasses implement :meth:`_forward` on preprocessed float32 images;
    ``name`` is for humans, ``cache_key`` identifies the exact weights (it is
    part of the real-statistics cache key).
    """

    name = "classifier"
    cache_key = "classifier"

    def __init__(self):
        self._fn = tf.function(self._run)
        self._concrete = {}  # (H, W, C) -> concrete function with a free batch dimension

    def _preprocess(self, images):
        return images

    def _forward(self, images):
        raise NotImplementedError

    def _run(self, images):
        features, logits = self._forward(self._preprocess(images))
        batch = tf.shape(images)[0]
        return (
            tf.reshape(tf.cast(features, tf.float32), [batch, -1]),
            tf.reshape(tf.cast(logits, tf.float32), [batch, -1]),
        )

    def __call__(self, images):
        """``images [B, H, W, C]`` (or ``[B, H, W]``) in ``[-1, 1]`` -> ``(features, logits)``."""
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.float32:
            images = tf.cast(images, tf.float32)
        if images.shape.rank == 3:
            images = images[..., None]
        if images.shape.rank != 4 or None in images.shape[1:]:
            raise ValueError(f"images must be [B, H, W, C] (or [B, H, W]) with known sizes, got {images.shape}.")
        key = tuple(int(d) for d in images.shape[1:])
        fn = self._concrete.get(key)
        if fn is None:  # one trace per image size, whatever the batch size
            fn = self._concrete[key] = self._fn.get_concrete_function(tf.TensorSpec((None,) + key, tf.float32))
        return fn(images)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, cache_key={self.cache_key!r})"


def _match_channels(images, channels):
    have = images.shape[-1]
    if channels is None or have == channels:
        return images
    if channels == 1:
        return tf.reduce_mean(images, axis=-1, keepdims=True)
    if have == 1:
        return tf.repeat(images, channels, axis=-1)
    raise ValueError(f"cannot convert {have}-channel images to the classifier's {channels} channels.")


class KerasClassifier(Classifier):
    """Any Keras classifier (file or model) plus the names of its feature and logit layers.

    Args:
      model: a ``keras.Model`` or a path to a ``.keras`` / ``.h5`` file.
      feature_layer, logits_layer: layer names; their outputs are flattened.
      image_size: ``(H, W)`` the network takes; default: its input shape
        (inputs of another size are resized bilinearly, antialiased when
        shrinking).  ``None`` dimensions in the model mean no resizing.
      name: label (default: the file name or the model name).
    """

    def __init__(self, model, feature_layer: str, logits_layer: str, image_size=None, name: str | None = None):
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"Keras classifier file not found: {path!r}.")
            self.cache_key = f"{os.path.splitext(os.path.basename(path))[0]}-{_file_digest(path)}"
            default_name = os.path.basename(path)
            model = keras.saving.load_model(path, compile=False)
        else:
            if not isinstance(model, keras.Model):
                raise TypeError(f"model must be a keras.Model or a file path, got {type(model).__name__}.")
            default_name = model.name
            self.cache_key = f"{model.name}-{id(model)}"  # an in-memory model is cached per process only
        names = [layer.name for layer in model.layers]
        for what, layer in (("feature_layer", feature_layer), ("logits_layer", logits_layer)):
            if layer not in names:
                raise ValueError(f"{what}={layer!r} is not a layer of {default_name!r}; its layers are {names}.")
        self.model = keras.Model(
            model.inputs, [model.get_layer(feature_layer).output, model.get_layer(logits_layer).output]
        )
        shape = tuple(model.inputs[0].shape)
        if len(shape) != 4:
            raise ValueError(f"the classifier must take images [B, H, W, C], its input shape is {shape}.")
        self.image_size = tuple(image_size) if image_size is not None else shape[1:3]
        self.channels = shape[3]
        self.name = name or default_name
        super().__init__()

    def _preprocess(self, images):
        images = _match_channels(images, self.channels)
        h, w = self.image_size
        if h is not None and w is not None and tuple(images.shape[1:3]) != (h, w):
            shrink = images.shape[1] > h or images.shape[2] > w
            images = tf.image.resize(images, (h, w), method="bilinear", antialias=shrink)
        return images

    def _forward(self, images):
        features, logits = self.model(images, training=False)
        return features, logits


def digits_classifier(path: str | None = None) -> KerasClassifier:
    """The committed 8x8-digits CNN (``features`` / ``logits`` layers)."""
    path = path or DIGITS_CLASSIFIER_PATH
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"digits classifier not found at {path!r}; create it with `python bin/train_digits_classifier.py`."
        )
    clf = KerasClassifier(path, "features", "logits", name="digits")
    clf.cache_key = f"digits-{_file_digest(path)}"
    return clf


class InceptionUnavailableError(RuntimeError):
    """The FID Inception network is neither available locally nor downloadable now."""


class InceptionClassifier(Classifier):
    """Wraps a loaded TF-GAN Inception module: ``images -> (pool_3 [B, 2048], logits [B, 1008])``."""

    def __init__(self, module, name="inception", cache_key="inception"):
        self.module = module
        self.name = name
        self.cache_key = cache_key
        super().__init__()

    def _preprocess(self, images):
        images = _match_channels(images, 3)
        size = INCEPTION_IMAGE_SIZE
        if tuple(images.shape[1:3]) != (size, size):
            images = tf.image.resize(images, (size, size), method="bilinear")
        return images

    def _forward(self, images):
        module = self.module
        if callable(module):
            out = module(images)
        else:
            sigs = getattr(module, "signatures", {})
            key = "default" if "default" in sigs else "serving_default"
            if key not in sigs:
                raise ValueError(f"the Inception module is not callable and has no default signature ({list(sigs)}).")
            out = sigs[key](images)
        if not isinstance(out, dict) or "pool_3" not in out or "logits" not in out:
            got = sorted(out) if isinstance(out, dict) else type(out).__name__
            raise ValueError(f"the Inception module must return a dict with 'pool_3' and 'logits', got {got}.")
        return out["pool_3"], out["logits"]


def _how_to_provide(handle, detail=""):
    return (
        f"The FID Inception network ({handle}) is not available{': ' + detail if detail else ''}. "
        "No Inception weights are downloaded on offline machines. Provide it in one of these ways: "
        "(1) pass a local copy of the SavedModel folder, e.g. `bin/eval.py --classifier=inception "
        "--inception_path=/path/to/inception` (or dat_tf.metrics.load_inception('/path/to/inception')); "
        "get it on a machine with network access with `python -c \"import tensorflow_hub as hub; "
        f"print(hub.resolve('{handle}'))\"` and copy the printed folder; "
        "(2) point TFHUB_CACHE_DIR at a TF-Hub cache that already holds the module "
        f"(currently looked for in {_hub_cache_folder(handle)!r}); "
        "(3) or use an offline classifier: --classifier=digits, or --classifier=/path/to/model.keras with "
        "--feature_layer and --logits_layer."
    )


def _hub_cache_folder(handle):
    """Where ``tensorflow_hub`` caches ``handle`` (``$TFHUB_CACHE_DIR`` or ``<tmp>/tfhub_modules``)."""
    import tempfile

    cache = os.environ.get("TFHUB_CACHE_DIR") or os.path.join(tempfile.gettempdir(), "tfhub_modules")
    return os.path.join(cache, hashlib.sha1(handle.encode("utf8")).hexdigest())


def _is_saved_model(path):
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))


def inception_is_local(path_or_handle: str | None = None) -> bool:
    """Whether :func:`load_inception` would find the network on this machine, without using the network.

    True for a local SavedModel folder, or a TF-Hub handle already in the TF-Hub cache
    (``$TFHUB_CACHE_DIR``); lets a CLI report every missing resource at once before downloading any.
    """
    handle = os.fspath(path_or_handle or os.environ.get("DAT_TF_INCEPTION_PATH") or INCEPTION_TFHUB)
    return _is_saved_model(handle if "://" not in handle else _hub_cache_folder(handle))


def _hub_load(handle):
    import tensorflow_hub as hub

    return hub.load(handle)


def load_inception(path_or_handle: str | None = None, probe_timeout: float = 3.0) -> InceptionClassifier:
    """The FID Inception classifier from a local SavedModel folder, the TF-Hub cache, or TF-Hub.

    ``path_or_handle`` defaults to ``$DAT_TF_INCEPTION_PATH`` or
    :data:`INCEPTION_TFHUB`.  A folder is loaded with ``tf.saved_model.load``; a
    handle already in the TF-Hub cache (``$TFHUB_CACHE_DIR``) loads offline;
    otherwise the handle's host is probed for ``probe_timeout`` seconds and, if
    it does not answer, :class:`InceptionUnavailableError` is raised at once
    (no download attempt, no retries).
    """
    handle = path_or_handle or os.environ.get("DAT_TF_INCEPTION_PATH") or INCEPTION_TFHUB
    handle = os.fspath(handle)
    if "://" not in handle:
        if not _is_saved_model(handle):
            raise InceptionUnavailableError(_how_to_provide(handle, f"{handle!r} is not a SavedModel folder"))
        return InceptionClassifier(tf.saved_model.load(handle), cache_key=f"inception-{_tree_digest(handle)}")
    key = "inception-" + hashlib.sha1(handle.encode()).hexdigest()[:12]
    if _is_saved_model(_hub_cache_folder(handle)):
        return InceptionClassifier(_hub_load(handle), cache_key=key)
    if not reachable(handle, probe_timeout):
        raise InceptionUnavailableError(
            _how_to_provide(handle, f"no local copy and {urllib.parse.urlparse(handle).hostname} is unreachable")
        )
    try:
        module = _hub_load(handle)
    except Exception as e:  # noqa: BLE001 - any download/parse failure gets the same advice
        raise InceptionUnavailableError(_how_to_provide(handle, f"loading failed with {type(e).__name__}: {e}")) from e
    return InceptionClassifier(module, cache_key=key)


def get_classifier(
    name_or_path,
    *,
    feature_layer: str | None = None,
    logits_layer: str | None = None,
    inception_path: str | None = None,
) -> Classifier:
    """``"digits"``, ``"inception"``, a Keras file (with ``feature_layer``/``logits_layer``), or a Classifier."""
    if isinstance(name_or_path, Classifier):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"classifier must be a name, a path or a Classifier, got {type(name_or_path).__name__}.")
    name = os.fspath(name_or_path)
    if name == "digits":
        return digits_classifier()
    if name == "inception":
        return load_inception(inception_path)
    if name.endswith((".keras", ".h5")):
        if not feature_layer or not logits_layer:
            raise ValueError(f"a Keras classifier file ({name!r}) needs feature_layer= and logits_layer= names.")
        return KerasClassifier(name, feature_layer, logits_layer)
    raise ValueError(f"Unknown classifier {name!r}; expected one of {list(CLASSIFIERS)}.")
