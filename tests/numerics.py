"""Tolerances derived from the arithmetic, for comparisons of float results.

A float32 result computed in a different order than its reference (another
kernel, thread count or oneDNN setting) differs by round-off. For a sum of
`k` terms the textbook bound is `k * eps * sum(|terms|)` (Higham, "Accuracy
and Stability of Numerical Algorithms", 2002, eq. 4.4); the error actually
seen is far smaller, but nothing machine-specific may be assumed about it.
A chain of stages (a convolution, then a softmax over `n` entries, then a
weighted sum...) adds the depths of its stages. The helpers below take that
depth and the magnitude of the terms, and assert within `depth * eps` of it,
so a test states *why* its tolerance is what it is.
"""

import numpy as np

EPS = {
    "float32": float(np.finfo(np.float32).eps),  # 2**-23
    "float16": 2.0 ** -10,
    "bfloat16": 2.0 ** -7,
}


def tolerance(depth, magnitude, dtype="float32"):
    """Round-off bound of a length-`depth` chain of sums of terms of size
    `magnitude` (the largest |term| or |partial sum| involved)."""
    return float(depth) * EPS[dtype] * float(magnitude)


def assert_close(actual, expected, depth, magnitude=None, dtype="float32",
                 err_msg=""):
    """`|actual - expected| <= depth * eps(dtype) * magnitude` elementwise.

    `magnitude` defaults to the largest |expected| value (at least 1, the
    scale of the unit round-off of the inputs themselves).
    """
    actual = np.asarray(actual, "float64")
    expected = np.asarray(expected, "float64")
    if magnitude is None:
        magnitude = max(float(np.max(np.abs(expected), initial=0.0)), 1.0)
    atol = tolerance(depth, magnitude, dtype)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol,
                               err_msg=err_msg or f"depth={depth}, "
                               f"magnitude={magnitude:.3g}, atol={atol:.3g}")
