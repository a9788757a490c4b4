"""Inputs the GAN would silently mistrain on get one clear error (or, under
the non-finite guard, are skipped and counted)."""

import warnings

import numpy as np
import pytest

import keras
from keras import ops

from keras_gan_stable import GAN, SelfAttention2D
from keras_gan_stable.architectures.sagan import sagan_discriminator
from numerics import assert_close

LATENT = 4
BACKEND = keras.backend.backend()


def _gan(shape=(4, 4, 1), num_classes=None, **kwargs):
    z = keras.Input((LATENT,))
    inputs = [z]
    h = z
    if num_classes:
        y = keras.Input((), dtype="int32")
        inputs.append(y)
        h = keras.layers.Concatenate()(
            [z, keras.layers.Embedding(num_classes, 2)(y)])
    h = keras.layers.Dense(int(np.prod(shape)), activation="tanh")(h)
    g = keras.Model(inputs if num_classes else z,
                    keras.layers.Reshape(shape)(h), name="g")
    x = keras.Input(shape)
    d_inputs = [x]
    h = keras.layers.Dense(1)(keras.layers.Flatten()(x))
    if num_classes:
        y = keras.Input((), dtype="int32")
        d_inputs.append(y)
        proj = keras.layers.Embedding(num_classes, 1)(y)
        h = keras.layers.Add()([h, proj])
    d = keras.Model(d_inputs if num_classes else x, h, name="d")
    return GAN(g, d, latent_dim=LATENT, num_classes=num_classes, seed=0,
               **kwargs)


def _images(n, shape=(4, 4, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n,) + shape).astype(
        "float32")


@pytest.mark.parametrize("lr", [float("nan"), float("inf"), -1e-3])
@pytest.mark.parametrize("which", ["d_optimizer", "g_optimizer"])
def test_bad_learning_rates_are_refused_at_compile(lr, which):
    gan = _gan()
    with pytest.raises(ValueError, match=f"learning rate of `{which}`"):
        gan.compile(**{which: keras.optimizers.Adam(lr)})


def test_uint8_and_unscaled_images_are_refused():
    gan = _gan()
    gan.compile()
    u8 = np.random.default_rng(0).integers(0, 256, (8, 4, 4, 1), "uint8")
    with pytest.raises(ValueError, match="uint8"):
        gan.fit(u8, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="0-255 pixel values"):
        gan.fit(u8.astype("float32"), batch_size=4, epochs=1, verbose=0)
    normal = np.random.default_rng(0).normal(size=(8, 4, 4, 1)).astype(
        "float32") * 3
    with pytest.raises(ValueError, match=r"outside the GAN's data_range"):
        gan.fit(normal, batch_size=4, epochs=1, verbose=0)
    # A declared range (or none) accepts the same data.
    gan.compile(data_range=None)
    gan.fit(normal, batch_size=4, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="data_range"):
        gan.compile(data_range=(1.0, -1.0))


def test_nan_in_a_tf_data_pipeline_stops_fit_with_a_clear_message():
    import tensorflow as tf

    x = _images(8)
    x[5, 1, 1, 0] = np.nan
    gan = _gan()
    gan.compile()
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    with pytest.raises(Exception, match="contains NaN or Inf"):
        gan.fit(ds, epochs=1, verbose=0)
    # Under the guard the batch is skipped and counted instead.
    gan = _gan()
    gan.compile(skip_nonfinite=True)
    history = gan.fit(ds, epochs=1, verbose=0)
    # The D update that saw the NaN image; the G update never sees it.
    assert history.history["nonfinite_skips"][-1] == 1.0


def test_batches_that_do_not_split_into_n_critic():
    import tensorflow as tf

    gan = _gan()
    gan.compile(n_critic=4)
    # tf.data: 10 images in batches of 4 leave a last batch of 2.
    ds = tf.data.Dataset.from_tensor_slices(_images(10)).batch(4)
    with pytest.raises(Exception, match="n_critic=4"):
        gan.fit(ds, epochs=1, verbose=0)
    # NumPy: the few samples of the last batch that do not fill the
    # n_critic D batches are dropped, and the user is told.
    gan = _gan()
    gan.compile(n_critic=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gan.fit(_images(11), batch_size=4, epochs=1, verbose=0)
    assert any("1 of the 11 training samples" in str(w.message)
               for w in caught)
    assert int(ops.convert_to_numpy(gan.images_seen)) == 10


@pytest.mark.multibackend
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_guard_skips_updates_under_a_nonfinite_learning_rate(bad):
    gan = _gan()
    gan.compile(skip_nonfinite=True)
    gan.train_on_batch(_images(4))
    before = [np.array(ops.convert_to_numpy(v))
              for v in gan.discriminator.trainable_weights]
    # Set mid-run, past compile's check (as a schedule could produce it).
    gan.d_optimizer.learning_rate = bad
    logs = gan.train_on_batch(_images(4, seed=1), return_dict=True)
    for a, v in zip(before, gan.discriminator.trainable_weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(v), a)
    assert float(logs["nonfinite_skips"]) == 1.0  # the D update only


@pytest.mark.multibackend
def test_numpy_dict_batch_of_a_conditional_gan():
    # Keras' torch trainer passes NumPy through train_on_batch unconverted.
    rng = np.random.default_rng(0)
    batch = {"images": _images(4), "labels": rng.integers(0, 3, 4),
             "z": rng.standard_normal((4, LATENT)).astype("float32"),
             "z_g": rng.standard_normal((4, LATENT)).astype("float32")}
    results = []
    for convert in (False, True):
        keras.utils.set_random_seed(0)
        gan = _gan(num_classes=3)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1),
                    g_optimizer=keras.optimizers.SGD(0.1))
        data = ({k: ops.convert_to_tensor(v) for k, v in batch.items()}
                if convert else batch)
        gan.train_on_batch(data)
        results.append([np.array(ops.convert_to_numpy(v))
                        for v in gan.trainable_weights])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


@pytest.mark.multibackend
@pytest.mark.skipif(BACKEND == "jax", reason=(
    "JAX on a CPU has no fused attention kernel: both implementations are "
    "the same XLA graph, covered by tests/test_self_attention.py"))
def test_sagan_discriminator_with_fused_attention_and_r1():
    # PyTorch's fused SDPA kernels have no double backward; R1 through the
    # attention block must take a differentiable kernel.
    shape = (32, 32, 3)
    rng = np.random.default_rng(0)
    batch = {"images": _images(4, shape),
             "z": rng.standard_normal((4, LATENT)).astype("float32"),
             "z_g": rng.standard_normal((4, LATENT)).astype("float32")}
    reference = None
    results = {}
    for implementation in ("materialized", "fused"):
        keras.utils.set_random_seed(0)
        d = sagan_discriminator(image_shape=shape, width=2)
        attention = [layer for layer in d._flatten_layers()
                     if isinstance(layer, SelfAttention2D)]
        assert attention
        for layer in attention:
            layer.implementation = implementation
            layer.gamma.assign(0.5)  # open the attention branch
        if reference is None:
            reference = d.get_weights()
        d.set_weights(reference)
        before = [np.asarray(ops.convert_to_numpy(v), "float64")
                  for v in d.trainable_weights]
        gan = _gan(shape)
        gan = GAN(gan.generator, d, latent_dim=LATENT, seed=0)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.1),
                    g_optimizer=keras.optimizers.SGD(0.1), loss="hinge",
                    penalty="r1", penalty_weight=10.0)
        logs = gan.train_on_batch(batch, return_dict=True)
        assert float(logs["r1"]) > 0
        results[implementation] = [
            np.asarray(ops.convert_to_numpy(v), "float64") - w
            for v, w in zip(d.trainable_weights, before)]
    # The same updates: the two paths compute the same function; D is a
    # chain of ~10 reductions of up to 3*3*8 = 72 terms, differentiated
    # twice (depth ~ 3 * 10 * 72), relative to the largest update.
    for a, b in zip(results["fused"], results["materialized"]):
        assert_close(a, b, depth=2200, magnitude=np.abs(b).max() + 1e-12)
