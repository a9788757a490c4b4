"""Kernel Inception Distance: unbiased polynomial-kernel MMD^2 over subsets."""

import collections

import numpy as np

KIDResult = collections.namedtuple("KIDResult", ["mean", "std", "stderr"])


def polynomial_kernel(x, y, degree=3, gamma=None, coef0=1.0):
    """`k(x, y) = (gamma <x, y> + coef0) ** degree`, in float64.

    `gamma` defaults to `1 / D`, the KID setting.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if gamma is None:
        gamma = 1.0 / x.shape[1]
    return (x @ y.T * gamma + coef0) ** degree


def mmd2_unbiased(x, y, degree=3, gamma=None, coef0=1.0):
    """Unbiased estimate of MMD^2 between samples `x` `[M, D]`, `y` `[N, D]`.

    `sum_{i != j} k(x_i, x_j) / (M (M - 1)) + sum_{i != j} k(y_i, y_j) /
    (N (N - 1)) - 2 sum_{i, j} k(x_i, y_j) / (M N)`: the diagonal terms are
    left out, so the estimate is zero in expectation when both samples come
    from one distribution (and can then be negative).
    """
    x = _check_features(x, "x")
    y = _check_features(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"Both samples must have the same feature dimension. Received "
            f"{x.shape[1]} and {y.shape[1]}."
        )
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(
            "The unbiased MMD^2 needs at least 2 samples on each side. "
            f"Received {m} and {n}."
        )
    k_xx = polynomial_kernel(x, x, degree, gamma, coef0)
    k_yy = polynomial_kernel(y, y, degree, gamma, coef0)
    k_xy = polynomial_kernel(x, y, degree, gamma, coef0)
    term_xx = (k_xx.sum() - np.trace(k_xx)) / (m * (m - 1))
    term_yy = (k_yy.sum() - np.trace(k_yy)) / (n * (n - 1))
    return float(term_xx + term_yy - 2.0 * k_xy.mean())


def _check_features(f, name):
    f = np.asarray(f)
    if f.ndim != 2:
        raise ValueError(
            f"`{name}` should be a 2D array [num_samples, feature_dim]. "
            f"Received shape {f.shape}."
        )
    return f


def kernel_inception_distance(real_features, fake_features, num_subsets=100,
                              subset_size=1000, degree=3, gamma=None,
                              coef0=1.0, seed=0):
    """Kernel Inception Distance (KID) between two sets of features.

    Averages the unbiased polynomial-kernel MMD^2 over `num_subsets` random
    subsets of `subset_size` real and `subset_size` generated samples (each
    drawn without replacement). Unlike FID, the estimate is unbiased: it
    does not depend on the number of samples in expectation.

    Args:
        real_features: array `[N1, D]`.
        fake_features: array `[N2, D]`.
        num_subsets: int. Number of subsets. Defaults to `100`.
        subset_size: int. Samples per side in each subset; capped at
            `min(N1, N2)`. Defaults to `1000`.
        degree: int. Kernel degree. Defaults to `3`.
        gamma: float or `None`. Kernel scale; `None` means `1 / D`.
        coef0: float. Kernel offset. Defaults to `1`.
        seed: int or `None`. Seed of the subset draws. Defaults to `0`.

    Returns:
        `KIDResult(mean, std, stderr)`: the mean over subsets (the KID), the
        standard deviation of the subset estimates (the "KID +- std" error
        bar of the paper and its reference code), and `std /
        sqrt(num_subsets)`, the standard error of the mean over subsets.

    >>> kid = kernel_inception_distance(real_feats, fake_feats)
    >>> print(f"KID {kid.mean:.4f} +- {kid.std:.4f}")

    Reference:
        Binkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs",
        ICLR 2018.
    """
    real = _check_features(real_features, "real_features")
    fake = _check_features(fake_features, "fake_features")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            "Real and generated features must have the same dimension. "
            f"Received {real.shape[1]} and {fake.shape[1]}: use one feature "
            "extractor for both."
        )
    if int(num_subsets) < 1:
        raise ValueError(
            "`num_subsets` should be a positive integer. Received: "
            f"`num_subsets={num_subsets}`"
        )
    if int(subset_size) < 2:
        raise ValueError(
            "`subset_size` should be an integer >= 2. Received: "
            f"`subset_size={subset_size}`"
        )
    m = min(int(subset_size), real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(
            "KID needs at least 2 real and 2 generated samples. Received "
            f"{real.shape[0]} and {fake.shape[0]}."
        )
    rng = np.random.default_rng(seed)
    values = np.empty(int(num_subsets), dtype=np.float64)
    for i in range(int(num_subsets)):
        if m == real.shape[0]:
            x = real
        else:
            x = real[rng.choice(real.shape[0], m, replace=False)]
        if m == fake.shape[0]:
            y = fake
        else:
            y = fake[rng.choice(fake.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(x, y, degree, gamma, coef0)
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return KIDResult(float(values.mean()), std,
                     float(std / np.sqrt(values.size)))
