"""Frechet distance and streaming statistics against float64 references."""

import numpy as np
import pytest
import scipy.linalg

from keras_gan_stable.metrics import FeatureStatistics
from keras_gan_stable.metrics import frechet_distance
from keras_gan_stable.metrics import frechet_distance_from_features


def _reference_fid(x, y):
    """The straightforward float64 numpy + scipy.linalg.sqrtm formula."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                 - 2.0 * np.trace(covmean))


def test_fid_matches_scipy_reference_on_gaussian_features(rng):
    d = 64
    a = rng.standard_normal((3000, d))
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    b = rng.standard_normal((2500, d)) @ mix * 1.5 + 0.3
    ours = frechet_distance_from_features(a.astype("float32"),
                                          b.astype("float32"))
    ref = _reference_fid(a.astype("float32"), b.astype("float32"))
    assert abs(ours - ref) / abs(ref) < 1e-6


def test_fid_matches_reference_when_rank_deficient(rng):
    # 50 samples in 80 dimensions: singular covariances, where sqrtm
    # leaves imaginary round-off; the real part is the reference.
    a = rng.standard_normal((50, 80))
    b = rng.standard_normal((60, 80)) * 0.5 + 1.0
    ours = frechet_distance_from_features(a, b)
    ref = _reference_fid(a, b)
    assert abs(ours - ref) / abs(ref) < 1e-6


def test_fid_of_a_set_with_itself_is_zero(rng):
    x = rng.standard_normal((2000, 128)) * rng.uniform(0.1, 3.0, size=128)
    value = frechet_distance_from_features(x, x)
    assert -1e-6 <= value < 1e-6


def test_fid_closed_form_for_diagonal_gaussians():
    # For diagonal covariances, d^2 = |mu1 - mu2|^2 + sum (s1 - s2)^2 with
    # s the standard deviations.
    mu1 = np.array([0.0, 1.0, -2.0, 3.0])
    mu2 = np.array([1.0, 1.0, 0.5, -1.0])
    var1 = np.array([1.0, 4.0, 0.25, 9.0])
    var2 = np.array([2.0, 1.0, 0.25, 16.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(
        (np.sqrt(var1) - np.sqrt(var2)) ** 2)
    value = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_fid_is_rotation_invariant(rng):
    # A common rotation of both distributions leaves the distance unchanged.
    d = 10
    a = rng.standard_normal((400, d))
    b = rng.standard_normal((400, d)) * 2.0 + 1.0
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    assert frechet_distance_from_features(a @ q, b @ q) == pytest.approx(
        frechet_distance_from_features(a, b), rel=1e-9)


def test_streaming_statistics_match_numpy(rng):
    x = rng.standard_normal((1037, 16)) * 3.0 + 1e3  # large offset
    stats = FeatureStatistics()
    for start in range(0, 1037, 100):
        stats.update(x[start:start + 100])
    np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False),
                               rtol=1e-9, atol=1e-9)
    other = FeatureStatistics().update(x[:500])
    other.merge(FeatureStatistics().update(x[500:]))
    np.testing.assert_allclose(other.covariance, np.cov(x, rowvar=False),
                               rtol=1e-9, atol=1e-9)


def test_statistics_and_fid_reject_bad_input(rng):
    stats = FeatureStatistics(4)
    with pytest.raises(ValueError, match="dimension 4"):
        stats.update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="at least 2"):
        FeatureStatistics().update(np.zeros((1, 3))).covariance
    with pytest.raises(ValueError, match="NaN"):
        stats.update(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="same feature dimension"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match=r"\[D, D\]"):
        frechet_distance(np.zeros(3), np.eye(4), np.zeros(3), np.eye(3))
