"""dat_tf.registry: one registry type, and the four registries that use it behave the same way."""

import re

import keras
import pytest

from dat_tf.data.registry import DATASETS, Dataset, get_dataset, register_dataset
from dat_tf.losses import LOSSES, GANLoss, Hinge, get_loss, register_loss
from dat_tf.nets.registry import NETS, Net, get_net, register_net
from dat_tf.lazy import keras_serializable
from dat_tf.registry import Registry
from dat_tf.regularizers import REGULARIZERS, DirectAdversarialTraining, Regularizer, get_regularizer, register


def test_add_lookup_and_names():
    reg = Registry("colour")
    reg.add_pattern("rgb:<hex>", lambda n: n[4:] if n.startswith("rgb:") else None)
    assert reg.add("red", "#f00", owner="a") == "#f00"
    reg.add("green", "#0f0", owner="a")
    assert reg.lookup("red") == "#f00" and reg["green"] == "#0f0" and list(reg) == ["red", "green"]
    assert reg.lookup("rgb:00f") == "00f"  # a pattern, resolved, not registered
    assert reg.names() == ("red", "green", "rgb:<hex>") and len(reg) == 2 and reg.get("blue") is None
    with pytest.raises(ValueError) as info:
        reg.lookup("gren")
    assert str(info.value) == ("Unknown colour 'gren' (did you mean 'green'?); expected one of "
                               "['red', 'green', 'rgb:<hex>'].")
    with pytest.raises(ValueError, match=r"^Unknown colour 'zzz'; expected one of"):  # nothing close: no hint
        reg.lookup("zzz")
    with pytest.raises(ValueError, match="non-empty string"):
        reg.add("", "x", owner="a")


def test_a_clash_is_refused_and_the_same_owner_replaces():
    reg = Registry("colour")
    entry = reg.add("red", "#f00", owner="mod_a")
    assert reg.add("red", entry, owner="mod_b") is entry  # the identical entry: nothing to do
    with pytest.raises(ValueError) as info:
        reg.add("red", "#e00", owner="mod_b")
    assert str(info.value) == ("Colour name 'red' is already registered by mod_a; mod_b cannot register it too "
                               "(choose another name).")
    assert reg["red"] == "#f00" and reg.owner("red") == "mod_a"
    reg.add("red", "#e00", owner="mod_a")  # the same owner again (a re-run cell, a reloaded module)
    assert reg["red"] == "#e00"


def _clashing_loss():
    class Mine(Hinge):
        pass

    register_loss("hinge")(Mine)


def _clashing_regularizer():
    class Mine(Regularizer):
        pass

    register("dat")(Mine)


def _clashing_net():
    register_net(Net("mlp", "mine", lambda *a, **k: None, lambda shape: None))


def _clashing_dataset():
    register_dataset(Dataset("digits", "mine", "images", 8, 1, "bundled", lambda *a, **k: None))


HERE = __name__


@pytest.mark.parametrize(
    "clash, kind, name, owner, registry",
    [
        (_clashing_loss, "GAN loss", "hinge", "dat_tf.losses.Hinge", LOSSES),
        (_clashing_regularizer, "Regularizer", "dat", "dat_tf.regularizers.dat.DirectAdversarialTraining",
         REGULARIZERS),
        (_clashing_net, "Net", "mlp", "dat_tf.nets.registry", NETS),
        (_clashing_dataset, "Dataset", "digits", "dat_tf.data.catalog", DATASETS),
    ],
)
def test_every_registry_refuses_a_clash_the_same_way(clash, kind, name, owner, registry):
    before = registry[name]
    with pytest.raises(ValueError) as info:
        clash()
    new_owner = HERE if kind in ("Net", "Dataset") else f"{HERE}._clashing_\\w+.<locals>.Mine"
    assert re.fullmatch(rf"{kind} name '{name}' is already registered by {re.escape(owner)}; {new_owner} cannot "
                        r"register it too \(choose another name\)\.", str(info.value)), str(info.value)
    assert registry[name] is before


def test_registering_a_builtin_again_is_idempotent():
    assert register_loss("hinge")(Hinge) is Hinge and LOSSES["hinge"] is Hinge
    assert register_net(NETS["mlp"]) is NETS["mlp"]
    assert register_dataset(DATASETS["digits"]) is DATASETS["digits"]
    assert register("dat", fixed={"with_clean": False})(DirectAdversarialTraining) is DirectAdversarialTraining
    assert REGULARIZERS["dat"].fixed == {"with_clean": False}


@pytest.mark.parametrize(
    "lookup, kind, bad, close",
    [
        (get_loss, "GAN loss", "hing", "hinge"),
        (get_regularizer, "regularizer", "dta", "dat"),
        (get_net, "net", "dcgna", "dcgan"),
        (get_dataset, "dataset", "cifar1", "cifar10"),
    ],
)
def test_every_registry_names_a_bad_value_the_same_way(lookup, kind, bad, close):
    with pytest.raises(ValueError) as info:
        lookup(bad)
    msg = str(info.value)
    assert msg.startswith(f"Unknown {kind} {bad!r} (did you mean {close!r}?); expected one of [")
    assert repr(close) in msg.split("expected one of", 1)[1]


def test_keras_registration_keeps_a_users_own_name():
    @keras.saving.register_keras_serializable(package="users_own")
    class Mine(GANLoss):
        pass

    keras_serializable()(Mine)
    assert keras.saving.get_registered_name(Mine) == "users_own>Mine"

    class Plain(GANLoss):
        pass

    keras_serializable()(Plain)
    assert keras.saving.get_registered_name(Plain) == f"{__name__.split('.')[0]}>Plain"
