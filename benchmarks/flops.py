"""How much arithmetic a train step is, where its time goes, and what the machine could do.

Efficiency needs three numbers side by side: the FLOPs of one iteration
(:func:`count_flops`, counted from the traced graph of the model's own compiled
train function), where the time of an iteration goes op by op
(:func:`profile_step`, TensorFlow's profiler), and the machine's fp32 peak
(:func:`machine_peak`, nominal and measured).  :func:`dat_floor` turns the
counts into DAT's unavoidable cost as a ratio to ``none``: what a DAT step
cannot avoid doing on top of a plain one.

The runners are :class:`benchmarks.harness.Runner` (a built GAN whose
``train_function`` is fed one fixed batch), so what is counted and profiled is
exactly what the step table times.

Example (a minute on a CPU, tiny nets)::

    from benchmarks import flops
    from benchmarks import harness as cost
    none = cost.make_runner(cost.gan_config("dcgan32", "none", width=8, batch_size=4), warmup=1)
    dat = cost.make_runner(cost.gan_config("dcgan32", "dat", width=8, batch_size=4), warmup=1)
    print(flops.count_flops(none)["total"], flops.dat_floor(none, dat)["floor_ratio"])
    print(flops.profile_step(none)["rows"][0])
    print(flops.machine_peak()["measured_gflops"])
"""

from __future__ import annotations

import collections
import glob
import inspect
import json
import os
import re
import subprocess
import tempfile
import time

import numpy as np

# --------------------------------------------------------------------------- op classes

CONV_OPS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
MATMUL_OPS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
# One FLOP per output element (a convention: Tanh or Rsqrt cost more than one instruction each; what these
# memory-bound ops cost is bytes moved, not arithmetic).
ELEMENTWISE_OPS = frozenset("""
    Abs Add AddN AddV2 BiasAdd Cast Ceil ClipByValue Cos DivNoNan Elu EluGrad Equal Erf Exp Floor FloorDiv FloorMod
    Greater GreaterEqual Inv InvGrad IsFinite LeakyRelu LeakyReluGrad Less LessEqual Log Log1p LogicalAnd LogicalNot
    LogicalOr Maximum Minimum Mod Mul MulNoNan Neg NotEqual OnesLike Pow Reciprocal ReciprocalGrad RealDiv Relu Relu6
    Relu6Grad ReluGrad Round Rsqrt RsqrtGrad Select SelectV2 Selu SeluGrad Sigmoid SigmoidGrad Sign Sin Softplus
    SoftplusGrad Softsign Sqrt SqrtGrad Square SquaredDifference Sub Tanh TanhGrad TruncateDiv Xdivy Xlogy
    FusedBatchNorm FusedBatchNormV3 FusedBatchNormGradV3 ResizeBilinear ResizeBilinearGrad ResizeNearestNeighbor
    ResizeNearestNeighborGrad RandomStandardNormal RandomUniform StatelessRandomNormalV2 StatelessRandomUniformV2
    StatelessTruncatedNormalV2 StatelessRandomNormal StatelessRandomUniform TruncatedNormal Softmax LogSoftmax
""".split())
# One FLOP per *input* element: reductions, and variable updates (an add per element of the value).
REDUCTION_OPS = frozenset("Sum Mean Max Min Prod All Any ArgMax ArgMin BiasAddGrad L2Loss EuclideanNorm".split())
UPDATE_OPS = frozenset("AssignAddVariableOp AssignSubVariableOp".split())
POOL_OPS = frozenset("AvgPool MaxPool AvgPoolGrad MaxPoolGrad".split())  # output elements x window size
# No arithmetic: data movement, bookkeeping, variables, control.
ZERO_OPS = frozenset("""
    Assert AssignVariableOp BroadcastArgs BroadcastGradientArgs BroadcastTo CheckNumerics ConcatV2 Const
    ControlTrigger DestroyResourceOp DeviceIndex EmptyTensorList ExpandDims Fill GatherV2 Identity IdentityN
    IteratorGetNext IteratorGetNextAsOptional MirrorPad NoOp OptionalFromValue OptionalGetValue OptionalHasValue
    OptionalNone Pack Pad PadV2 Placeholder PlaceholderWithDefault PreventGradient Range Rank ReadVariableOp Reshape
    ResourceGather Shape ShapeN Size Slice Snapshot Split SplitV Squeeze StopGradient StridedSlice StridedSliceGrad
    TensorListFromTensor TensorListGetItem TensorListReserve TensorListSetItem TensorListStack Tile Transpose
    Unpack VarHandleOp VarIsInitializedOp ZerosLike _Arg _Retval InvertPermutation Reverse ReverseV2 OneHot
    ConcatOffset StatelessRandomGetKeyCounter StatelessRandomGetKeyCounterAlg RngReadAndSkip RngBitGenerator
    _ReadVariablesOp StringFormat PrintV2 Where BitwiseAnd BitwiseOr BitwiseXor LeftShift RightShift
    StatelessRandomUniformFullIntV2 StatelessRandomUniformIntV2
""".split())
CALL_OPS = frozenset(("PartitionedCall", "StatefulPartitionedCall"))
COND_OPS = {"If": ("then_branch", "else_branch"), "StatelessIf": ("then_branch", "else_branch")}
CASE_OPS = frozenset(("Case", "StatelessCase"))
WHILE_OPS = frozenset(("While", "StatelessWhile"))


class _Tally:
    """FLOPs of one function body (with its nested calls), by op type."""

    def __init__(self):
        self.by_type = collections.Counter()  # op type -> FLOPs
        self.counts = collections.Counter()  # op type -> executions
        self.unknown = []  # "Type name" of counted ops without static shapes
        self.uncounted = collections.Counter()  # op type -> executions, type not in any class above
        self.pruned = 0  # FLOPs of traced ops that no output or side effect needs (TensorFlow prunes them)
        self.tf_registry = 0  # TensorFlow's own registered "flops" statistic, summed where it has one
        self.tf_registry_types = set()
        self.notes = set()

    def add(self, other, times=1):
        for k, v in other.by_type.items():
            self.by_type[k] += v * times
        for k, v in other.counts.items():
            self.counts[k] += v * times
        for k, v in other.uncounted.items():
            self.uncounted[k] += v * times
        self.unknown.extend(u for u in other.unknown if u not in self.unknown)
        self.pruned += other.pruned * times
        self.tf_registry += other.tf_registry * times
        self.tf_registry_types |= other.tf_registry_types
        self.notes |= other.notes


def _num(shape):
    """Number of elements of a static shape, or None."""
    if shape is None or shape.rank is None or any(d is None for d in shape.as_list()):
        return None
    return int(np.prod(shape.as_list(), dtype=np.int64))


def _dims(shape):
    if shape is None or shape.rank is None:
        return None
    dims = shape.as_list()
    return None if any(d is None for d in dims) else dims


def _conv_flops(op):
    """2*N*Ho*Wo*Kh*Kw*Cin*Cout of a Conv2D-family op (Ho, Wo: the forward conv's output), or None."""
    if op.type == "Conv2D":
        out, kernel = _dims(op.outputs[0].shape), _dims(op.inputs[1].shape)
    elif op.type == "Conv2DBackpropInput":  # (input_sizes, filter, out_backprop)
        out, kernel = _dims(op.inputs[2].shape), _dims(op.inputs[1].shape)
    else:  # Conv2DBackpropFilter: (input, filter_sizes, out_backprop) -> the filter's gradient
        out, kernel = _dims(op.inputs[2].shape), _dims(op.outputs[0].shape)
    if out is None or kernel is None:
        return None
    fmt = op.get_attr("data_format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    n, ho, wo = (out[0], out[2], out[3]) if fmt == "NCHW" else (out[0], out[1], out[2])
    kh, kw, cin, cout = kernel
    return 2 * n * ho * wo * kh * kw * cin * cout


def _matmul_flops(op):
    """2*m*n*k (times the batch) of a MatMul-family op, or None."""
    a, out = _dims(op.inputs[0].shape), _dims(op.outputs[0].shape)
    if a is None or out is None:
        return None
    if op.type == "MatMul":
        k = a[0] if op.get_attr("transpose_a") else a[1]
    else:
        k = a[-2] if op.get_attr("adj_x") else a[-1]
    return 2 * int(np.prod(out, dtype=np.int64)) * k


def _op_flops(op):
    """``(kind, flops)`` of a non-call op; kind in conv_matmul / elementwise / zero / uncounted; flops None if
    the shapes are not static."""
    t = op.type
    if t in CONV_OPS:
        return "conv_matmul", _conv_flops(op)
    if t in MATMUL_OPS:
        return "conv_matmul", _matmul_flops(op)
    if t in ELEMENTWISE_OPS:
        return "elementwise", _num(op.outputs[0].shape) if op.outputs else None
    if t in REDUCTION_OPS:
        return "elementwise", _num(op.inputs[0].shape)
    if t in UPDATE_OPS:
        return "elementwise", _num(op.inputs[1].shape)
    if t in POOL_OPS:
        n = _num(op.outputs[0].shape)
        window = int(np.prod(op.get_attr("ksize"))) if "ksize" in op.node_def.attr else None
        return "elementwise", None if n is None or window is None else n * window
    if t in ZERO_OPS or t.startswith("Stateless") and "Random" not in t:
        return "zero", 0
    return "uncounted", 0


def _tf_registry_flops(op):
    """TensorFlow's registered static ``flops`` statistic of ``op`` (what ``tf.compat.v1.profiler``'s
    float_operation view sums), or None where it has none."""
    from tensorflow.python.framework import ops as tf_ops
    from tensorflow.python.util import deprecation

    try:
        with deprecation.silence():  # the registry's shape helper is a deprecated v1 function
            value = tf_ops.get_stats_for_node_def(op.graph, op.node_def, "flops").value
    except Exception:  # noqa: BLE001 - no registered statistic, or shapes it cannot read
        return None
    return None if value is None else int(value)


def _body_graph(graph, name):
    """The FuncGraph of the function ``name`` that an op of ``graph`` calls."""
    g = graph
    while g is not None:
        fn = g._get_function(name) if hasattr(g, "_get_function") else None
        if fn is not None and getattr(fn, "graph", None) is not None:
            return fn.graph
        g = getattr(g, "outer_graph", None)
    from tensorflow.python.eager import context
    from tensorflow.python.framework import function_def_to_graph

    return function_def_to_graph.function_def_to_graph(context.context().get_function_def(name))


def _analyse(graph, needed_outputs, memo):
    """``(needed input indices, tally)`` of ``graph`` when the outputs ``needed_outputs`` are fetched.

    Liveness follows TensorFlow's own pruning of function bodies: an op runs if
    a needed output, a control output (side effects) or a live op's input needs
    it; through a call, only the callee's inputs its needed outputs reach.
    """
    key = (graph, frozenset(needed_outputs))  # the graph itself (not its id): kept alive while memoised
    if key in memo:
        return memo[key]
    needed = collections.defaultdict(set)
    live = set()
    for i in needed_outputs:
        t = graph.outputs[i]
        needed[t.op].add(t.value_index)
    for op in graph.control_outputs:
        live.add(op)
    tally = _Tally()
    for op in reversed(graph.get_operations()):  # creation order is topological
        if op not in live and not needed.get(op):
            if op.type not in CALL_OPS and op.type not in WHILE_OPS and op.type not in COND_OPS:
                kind, flops = _op_flops(op)
                tally.pruned += flops or 0
            continue
        live.add(op)
        inputs = list(op.inputs)
        if op.type in CALL_OPS:
            body = _body_graph(graph, op.get_attr("f").name)
            used, sub = _analyse(body, needed.get(op, set()), memo)
            tally.add(sub)
            inputs = [op.inputs[i] for i in sorted(used)]
        elif op.type in WHILE_OPS:
            for attr in ("cond", "body"):
                body = _body_graph(graph, op.get_attr(attr).name)
                tally.add(_analyse(body, set(range(len(body.outputs))), memo)[1])
            tally.notes.add(f"{op.type}: trip count unknown statically, its body is counted once per call")
        elif op.type in COND_OPS or op.type in CASE_OPS:
            names = ([op.get_attr(a).name for a in COND_OPS[op.type]] if op.type in COND_OPS
                     else [b.name for b in op.get_attr("branches")])
            subs = []
            for name in names:
                body = _body_graph(graph, name)
                subs.append(_analyse(body, set(range(len(body.outputs))), memo)[1])
            tally.add(max(subs, key=lambda s: sum(s.by_type.values())))
            tally.notes.add(f"{op.type}: the costlier branch is counted")
        else:
            kind, flops = _op_flops(op)
            tally.counts[op.type] += 1
            if kind == "uncounted":
                tally.uncounted[op.type] += 1
            elif kind != "zero":
                if flops is None:
                    tally.unknown.append(f"{op.type} {op.name}")
                else:
                    tally.by_type[op.type] += flops
            tf_flops = _tf_registry_flops(op)
            if tf_flops is not None:
                tally.tf_registry += tf_flops
                tally.tf_registry_types.add(op.type)
        for t in inputs:
            needed[t.op].add(t.value_index)
        for c in op.control_inputs:
            live.add(c)
    placeholders = {t.op: i for i, t in enumerate(graph.inputs)}
    used = {i for op, i in placeholders.items() if op in live or needed.get(op)}
    memo[key] = (used, tally)
    return memo[key]


def count_graph_flops(fn) -> dict:
    """FLOPs of one call of a traced function, counted op by op from its graph.

    Args:
      fn: a ``ConcreteFunction`` (or its ``FuncGraph``), or a ``tf.function``
        with an ``input_signature`` or traced exactly once.

    Returns:
      ``{"total", "conv_matmul", "elementwise", "by_op_type", "op_counts",
      "unknown_shape_ops", "complete", "uncounted_op_types", "pruned_flops",
      "tf_registry_flops", "tf_registry_op_types", "notes"}``.  Conv2D and its two
      gradients count ``2*N*Ho*Wo*Kh*Kw*Cin*Cout``, MatMul ``2*m*n*k``; element-wise
      ops one FLOP per output element (reductions and variable updates: per
      input element; pools: per output element and window position).  Ops
      inside called functions (``PartitionedCall``, ``StatefulPartitionedCall``,
      ``If``/``Case`` (costlier branch), ``While`` (body once, noted)) count
      once per call.  Ops that TensorFlow prunes because nothing needs them
      (e.g. the weight gradients a tape builds for an input gradient) are not
      counted; their FLOPs are ``pruned_flops``.  A counted op whose shapes are
      not static is listed in ``unknown_shape_ops`` (and ``complete`` is False)
      instead of guessed.  ``tf_registry_flops`` is TensorFlow's own registered
      count over the same live ops (the statistic ``tf.compat.v1.profiler``
      sums; it has none for some op types, e.g. the conv gradients), a
      cross-check only.
    """
    graph = _graph_of(fn)
    _, tally = _analyse(graph, set(range(len(graph.outputs))), {})
    conv = sum(v for k, v in tally.by_type.items() if k in CONV_OPS or k in MATMUL_OPS)
    total = sum(tally.by_type.values())
    return {
        "total": int(total), "conv_matmul": int(conv), "elementwise": int(total - conv),
        "by_op_type": {k: int(v) for k, v in tally.by_type.most_common()},
        "op_counts": dict(sorted(tally.counts.items())),
        "unknown_shape_ops": list(tally.unknown), "complete": not tally.unknown,
        "uncounted_op_types": dict(sorted(tally.uncounted.items())),
        "pruned_flops": int(tally.pruned),
        "tf_registry_flops": int(tally.tf_registry), "tf_registry_op_types": sorted(tally.tf_registry_types),
        "notes": sorted(tally.notes),
    }


def _graph_of(fn):
    from tensorflow.python.framework.func_graph import FuncGraph

    if isinstance(fn, FuncGraph):
        return fn
    if hasattr(fn, "graph") and isinstance(fn.graph, FuncGraph):  # ConcreteFunction
        return fn.graph
    if hasattr(fn, "get_concrete_function"):  # tf.function
        if getattr(fn, "input_signature", None) is not None:
            return fn.get_concrete_function().graph
        traced = fn._list_all_concrete_functions()
        if len(traced) == 1:
            return traced[0].graph
        raise ValueError(f"count_graph_flops: the tf.function {getattr(fn, '__name__', fn)!r} has {len(traced)} "
                         "traces; pass one ConcreteFunction (fn.get_concrete_function(...)).")
    raise TypeError(f"count_graph_flops: expected a ConcreteFunction, FuncGraph or tf.function, got "
                    f"{type(fn).__name__}.")


def train_concrete_function(runner_or_gan):
    """The ConcreteFunction of one ``train_function`` call (one iteration) of a Runner or a trained GAN."""
    gan = getattr(runner_or_gan, "gan", runner_or_gan)
    fn = getattr(gan, "train_function", None)
    if fn is None or not callable(fn):
        raise ValueError(f"count_flops: {type(runner_or_gan).__name__} has no compiled train function; pass a "
                         "benchmarks.harness.Runner or a GAN that has run a train step.")
    if getattr(gan, "steps_per_execution", 1) != 1:
        raise ValueError(f"count_flops: steps_per_execution={gan.steps_per_execution}; one call must be one "
                         "iteration (steps_per_execution=1, as cost.gan_config sets).")
    # Keras wraps the tf.function (multi_step_on_iterator) in a plain Python function.
    candidates = [fn] if hasattr(fn, "get_concrete_function") else [
        v for v in inspect.getclosurevars(fn).nonlocals.values() if hasattr(v, "get_concrete_function")]
    iterator = getattr(runner_or_gan, "_iterator", None)
    for tf_fn in candidates:
        if iterator is not None:
            try:
                return tf_fn.get_concrete_function(iterator)
            except (TypeError, ValueError):
                pass
        traced = tf_fn._list_all_concrete_functions()
        if len(traced) == 1:
            return traced[0]
    raise ValueError("count_flops: the GAN's train function has not been traced once; run one train step first "
                     "(a cost.Runner does).")


def count_flops(runner_or_gan) -> dict:
    """FLOPs of one iteration (``n_dis`` D steps and one G step) of a :class:`cost.Runner` or a trained GAN.

    Counted from the graph of the model's compiled train function, see
    :func:`count_graph_flops` for the rules and the fields.

    Example::

        counts = count_flops(cost.make_runner(cost.gan_config("dcgan32", "none", width=8, batch_size=4)))
        counts["conv_matmul"] / counts["total"]   # the conv share
    """
    return count_graph_flops(train_concrete_function(runner_or_gan))


# --------------------------------------------------------------------------- DAT's floor


def discriminator_flops(gan, batch_size: int) -> dict:
    """FLOPs of D alone on one batch: ``forward`` (training-mode, stateless, as DAT scores) and
    ``input_gradient`` (that forward plus the backward pass to the input only), each a
    :func:`count_graph_flops` result."""
    import tensorflow as tf

    shape = [int(batch_size), *gan._real_shape]
    spec = [tf.TensorSpec(shape, tf.float32)]
    forward = tf.function(lambda x: gan.critic.score(x, stateless=True), input_signature=spec)
    grad = tf.function(lambda x: gan.critic.input_gradient(tf.reduce_sum, x)[0], input_signature=spec)
    return {"forward": count_graph_flops(forward), "input_gradient": count_graph_flops(grad)}


def dat_floor(none_runner, dat_runner, none_counts=None, dat_counts=None) -> dict:
    """DAT's unavoidable cost as a ratio to ``none``, beside the counted DAT/none ratio.

    DAT (both variants) attacks both batches of a D step, reals and fakes: per
    D step it must run D forward once more on each and back-propagate to each
    input (paper Eq. 9-10; ``Critic.pair_input_gradients``).  So the floor is
    ``none + n_dis * 2 * (D forward + D input-gradient backward)`` on a batch,
    both from graph counts of D alone (:func:`discriminator_flops`).

    Args:
      none_runner, dat_runner: :class:`cost.Runner` of the same net and
        settings with ``regularizer`` ``"none"`` and ``"dat"``.
      none_counts, dat_counts: their :func:`count_flops` results, if already made.

    Returns:
      ``{"none_flops", "dat_flops", "d_forward_flops", "d_input_gradient_flops",
      "extra_per_d_step", "n_dis", "batch_size", "batches_attacked", "variant",
      "floor_flops", "floor_ratio", "counted_ratio", "counted_over_floor"}``.
    """
    cfg_n, cfg_d = none_runner.cfg, dat_runner.cfg
    if cfg_n.regularizer != "none" or cfg_d.regularizer != "dat":
        raise ValueError(f"dat_floor: expected runners of regularizer 'none' and 'dat', got "
                         f"{cfg_n.regularizer!r} and {cfg_d.regularizer!r}.")
    for field in ("net", "width", "batch_size", "n_dis", "loss", "latent_dim"):
        if getattr(cfg_n, field) != getattr(cfg_d, field):
            raise ValueError(f"dat_floor: the runners differ in {field} ({getattr(cfg_n, field)!r} vs "
                             f"{getattr(cfg_d, field)!r}); compare like with like.")
    none_counts = none_counts or count_flops(none_runner)
    dat_counts = dat_counts or count_flops(dat_runner)
    d = discriminator_flops(none_runner.gan, cfg_n.batch_size)
    batches = ("real", "fake")
    extra = len(batches) * d["input_gradient"]["total"]  # the input gradient's graph holds its forward
    floor = none_counts["total"] + cfg_n.n_dis * extra
    return {
        "none_flops": none_counts["total"], "dat_flops": dat_counts["total"],
        "d_forward_flops": d["forward"]["total"], "d_input_gradient_flops": d["input_gradient"]["total"],
        "extra_per_d_step": int(extra), "n_dis": cfg_n.n_dis, "batch_size": cfg_n.batch_size,
        "batches_attacked": batches, "variant": getattr(dat_runner.gan.regularizer, "variant", None),
        "floor_flops": int(floor), "floor_ratio": floor / none_counts["total"],
        "counted_ratio": dat_counts["total"] / none_counts["total"],
        "counted_over_floor": dat_counts["total"] / floor,
        "complete": none_counts["complete"] and dat_counts["complete"] and d["input_gradient"]["complete"],
    }


# --------------------------------------------------------------------------- the profile


def _xplane_files(logdir):
    return sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))


def _framework_op_rows(files):
    """Cross-check and fallback: host op rows of TensorFlow's "framework_op_stats" tool: ``[(type, name, occurrences, self_us)]``."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    data, _ = _pywrap_profiler_plugin.xspace_to_tools_data(files, "framework_op_stats", {})
    tables = json.loads(data)
    table = tables[-1]  # the second table excludes IDLE
    cols = [c["id"] for c in table["cols"]]
    rows = []
    for r in table["rows"]:
        v = dict(zip(cols, (c.get("v") for c in r["c"])))
        if v.get("host_or_device") != "Host" or v.get("type") == "IDLE":
            continue
        rows.append((str(v["type"]), str(v["operation"]), int(v["occurrences"]), float(v["total_self_time"])))
    return rows


def _xspace_rows(files):
    """Host op events read from the XSpace proto (events named ``name:Type`` on the executor threads);
    an event's self time is its duration less that of the events nested in it."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    rows = collections.defaultdict(lambda: [0, 0.0])
    for path in files:
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
        for plane in space.planes:
            if plane.name != "/host:CPU":
                continue
            meta = plane.event_metadata
            for line in plane.lines:
                if line.name == "python":
                    continue
                events = sorted((e.offset_ps, e.duration_ps, meta[e.metadata_id].name, meta[e.metadata_id].display_name)
                                for e in line.events)
                stack = []  # (end_ps, (type, name) or None) of the enclosing events
                for start, dur, name, op_type in events:
                    while stack and stack[-1][0] <= start:
                        stack.pop()
                    key = (op_type, name[: -len(op_type) - 1]) if op_type and name.endswith(":" + op_type) else None
                    if key is not None:
                        rows[key][0] += 1
                        rows[key][1] += dur / 1e6  # ps -> us
                        parent = next((k for _, k in reversed(stack) if k is not None), None)
                        if parent is not None:
                            rows[parent][1] -= dur / 1e6  # a nested op's time is not its parent's self time
                    stack.append((start + dur, key))
    return [(t, n, c, max(us, 0.0)) for (t, n), (c, us) in rows.items()]


def profile_step(runner, steps: int = 1, top: int = 10, logdir: str | None = None, warmup: int = 1) -> dict:
    """Runs ``steps`` iterations under TensorFlow's profiler and ranks the ops by host self time.

    The trace (``.xplane.pb``) is read from its proto: every op event on the
    host's executor threads, its self time being its duration less that of
    the op events nested in it.  TensorFlow's own "framework_op_stats"
    converter (``_pywrap_profiler_plugin.xspace_to_tools_data``, what
    TensorBoard's profile plugin shows) gives the same times but, in TF 2.21,
    twice the occurrences of some ops on larger nets, so it is only the
    cross-check (its total self time) and the fallback.  Op types are the
    kernels that ran (after Grappler and oneDNN rewrites, e.g.
    ``_MklNativeFusedConv2D``), not the traced graph's.

    Args:
      runner: a :class:`cost.Runner` (warmed up: tracing is not profiled).
      steps: iterations to profile, >= 1.
      top: rows to return, >= 1.
      logdir: where the trace is written and kept (for TensorBoard); a
        temporary folder, removed afterwards, if None.
      warmup: untimed steps first, >= 0: the first call of a model after
        another model was built instantiates its function again (see
        :func:`cost.interleaved`), which is not the step's cost.

    Returns:
      ``{"steps", "wall_s_per_step", "op_self_s_per_step", "source", "cross_check",
      "by_type", "by_name"}``; each table a list of rows ``{"op_type"|"op_name", "s_per_step",
      "share", "count_per_step"}``, costliest first; ``share`` is of all ops'
      host self time (sums to <= 1; with two threads the ops' self time can
      exceed the wall time).
    """
    import tensorflow as tf

    for name, value in (("steps", steps), ("top", top)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"profile_step: {name} must be an integer >= 1, got {value!r}.")
    if not isinstance(warmup, (int, np.integer)) or isinstance(warmup, bool) or warmup < 0:
        raise ValueError(f"profile_step: warmup must be an integer >= 0, got {warmup!r}.")
    if not callable(runner):
        raise TypeError(f"profile_step: expected a cost.Runner, got {type(runner).__name__}.")
    if warmup:
        runner(warmup)
    with tempfile.TemporaryDirectory(prefix="dat_tf_profile_") as tmp:
        logdir = logdir or tmp
        before = set(_xplane_files(logdir))
        tf.profiler.experimental.start(logdir)
        try:
            t = time.perf_counter()
            runner(steps)
            wall = time.perf_counter() - t
        finally:
            tf.profiler.experimental.stop()
        files = [f for f in _xplane_files(logdir) if f not in before]
        if not files:
            raise RuntimeError(f"profile_step: the profiler wrote no .xplane.pb under {logdir}.")
        try:
            rows, source = _xspace_rows(files), "the trace's XSpace proto (tsl xplane_pb2)"
        except ImportError as err:  # the proto module moved: TensorFlow's converter instead
            rows, source = _framework_op_rows(files), f"framework_op_stats ({type(err).__name__}: {err})"
        try:  # cross-check: TensorFlow's own converter, what TensorBoard's profile plugin shows
            check = {"framework_op_stats_self_s_per_step": sum(r[3] for r in _framework_op_rows(files)) / 1e6 / steps}
        except Exception as err:  # noqa: BLE001 - a cross-check only
            check = {"framework_op_stats_error": f"{type(err).__name__}: {err}"}
    total_us = sum(r[3] for r in rows)

    def table(key):
        agg = collections.defaultdict(lambda: [0, 0.0])
        for op_type, op_name, count, us in rows:
            k = op_type if key == "op_type" else op_name
            agg[k][0] += count
            agg[k][1] += us
        ranked = sorted(agg.items(), key=lambda kv: -kv[1][1])[:top]
        return [{key: k, "s_per_step": us / 1e6 / steps, "share": us / total_us if total_us else 0.0,
                 "count_per_step": count / steps} for k, (count, us) in ranked]

    return {"steps": steps, "wall_s_per_step": wall / steps, "op_self_s_per_step": total_us / 1e6 / steps,
            "source": source, "cross_check": check, "by_type": table("op_type"), "by_name": table("op_name")}


# --------------------------------------------------------------------------- the machine


def flops_per_cycle(flags, vendor: str, family: int | None) -> tuple:
    """``(fp32 FLOPs per cycle per core, assumption)`` from CPU flags (FMA = 2 FLOPs, two FMA pipes)."""
    flags = set(flags)
    if "avx512f" in flags:
        if vendor == "AuthenticAMD" and family == 25:
            return 32, "AMD Zen 4 (family 25): AVX-512 double-pumped on 256-bit pipes, 2 FMA = 32 fp32 FLOP/cycle"
        if vendor == "AuthenticAMD":
            return 64, (f"AMD family {family} (26 = Zen 5) with avx512f: 2 full-width 512-bit FMA pipes = "
                        "64 fp32 FLOP/cycle")
        return 64, "avx512f: assumed 2 512-bit FMA units = 64 fp32 FLOP/cycle (32 on one-FMA-unit parts)"
    if "avx2" in flags and "fma" in flags:
        return 32, "avx2+fma: 2 256-bit FMA units = 32 fp32 FLOP/cycle"
    if "avx" in flags:
        return 16, "avx without fma: one 256-bit add + one mul per cycle = 16 fp32 FLOP/cycle"
    return 8, "sse only: 4-wide add + mul per cycle = 8 fp32 FLOP/cycle"


def _cpuinfo():
    info = {"flags": [], "vendor": "", "family": None, "mhz": None, "model_name": ""}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return info
    for key, field in (("flags", "flags"), ("vendor_id", "vendor"), ("cpu family", "family"), ("cpu MHz", "mhz"),
                       ("model name", "model_name")):
        m = re.search(rf"^{key}\s*:\s*(.*)$", text, re.M)
        if m:
            info[field] = m.group(1).strip()
    info["flags"] = info["flags"].split() if info["flags"] else []
    info["family"] = int(info["family"]) if info["family"] else None
    info["mhz"] = float(info["mhz"]) if info["mhz"] else None
    return info


def _lscpu_max_mhz():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"^CPU max MHz:\s*([\d.]+)", out, re.M)
    return float(m.group(1)) if m else None


def machine_peak(size: int = 2048, repeats: int = 5) -> dict:
    """The machine's fp32 peak: nominal (cores x FLOPs/cycle x clock) and measured (a large matmul).

    Args:
      size: the measured matmul is ``size x size`` by ``size x size`` (``2*size**3`` FLOPs), >= 64.
      repeats: timed matmuls, >= 1; the best is reported.

    Returns:
      ``{"cores", "cpu", "flops_per_cycle", "assumption", "clock_mhz", "clock_source",
      "nominal_gflops", "measured_gflops", "measured_how", "measured_over_nominal",
      "load_average"}``; ``nominal_gflops`` is None when the clock is unknown.
    """
    import tensorflow as tf

    if not isinstance(size, int) or size < 64:
        raise ValueError(f"machine_peak: size must be an integer >= 64, got {size!r}.")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"machine_peak: repeats must be an integer >= 1, got {repeats!r}.")
    info = _cpuinfo()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per_cycle, assumption = flops_per_cycle(info["flags"], info["vendor"], info["family"])
    max_mhz = _lscpu_max_mhz()
    if max_mhz:
        mhz, clock_source = max_mhz, "lscpu 'CPU max MHz'"
    elif info["mhz"]:
        mhz, clock_source = info["mhz"], ("/proc/cpuinfo 'cpu MHz' (the clock the kernel reports; under a "
                                          "hypervisor usually the nominal one, boost unknown)")
    else:
        mhz, clock_source = None, "unknown (no lscpu max MHz, no /proc/cpuinfo MHz)"
    nominal = cores * per_cycle * mhz / 1e3 if mhz else None

    a = tf.random.uniform([size, size], dtype=tf.float32, seed=1)
    b = tf.random.uniform([size, size], dtype=tf.float32, seed=2)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    float(matmul(a, b))  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        float(matmul(a, b))
        best = min(best, time.perf_counter() - t)
    measured = 2 * size ** 3 / best / 1e9
    return {
        "cores": cores, "cpu": info["model_name"], "flops_per_cycle": per_cycle, "assumption": assumption,
        "clock_mhz": mhz, "clock_source": clock_source, "nominal_gflops": nominal,
        "measured_gflops": measured,
        "measured_how": (f"best of {repeats} fp32 {size}x{size} matmuls in TensorFlow ({tf.__version__}, default "
                         f"thread pools, {cores} cores), 2*{size}^3 FLOPs each"),
        "measured_over_nominal": measured / nominal if nominal else None,
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
