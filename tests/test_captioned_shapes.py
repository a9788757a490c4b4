"""The procedural captioned data set: determinism, labels against pixels,
held-out combinations, caption variety."""

import numpy as np
import pytest

from keras_gan_stable.data.captioned_shapes import (
    COLOURS, DEFAULT_HELDOUT, POSITIONS, SHAPES, SIZES, captioned_shapes)

# Written out independently of the module's tables.
RGB = {"red": (1, 0, 0), "green": (0, 0.8, 0), "blue": (0, 0, 1),
       "yellow": (1, 1, 0), "purple": (0.6, 0, 0.8), "white": (1, 1, 1)}
COLOUR_WORDS = {"red": {"red"}, "green": {"green"}, "blue": {"blue"},
                "yellow": {"yellow"}, "purple": {"purple", "violet"},
                "white": {"white"}}
SHAPE_WORDS = {"circle": {"circle", "disc", "round"},
               "square": {"square", "box", "block"},
               "triangle": {"triangle", "wedge"}}


def test_deterministic_under_seed_and_in_range():
    a = captioned_shapes(6, seed=3)
    b = captioned_shapes(6, seed=3)
    c = captioned_shapes(6, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    for k in a[2]:
        np.testing.assert_array_equal(a[2][k], b[2][k])
    assert a[1] != c[1] or not np.array_equal(a[0], c[0])
    images = a[0]
    assert images.dtype == np.float32 and images.shape == (6, 32, 32, 3)
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert captioned_shapes(2, image_size=64)[0].shape == (2, 64, 64, 3)
    # A prefix of a longer draw is the shorter draw.
    np.testing.assert_array_equal(captioned_shapes(10, seed=3)[0][:6], images)


def test_attribute_labels_match_the_pixels():
    n = 40
    images, captions, attrs = captioned_shapes(n, seed=5, objects=1)
    rgb = (images + 1.0) / 2.0
    areas = []
    for i in range(n):
        colour = COLOURS[attrs["colour"][i]]
        # Pixels of exactly the object's colour (anti-aliased edges excluded).
        hit = np.all(np.abs(rgb[i] - np.array(RGB[colour])) < 1e-6, axis=-1)
        assert hit.sum() >= 8, (i, captions[i])
        # No other object colour is present in a one-object scene.
        for other, value in RGB.items():
            if other != colour:
                assert not np.all(np.abs(rgb[i] - np.array(value)) < 1e-6,
                                  axis=-1).any(), (i, other)
        ys, xs = np.nonzero(hit)
        cx, cy = xs.mean() / 32, ys.mean() / 32
        where = POSITIONS[attrs["position"][i]]
        if where == "left":
            assert cx < 0.4
        elif where == "right":
            assert cx > 0.6
        elif where == "top":
            assert cy < 0.42  # a triangle's centroid sits below its centre
        elif where == "bottom":
            assert cy > 0.6
        else:
            assert 0.4 < cx < 0.6 and 0.4 < cy < 0.62
        areas.append((SIZES[attrs["size"][i]], hit.sum()))
        words = set(captions[i].replace(",", " ").split())
        assert words & COLOUR_WORDS[colour], captions[i]
        assert words & SHAPE_WORDS[SHAPES[attrs["shape"][i]]], captions[i]
    small = max(a for s, a in areas if s == "small")
    large = min(a for s, a in areas if s == "large")
    assert small < large
    assert np.all(attrs["n_objects"] == 1) and np.all(attrs["shape_2"] == -1)


def test_two_object_scenes_show_both_colours():
    images, captions, attrs = captioned_shapes(12, seed=2, objects=2)
    rgb = (images + 1.0) / 2.0
    for i in range(12):
        assert attrs["position"][i] != attrs["position_2"][i]
        for key in ("colour", "colour_2"):
            value = np.array(RGB[COLOURS[attrs[key][i]]])
            assert np.all(np.abs(rgb[i] - value) < 1e-6, axis=-1).sum() >= 10


def test_heldout_combinations_only_in_heldout_split():
    held = {(COLOURS.index(c), SHAPES.index(s)) for c, s in DEFAULT_HELDOUT}
    _, _, train = captioned_shapes(300, seed=0)
    pairs = set(zip(train["colour"], train["shape"]))
    two = train["n_objects"] == 2
    pairs |= set(zip(train["colour_2"][two], train["shape_2"][two]))
    assert not pairs & held
    assert len(pairs) == len(COLOURS) * len(SHAPES) - len(held)
    _, captions, test = captioned_shapes(20, seed=0, split="heldout")
    assert set(zip(test["colour"], test["shape"])) <= held
    assert set(zip(test["colour"], test["shape"])) == held


def test_captions_vary_in_words_and_order():
    _, captions, attrs = captioned_shapes(200, seed=1)
    assert len(set(captions)) > 150
    one = [c for c, k in zip(captions, attrs["n_objects"]) if k == 1]
    assert any(c.startswith("a ") for c in one)
    leads = ("on ", "at ", "in ", "near ", "to ")
    assert any(c.startswith(leads) for c in one)
    words = set(" ".join(captions).replace(",", " ").split())
    assert {"big", "large", "little", "small"} <= words
    assert {"box", "square", "middle", "centre"} <= words


@pytest.mark.parametrize("kwargs,match", [
    (dict(n=-1), "`n`"), (dict(n=2, image_size=48), "image_size=48"),
    (dict(n=2, split="test"), "split='test'"),
    (dict(n=2, heldout=[("pink", "circle")]), "pink"),
    (dict(n=2, objects=3), "objects=3"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        captioned_shapes(**kwargs)
