"""R-precision against constructions with known answers."""

import numpy as np
import pytest

from keras_gan_stable.metrics.r_precision import (
    encoder_r_precision, r_precision)


def test_identity_features_score_one_and_constant_features_zero():
    eye = np.eye(150)
    assert r_precision(eye, eye) == 1.0
    # Cosine similarity ignores the scale of each row.
    assert r_precision(3.0 * eye, eye * np.arange(1, 151)[:, None]) == 1.0
    # Every caption alike: the true one never ranks strictly first.
    ones = np.ones((150, 4))
    assert r_precision(ones, ones) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_known_fraction_of_matching_images(seed):
    # Text features one-hot; image i points at its own caption for i in S
    # and at caption i + 1 otherwise. An image in S has similarity 1 with
    # its caption and 0 with every other: a hit. An image outside S has
    # similarity 0 with its caption, so at best a tie: a miss. R = |S| / N
    # for every candidate draw.
    n = 200
    text = np.eye(n)
    in_s = np.arange(n) % 4 != 0  # 150 of 200
    image = np.where(in_s[:, None], text, np.roll(text, -1, axis=0))
    assert r_precision(image, text, seed=seed) == 150 / 200


def test_unrelated_features_score_chance():
    # Independent Gaussian features: the true caption is exchangeable with
    # the 99 others, so each image hits with probability 1/100; over 3000
    # images the standard error is sqrt(0.01 * 0.99 / 3000) = 0.0018, and
    # 0.01 +- 0.009 is 5 of them.
    rng = np.random.default_rng(0)
    img = rng.standard_normal((3000, 16))
    txt = rng.standard_normal((3000, 16))
    assert abs(r_precision(img, txt) - 0.01) < 0.009
    # With 10 candidates chance is 1/10 (standard error 0.0055).
    assert abs(r_precision(img, txt, num_candidates=10) - 0.1) < 0.028


def test_encoder_pair_and_errors():
    rng = np.random.default_rng(1)
    images = rng.standard_normal((120, 2, 2, 3))
    # An image encoder that flattens, a text encoder returning (words,
    # sentence) whose sentence is the same flattened vector: R = 1.
    flat = images.reshape(120, -1)
    r = encoder_r_precision(
        lambda x: x.reshape(len(x), -1),
        lambda ids: (None, flat[np.asarray(ids)]),
        images, np.arange(120), batch_size=50)
    assert r == 1.0
    with pytest.raises(ValueError, match="num_candidates=100"):
        r_precision(np.eye(50), np.eye(50))
    with pytest.raises(ValueError, match="same shape"):
        r_precision(np.eye(200), np.eye(200)[:, :10])
    with pytest.raises(ValueError, match="one caption per image"):
        encoder_r_precision(lambda x: x, lambda x: x, images, np.arange(3))
