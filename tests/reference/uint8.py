"""Comparing uint8 images made by different runtimes from the same floats."""

import numpy as np


def assert_uint8_match(out, ref_float, float_tol):
    """`out` equals `round((ref + 1) * 127.5)` except where rounding is moot.

    Two runtimes sum a convolution's terms in different orders, so their
    float outputs may differ by `float_tol` (in [-1, 1] units). A pixel whose
    value `(ref + 1) * 127.5` lies within `127.5 * float_tol` of a rounding
    boundary (x.5) may then round either way and is allowed to differ by 1;
    every other pixel must be identical. Returns the number of pixels that
    differ (0 when the runtimes agree bit for bit).
    """
    out = np.asarray(out)
    assert out.dtype == np.uint8, out.dtype
    ref_float = np.asarray(ref_float, "float32")
    assert out.shape == ref_float.shape, (out.shape, ref_float.shape)
    scaled = (ref_float.astype("float64") + 1.0) * 127.5
    expected = np.clip(np.round(scaled), 0, 255).astype(int)
    near = np.abs(scaled - np.floor(scaled) - 0.5) <= 127.5 * float_tol
    diff = np.abs(out.astype(int) - expected)
    bad = (diff > 0) & ~near
    assert not bad.any(), (
        f"{int(bad.sum())} pixels differ away from a rounding boundary "
        f"(max difference {int(diff.max())})")
    assert diff.max(initial=0) <= 1
    return int((diff > 0).sum())
