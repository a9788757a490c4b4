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


def batches_dataset(batches):
    """The batches of `batches.stream()` as a `tf.data.Dataset`, in the same
    order, read block by block (`batches.blocks()`) and unbatched.

    Keras feeds a Python generator to `fit()` through `tf.data` with one
    call into Python per batch, a fixed cost that a small network's step
    (a 2D mixture's MLP: a few milliseconds) feels; the blocks make it one
    call per block. The stream's position is read when the first block is
    drawn, as `stream()` does (after a checkpoint restore).
    """
    first = batches.batch(batches.epoch, batches.batch_index
                          if batches.batch_index < batches.steps_per_epoch
                          else 0)
    parts = first if isinstance(first, tuple) else (first,)
    # The batch dimension left open, as Keras' generator adapter does: the
    # train step is traced for the same shapes, so it runs the same kernels
    # (a static batch size can change the float results of a conv step).
    signature = tuple(
        tf.TensorSpec((None, None) + tuple(p.shape[1:]), tf.as_dtype(p.dtype))
        for p in parts)
    dataset = tf.data.Dataset.from_generator(batches.blocks,
                                             output_signature=signature)
    dataset = dataset.unbatch()
    # In-memory arrays were checked for NaN/Inf when loaded (and lazy image
    # folders decode to finite uint8): `GAN.fit` skips its per-batch check.
    dataset._finite_checked = True
    return dataset
