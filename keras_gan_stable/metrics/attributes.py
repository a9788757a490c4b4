"""Attribute accuracy of text-to-image models on `captioned_shapes` scenes.

A small slot classifier is trained on real `captioned_shapes` images: for
each of the five places an object can take (`POSITIONS`: left, right, top,
bottom, centre) it predicts the colour of the object there (or "empty"),
its shape and its size. `attribute_accuracy` draws images for captions with
a generator function, reads them with the classifier and compares the
reading with the attributes the captions state.
"""

import numpy as np
import keras
from keras import layers

from keras_gan_stable.data.captioned_shapes import (
    COLOURS, DEFAULT_HELDOUT, POSITIONS, SHAPES, SIZES)

ATTRIBUTES = ("colour", "shape", "size", "position")
# Per slot: the attribute's classes plus one "empty" class (the last).
_CLASSES = {"colour": len(COLOURS) + 1, "shape": len(SHAPES) + 1,
            "size": len(SIZES) + 1}
_SLOTS = len(POSITIONS)


def attribute_classifier(image_size=32, width=16,
                         name="attribute_classifier"):
    """Builds the (untrained) slot classifier of `captioned_shapes` scenes.

    Two strided 3x3 convolution stages per halving (BatchNorm, ReLU) bring
    the image to 4 x 4, which is flattened (the slots are places, so the
    layout is kept) and mapped to three heads of logits: `"colour"`
    `[B, 5, 7]`, `"shape"` `[B, 5, 4]` and `"size"` `[B, 5, 3]`, one row
    per place of `POSITIONS`, the last class of each meaning "no object
    here".

    Args:
        image_size: int. Side of the square RGB input images in [-1, 1], a
            power of two >= 8. Defaults to 32.
        width: int. Channels of the first stage (doubled per halving, at
            most 4x). Defaults to 16.
    """
    if (isinstance(image_size, bool) or not isinstance(image_size, int)
            or image_size < 8 or image_size & (image_size - 1)):
        raise ValueError(
            "`image_size` should be a power of two >= 8 (16, 32, 64). "
            f"Received: `image_size={image_size!r}`")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(
            "`width` should be a positive integer. Received: "
            f"`width={width!r}`")
    images = keras.Input((image_size, image_size, 3), name="images")
    x = images
    ch, size = width, image_size
    while size > 4:
        x = layers.Conv2D(ch, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(ch, 3, strides=2, padding="same",
                          use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        ch, size = min(ch * 2, width * 4), size // 2
    x = layers.Flatten()(x)  # [B, 4 * 4 * ch]: keeps where things are
    x = layers.Dense(128, activation="relu")(x)
    outputs = {}
    for key, k in _CLASSES.items():
        logits = layers.Dense(_SLOTS * k, dtype="float32")(x)
        outputs[key] = layers.Reshape((_SLOTS, k), name=key)(logits)
    return keras.Model(images, outputs, name=name)


def slot_labels(attributes):
    """Caption attributes -> per-slot targets `{"colour": [N, 5], ...}`.

    `attributes` is the dict `captioned_shapes` returns; the slot of an
    object is its position, and a slot without an object gets the "empty"
    class (the last one).
    """
    n = len(np.asarray(attributes["shape"]))
    out = {key: np.full((n, _SLOTS), k - 1, "int32")
           for key, k in _CLASSES.items()}
    rows = np.arange(n)
    for suffix in ("", "_2"):
        pos = np.asarray(attributes.get("position" + suffix,
                                        np.full(n, -1)), "int64")
        has = pos >= 0
        for key in _CLASSES:
            values = np.asarray(attributes[key + suffix], "int32")
            out[key][rows[has], pos[has]] = values[has]
    return out


def _check_attributes(attributes, n=None):
    if not isinstance(attributes, dict) or any(
            k not in attributes for k in ("shape", "colour", "size",
                                          "position")):
        what = (sorted(attributes) if isinstance(attributes, dict)
                else type(attributes).__name__)
        raise ValueError(
            "`attributes` should be the dict `captioned_shapes` returns, "
            "with 'shape', 'colour', 'size' and 'position' (and '_2' "
            f"entries for second objects). Received: {what}")
    count = len(np.asarray(attributes["shape"]))
    if n is not None and count != n:
        raise ValueError(
            f"`attributes` describe {count} scenes but {n} images or "
            "captions were given; pass one entry per image.")
    return count


def train_attribute_classifier(images, attributes, epochs=20, batch_size=32,
                               learning_rate=3e-3, width=16, seed=0,
                               verbose=0):
    """Trains `attribute_classifier` on real `captioned_shapes` scenes.

    Train it on scenes drawn with `heldout=()`: the judge must know every
    (colour, shape) combination, including those kept from the models it
    judges (trained without them, it misreads them: at 16 px its shape
    accuracy on green triangles and purple circles fell to 5%).

    Args:
        images: float array `[N, S, S, 3]` in [-1, 1] (any power-of-two
            size; the classifier is built for it).
        attributes: the attribute dict of the same scenes.
        epochs, batch_size, learning_rate: Adam training settings
            (sparse categorical cross-entropy summed over the heads).
        width: int. First-stage channels. Defaults to 16.
        seed: int. Seeds Keras' global random state. Defaults to 0.

    Returns:
        The trained `keras.Model`.

    >>> x, _, attrs = captioned_shapes(2000, seed=1, heldout=())
    >>> clf = train_attribute_classifier(x, attrs)
    """
    images = np.asarray(images, "float32")
    if images.ndim != 4 or images.shape[1] != images.shape[2] or (
            images.shape[3] != 3):
        raise ValueError(
            "`images` should be square RGB images [N, S, S, 3]. Received "
            f"shape {images.shape}.")
    _check_attributes(attributes, len(images))
    keras.utils.set_random_seed(int(seed))
    model = attribute_classifier(int(images.shape[1]), width=int(width))
    model.compile(
        keras.optimizers.Adam(learning_rate),
        loss={k: keras.losses.SparseCategoricalCrossentropy(from_logits=True)
              for k in _CLASSES})
    model.fit(images, slot_labels(attributes), epochs=int(epochs),
              batch_size=int(batch_size), shuffle=True, verbose=verbose)
    return model


def read_attributes(classifier, images, n_objects, positions=None,
                    batch_size=256):
    """The classifier's reading of the captioned objects of each image.

    For a single-object scene (`n_objects == 1`) the object is read at the
    place the classifier finds most likely occupied (so colour, shape and
    size are judged whatever the position); its position is that place.
    For a two-object scene each object is read at the place its caption
    gives (`positions`, `[N, 2]`), which is the only way to tell the two
    apart; where the colour head reads "empty" every attribute is read as
    -1 (wrong), a head reading "empty" gives -1 for its attribute, and the
    position counts as right when that place is
    among the two most likely occupied ones.

    Returns a dict of int arrays `[N, 2]` (`colour`, `shape`, `size`,
    `position`), -1 in the second column of single-object scenes.
    """
    images = np.asarray(images, "float32")
    n = len(images)
    logits = {k: [] for k in _CLASSES}
    for start in range(0, n, batch_size):
        out = classifier(images[start:start + batch_size], training=False)
        for k in _CLASSES:
            logits[k].append(keras.ops.convert_to_numpy(out[k]))
    logits = {k: (np.concatenate(v) if v else np.zeros((0, _SLOTS,
                                                         _CLASSES[k])))
              for k, v in logits.items()}
    # Occupancy of a place: the colour head's probability of "not empty".
    c = logits["colour"] - logits["colour"].max(-1, keepdims=True)
    p = np.exp(c) / np.exp(c).sum(-1, keepdims=True)
    occupied = 1.0 - p[..., -1]  # [N, 5]
    n_objects = np.asarray(n_objects).reshape(-1)
    positions = (np.full((n, 2), -1) if positions is None
                 else np.asarray(positions).reshape(n, 2))
    read = {k: np.full((n, 2), -1, "int64") for k in ATTRIBUTES}
    rows = np.arange(n)
    best = occupied.argmax(-1)
    top2 = np.argsort(-occupied, axis=-1)[:, :2]
    for j in range(2):
        single = n_objects == 1
        active = np.ones(n, bool) if j == 0 else n_objects >= 2
        slot = np.where(single, best, positions[:, j])
        slot = np.where(active & (slot >= 0), slot, 0)
        # A place the colour head reads as empty holds no object: every
        # attribute read there is wrong (-1).
        here = logits["colour"][rows, slot].argmax(-1) != _CLASSES[
            "colour"] - 1
        for k in _CLASSES:
            cls = logits[k][rows, slot].argmax(-1)
            cls = np.where(cls == _CLASSES[k] - 1, -1, cls)
            read[k][:, j] = np.where(active & here, cls, -1)
        in_top2 = (top2 == slot[:, None]).any(-1)
        pos = np.where(single, best, np.where(in_top2, slot, -1))
        read["position"][:, j] = np.where(active, pos, -1)
    return read


def attribute_accuracy(generator_fn, captions, attributes, classifier,
                       heldout=DEFAULT_HELDOUT, batch_size=64):
    """Reads generated images' attributes and compares them with captions.

    Args:
        generator_fn: callable mapping a list of caption strings to images
            `[n, S, S, 3]` in [-1, 1] (the classifier's input size), e.g.
            `lambda c: gan.generate(captions=tokenizer(c), seed=0)`.
        captions: list of caption strings.
        attributes: the attribute dict of those captions (from
            `captioned_shapes`).
        classifier: a trained `attribute_classifier`.
        heldout: `(colour, shape)` pairs counted as held-out combinations.
            Defaults to `DEFAULT_HELDOUT`.
        batch_size: int. Captions per `generator_fn` call.

    Returns:
        A dict of groups, each a dict of accuracies in [0, 1] per attribute
        (`colour`, `shape`, `size`, `position`) and `count` (the objects
        counted): `"all"` (every captioned object), `"single_object"`,
        `"single_object_seen"` (single objects whose colour and shape are
        not a held-out combination), `"two_objects"` and `"heldout"`
        (objects whose caption names a held-out combination). A group
        without objects has accuracies `nan`.
    """
    captions = list(captions)
    n = _check_attributes(attributes, len(captions))
    if not callable(generator_fn):
        raise ValueError(
            "`generator_fn` should be a callable mapping a list of captions "
            f"to images. Received: {generator_fn!r}")
    held = set()
    for item in heldout:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or item[0] not in COLOURS or item[1] not in SHAPES):
            raise ValueError(
                "`heldout` should be (colour, shape) pairs. Received: "
                f"{item!r} in `heldout={heldout!r}`")
        held.add((COLOURS.index(item[0]), SHAPES.index(item[1])))
    images = []
    for start in range(0, n, int(batch_size)):
        batch = np.asarray(generator_fn(captions[start:start + batch_size]),
                           "float32")
        if batch.shape[0] != len(captions[start:start + batch_size]):
            raise ValueError(
                f"`generator_fn` returned {batch.shape[0]} images for "
                f"{len(captions[start:start + batch_size])} captions; it "
                "should return one image per caption.")
        images.append(batch)
    images = (np.concatenate(images) if images
              else np.zeros((0,) + tuple(classifier.input_shape[1:])))
    expected = tuple(classifier.input_shape[1:])
    if tuple(images.shape[1:]) != expected:
        raise ValueError(
            f"The generated images have shape {images.shape[1:]}, but the "
            f"classifier reads {expected}. Train the classifier at the "
            "generator's image size.")
    return _score(classifier, images, attributes, held)


def _score(classifier, images, attributes, held):
    n = len(images)
    n_obj = (np.asarray(attributes["n_objects"]) if "n_objects" in attributes
             else 1 + (np.asarray(attributes.get("shape_2", np.full(n, -1)))
                       >= 0))
    truth = {k: np.stack([np.asarray(attributes[k]),
                          np.asarray(attributes.get(k + "_2",
                                                    np.full(n, -1)))], 1)
             for k in ATTRIBUTES}
    read = read_attributes(classifier, images, n_obj, truth["position"])
    present = np.stack([np.ones(n, bool), n_obj >= 2], 1)  # [N, 2]
    is_held = np.zeros((n, 2), bool)
    for c, s in held:
        is_held |= (truth["colour"] == c) & (truth["shape"] == s)
    groups = {
        "all": present,
        "single_object": present & (n_obj == 1)[:, None],
        "single_object_seen": present & (n_obj == 1)[:, None] & ~is_held,
        "two_objects": present & (n_obj >= 2)[:, None],
        "heldout": present & is_held,
    }
    out = {}
    for name, mask in groups.items():
        count = int(mask.sum())
        scores = {"count": count}
        for k in ATTRIBUTES:
            hit = read[k] == truth[k]
            scores[k] = float(hit[mask].mean()) if count else float("nan")
        out[name] = scores
    return out
