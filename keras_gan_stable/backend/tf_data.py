"""Checks on `tf.data` pipelines (needs TensorFlow, whatever the backend)."""

import tensorflow as tf


def assert_finite_images(dataset, message):
    """`dataset` with an assertion that every image batch is finite.

    The batch may be images, a tuple whose first entry is the images, or a
    dict with an `"images"` entry. A non-finite value stops `fit()` with
    `message` instead of training the weights to NaN.
    """

    def images_of(batch):
        if isinstance(batch, dict):
            return batch.get("images")
        if isinstance(batch, (tuple, list)):
            return batch[0]
        return batch

    def check(*batch):
        batch = batch[0] if len(batch) == 1 else batch
        images = images_of(batch)
        if images is not None and images.dtype.is_floating:
            ok = tf.reduce_all(tf.math.is_finite(images))
            with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
                if isinstance(batch, dict):
                    batch = dict(batch)
                    batch["images"] = tf.identity(images)
                elif isinstance(batch, (tuple, list)):
                    batch = (tf.identity(images),) + tuple(batch[1:])
                else:
                    batch = tf.identity(images)
        return batch

    return dataset.map(check, num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=True)
