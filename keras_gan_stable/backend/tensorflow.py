"""TensorFlow plumbing: `tf.GradientTape`, nested for input gradients."""

import tensorflow as tf
from keras import ops

from keras_gan_stable.utils.keras_compat import in_multi_worker_mode
from keras_gan_stable.utils.keras_compat import override_tf_compute_moments


def _exact_moments(x, axes, keepdims):
    mean = tf.reduce_mean(x, axes, keepdims=True)
    variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axes,
                              keepdims=True)
    if not keepdims:
        mean = tf.squeeze(mean, axes)
        variance = tf.squeeze(variance, axes)
    return mean, variance


def _exact_second_derivatives():
    """Makes `ops.moments` twice differentiable while a graph is built.

    `tf.nn.moments`, which Keras' TF backend uses for LayerNormalization and
    GroupNormalization, computes the variance around `stop_gradient(mean)`.
    That leaves first derivatives exact but drops a term of the second
    derivatives, so a gradient penalty through such a discriminator got
    wrong weight gradients (found against a PyTorch reference). Inside this
    context the variance is taken around the differentiable mean. The swap
    happens at trace time only.
    """
    return override_tf_compute_moments(_exact_moments)


def value_and_grad(fn, variables):
    with tf.GradientTape() as tape:
        loss, aux = fn()
    grads = tape.gradient(loss, variables)
    grads = [ops.zeros_like(v) if g is None else g
             for g, v in zip(grads, variables)]
    return loss, aux, grads


def input_gradient(fn, x):
    # Called inside the outer tape, so the outer tape records this gradient
    # computation and the penalty can be differentiated w.r.t. the weights.
    with tf.GradientTape() as tape, _exact_second_derivatives():
        tape.watch(x)
        out = ops.sum(fn(x))
    return tape.gradient(out, x)


def apply_gradients(optimizer, grads, variables):
    # Under tf.distribute, Keras' optimizer sums the replicas' gradients in
    # `apply` (the losses are already divided by the global batch), but only
    # with the strategy it captured when it was created.
    strategy = tf.distribute.get_strategy()
    own = getattr(optimizer, "_distribution_strategy", strategy)
    if strategy.num_replicas_in_sync > 1 and own is not strategy:
        raise ValueError(
            f"The optimizer {optimizer.name!r} was created outside the "
            f"distribution strategy {type(strategy).__name__} that trains the "
            "model, so it would not combine the replicas' gradients. Create "
            "the optimizers (and build and compile the GAN) inside "
            "`strategy.scope()`."
        )
    optimizer.apply(grads, variables)


def assert_divisible(n, k, message):
    """Stops the step when a dynamic batch size `n` is not a multiple of k."""
    return tf.debugging.assert_equal(tf.math.floormod(n, k), 0,
                                     message=message)


def num_replicas_in_sync():
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_id_in_sync():
    context = tf.distribute.get_replica_context()
    if context is None:  # cross-replica context
        return 0
    return context.replica_id_in_sync_group


def all_replicas(flag):
    """`flag` (a boolean scalar) AND-ed over the replicas in sync.

    Each replica of a `tf.distribute` strategy sees its own slice of the
    batch, so a per-replica decision (e.g. "this update's gradients are
    finite") must be agreed on before it changes mirrored variables: the
    optimizer sums the replicas' gradients, so one non-finite replica
    poisons every replica's update.
    """
    context = tf.distribute.get_replica_context()
    if context is None or tf.distribute.get_strategy(
            ).num_replicas_in_sync == 1:
        return flag
    dissent = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                 1.0 - tf.cast(flag, tf.float32))
    return dissent < 0.5


def _multi_worker_logs(logs):
    # Keras reduces the logs of a multi-worker step with
    # `strategy.reduce("MEAN", v, axis=0)`, which needs an axis: give each
    # scalar one; the mean over it is then the mean over the replicas.
    strategy = tf.distribute.get_strategy()
    if not (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
            and in_multi_worker_mode(strategy)):
        return logs
    return {k: tf.reshape(v, [1]) for k, v in logs.items()}


class GANTrainer:
    """Keras' TF trainer calls `train_step(data)` inside a `tf.function`."""

    def train_step(self, data):
        return _multi_worker_logs(self._gan_train_step(data))

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras would average the first distributed batch
        # (`strategy.reduce`, which fails on a dict batch under
        # MultiWorkerMirroredStrategy) to build the model symbolically. The
        # GAN is built at construction and its optimizers in compile(), as
        # on the default strategy, where Keras skips this step too.
        return

    def test_step(self, data):
        return _multi_worker_logs(self._gan_test_step(data))
