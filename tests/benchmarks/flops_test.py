"""FLOP counts from the graph (checked against closed forms), the op profile, the machine's peak, DAT's floor."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from benchmarks import flops
from benchmarks import harness as cost


def _conv_closed_form(n, ho, wo, kh, kw, cin, cout):
    return int(2 * np.prod([n, ho, wo, kh, kw, cin, cout], dtype=np.int64))


def _conv_layer():
    layer = keras.layers.Conv2D(5, 3, strides=2, padding="same")
    layer.build((2, 9, 9, 3))
    return layer


CONV_SPEC = [tf.TensorSpec([2, 9, 9, 3], tf.float32)]
# 'same' padding, stride 2: ceil(9 / 2) = 5 output rows and columns.
CONV = _conv_closed_form(2, 5, 5, 3, 3, 3, 5)


def test_conv2d_forward_matches_the_closed_form():
    layer = _conv_layer()
    counts = flops.count_graph_flops(tf.function(layer, input_signature=CONV_SPEC))
    assert counts["by_op_type"]["Conv2D"] == CONV
    assert counts["by_op_type"]["BiasAdd"] == 2 * 5 * 5 * 5  # one per output element
    assert counts["conv_matmul"] == CONV and counts["total"] == counts["conv_matmul"] + counts["elementwise"]
    assert counts["complete"] and counts["unknown_shape_ops"] == []
    assert counts["tf_registry_flops"] > 0  # TensorFlow's own registry counts Conv2D too


def test_conv2d_gradients_match_the_closed_form_and_unneeded_ones_are_pruned():
    layer = _conv_layer()

    @tf.function(input_signature=CONV_SPEC)
    def both(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        return y, tape.gradient(y, [x, layer.kernel])  # y too: the gradient of a sum does not need the conv

    @tf.function(input_signature=CONV_SPEC)
    def input_only(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        return y, tape.gradient(y, x)

    counts = flops.count_graph_flops(both)
    for op in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
        assert counts["by_op_type"][op] == CONV, op
    assert counts["conv_matmul"] == 3 * CONV
    counts = flops.count_graph_flops(input_only)
    # The tape builds the kernel's gradient too; nothing needs it, so TensorFlow prunes it and so do we.
    assert "Conv2DBackpropFilter" not in counts["by_op_type"] and counts["conv_matmul"] == 2 * CONV
    assert counts["pruned_flops"] >= CONV


def test_dense_forward_and_gradients_match_the_closed_form():
    layer = keras.layers.Dense(7)
    layer.build((4, 6))
    matmul = 2 * 4 * 6 * 7

    @tf.function(input_signature=[tf.TensorSpec([4, 6], tf.float32)])
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(layer(x))
        return y, tape.gradient(y, [x, layer.kernel])

    assert flops.count_graph_flops(tf.function(layer, input_signature=[tf.TensorSpec([4, 6])]))["conv_matmul"] == matmul
    assert flops.count_graph_flops(step)["by_op_type"]["MatMul"] == 3 * matmul


def test_nested_function_calls_count_once_per_call():
    layer = _conv_layer()
    inner = tf.function(layer)

    @tf.function(input_signature=CONV_SPEC)
    def twice(x):
        return inner(x) + inner(2.0 * x)

    counts = flops.count_graph_flops(twice)
    assert counts["by_op_type"]["Conv2D"] == 2 * CONV
    assert counts["op_counts"]["Conv2D"] == 2


def test_a_shape_that_is_not_static_is_reported_not_guessed():
    layer = _conv_layer()
    counts = flops.count_graph_flops(tf.function(layer, input_signature=[tf.TensorSpec([None, 9, 9, 3])]))
    assert not counts["complete"]
    assert any(u.startswith("Conv2D ") for u in counts["unknown_shape_ops"])
    assert "Conv2D" not in counts["by_op_type"]


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError, match="expected a ConcreteFunction, FuncGraph or tf.function, got int"):
        flops.count_graph_flops(3)
    with pytest.raises(ValueError, match="has no compiled train function"):
        flops.count_flops(object())
    with pytest.raises(ValueError, match="steps must be an integer >= 1, got 0"):
        flops.profile_step(lambda n: 0.0, steps=0)
    with pytest.raises(ValueError, match="size must be an integer >= 64, got 8"):
        flops.machine_peak(size=8)


# --------------------------------------------------------------------------- a tiny GAN

TINY = dict(width=8, batch_size=4, n_dis=2)


@pytest.fixture(scope="module")
def tiny():
    return {r: cost.make_runner(cost.gan_config("dcgan32", r, **TINY), warmup=1) for r in ("none", "dat")}


def _d_forward_closed_form(discriminator, batch):
    """Conv and Dense FLOPs of one D forward on ``batch`` examples, layer by layer, by hand."""
    total = 0
    for layer in discriminator.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, cout = layer.kernel.shape
            _, ho, wo, _ = layer.output.shape
            total += _conv_closed_form(batch, ho, wo, kh, kw, cin, cout)
        elif isinstance(layer, keras.layers.Dense):
            total += 2 * batch * layer.kernel.shape[0] * layer.kernel.shape[1]
    assert total > 0
    return total


def test_dat_costs_the_expected_extra_work_over_none(tiny):
    none, dat = flops.count_flops(tiny["none"]), flops.count_flops(tiny["dat"])
    assert none["complete"] and dat["complete"]
    # DAT's extra per D step: a forward and a backward to the input on reals and on fakes (four D passes).
    fwd = _d_forward_closed_form(tiny["none"].gan.discriminator, TINY["batch_size"])
    expected = TINY["n_dis"] * 2 * 2 * fwd
    assert dat["conv_matmul"] - none["conv_matmul"] == pytest.approx(expected, rel=0.01)
    assert none["conv_matmul"] / none["total"] > 0.8  # a conv net: the convolutions are most of the arithmetic

    floor = flops.dat_floor(tiny["none"], tiny["dat"], none, dat)
    assert floor["d_forward_flops"] >= fwd and floor["d_input_gradient_flops"] > floor["d_forward_flops"]
    assert floor["floor_ratio"] == pytest.approx(
        (none["total"] + TINY["n_dis"] * 2 * floor["d_input_gradient_flops"]) / none["total"])
    assert floor["counted_ratio"] == pytest.approx(dat["total"] / none["total"])
    assert 0.99 < floor["counted_over_floor"] < 1.05  # our DAT step does the floor's work and little else
    with pytest.raises(ValueError, match="expected runners of regularizer 'none' and 'dat', got 'dat' and 'none'"):
        flops.dat_floor(tiny["dat"], tiny["none"])


def test_profile_ranks_ops_of_a_train_step(tiny):
    prof = flops.profile_step(tiny["none"], steps=2, top=5)
    assert prof["steps"] == 2 and prof["wall_s_per_step"] > 0 and "XSpace" in prof["source"]
    rows = prof["by_type"]
    assert 1 <= len(rows) <= 5 and len(prof["by_name"]) <= 5
    assert any("Conv2D" in r["op_type"] for r in rows), rows
    assert sum(r["share"] for r in rows) <= 1 + 1e-9 and all(r["count_per_step"] > 0 for r in rows)
    assert [r["s_per_step"] for r in rows] == sorted((r["s_per_step"] for r in rows), reverse=True)
    # TensorFlow's own converter of the same trace finds the same total op time.
    assert prof["cross_check"]["framework_op_stats_self_s_per_step"] == pytest.approx(prof["op_self_s_per_step"],
                                                                                    rel=0.05)
    # Each gradient op of the unrolled graph has its own name and runs once per iteration.
    grads = [r for r in flops.profile_step(tiny["none"], steps=1, top=10_000)["by_name"]
             if "Conv2DBackprop" in r["op_name"]]
    assert grads and all(r["count_per_step"] == 1 for r in grads), grads


def test_machine_peak():
    peak = flops.machine_peak(size=256, repeats=2)
    assert peak["measured_gflops"] > 0 and peak["cores"] >= 1
    if peak["clock_mhz"]:
        assert peak["nominal_gflops"] == pytest.approx(peak["cores"] * peak["flops_per_cycle"] * peak["clock_mhz"] / 1e3)
    assert flops.flops_per_cycle(["avx2", "fma", "avx512f"], "AuthenticAMD", 25)[0] == 32  # Zen 4: double-pumped
    assert flops.flops_per_cycle(["avx2", "fma", "avx512f"], "AuthenticAMD", 26)[0] == 64  # Zen 5: full width
    assert flops.flops_per_cycle(["avx", "avx2", "fma"], "GenuineIntel", 6)[0] == 32
