"""Batch statistics that are global across ``tf.distribute`` replicas.

DAT's targets are batch means (paper Eq. 9-10).  Under a distribution strategy
every replica sees only its slice of the batch, so a plain ``reduce_mean`` would
give each replica a different target and the result would depend on the
number of devices.  These helpers all-reduce sums and counts so that one
replica with batch 64 and two replicas with 32 each compute the same numbers.
Outside any strategy (the default replica context) they reduce to the plain
local computation.

Randomness follows the same rule: :func:`replica_slice_of_global` draws the
*global* batch from a stateless seed on every replica and keeps this replica's
rows, so latent vectors and interpolation coefficients do not depend on the
replica count either.
"""

from __future__ import annotations

import tensorflow as tf

# Every stateless draw names its algorithm: the default "auto_select" may pick a
# device-dependent one, and the same seed must give the same latents everywhere.
RNG_ALG = "philox"


def _replica_context():
    return tf.distribute.get_replica_context()


def num_replicas() -> int:
    """Number of replicas in sync (1 outside a strategy or in cross-replica mode)."""
    ctx = _replica_context()
    return 1 if ctx is None else int(ctx.num_replicas_in_sync)


def replica_id():
    """This replica's index as an int32 tensor (0 outside a strategy)."""
    ctx = _replica_context()
    if ctx is None:
        return tf.constant(0, tf.int32)
    return tf.cast(ctx.replica_id_in_sync_group, tf.int32)


def global_sum(x):
    """Sum of ``x`` over all replicas (no gradient flows through it)."""
    x = tf.stop_gradient(x)
    ctx = _replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return x
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, x)


def global_batch_size(local_batch):
    """Global batch size as a float32 tensor, given this replica's batch."""
    return global_sum(tf.cast(local_batch, tf.float32))


def global_mean(values):
    """Mean of ``values`` over its first axis *and* all replicas.

    Args:
      values: tensor of shape ``[local_batch, ...]``; reduced over all axes.

    Returns:
      Scalar float32 tensor, equal on every replica, without gradient.
    """
    values = tf.cast(tf.stop_gradient(values), tf.float32)
    total = global_sum(tf.reduce_sum(values))
    count = global_sum(tf.cast(tf.size(values), tf.float32))
    return total / count


def batch_size(x):
    """The static batch size of ``x`` when known, else ``tf.shape(x)[0]``.

    Static sizes keep random draws shaped statically, which matters under XLA:
    a stateless draw with a dynamic shape compiles to different numbers than
    the same draw outside XLA.
    """
    static = x.shape[0]
    return int(static) if static is not None else tf.shape(x)[0]


def replica_slice_of_global(draw, local_batch):
    """Runs ``draw(global_batch)`` and returns this replica's contiguous rows.

    ``draw`` must be deterministic (a stateless random op with a fixed seed),
    so every replica draws the same global tensor.  The slice order matches
    ``Strategy.experimental_distribute_dataset``, which gives replica ``r``
    rows ``[r*b, (r+1)*b)`` of each global batch.

    Args:
      draw: callable ``n -> tensor [n, ...]``.
      local_batch: this replica's batch size (int or scalar tensor).
    """
    n = num_replicas()
    if n == 1:
        return draw(local_batch)
    if not isinstance(local_batch, int):
        local_batch = tf.cast(local_batch, tf.int32)
    full = draw(local_batch * n)
    start = replica_id() * local_batch
    return full[start : start + local_batch]
