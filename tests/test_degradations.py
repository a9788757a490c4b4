"""Pair makers for super-resolution, inpainting and denoising.

References: Pillow's own bicubic resize (float 'F' images, computed in
double precision) for the downsampling; block means for the box kernel;
the geometry of the masks; the moments of the noise distributions with
tolerances of 5 standard errors of the estimate (stated at each check).
"""

import numpy as np
import pytest

from keras_gan_stable.data import degradations as deg

tf = pytest.importorskip("tensorflow")


def _pil_resize(x, size):
    from PIL import Image

    n, _, _, c = x.shape
    return np.stack([np.stack([
        np.asarray(Image.fromarray(x[i, :, :, k], "F").resize(
            size, Image.BICUBIC)) for k in range(c)], -1) for i in range(n)])


@pytest.mark.parametrize("scale", [2, 4])
def test_super_resolution_matches_pillow_bicubic(scale):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (3, 16, 8, 3)).astype("float32")
    low, high = deg.super_resolution(scale)(x)
    assert low.shape == (3, 16 // scale, 8 // scale, 3)
    np.testing.assert_array_equal(high, x)
    ref = _pil_resize(x, (8 // scale, 16 // scale))
    # Both sides sum <= 16 taps in double precision, then round to float32.
    np.testing.assert_allclose(low, ref, atol=1e-6)
    # The tf.data path gives the same values (float32 einsum).
    ds = tf.data.Dataset.from_tensor_slices(x).map(deg.super_resolution(scale))
    low_tf = np.stack([a.numpy() for a, _ in ds])
    np.testing.assert_allclose(low_tf, ref, atol=1e-5)
    # One image in, one out.
    assert deg.super_resolution(scale)(x[0])[0].shape == low.shape[1:]


def test_box_kernel_is_the_block_mean_and_bicubic_upsampling_matches_pillow():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 8, 8, 1)).astype("float32")
    low, _ = deg.super_resolution(4, kernel="box")(x)
    block = x.reshape(2, 2, 4, 2, 4, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(low, block, atol=1e-6)
    m = deg.resize_matrix(4, 16)
    img = rng.uniform(size=(4, 4)).astype("float32")
    np.testing.assert_allclose(m @ img @ m.T,
                               _pil_resize(img[None, :, :, None],
                                           (16, 16))[0, :, :, 0], atol=1e-6)


def test_scale_that_does_not_divide_the_size_is_one_clear_error():
    x = np.zeros((1, 30, 32, 3), "float32")
    with pytest.raises(ValueError, match=r"height 30 is not a multiple of "
                                         r"the scale"):
        deg.super_resolution(4)(x)
    with pytest.raises(ValueError, match="scale=3"):
        deg.super_resolution(3)
    with pytest.raises(ValueError, match="uint8"):
        deg.super_resolution(2)(np.zeros((1, 8, 8, 3), "uint8"))


def test_inpainting_box_mask_geometry_and_fill():
    rng = np.random.default_rng(2)
    x = rng.uniform(0.1, 1, (2, 32, 32, 3)).astype("float32")
    inputs, targets = deg.inpainting("box", hole_size=16)(x)
    assert inputs.shape == (2, 32, 32, 4)
    np.testing.assert_array_equal(targets, x)
    mask = inputs[..., 3]
    expected = np.zeros((32, 32))
    expected[8:24, 8:24] = 1.0
    np.testing.assert_array_equal(mask, np.broadcast_to(expected, mask.shape))
    np.testing.assert_array_equal(inputs[..., :3][mask == 1], 0.0)
    np.testing.assert_array_equal(inputs[..., :3][mask == 0], x[mask == 0])
    # Random position: always the full 6x10 box, inside the image.
    inputs, _ = deg.inpainting("box", hole_size=(6, 10), position="random",
                               seed=0)(np.zeros((50, 16, 16, 1), "float32"))
    m = inputs[..., 1]
    assert (m.sum(axis=(1, 2)) == 60).all()
    rows, cols = m.any(axis=2).sum(1), m.any(axis=1).sum(1)
    assert (rows == 6).all() and (cols == 10).all()
    assert len({tuple(np.argwhere(a)[0]) for a in m}) > 10  # positions vary


def test_free_form_masks_are_binary_strokes_and_deterministic():
    x = np.zeros((64, 32, 32, 3), "float32")
    a, _ = deg.inpainting("free_form", seed=5)(x)
    b, _ = deg.inpainting("free_form", seed=5)(x)
    c, _ = deg.inpainting("free_form", seed=6)(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    m = a[..., 3]
    assert set(np.unique(m)) <= {0.0, 1.0}
    coverage = m.mean(axis=(1, 2))
    # Every mask has a stroke and leaves most of the image: each stroke is
    # at most 5 segments of length <= 32/3 and width <= 32/8 px.
    assert (coverage > 0).all()
    assert coverage.max() < 4 * 5 * (32 / 3 + 4) * 4 / 32 ** 2
    assert 0.02 < coverage.mean() < 0.5


def test_masks_given_by_the_user_and_mismatched_masks():
    x = np.ones((2, 8, 8, 3), "float32")
    m = np.zeros((8, 8), "float32")
    m[2:4, 2:4] = 1
    inputs, _ = deg.inpainting()(x, masks=m)
    np.testing.assert_array_equal(inputs[..., 3], np.broadcast_to(m, (2, 8, 8)))
    with pytest.raises(ValueError, match=r"masks \(shape \(8, 6, 1\)\) do not "
                                         r"match the images"):
        deg.inpainting()(x, masks=np.zeros((8, 6, 1)))
    with pytest.raises(ValueError, match="do not match"):
        deg.inpainting()(x, masks=np.zeros((3, 8, 8, 1)))
    with pytest.raises(ValueError, match="inpainting argument"):
        deg.denoising()(x, masks=m)


def test_gaussian_noise_statistics_numpy_and_tf():
    n = 64 * 16 * 16 * 3
    x = np.zeros((64, 16, 16, 3), "float32")
    noisy, clean = deg.denoising("gaussian", sigma=0.1, seed=0)(x)
    r = (noisy - clean).ravel()
    # sigma 0.1 on [0, 1] is 0.2 in [-1, 1]; clipping at 5 sigma is nil.
    # SE of the mean 0.2/sqrt(n), of the std 0.2/sqrt(2n); 5 SE each.
    assert abs(r.mean()) < 5 * 0.2 / np.sqrt(n)
    assert abs(r.std() - 0.2) < 5 * 0.2 / np.sqrt(2 * n)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(16).map(
        deg.denoising("gaussian", sigma=0.1, seed=0))
    r_tf = np.concatenate([a.numpy() for a, _ in ds]).ravel()
    assert abs(r_tf.mean()) < 5 * 0.2 / np.sqrt(n)
    assert abs(r_tf.std() - 0.2) < 5 * 0.2 / np.sqrt(2 * n)


def test_poisson_and_salt_pepper_statistics():
    n = 64 * 16 * 16
    x = np.zeros((64, 16, 16, 1), "float32")            # 0.5 on [0, 1]
    noisy, _ = deg.denoising("poisson", sigma=0.1, seed=0)(x)
    y01 = (noisy.ravel() + 1) / 2
    # counts ~ Poisson(50) / 100: mean 0.5, std sqrt(50)/100; 5 SE.
    std = np.sqrt(50) / 100
    assert abs(y01.mean() - 0.5) < 5 * std / np.sqrt(n)
    assert abs(y01.std() - std) < 5 * std / np.sqrt(2 * n)
    np.testing.assert_allclose(y01 * 100, np.round(y01 * 100), atol=1e-4)
    x3 = np.zeros((64, 16, 16, 3), "float32")
    noisy, _ = deg.denoising("salt_pepper", sigma=0.2, seed=0)(x3)
    hit = noisy[..., 0] != 0
    # All channels of a pixel are hit together, to -1 or +1.
    np.testing.assert_array_equal(noisy[..., 1], noisy[..., 0])
    assert set(np.unique(noisy)) <= {-1.0, 0.0, 1.0}
    # Binomial fractions: SE sqrt(p (1 - p) / n); 5 SE.
    assert abs(hit.mean() - 0.2) < 5 * np.sqrt(0.2 * 0.8 / n)
    salt = (noisy[..., 0] == 1).sum() / hit.sum()
    assert abs(salt - 0.5) < 5 * np.sqrt(0.25 / hit.sum())


def test_noise_is_deterministic_under_a_seed_numpy_and_tf_data():
    x = np.random.default_rng(0).uniform(-1, 1, (8, 8, 8, 1)).astype("float32")
    for noise in ("gaussian", "poisson", "salt_pepper"):
        a = deg.denoising(noise, sigma=0.1, seed=3)
        b = deg.denoising(noise, sigma=0.1, seed=3)
        first = a(x)[0]
        np.testing.assert_array_equal(first, b(x)[0])
        assert not np.array_equal(first, a(x)[0])  # the stream advances
        assert not np.array_equal(
            first, deg.denoising(noise, sigma=0.1, seed=4)(x)[0])

    def run(seed, task):
        ds = tf.data.Dataset.from_tensor_slices(x).map(task(seed))
        return np.stack([a.numpy() for a, _ in ds])

    for task in (lambda s: deg.denoising(seed=s),
                 lambda s: deg.inpainting("free_form", seed=s)):
        np.testing.assert_array_equal(run(1, task), run(1, task))
        assert not np.array_equal(run(1, task), run(2, task))


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma"):
        deg.denoising(sigma=0)
    with pytest.raises(ValueError, match="noise"):
        deg.denoising(noise="speckle")
    with pytest.raises(ValueError, match="mask"):
        deg.inpainting(mask="circle")
    with pytest.raises(ValueError, match="Unknown image-to-image task"):
        deg.get("colorize")
    assert deg.get("sr4").config["scale"] == 4
    with pytest.raises(ValueError, match=r"\[H, W, C\] or \[N, H, W, C\]"):
        deg.denoising()(np.zeros((4, 4), "float32"))
