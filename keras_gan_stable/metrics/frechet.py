"""Frechet distance between Gaussians fitted to features (FID)."""

import numpy as np

from keras_gan_stable.metrics.streaming import FeatureStatistics


def _check_stats(mu, sigma, name):
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(
            f"`{name}` mean should be a vector [D]. Received shape {mu.shape}."
        )
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"`{name}` covariance should be [D, D] = "
            f"{(mu.shape[0], mu.shape[0])} to match its mean. Received shape "
            f"{sigma.shape}."
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"`{name}` statistics contain NaN or Inf values.")
    return mu, sigma


def trace_sqrt_product(sigma1, sigma2):
    """`trace(sqrtm(sigma1 @ sigma2))` for symmetric PSD matrices, in float64.

    `S1 @ S2` is not symmetric, but it is similar to a symmetric PSD matrix
    with the same eigenvalues, so the trace of its square root is the sum of
    the square roots of that matrix's eigenvalues. With the Cholesky factor
    `S1 = L L^T`, `L^-1 (S1 S2) L = L^T S2 L`; when `S1` is singular (fewer
    samples than dimensions) `S1 = U diag(w) U^T` gives
    `diag(sqrt(w)) U^T S2 U diag(sqrt(w))` instead. Either way one symmetric
    eigenvalue problem replaces the Schur-based `scipy.linalg.sqrtm` of a
    general matrix: several times faster, real-valued throughout, and
    without the imaginary round-off that `sqrtm` leaves on near-singular
    products. Eigenvalues that round-off pushes below zero are clipped.
    """
    sigma1 = np.asarray(sigma1, dtype=np.float64)
    sigma2 = 0.5 * (np.asarray(sigma2, dtype=np.float64) + np.transpose(sigma2))
    sigma1 = 0.5 * (sigma1 + sigma1.T)
    try:
        chol = np.linalg.cholesky(sigma1)                     # [D, D]
        m = chol.T @ sigma2 @ chol
    except np.linalg.LinAlgError:
        w, u = np.linalg.eigh(sigma1)
        root_w = np.sqrt(np.clip(w, 0.0, None))               # [D]
        m = u.T @ sigma2 @ u
        m *= root_w[:, None]
        m *= root_w[None, :]
    m = 0.5 * (m + m.T)
    eig = np.linalg.eigvalsh(m)
    return float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Frechet (2-Wasserstein) distance between two Gaussians.

    `d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrt(S1 S2))`, computed
    in float64. With Inception pool features this is the FID; with the
    features of any other network it is that network's Frechet distance
    (only values from the same extractor are comparable).

    Args:
        mu1: array `[D]`. Mean of the first set of features.
        sigma1: array `[D, D]`. Covariance of the first set.
        mu2: array `[D]`. Mean of the second set.
        sigma2: array `[D, D]`. Covariance of the second set.

    Returns:
        float. The squared Frechet distance (never negative by more than
        round-off).

    >>> stats_a = FeatureStatistics.from_features(real_features)
    >>> stats_b = FeatureStatistics.from_features(fake_features)
    >>> frechet_distance(stats_a.mean, stats_a.covariance,
    ...                  stats_b.mean, stats_b.covariance)

    Reference:
        Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge
        to a Local Nash Equilibrium", NeurIPS 2017; Dowson and Landau, "The
        Frechet distance between multivariate normal distributions", J.
        Multivariate Analysis 1982.
    """
    mu1, sigma1 = _check_stats(mu1, sigma1, "first")
    mu2, sigma2 = _check_stats(mu2, sigma2, "second")
    if mu1.shape != mu2.shape:
        raise ValueError(
            "Both sets of statistics must have the same feature dimension. "
            f"Received {mu1.shape[0]} and {mu2.shape[0]}: use the same "
            "feature extractor for both."
        )
    diff = mu1 - mu2
    tr_covmean = trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * tr_covmean)


def frechet_distance_from_features(features1, features2, batch_size=4096):
    """Frechet distance between two feature arrays `[N1, D]` and `[N2, D]`.

    Also accepts `FeatureStatistics` objects in place of either array.
    """
    stats = []
    for f in (features1, features2):
        if not isinstance(f, FeatureStatistics):
            f = FeatureStatistics.from_features(f, batch_size=batch_size)
        stats.append(f)
    return frechet_distance(stats[0].mean, stats[0].covariance,
                            stats[1].mean, stats[1].covariance)
