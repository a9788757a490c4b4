"""TensorFlow plumbing: `tf.GradientTape`, nested for input gradients."""

import tensorflow as tf
from keras import ops


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
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = ops.sum(fn(x))
    return tape.gradient(out, x)


def apply_gradients(optimizer, grads, variables):
    optimizer.apply(grads, variables)


def num_replicas_in_sync():
    return tf.distribute.get_strategy().num_replicas_in_sync


class GANTrainer:
    """Keras' TF trainer calls `train_step(data)` inside a `tf.function`."""

    def train_step(self, data):
        return self._gan_train_step(data)

    def test_step(self, data):
        return self._gan_test_step(data)
