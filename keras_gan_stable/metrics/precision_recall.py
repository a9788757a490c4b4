"""Improved precision and recall of generative models (k-NN manifolds)."""

import numpy as np


def _squared_distances(a, b, b_sq):
    a_sq = np.einsum("ij,ij->i", a, a)[:, None]                # [Na, 1]
    d = a_sq - 2.0 * (a @ b.T) + b_sq[None, :]                 # [Na, Nb]
    return np.maximum(d, 0.0)


def knn_radii(features, k=3, batch_size=1024):
    """Squared distance of each sample to its k-th nearest other sample."""
    f = np.asarray(features, dtype=np.float32)
    if f.shape[0] <= k:
        raise ValueError(
            f"k-NN radii with k={k} need more than {k} samples. Received "
            f"{f.shape[0]}."
        )
    sq = np.einsum("ij,ij->i", f, f)
    radii = np.empty(f.shape[0], dtype=np.float32)
    for start in range(0, f.shape[0], batch_size):
        d = _squared_distances(f[start:start + batch_size], f, sq)
        # Index k of the sorted row skips the sample itself (distance 0).
        radii[start:start + batch_size] = np.partition(d, k, axis=1)[:, k]
    return radii


def _coverage(queries, support, support_radii, batch_size):
    sq = np.einsum("ij,ij->i", support, support)
    inside = np.empty(queries.shape[0], dtype=bool)
    for start in range(0, queries.shape[0], batch_size):
        d = _squared_distances(queries[start:start + batch_size], support, sq)
        inside[start:start + batch_size] = np.any(
            d <= support_radii[None, :], axis=1)
    return float(inside.mean())


def precision_recall(real_features, fake_features, k=3, batch_size=1024):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls centred on its samples, with
    radius the distance to the sample's k-th nearest neighbour in the same
    set. Precision is the fraction of generated samples inside the real
    manifold (quality); recall is the fraction of real samples inside the
    generated manifold (coverage).

    Args:
        real_features: array `[N1, D]`.
        fake_features: array `[N2, D]`.
        k: int. Neighbourhood size. Defaults to `3` (the paper's choice).
        batch_size: int. Rows of the distance matrix computed at once.

    Returns:
        `(precision, recall)`, floats in [0, 1].

    Reference:
        Kynkaanniemi, Karras, Laine, Lehtinen and Aila, "Improved Precision
        and Recall Metric for Assessing Generative Models", NeurIPS 2019.
    """
    real = np.asarray(real_features, dtype=np.float32)
    fake = np.asarray(fake_features, dtype=np.float32)
    for name, f in (("real_features", real), ("fake_features", fake)):
        if f.ndim != 2:
            raise ValueError(
                f"`{name}` should be a 2D array [num_samples, feature_dim]. "
                f"Received shape {f.shape}."
            )
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            "Real and generated features must have the same dimension. "
            f"Received {real.shape[1]} and {fake.shape[1]}."
        )
    if isinstance(k, bool) or int(k) != k or k < 1:
        raise ValueError(f"`k` should be a positive integer. Received: `k={k}`")
    k = int(k)
    real_radii = knn_radii(real, k, batch_size)
    fake_radii = knn_radii(fake, k, batch_size)
    precision = _coverage(fake, real, real_radii, batch_size)
    recall = _coverage(real, fake, fake_radii, batch_size)
    return precision, recall
