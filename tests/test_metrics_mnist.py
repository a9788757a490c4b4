"""The library's feature classifier on real MNIST digits (TensorFlow, slow)."""

import numpy as np
import pytest
import keras

import keras_gan_stable
from keras_gan_stable.metrics import ClassifierExtractor


@pytest.mark.slow
def test_feature_classifier_on_mnist_halves(mnist_test_set, tmp_path):
    images, labels = mnist_test_set
    order = np.random.default_rng(0).permutation(images.shape[0])
    a, b = order[:5000], order[5000:]
    path = str(tmp_path / "mnist_features.keras")
    clf = keras_gan_stable.train_feature_classifier(
        images[a], labels[a], width=16, epochs=8, batch_size=64, seed=0,
        save_path=path)
    extractor = ClassifierExtractor(path)  # the saved model, reloaded
    feats_b, probs_b = extractor.features_and_probabilities(images[b])
    accuracy = np.mean(probs_b.argmax(axis=1) == labels[b])
    assert accuracy >= 0.97, accuracy
    np.testing.assert_allclose(
        probs_b[:64], clf.predict(images[b][:64], verbose=0), atol=1e-5)

    # Frechet distance in the classifier's feature space: two halves of the
    # real data are close; a generator of pure noise is far away.
    z_dim = 28 * 28
    z = keras.Input((z_dim,))
    noise_generator = keras.Model(z, keras.layers.Reshape((28, 28, 1))(
        keras.layers.Activation("tanh")(z)))
    real_b = (images[b], labels[b])
    both = keras_gan_stable.evaluate(
        images[a], real_b, metrics=["fid", "pr", "modes"],
        extractor=extractor)
    noise = keras_gan_stable.evaluate(
        noise_generator, real_b, metrics=["fid", "pr", "modes"],
        extractor=extractor, num_samples=2000)
    print(f"accuracy {accuracy:.4f}; halves {both}; noise {noise}")
    assert both["fid"] * 50 < noise["fid"], (both["fid"], noise["fid"])
    # Same distribution: k-NN manifolds (k = 3) cover most, not all, samples.
    assert both["precision"] > 0.8 and both["recall"] > 0.8
    assert noise["precision"] < 0.05 and noise["recall"] < 0.05
    assert both["modes"] == 10 and both["modes_kl"] < 0.01
