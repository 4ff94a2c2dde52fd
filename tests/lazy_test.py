"""dat_tf.lazy: TensorFlow-free imports, lazy package names, and Keras registration that does not
depend on whether Keras was imported before or after dat_tf."""

import importlib
import os
import subprocess
import sys
import textwrap

import keras
import pytest

import dat_tf
from dat_tf import lazy
from dat_tf.losses import LOSSES
from dat_tf.regularizers import REGULARIZERS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python(code, **env):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_builtin_classes_are_registered_under_dat_tf_names():
    classes = {c for c in {e.cls for e in REGULARIZERS.values()} | set(LOSSES.values())
               if c.__module__.startswith("dat_tf.")}  # other tests register classes of their own
    assert len(classes) >= 9
    for cls in classes:
        assert keras.saving.get_registered_name(cls) == f"dat_tf>{cls.__name__}"
        assert keras.saving.get_registered_object(f"dat_tf>{cls.__name__}") is cls


def test_registration_when_keras_is_imported_after_dat_tf():
    """Registries first (no Keras), then Keras: same names, and a standalone round trip works."""
    out = _python("""
        import sys
        from dat_tf.losses import LOSSES, get_loss
        from dat_tf.regularizers import REGULARIZERS, get_regularizer
        assert "keras" not in sys.modules and "tensorflow" not in sys.modules
        import keras
        for cls in {e.cls for e in REGULARIZERS.values()} | set(LOSSES.values()):
            assert keras.saving.get_registered_name(cls) == "dat_tf>" + cls.__name__, cls
        reg = get_regularizer("datt", epsilon=0.5, variant="reference")
        config = keras.saving.serialize_keras_object(reg)
        assert config["registered_name"] == "dat_tf>DirectAdversarialTraining", config
        assert keras.saving.deserialize_keras_object(config) == reg
        loss = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(get_loss("hinge")))
        assert loss == get_loss("hinge")
        print("ok")
    """)
    assert out.strip() == "ok"


def test_a_saved_gan_loads_in_a_process_that_imports_keras_last(tmp_path):
    path = tmp_path / "gan.keras"
    _python(f"""
        import keras, numpy as np
        from dat_tf import GAN
        from dat_tf.regularizers import get_regularizer
        g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        gan = GAN(g, d, latent_dim=2, regularizer=get_regularizer("gp", weight=3.0), loss="wgan")
        gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        gan.fit(np.zeros((8, 2), "float32"), batch_size=8, epochs=1, verbose=0)
        gan.save({str(path)!r})
    """)
    out = _python(f"""
        import sys
        import dat_tf
        from dat_tf.regularizers import get_regularizer
        assert "keras" not in sys.modules
        GAN = dat_tf.GAN  # imports Keras (and registers everything) on first use
        import keras
        gan = keras.models.load_model({str(path)!r})
        assert isinstance(gan, GAN)
        assert gan.regularizer == get_regularizer("gp", weight=3.0), gan.regularizer
        print(type(gan.regularizer).__name__)
    """)
    assert out.strip() == "GradientPenalty"
    # As with any Keras library, importing the package is enough: no GAN name touched before loading.
    for first in ("import dat_tf\n        import keras", "import keras\n        import dat_tf"):
        out = _python(f"""
        {first}
        gan = keras.models.load_model({str(path)!r})
        print(type(gan).__name__, type(gan.gan_loss).__name__, type(gan.regularizer).__name__)
        """)
        assert out.strip() == "GAN Wasserstein GradientPenalty", first
    # A saved generator's batch normalization (dat_tf's fused layer) is found the same way.
    gen = tmp_path / "generator.keras"
    _python(f"""
        import keras
        from dat_tf.nets import dcgan_generator
        dcgan_generator(latent_dim=4, resolution=16, channels=1, width=8).save({str(gen)!r})
    """)
    out = _python(f"""
        import dat_tf
        import keras
        g = keras.models.load_model({str(gen)!r})
        print(sorted({{type(layer).__name__ for layer in g.layers if "Normalization" in type(layer).__name__}}))
    """)
    assert out.strip() == "['FusedBatchNormalization']"


def test_keras_serializable_refuses_a_class_without_get_config():
    with pytest.raises(ValueError, match="get_config"):
        lazy.keras_serializable("x")(type("NoConfig", (), {}))


def test_package_names_load_on_use_and_are_listed():
    assert set(dat_tf.__all__) <= set(dir(dat_tf))
    from dat_tf import GAN, get_loss, get_regularizer  # noqa: F401 - the facade still works

    assert GAN.__module__ == "dat_tf.gan"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dat_tf.nope  # noqa: B018


def test_a_submodule_import_does_not_shadow_the_function_of_the_same_name():
    importlib.import_module("dat_tf.data.digits")
    from dat_tf import data

    assert callable(data.digits) and data.digits.__module__ == "dat_tf.data.digits"


def test_lazy_module_imports_on_first_attribute(tmp_path, monkeypatch):
    (tmp_path / "dat_tf_probe_mod.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dat_tf_probe_mod", raising=False)
    mod = lazy.lazy_module("dat_tf_probe_mod")
    assert "dat_tf_probe_mod" not in sys.modules
    assert mod.VALUE == 42 and "dat_tf_probe_mod" in sys.modules


def test_hooks_run_around_and_after_the_first_import(tmp_path, monkeypatch):
    (tmp_path / "dat_tf_hooked_mod.py").write_text("import sys\nsys.stdout.flush()\nVALUE = 7\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "dat_tf_hooked_mod", raising=False)
    events = []

    def around(load):
        events.append("before")
        load()
        events.append("after load")

    assert lazy.around_import("dat_tf_hooked_mod", around)
    lazy.when_imported("dat_tf_hooked_mod", lambda m: events.append(("callback", m.VALUE)))
    assert events == []
    mod = importlib.import_module("dat_tf_hooked_mod")
    assert events == ["before", "after load", ("callback", 7)]
    assert type(mod.__loader__).__name__ == "SourceFileLoader" and mod.__spec__.loader is mod.__loader__
    lazy.when_imported("dat_tf_hooked_mod", lambda m: events.append("already imported"))
    assert events[-1] == "already imported"
    assert not lazy.around_import("dat_tf_hooked_mod", around)  # too late: refused, not silently ignored


@pytest.mark.parametrize("imports", [
    "import dat_tf\nimport tensorflow",  # TensorFlow imports Keras while it initialises
    "import dat_tf\nimport keras",  # Keras imports TensorFlow as its backend
    "from dat_tf.quiet import quiet_tensorflow\nquiet_tensorflow()\nimport tensorflow",  # the command lines' way
    "import tensorflow\nimport dat_tf",
])
def test_the_saved_classes_are_registered_whatever_the_import_order(imports):
    out = _python(f"""
        import sys
        sys.argv = ["x"]
        {imports.replace(chr(10), chr(10) + "        ")}
        import keras
        from keras.src.saving import object_registration
        print(sorted(k for k in object_registration.GLOBAL_CUSTOM_OBJECTS if k in ("dat_tf>GAN", "dat_tf>FusedBatchNormalization")))
    """)
    assert out.strip() == "['dat_tf>FusedBatchNormalization', 'dat_tf>GAN']"


def test_when_all_imported_waits_for_modules_that_import_each_other(tmp_path, monkeypatch):
    # a imports b while it initialises, as TensorFlow imports Keras: the callback runs once, after both.
    (tmp_path / "dat_tf_probe_a.py").write_text("import dat_tf_probe_b\nREADY = True\n")
    (tmp_path / "dat_tf_probe_b.py").write_text("READY = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("dat_tf_probe_a", "dat_tf_probe_b"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    seen = []
    lazy.when_all_imported(("dat_tf_probe_a", "dat_tf_probe_b"),
                           lambda: seen.append(getattr(sys.modules["dat_tf_probe_a"], "READY", False)))
    assert seen == []
    importlib.import_module("dat_tf_probe_a")
    assert seen == [True]  # once, and not while a was half-initialised
    lazy.when_all_imported(("dat_tf_probe_a", "dat_tf_probe_b"), lambda: seen.append("now"))
    assert seen == [True, "now"]  # both already imported: at once
