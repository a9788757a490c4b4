"""Streaming accumulators of feature statistics.

Features arrive batch by batch; the accumulators keep float64 running means
and centred scatter matrices (merged with Chan et al.'s pairwise update), so
the statistics of 50,000 x 2,048 features cost two 2,048 x 2,048 matrices,
not the features themselves.
"""

import numpy as np


def _as_2d_features(batch, name="features"):
    batch = np.asarray(batch)
    if batch.ndim == 1:
        batch = batch[None, :]
    if batch.ndim != 2:
        raise ValueError(
            f"`{name}` should be a 2D array [num_samples, feature_dim]. "
            f"Received shape {batch.shape}. Flatten the features first."
        )
    return batch


class FeatureStatistics:
    """Running mean and covariance of feature vectors, in float64.

    Each `update(batch)` merges the batch's own mean and centred scatter
    matrix into the running ones (Chan, Golub and LeVeque's pairwise
    update), which is as accurate as a two-pass computation and never holds
    more than one batch.

    Args:
        feature_dim: int or `None`. Size of a feature vector; taken from the
            first batch when `None`.

    >>> stats = FeatureStatistics()
    >>> for batch in batches:          # each [B, D]
    ...     stats.update(batch)
    >>> mu, sigma = stats.mean, stats.covariance

    Reference:
        Chan, Golub and LeVeque, "Algorithms for computing the sample
        variance: analysis and recommendations", The American Statistician
        1983.
    """

    def __init__(self, feature_dim=None):
        if feature_dim is not None and int(feature_dim) < 1:
            raise ValueError(
                "`feature_dim` should be a positive integer or None. "
                f"Received: `feature_dim={feature_dim}`"
            )
        self.feature_dim = None if feature_dim is None else int(feature_dim)
        self.reset()

    def reset(self):
        self.count = 0
        self._mean = None
        self._scatter = None

    def update(self, batch):
        """Adds a batch of features `[B, D]`; returns `self`."""
        x = _as_2d_features(batch).astype(np.float64, copy=False)
        n_b = x.shape[0]
        if n_b == 0:
            return self
        if self.feature_dim is None:
            self.feature_dim = x.shape[1]
        if x.shape[1] != self.feature_dim:
            raise ValueError(
                f"Feature batches must all have dimension {self.feature_dim}. "
                f"Received a batch of shape {x.shape}."
            )
        if not np.all(np.isfinite(x)):
            raise ValueError(
                "The features contain NaN or Inf values; the images or the "
                "feature extractor produced non-finite numbers."
            )
        mean_b = x.mean(axis=0)
        xc = x - mean_b
        scatter_b = xc.T @ xc                                   # [D, D]
        if self.count == 0:
            self._mean, self._scatter = mean_b, scatter_b
            self.count = n_b
            return self
        n_a = self.count
        n = n_a + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._scatter += scatter_b
        self._scatter += np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    def merge(self, other):
        """Merges another `FeatureStatistics` into this one; returns `self`."""
        if other.count == 0:
            return self
        if self.count == 0:
            self.feature_dim = other.feature_dim
            self._mean = other._mean.copy()
            self._scatter = other._scatter.copy()
            self.count = other.count
            return self
        if other.feature_dim != self.feature_dim:
            raise ValueError(
                f"Cannot merge statistics of dimension {other.feature_dim} "
                f"into statistics of dimension {self.feature_dim}."
            )
        n_a, n_b = self.count, other.count
        n = n_a + n_b
        delta = other._mean - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._scatter = (self._scatter + other._scatter
                         + np.outer(delta, delta) * (n_a * n_b / n))
        self.count = n
        return self

    @property
    def mean(self):
        """Mean feature vector `[D]` (float64)."""
        self._check_count(1)
        return self._mean.copy()

    @property
    def covariance(self):
        """Unbiased sample covariance `[D, D]` (float64, divides by N - 1)."""
        self._check_count(2)
        return self._scatter / (self.count - 1)

    def _check_count(self, needed):
        if self.count < needed:
            raise ValueError(
                f"The statistics hold {self.count} samples; at least {needed} "
                "are needed. Call `update()` with more features first."
            )

    @classmethod
    def from_features(cls, features, batch_size=4096):
        """Statistics of a whole feature array, accumulated in batches."""
        features = _as_2d_features(features)
        stats = cls(features.shape[1])
        for start in range(0, features.shape[0], batch_size):
            stats.update(features[start:start + batch_size])
        return stats


class FeatureStore:
    """Keeps feature vectors batch by batch (float32) for sample-based metrics.

    KID and precision/recall need the features themselves (subsets, nearest
    neighbours). 50,000 x 2,048 float32 features take 410 MB.

    Args:
        max_samples: int or `None`. Keep at most this many samples (later
            ones are dropped). Defaults to `None` (keep all).
    """

    def __init__(self, max_samples=None):
        if max_samples is not None and int(max_samples) < 1:
            raise ValueError(
                "`max_samples` should be a positive integer or None. "
                f"Received: `max_samples={max_samples}`"
            )
        self.max_samples = None if max_samples is None else int(max_samples)
        self.reset()

    def reset(self):
        self._batches = []
        self.count = 0

    def update(self, batch):
        x = _as_2d_features(batch).astype(np.float32, copy=False)
        if self.max_samples is not None:
            x = x[:max(0, self.max_samples - self.count)]
        if x.shape[0]:
            self._batches.append(np.array(x, copy=True))
            self.count += x.shape[0]
        return self

    def result(self):
        if not self._batches:
            raise ValueError("The store is empty; call `update()` first.")
        return np.concatenate(self._batches, axis=0)
