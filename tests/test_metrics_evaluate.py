"""`evaluate()`, `Evaluator` and the `Evaluation` callback."""

import numpy as np
import pytest
import keras

import keras_gan_stable
from keras_gan_stable.callbacks.evaluation import Evaluation
from keras_gan_stable.metrics import FeatureExtractor
from keras_gan_stable.metrics import frechet_distance_from_features
from keras_gan_stable.metrics import kernel_inception_distance
from keras_gan_stable.metrics import mode_coverage
from keras_gan_stable.metrics import precision_recall


def _pool_extractor(image_shape=(28, 28, 1)):
    """A fixed, weight-free feature map: 4x4 average pooling, flattened."""
    images = keras.Input(image_shape)
    x = keras.layers.AveragePooling2D(7)(images)
    feats = keras.layers.Flatten(name="feat")(x)
    probs = keras.layers.Softmax(name="probs")(
        keras.layers.Lambda(lambda t: 8.0 * t[:, :4])(feats))
    return FeatureExtractor(keras.Model(images, probs), feature_layer="feat",
                            probability_layer="probs", batch_size=40)


def _pool_features(images):
    n = images.shape[0]
    return images.reshape(n, 4, 7, 4, 7, -1).mean(axis=(2, 4)).reshape(n, -1)


def _tiny_gan(latent_dim=8):
    g = keras_gan_stable.dcgan_generator(latent_dim, (28, 28, 1), width=4)
    d = keras_gan_stable.dcgan_discriminator((28, 28, 1), width=4)
    return keras_gan_stable.GAN(g, d, latent_dim=latent_dim, seed=1)


@pytest.mark.multibackend
def test_evaluate_on_arrays_matches_the_metric_functions(rng):
    real = np.tanh(rng.standard_normal((120, 28, 28, 1))).astype("float32")
    fake = np.tanh(rng.standard_normal((100, 28, 28, 1)) * 0.5 + 0.2).astype(
        "float32")
    out = keras_gan_stable.evaluate(
        fake, real, metrics=["fid", "kid", "pr", "modes", "is"],
        extractor=_pool_extractor(), kid_subsets=4, kid_subset_size=50,
        is_splits=2)
    fr, ff = _pool_features(real), _pool_features(fake)
    assert out["fid"] == pytest.approx(frechet_distance_from_features(fr, ff),
                                       rel=1e-4)
    kid = kernel_inception_distance(fr, ff, num_subsets=4, subset_size=50,
                                    seed=0)
    assert out["kid"] == pytest.approx(kid.mean, rel=1e-3, abs=1e-6)
    assert (out["precision"], out["recall"]) == pytest.approx(
        precision_recall(fr, ff), abs=0.02)
    probs = np.exp(8 * ff[:, :4]) / np.exp(8 * ff[:, :4]).sum(1, keepdims=True)
    assert out["modes"] == mode_coverage(probs).modes
    assert out["is"] >= 1.0


def test_evaluate_samples_the_gan_and_prefers_its_ema_generator(rng):
    gan = _tiny_gan()
    real = np.tanh(rng.standard_normal((64, 28, 28, 1))).astype("float32")
    extractor = _pool_extractor()
    got = keras_gan_stable.evaluate(gan, real, metrics=["fid"],
                                    extractor=extractor, seed=3)
    images = gan.generate(64, seed=3)
    expected = frechet_distance_from_features(_pool_features(real),
                                              _pool_features(images))
    assert got["fid"] == pytest.approx(expected, rel=1e-4)
    # With an EMA copy the metrics describe that copy.
    gan.ema_generator = keras_gan_stable.dcgan_generator(8, (28, 28, 1), width=4)
    ema_images = gan.generate(64, seed=3, generator=gan.ema_generator)
    got_ema = keras_gan_stable.evaluate(gan, real, metrics=["fid"],
                                        extractor=extractor, seed=3)
    assert got_ema["fid"] == pytest.approx(frechet_distance_from_features(
        _pool_features(real), _pool_features(ema_images)), rel=1e-4)
    assert got_ema["fid"] != pytest.approx(got["fid"], rel=1e-3)
    got_raw = keras_gan_stable.evaluate(gan, real, metrics=["fid"],
                                        extractor=extractor, seed=3,
                                        use_ema=False)
    assert got_raw["fid"] == pytest.approx(got["fid"], rel=1e-6)


@pytest.mark.multibackend
def test_evaluate_explains_bad_requests(rng):
    real = np.zeros((8, 28, 28, 1), "float32")
    images = keras.Input((28, 28, 1))
    features_only = keras.Model(images, keras.layers.Flatten()(images))
    with pytest.raises(ValueError, match="Unknown metrics"):
        keras_gan_stable.evaluate(real, real, metrics=["fjd"],
                                  extractor=features_only)
    with pytest.raises(ValueError, match="class probabilities"):
        keras_gan_stable.evaluate(real, real, metrics=["is"],
                                  extractor=features_only)
    with pytest.raises(ValueError, match="real_data"):
        keras_gan_stable.evaluate(real, None, metrics=["fid"],
                                  extractor=features_only)


class _LogRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(dict(logs or {}))


def test_evaluation_callback_logs_into_history(rng):
    gan = _tiny_gan()
    gan.compile(jit_compile=False)
    real = np.tanh(rng.standard_normal((64, 28, 28, 1))).astype("float32")
    cb = Evaluation(real, metrics=["fid", "pr"], every=2, num_samples=48,
                    extractor=_pool_extractor(), seed=5)
    before, after = _LogRecorder(), _LogRecorder()
    history = gan.fit(real, batch_size=32, epochs=3, verbose=0,
                      callbacks=[before, cb, after])
    # Evaluated after epochs 2 (every=2) and 3 (the last epoch).
    assert sorted(cb.history) == [1, 2]
    assert history.history["fid"] == [cb.history[1]["fid"], cb.history[2]["fid"]]
    assert len(history.history["recall"]) == 2
    assert len(history.history["d_loss"]) == 3
    # The values are the FID of the generator's current samples.
    images = gan.generate(48, seed=5)
    final = frechet_distance_from_features(_pool_features(real),
                                           _pool_features(images))
    assert history.history["fid"][-1] == pytest.approx(final, rel=1e-4)
    # Callbacks after Evaluation (TensorBoard, CSVLogger: the `tensorboard`
    # package is not a dependency, so a recorder stands in) see the values.
    assert "fid" in after.seen[2] and "fid" not in after.seen[0]
    assert "fid" not in before.seen[2]


def test_evaluation_callback_checks_arguments():
    with pytest.raises(ValueError, match="every"):
        Evaluation(np.zeros((4, 28, 28, 1)), every=0)
    with pytest.raises(ValueError, match="num_samples"):
        Evaluation(np.zeros((4, 28, 28, 1)), num_samples=1)
