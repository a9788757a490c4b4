"""KID, Inception Score, precision/recall and mode coverage against
independent references and analytic cases (NumPy only: TensorFlow pass)."""

import itertools

import numpy as np
import pytest
import scipy.spatial.distance
import scipy.stats

from keras_gan_stable.metrics import inception_score
from keras_gan_stable.metrics import kernel_inception_distance
from keras_gan_stable.metrics import knn_radii
from keras_gan_stable.metrics import mmd2_unbiased
from keras_gan_stable.metrics import mode_coverage
from keras_gan_stable.metrics import precision_recall
from keras_gan_stable.metrics import stacked_labels


# --------------------------------------------------------------------- KID
def _loop_mmd2(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, written as plain sums."""
    d = x.shape[1]

    def k(a, b):
        return (float(np.dot(a, b)) / d + 1.0) ** 3

    m, n = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    sxy = sum(k(a, b) for a in x for b in y)
    return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2.0 * sxy / (m * n)


def test_mmd2_matches_plain_sums(rng):
    x = rng.standard_normal((17, 6))
    y = rng.standard_normal((23, 6)) * 1.3 + 0.4
    assert mmd2_unbiased(x, y) == pytest.approx(_loop_mmd2(x, y), rel=1e-12)


def test_kid_on_full_sets_equals_mmd2(rng):
    x = rng.standard_normal((30, 5))
    y = rng.standard_normal((30, 5)) + 0.5
    kid = kernel_inception_distance(x, y, num_subsets=3, subset_size=30)
    assert kid.mean == pytest.approx(_loop_mmd2(x, y), rel=1e-12)
    assert kid.std == 0.0


def test_kid_subsets_are_averaged(rng):
    x = rng.standard_normal((40, 4))
    y = rng.standard_normal((50, 4)) + 0.3
    kid = kernel_inception_distance(x, y, num_subsets=5, subset_size=10,
                                    seed=7)
    draw = np.random.default_rng(7)
    values = []
    for _ in range(5):
        xi = x[draw.choice(40, 10, replace=False)]
        yi = y[draw.choice(50, 10, replace=False)]
        values.append(_loop_mmd2(xi, yi))
    assert kid.mean == pytest.approx(np.mean(values), rel=1e-12)
    assert kid.std == pytest.approx(np.std(values, ddof=1), rel=1e-9)
    assert kid.stderr == pytest.approx(kid.std / np.sqrt(5), rel=1e-12)


def test_kid_is_unbiased_and_detects_a_shift():
    rng = np.random.default_rng(123)
    same, shifted = [], []
    for _ in range(200):
        x = rng.standard_normal((60, 8))
        y = rng.standard_normal((60, 8))
        same.append(kernel_inception_distance(x, y, num_subsets=1).mean)
        shifted.append(kernel_inception_distance(
            x, y + 0.3, num_subsets=1).mean)
    same = np.asarray(same)
    stderr = same.std(ddof=1) / np.sqrt(same.size)
    assert abs(same.mean()) < 3 * stderr
    assert (same < 0).any()  # unbiased estimates straddle zero
    shifted = np.asarray(shifted)
    assert shifted.mean() > 3 * shifted.std(ddof=1) / np.sqrt(200)


def test_kid_rejects_mismatched_features(rng):
    with pytest.raises(ValueError, match="same dimension"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="num_subsets"):
        kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 3)),
                                  num_subsets=0)


# ----------------------------------------------------------- Inception Score
def test_inception_score_of_uniform_predictions_is_one():
    p = np.full((100, 10), 0.1)
    mean, std = inception_score(p, splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_balanced_one_hot_is_num_classes():
    p = np.eye(10)[np.tile(np.arange(10), 20)]  # each split holds all classes
    mean, std = inception_score(p, splits=4)
    assert mean == pytest.approx(10.0, rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


def test_inception_score_matches_scipy_entropy(rng):
    logits = rng.standard_normal((90, 7)) * 2
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    scores = []
    for part in np.array_split(p, 3):
        py = part.mean(axis=0)
        kl = [scipy.stats.entropy(row, py) for row in part]
        scores.append(np.exp(np.mean(kl)))
    mean, std = inception_score(p, splits=3)
    assert mean == pytest.approx(np.mean(scores), rel=1e-9)
    assert std == pytest.approx(np.std(scores), rel=1e-6)


def test_inception_score_rejects_logits(rng):
    with pytest.raises(ValueError, match="softmax"):
        inception_score(rng.standard_normal((10, 3)))


# --------------------------------------------------------- precision/recall
def _clusters(rng, centers, per_cluster, scale=1.0):
    pts = [c + scale * rng.standard_normal((per_cluster, centers.shape[1]))
           for c in centers]
    return np.concatenate(pts).astype("float32")


def test_knn_radii_match_scipy(rng):
    x = rng.standard_normal((50, 4)).astype("float32")
    d = scipy.spatial.distance.cdist(x, x, "sqeuclidean")
    expected = np.sort(d, axis=1)[:, 3]  # column 0 is the point itself
    np.testing.assert_allclose(knn_radii(x, k=3, batch_size=7), expected,
                               rtol=1e-4, atol=1e-4)


def test_precision_recall_matches_brute_force(rng):
    real = rng.standard_normal((60, 3)).astype("float32")
    fake = (rng.standard_normal((45, 3)) * 1.5 + 0.5).astype("float32")

    def manifold_fraction(queries, support, k):
        dss = scipy.spatial.distance.cdist(support, support)
        radii = np.sort(dss, axis=1)[:, k]
        dqs = scipy.spatial.distance.cdist(queries, support)
        return np.mean([(row <= radii).any() for row in dqs])

    precision, recall = precision_recall(real, fake, k=3, batch_size=16)
    assert precision == pytest.approx(manifold_fraction(fake, real, 3))
    assert recall == pytest.approx(manifold_fraction(real, fake, 3))


def test_precision_recall_when_half_the_modes_are_dropped(rng):
    # Ten well-separated 2-D Gaussian modes; the fake set has five of them.
    centers = rng.standard_normal((10, 2)) * 30.0
    real = _clusters(rng, centers, 300)
    fake = _clusters(rng, centers[:5], 300)
    precision, recall = precision_recall(real, fake, k=3)
    assert 0.4 <= recall <= 0.6
    assert precision >= 0.95
    # All modes on both sides: both near 1 (k-NN balls miss a few tails).
    p_full, r_full = precision_recall(real, _clusters(rng, centers, 300))
    assert p_full >= 0.9 and r_full >= 0.9
    # A fake set far from every mode has precision 0.
    p_off, _ = precision_recall(real, fake + 1000.0)
    assert p_off == 0.0


# ------------------------------------------------------------ mode coverage
def test_mode_coverage_on_crafted_histograms():
    pred = np.repeat([0, 1, 3], [5, 5, 10])
    result = mode_coverage(pred, num_classes=4)
    assert result.modes == 3
    assert result.kl == pytest.approx(0.5 * np.log(2.0), rel=1e-12)
    # Balanced: KL 0; a single mode: KL log K.
    assert mode_coverage(np.arange(1000) % 1000, 1000) == (1000, 0.0)
    single = mode_coverage(np.full(50, 7), num_classes=1000)
    assert single.modes == 1
    assert single.kl == pytest.approx(np.log(1000.0), rel=1e-12)
    # min_count: class 1 has 2 samples.
    assert mode_coverage(np.array([0, 0, 0, 1, 1, 2]), 3,
                         min_count=3).modes == 1


def test_mode_coverage_from_probabilities_and_stacked_labels():
    probs = np.eye(3)[[0, 0, 2, 2]] * 0.8 + 0.2 / 3
    assert mode_coverage(probs) == pytest.approx((2, np.log(1.5)))
    digits = np.array(list(itertools.product(range(10), repeat=3)))
    labels = stacked_labels(digits)
    np.testing.assert_array_equal(labels, np.arange(1000))
    with pytest.raises(ValueError, match="num_classes"):
        mode_coverage(np.array([0, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        mode_coverage(np.array([0, 4]), num_classes=4)


def test_class_coverage_against_a_hand_count():
    from keras_gan_stable.metrics import class_coverage

    # 100 samples over 4 classes: 50, 30, 18, 2 -> the last (2%) is below
    # the 3% share; argmax picks the class of each row's 0.7.
    counts = [50, 30, 18, 2]
    rows = []
    for cls, count in enumerate(counts):
        row = np.full(4, 0.1)
        row[cls] = 0.7
        rows += [row] * count
    out = class_coverage(np.array(rows))
    shares = np.array(counts) / 100
    assert out["classes"] == 3 and out["num_classes"] == 4
    np.testing.assert_allclose(out["shares"], shares)
    np.testing.assert_allclose(out["kl"], np.sum(shares * np.log(shares * 4)))
    np.testing.assert_allclose(out["confidence"], 0.7)
    balanced = class_coverage(np.eye(4)[np.arange(400) % 4])
    assert balanced["classes"] == 4 and balanced["kl"] == 0.0
    with pytest.raises(ValueError, match="min_share"):
        class_coverage(np.eye(4), min_share=0.0)


def test_mixture_scores_against_a_hand_count():
    from keras_gan_stable.metrics.mode_coverage import mixture_scores

    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    std = 0.5
    # 6 samples at mode 0, 2 at mode 1, none at mode 2, 2 far off (> 3 std).
    samples = np.array([[0.1, 0.0]] * 6 + [[10.0, 1.0]] * 2
                       + [[5.0, 5.0], [20.0, 20.0]])
    out = mixture_scores(samples, centres, std)
    assert out["modes"] == 2 and out["num_modes"] == 3
    np.testing.assert_allclose(out["high_quality"], 0.8)
    p = np.array([0.75, 0.25])
    np.testing.assert_allclose(out["reverse_kl"], np.sum(p * np.log(p * 3)))
    assert mixture_scores(samples[-2:], centres, std)["reverse_kl"] == np.inf
