"""The non-finite guard (`compile(skip_nonfinite=True)`) and the rollback of
`ResumableCheckpoint(rollback_after=K)`."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.checkpoint import ResumableCheckpoint

LATENT = 8


def _gan(**kwargs):
    g = keras.Sequential([
        keras.Input((LATENT,)),
        keras.layers.Dense(8 * 8, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("tanh"),
        keras.layers.Reshape((8, 8, 1)),
    ], name="g")
    d = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, strides=2, padding="same"),
        keras.layers.BatchNormalization(),
        keras.layers.LeakyReLU(0.2),
        keras.layers.Flatten(),
        keras.layers.Dense(1),
    ], name="d")
    return GAN(g, d, latent_dim=LATENT, seed=0, **kwargs)


def _np(vs):
    return [np.array(ops.convert_to_numpy(v)) for v in vs]


def _images(n, seed=0):
    return np.random.default_rng(seed).uniform(
        -1, 1, (n, 8, 8, 1)).astype("float32")


def _one_batch(batch):
    def gen():
        while True:
            yield (batch,)
    return gen()


@pytest.mark.multibackend
@pytest.mark.parametrize("guard", [True, False])
def test_nan_batch_is_skipped_leaving_d_and_its_optimizer_unchanged(guard):
    gan = _gan()
    gan.compile(skip_nonfinite=guard)
    gan.fit(_images(16), batch_size=16, epochs=1, verbose=0)
    # D's BatchNorm statistics also move in the G update (D runs in training
    # mode on the generated batch), so they are checked for finiteness.
    d_state = (gan.discriminator.trainable_weights
               + gan.d_optimizer.variables)
    before = _np(d_state)
    g_before = _np(gan.generator.trainable_weights)
    bad = _images(16, seed=1)
    bad[3, 2, 2, 0] = np.nan
    history = gan.fit(_one_batch(bad), steps_per_epoch=1, epochs=1,
                      verbose=0)
    after = _np(d_state)
    if not guard:  # the case the guard exists for: NaN spreads into D
        assert any(np.isnan(a).any() for a in after)
        return
    # Weights, Adam moments and iterations: bitwise.
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert int(ops.convert_to_numpy(gan.d_optimizer.iterations)) == 1
    assert float(ops.convert_to_numpy(gan.nonfinite_skips)) == 1.0
    assert history.history["nonfinite_skips"] == [1.0]
    # The G update of that step saw a healthy D and went ahead.
    assert int(ops.convert_to_numpy(gan.g_optimizer.iterations)) == 2
    g_after = _np(gan.generator.trainable_weights)
    assert any(not np.array_equal(a, b) for a, b in zip(g_before, g_after))
    for w in _np(gan.weights):
        assert np.isfinite(w).all()


class _Explode(keras.callbacks.Callback):
    """Sets both learning rates to 1e30 after train step `at`."""

    def __init__(self, at):
        super().__init__()
        self.at = at
        self.done = False

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        step = int(ops.convert_to_numpy(model.g_optimizer.iterations))
        if not self.done and step == self.at:
            model.d_optimizer.learning_rate = 1e30
            model.g_optimizer.learning_rate = 1e30
            self.done = True


class _FiniteWatch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0
        self.nan_seen = False

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        for w in _np(self.model.weights):
            if np.isnan(w).any():
                self.nan_seen = True


@pytest.mark.parametrize("save_every,at,keep", [
    (2, 5, 2),
    # The explosion right after a checkpoint, the only one kept: the
    # skipped G updates leave the step where it was written, and the
    # rollback must still find it (it asked for an earlier step, found
    # none, and failed at every streak).
    (2, 6, 1),
])
def test_exploding_learning_rate_rolls_back_and_lowers_rates(tmp_path,
                                                             save_every, at,
                                                             keep):
    gan = _gan()
    lr = 1e-3
    gan.compile(d_optimizer=keras.optimizers.Adam(lr),
                g_optimizer=keras.optimizers.Adam(lr), skip_nonfinite=True)
    data = ResumableBatches(_images(64), batch_size=16, seed=0)
    ckpt = ResumableCheckpoint(str(tmp_path), data=data,
                               save_every_steps=save_every, keep=keep,
                               rollback_after=2, lr_factor=0.5, verbose=0)
    watch = _FiniteWatch()
    gan.fit(data.stream(), steps_per_epoch=4, epochs=4, verbose=0,
            callbacks=[ckpt, _Explode(at=at), watch])
    kinds = [e["event"] for e in ckpt.events]
    assert watch.batches == 16  # the run went on to the end
    assert not watch.nan_seen
    assert "nonfinite_skip" in kinds
    rollbacks = [e for e in ckpt.events if e["event"] == "rollback"]
    assert len(rollbacks) == 1
    # Restored from a checkpoint written before the explosion ...
    assert rollbacks[0]["step"] <= at
    assert "rollback_failed" not in kinds
    # ... with the rates of that checkpoint times lr_factor.
    np.testing.assert_allclose(rollbacks[0]["learning_rates"]["d"], lr * 0.5,
                               rtol=1e-6)
    for opt in (gan.d_optimizer, gan.g_optimizer):
        np.testing.assert_allclose(
            float(ops.convert_to_numpy(opt.learning_rate)), lr * 0.5,
            rtol=1e-6)
    for w in _np(gan.weights):
        assert np.isfinite(w).all() and np.abs(w).max() < 1e6
