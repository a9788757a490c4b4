"""Feature extractors: analytic features, saving, and the missing-weights error."""

import os

import numpy as np
import pytest
import keras

from keras_gan_stable.metrics import ClassifierExtractor
from keras_gan_stable.metrics import FeatureExtractor
from keras_gan_stable.metrics import InceptionExtractor
from keras_gan_stable.metrics import feature_classifier
from keras_gan_stable.metrics import get_extractor
from keras_gan_stable.metrics.extractors import INCEPTION_NOTOP_FILE
from keras_gan_stable.metrics.extractors import INCEPTION_WEIGHTS_ENV

def _linear_model(rng, image_shape=(8, 8, 3), dim=4, classes=3):
    images = keras.Input(image_shape)
    x = keras.layers.Flatten()(images)
    feats = keras.layers.Dense(dim, name="feat")(x)
    probs = keras.layers.Dense(classes, activation="softmax", name="probs")(feats)
    model = keras.Model(images, probs)
    w = rng.standard_normal((int(np.prod(image_shape)), dim)).astype("float32")
    b = rng.standard_normal(dim).astype("float32")
    model.get_layer("feat").set_weights([w, b])
    return model, w, b


@pytest.mark.multibackend
def test_features_of_a_linear_model_match_numpy(rng):
    model, w, b = _linear_model(rng)
    images = rng.uniform(-1, 1, (10, 8, 8, 3)).astype("float32")
    ext = FeatureExtractor(model, feature_layer="feat",
                           probability_layer="probs", batch_size=4)
    feats, probs = ext.features_and_probabilities(images)
    np.testing.assert_allclose(feats, images.reshape(10, -1) @ w + b,
                               rtol=1e-4, atol=1e-4)
    assert probs.shape == (10, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # Images are streamed in batches: same features one by one.
    np.testing.assert_allclose(
        FeatureExtractor(model, feature_layer="feat", batch_size=1)(images),
        feats, rtol=1e-5, atol=1e-5)


@pytest.mark.multibackend
def test_images_are_resized_repeated_and_scaled(rng):
    # Constant 4x4 gray images become constant 8x8 RGB images, so the
    # features are c * scale + offset times the column sums of W, plus b.
    model, w, b = _linear_model(rng)
    consts = np.array([-1.0, 0.0, 0.5], "float32")
    images = np.ones((3, 4, 4, 1), "float32") * consts[:, None, None, None]
    ext = FeatureExtractor(model, feature_layer="feat", scale=127.5,
                           offset=127.5)
    assert ext.image_size == (8, 8)
    expected = (consts * 127.5 + 127.5)[:, None] * w.sum(axis=0) + b
    np.testing.assert_allclose(ext(images), expected, rtol=1e-4, atol=1e-2)


@pytest.mark.multibackend
def test_feature_maps_are_spatially_averaged(rng):
    images = keras.Input((6, 6, 2))
    model = keras.Model(images, keras.layers.Identity()(images))
    x = rng.standard_normal((5, 6, 6, 2)).astype("float32")
    np.testing.assert_allclose(FeatureExtractor(model)(x), x.mean(axis=(1, 2)),
                               rtol=1e-5, atol=1e-6)


def test_feature_classifier_round_trips_through_keras_file(rng, tmp_path):
    model = feature_classifier((12, 12, 1), num_classes=4, width=4,
                               feature_dim=8)
    path = str(tmp_path / "clf.keras")
    model.save(path)
    images = rng.uniform(-1, 1, (6, 12, 12, 1)).astype("float32")
    a_feats, a_probs = ClassifierExtractor(model).features_and_probabilities(images)
    b_feats, b_probs = get_extractor(path).features_and_probabilities(images)
    assert a_feats.shape == (6, 8) and a_probs.shape == (6, 4)
    np.testing.assert_allclose(a_feats, b_feats, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a_probs, b_probs, rtol=1e-5, atol=1e-6)


@pytest.mark.multibackend
def test_missing_inception_weights_say_how_to_obtain_them(tmp_path, monkeypatch):
    monkeypatch.delenv(INCEPTION_WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError) as info:
        InceptionExtractor()
    msg = str(info.value)
    assert os.path.join(str(tmp_path), "models", INCEPTION_NOTOP_FILE) in msg
    assert "storage.googleapis.com/tensorflow/keras-applications" in msg
    assert INCEPTION_WEIGHTS_ENV in msg and "weights=" in msg
    missing = str(tmp_path / "nope.h5")
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, missing)
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        get_extractor("inception")


@pytest.mark.multibackend
def test_extractor_arguments_are_checked(rng):
    model, _, _ = _linear_model(rng)
    with pytest.raises(ValueError, match="no layer named 'pool'"):
        FeatureExtractor(model, feature_layer="pool")
    with pytest.raises(ValueError, match="keras.Model"):
        FeatureExtractor(lambda x: x)
    with pytest.raises(ValueError, match="extractor"):
        get_extractor(42)


@pytest.mark.slow
def test_inception_extractor_reads_local_weights(rng, tmp_path, monkeypatch):
    # No ImageNet weights here: save a randomly initialised InceptionV3 and
    # check that the extractor loads exactly those weights and feeds it
    # 299 x 299 RGB images.
    net = keras.applications.InceptionV3(weights=None, include_top=False,
                                         pooling="avg",
                                         input_shape=(299, 299, 3))
    path = str(tmp_path / "inception.weights.h5")
    net.save_weights(path)
    monkeypatch.setenv(INCEPTION_WEIGHTS_ENV, path)
    extractor = InceptionExtractor(batch_size=2)
    images = rng.uniform(-1, 1, (3, 32, 32, 1)).astype("float32")
    feats = extractor(images)
    assert feats.shape == (3, 2048)
    resized = keras.ops.image.resize(np.repeat(images, 3, axis=-1), (299, 299))
    expected = net.predict(resized, verbose=0)
    np.testing.assert_allclose(feats, expected, rtol=1e-4, atol=1e-4)
