"""ADA's geometric transforms: the bilinear affine warp on known maps."""

import numpy as np
import pytest

from keras import ops

from keras_gan_stable.augment_geometric import GeometricAdaptiveAugment
from keras_gan_stable.augment_geometric import affine_warp


def np_(x):
    return np.asarray(ops.convert_to_numpy(x))


def mats(rows, n):
    return np.repeat(np.asarray(rows, "float32")[None], n, axis=0)


@pytest.mark.multibackend
def test_affine_warp_known_maps():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 6, 6, 3)).astype("float32")
    ident = np_(affine_warp(x, mats([[1, 0, 0], [0, 1, 0]], 2)))
    np.testing.assert_array_equal(ident, x)
    # Source (y, x) = (-x_out, y_out) about the centre: a clockwise turn.
    rot = np_(affine_warp(x, mats([[0, -1, 0], [1, 0, 0]], 2)))
    np.testing.assert_allclose(rot, np.rot90(x, -1, axes=(1, 2)), atol=1e-6)
    # One pixel down with reflection at the top border.
    down = np_(affine_warp(x, mats([[1, 0, -1], [0, 1, 0]], 2)))
    np.testing.assert_allclose(down[:, 1:], x[:, :-1], atol=1e-6)
    np.testing.assert_allclose(down[:, 0], x[:, 1], atol=1e-6)
    # Half a pixel right: the mean of horizontal neighbours (interior).
    half = np_(affine_warp(x, mats([[1, 0, 0], [0, 1, -0.5]], 2)))
    np.testing.assert_allclose(half[:, :, 1:], 0.5 * (x[:, :, 1:] + x[:, :, :-1]),
                               atol=1e-6)


def test_geometric_ada_identity_at_p0_and_config():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (4, 8, 8, 3)).astype("float32")
    ada = GeometricAdaptiveAugment(initial_p=0.0, seed=0)
    np.testing.assert_allclose(np_(ada(x)), x, atol=1e-6)
    full = GeometricAdaptiveAugment(initial_p=1.0, seed=0,
                                    transforms="xflip", geometric="scale,rotate")
    y = np_(full(x))
    assert y.shape == x.shape and np.abs(y - x).max() > 0.1
    clone = GeometricAdaptiveAugment.from_config(full.get_config())
    assert clone.geometric == "scale,rotate" and clone.transforms == "xflip"
    with pytest.raises(ValueError, match="geometric"):
        GeometricAdaptiveAugment(geometric="shear")
