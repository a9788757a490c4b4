"""Attribute accuracy: the slot reading against hand-made logits, real
images against the classifier's own accuracy, and recoloured images."""

import numpy as np
import pytest

from keras_gan_stable.data.captioned_shapes import (
    COLOUR_RGB, COLOURS, captioned_shapes)
from keras_gan_stable.metrics.attributes import (
    attribute_accuracy, read_attributes, slot_labels,
    train_attribute_classifier)


def _down(x):
    """32 px -> 16 px by 2 x 2 means (keeps the tests fast)."""
    return x.reshape(len(x), 16, 2, 16, 2, 3).mean((2, 4))


def _recolour(images, shift):
    """Every object pixel of colour c becomes colour c + shift (cyclic).

    Needs hard edges (antialias=1): object pixels then hold exactly their
    colour's value; no background colour equals an object colour.
    """
    out = images.copy()
    for i, name in enumerate(COLOURS):
        src = np.asarray(COLOUR_RGB[name], "float32") * 2 - 1
        dst = np.asarray(COLOUR_RGB[COLOURS[(i + shift) % len(COLOURS)]],
                         "float32") * 2 - 1
        mask = np.all(np.abs(images - src) < 1e-6, axis=-1)
        out[mask] = dst
    return out


class _Logits:
    """A stand-in classifier returning fixed logits (known answers)."""

    input_shape = (None, 16, 16, 3)

    def __init__(self, colour, shape, size):
        self.out = {"colour": colour, "shape": shape, "size": size}

    def __call__(self, images, training=False):
        return {k: v[:len(images)] for k, v in self.out.items()}


def test_slot_reading_known_answers():
    # Scene 0: one object (read where occupancy is highest, whatever its
    # caption says). Scene 1: two objects, read at the caption's places.
    # Scene 2: the caption puts the second object at the top, the image has
    # it on the right.
    colour = np.full((3, 5, 7), -5.0)
    shape = np.zeros((3, 5, 4))
    size = np.zeros((3, 5, 3))
    colour[:, :, 6] = 5.0  # every place "empty" unless set below
    colour[0, 3, 2] = 9.0  # blue object at the bottom
    shape[0, 3, 1] = 3.0
    size[0, 3, 0] = 3.0
    for s in (1, 2):
        colour[s, 0, 0] = 9.0  # red at the left
        shape[s, 0, 2] = 3.0
        size[s, 0, 1] = 3.0
        colour[s, 1, 3] = 8.0  # yellow at the right
        shape[s, 1, 3] = 3.0  # the shape head reads "empty" -> -1
        size[s, 1, 0] = 3.0
    clf = _Logits(colour, shape, size)
    read = read_attributes(clf, np.zeros((3, 16, 16, 3)), [1, 2, 2],
                           positions=[[4, -1], [0, 1], [0, 2]])
    np.testing.assert_array_equal(read["colour"], [[2, -1], [0, 3], [0, -1]])
    np.testing.assert_array_equal(read["shape"], [[1, -1], [2, -1], [2, -1]])
    np.testing.assert_array_equal(read["size"], [[0, -1], [1, 0], [1, -1]])
    # Scene 0's object is at the bottom (3); scene 2's captioned top (2) is
    # not among the two most occupied places.
    np.testing.assert_array_equal(read["position"],
                                  [[3, -1], [0, 1], [0, -1]])
    attrs = {"n_objects": np.array([1, 2, 2]), "colour": np.array([2, 0, 0]),
             "shape": np.array([1, 2, 2]), "size": np.array([0, 1, 1]),
             "position": np.array([4, 0, 0]),
             "colour_2": np.array([-1, 3, 3]),
             "shape_2": np.array([-1, 0, 0]), "size_2": np.array([-1, 0, 0]),
             "position_2": np.array([-1, 1, 2])}
    scores = attribute_accuracy(lambda c: np.zeros((len(c), 16, 16, 3)),
                                ["a", "b", "c"], attrs, clf,
                                heldout=[("red", "triangle")])
    # Objects: s0 (all right but place), s1 a (all right), s1 b (shape
    # wrong), s2 a (all right), s2 b (all wrong).
    assert scores["all"] == {"count": 5, "colour": 4 / 5, "shape": 3 / 5,
                             "size": 4 / 5, "position": 3 / 5}
    assert scores["single_object"] == {"count": 1, "colour": 1.0,
                                       "shape": 1.0, "size": 1.0,
                                       "position": 0.0}
    assert scores["single_object_seen"] == scores["single_object"]
    assert scores["two_objects"]["count"] == 4
    assert scores["heldout"] == {"count": 2, "colour": 1.0, "shape": 1.0,
                                 "size": 1.0, "position": 1.0}
    # With scene 0's blue square held out, no single object is seen.
    held = attribute_accuracy(lambda c: np.zeros((len(c), 16, 16, 3)),
                              ["a", "b", "c"], attrs, clf,
                              heldout=[("blue", "square")])
    assert held["single_object"] == scores["single_object"]
    assert held["single_object_seen"]["count"] == 0
    assert np.isnan(held["single_object_seen"]["shape"])
    assert held["heldout"] == {"count": 1, "colour": 1.0, "shape": 1.0,
                               "size": 1.0, "position": 0.0}
    with pytest.raises(ValueError, match="3 images or captions"):
        attribute_accuracy(lambda c: c, ["a", "b", "c"],
                           {k: v[:1] for k, v in attrs.items()}, clf)
    with pytest.raises(ValueError, match="returned 1 images for 3"):
        attribute_accuracy(lambda c: np.zeros((1, 16, 16, 3)),
                           ["a", "b", "c"], attrs, clf)


def test_slot_labels_place_each_object_at_its_position():
    _, _, attrs = captioned_shapes(6, seed=3)
    labels = slot_labels(attrs)
    for i in range(6):
        for suffix in ("", "_2"):
            pos = attrs["position" + suffix][i]
            if pos >= 0:
                assert labels["colour"][i, pos] == attrs["colour" + suffix][i]
                assert labels["shape"][i, pos] == attrs["shape" + suffix][i]
        occupied = (labels["colour"][i] != 6).sum()
        assert occupied == attrs["n_objects"][i]


@pytest.fixture(scope="module")
def trained():
    # The judge sees every combination (heldout=()); the models it judges
    # do not.
    x, _, attrs = captioned_shapes(400, seed=1, antialias=1, heldout=())
    clf = train_attribute_classifier(_down(x), attrs, epochs=20, seed=0)
    # Test scenes: the training split and the held-out combinations.
    xa, ca, aa = captioned_shapes(120, seed=2, antialias=1)
    xb, cb, ab = captioned_shapes(40, seed=2, split="heldout", antialias=1)
    attrs = {k: np.concatenate([aa[k], ab[k]]) for k in aa}
    return clf, np.concatenate([xa, xb]), ca + cb, attrs


def _serve(images, captions):
    """A generator function returning the given images for the captions,
    checking it is called with the captions in order."""
    state = {"at": 0}

    def fn(batch):
        lo = state["at"]
        assert list(batch) == captions[lo:lo + len(batch)]
        state["at"] = lo + len(batch)
        return images[lo:lo + len(batch)]
    return fn


def test_real_images_score_the_classifiers_own_accuracy(trained):
    clf, x, captions, attrs = trained
    images = _down(x)
    scores = attribute_accuracy(_serve(images, captions), captions, attrs,
                                clf, batch_size=50)
    # The classifier's own accuracy: argmax of each head at the true place
    # of every object, against the slot targets (a place whose colour head
    # reads "empty" holds no object, so nothing read there is right).
    out = {k: np.asarray(v) for k, v in clf.predict(images, verbose=0).items()}
    target = slot_labels(attrs)
    two = attrs["n_objects"] == 2
    for key in ("colour", "shape", "size"):
        pred = out[key].argmax(-1)
        hits = []
        for suffix in ("", "_2"):
            pos = attrs["position" + suffix]
            rows = np.flatnonzero(two & (pos >= 0))
            there = out["colour"].argmax(-1)[rows, pos[rows]] != 6
            hits.append(there & (pred[rows, pos[rows]]
                                 == target[key][rows, pos[rows]]))
        own = np.concatenate(hits).mean()
        # Two-object scenes are read at the caption's places: the same
        # inputs and argmaxes, so the same number.
        assert scores["two_objects"][key] == pytest.approx(own, abs=1e-12)
    single = scores["single_object"]
    assert single["count"] == int((attrs["n_objects"] == 1).sum())
    assert scores["heldout"]["count"] == 40
    # The classifier reads colour and place almost perfectly, so the
    # single-object reading (at the most occupied place) is at the true one.
    assert single["colour"] >= 0.9 and single["position"] >= 0.95
    assert scores["heldout"]["colour"] >= 0.9


def test_recoloured_images_score_zero_for_colour(trained):
    clf, x, captions, attrs = trained
    real = attribute_accuracy(_serve(_down(x), captions), captions, attrs,
                              clf)
    swapped = attribute_accuracy(
        _serve(_down(_recolour(x, 1)), captions), captions, attrs, clf)
    # Every object now has another colour than its caption says: a reader
    # that reads colour right (accuracy a >= 0.9 on the real images) scores
    # about 1 - a or less.
    for group in ("all", "single_object", "heldout"):
        assert real[group]["colour"] >= 0.9
        assert swapped[group]["colour"] <= 0.1
    # Place does not depend on colour.
    assert swapped["single_object"]["position"] >= 0.9
