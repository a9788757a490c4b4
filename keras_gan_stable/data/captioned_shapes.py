"""A procedural captioned data set for text-to-image GANs (no download).

`captioned_shapes(n, image_size=32, seed=0, split="train")` draws `n` scenes
of one or two objects (a shape, a colour, a size, a position) on a coloured
background, with an English caption each and the attribute labels beside it.
The same arguments always give the same arrays (NumPy only, no backend).

A set of held-out (colour, shape) combinations (by default every green
triangle and every purple circle) never appears in `split="train"`; in
`split="heldout"` the first object of every scene is one of them, so a model
trained on the training split can be tested on compositions it never saw.
"""

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
SIZES = ("small", "large")
POSITIONS = ("left", "right", "top", "bottom", "centre")
BACKGROUNDS = ("black", "grey", "brown")
DEFAULT_HELDOUT = (("green", "triangle"), ("purple", "circle"))

# RGB in [0, 1]; every object colour differs from every background colour.
COLOUR_RGB = {
    "red": (1.0, 0.0, 0.0), "green": (0.0, 0.8, 0.0),
    "blue": (0.0, 0.0, 1.0), "yellow": (1.0, 1.0, 0.0),
    "purple": (0.6, 0.0, 0.8), "white": (1.0, 1.0, 1.0),
}
BACKGROUND_RGB = {
    "black": (0.0, 0.0, 0.0), "grey": (0.5, 0.5, 0.5),
    "brown": (0.5, 0.3, 0.1),
}
# Object centre as a fraction of the image side, (x, y), y downwards.
_CENTRES = {
    "left": (0.27, 0.5), "right": (0.73, 0.5), "top": (0.5, 0.27),
    "bottom": (0.5, 0.73), "centre": (0.5, 0.5),
}
# Half-extent as a fraction of the image side.
_HALF = {"small": 0.12, "large": 0.21}
# Positions two objects may take without overlapping.
_PAIRS = (("left", "right"), ("right", "left"), ("top", "bottom"),
          ("bottom", "top"))

_SYNONYMS = {
    "circle": ("circle", "disc", "round shape"),
    "square": ("square", "box", "block"),
    "triangle": ("triangle", "wedge"),
    "small": ("small", "little", "tiny"),
    "large": ("large", "big", "huge"),
    "purple": ("purple", "violet"),
    "grey": ("grey", "gray"),
    "left": ("on the left", "at the left", "to the left"),
    "right": ("on the right", "at the right", "to the right"),
    "top": ("at the top", "near the top", "in the upper part"),
    "bottom": ("at the bottom", "near the bottom", "in the lower part"),
    "centre": ("in the centre", "in the middle", "at the center"),
}
_SINGLE_TEMPLATES = (
    "a {size} {colour} {shape} {where}",
    "there is a {size} {colour} {shape} {where}",
    "{where} there is a {colour} {shape}, {size}",
    "a {colour} {shape} that is {size}, {where}",
    "{where}, a {size} {colour} {shape} on a {bg} background",
    "a {bg} background with a {size} {colour} {shape} {where}",
)
_PAIR_TEMPLATES = (
    "a {o1} {w1} and a {o2} {w2}",
    "{w1} a {o1}, {w2} a {o2}",
    "two objects: a {o1} {w1} and a {o2} {w2}",
    "a {o2} {w2} next to a {o1} {w1}",
)


def _word(rng, key):
    options = _SYNONYMS.get(key, (key,))
    return options[rng.integers(len(options))]


def _mask(shape, cx, cy, half, xs, ys):
    """Boolean mask of one shape on a pixel grid of centres `xs`, `ys`."""
    if shape == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= half ** 2
    if shape == "square":
        s = 0.85 * half  # about the circle's area
        return (np.abs(xs - cx) <= s) & (np.abs(ys - cy) <= s)
    # Upward triangle: apex (cx, cy - half), base y = cy + half, width 2 half.
    return (ys <= cy + half) & (np.abs(xs - cx) <= (ys - cy + half) / 2.0)


def _check_args(n, image_size, split, heldout, objects, antialias):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(
            f"`n` should be a non-negative integer. Received: `n={n!r}`")
    if image_size not in (32, 64):
        raise ValueError(
            "`image_size` should be 32 or 64. Received: "
            f"`image_size={image_size!r}`")
    if split not in ("train", "heldout"):
        raise ValueError(
            "`split` should be 'train' or 'heldout'. Received: "
            f"`split={split!r}`")
    if objects not in (None, 1, 2):
        raise ValueError(
            "`objects` should be 1, 2 or None (a mix). Received: "
            f"`objects={objects!r}`")
    if antialias not in (1, 2, 4):
        raise ValueError(
            "`antialias` should be the supersampling factor 1, 2 or 4. "
            f"Received: `antialias={antialias!r}`")
    pairs = []
    for item in heldout:
        if (not isinstance(item, (tuple, list)) or len(item) != 2
                or item[0] not in COLOURS or item[1] not in SHAPES):
            raise ValueError(
                "`heldout` should be (colour, shape) pairs with colours from "
                f"{COLOURS} and shapes from {SHAPES}. Received: {item!r} in "
                f"`heldout={heldout!r}`")
        pairs.append((COLOURS.index(item[0]), SHAPES.index(item[1])))
    if split == "heldout" and not pairs:
        raise ValueError(
            "`split='heldout'` needs at least one held-out combination. "
            f"Received: `heldout={heldout!r}`")
    return set(pairs)


def captioned_shapes(n, image_size=32, seed=0, split="train",
                     heldout=DEFAULT_HELDOUT, objects=None, antialias=2):
    """Draws `n` captioned scenes of simple shapes.

    Args:
        n: int. Number of scenes.
        image_size: int. 32 or 64 (square RGB images). Defaults to 32.
        seed: int. Seed of the scene and caption draws; the same arguments
            always return the same arrays. Defaults to 0.
        split: `"train"` (no object is a held-out combination) or
            `"heldout"` (the first object of each scene is one). Defaults to
            `"train"`.
        heldout: sequence of `(colour, shape)` pairs kept out of the training
            split. Defaults to `DEFAULT_HELDOUT` (green triangles, purple
            circles).
        objects: 1, 2 or `None`. Objects per scene; `None` draws one or two
            with equal probability. Defaults to `None`.
        antialias: int. Supersampling factor (1 = hard edges). Defaults
            to 2.

    Returns:
        `(images, captions, attributes)`: `images` float32
        `[n, image_size, image_size, 3]` in [-1, 1]; `captions` a list of `n`
        strings; `attributes` a dict of int32 arrays `[n]`: `"n_objects"`,
        `"background"` (index into `BACKGROUNDS`), and for the first and
        second object `"shape"`, `"colour"`, `"size"`, `"position"`,
        `"shape_2"`, `"colour_2"`, `"size_2"`, `"position_2"` (indices into
        `SHAPES`, `COLOURS`, `SIZES`, `POSITIONS`; -1 where there is no
        second object).

    >>> images, captions, attrs = captioned_shapes(8, seed=1)
    >>> images.shape
    (8, 32, 32, 3)
    """
    held = _check_args(n, image_size, split, tuple(heldout), objects,
                       antialias)
    rng = np.random.default_rng([int(seed), 0 if split == "train" else 1])
    size = int(image_size)
    ss = int(antialias)
    grid = (np.arange(size * ss) + 0.5) / ss
    xs, ys = np.meshgrid(grid, grid)  # [S*ss, S*ss], pixel units
    keys = ("shape", "colour", "size", "position")
    names = ("n_objects", "background") + keys + tuple(k + "_2" for k in keys)
    attrs = {k: np.full((n,), -1, "int32") for k in names}
    images = np.empty((n, size, size, 3), "float32")
    captions = []
    held_list = sorted(held)
    for i in range(n):
        count = objects if objects is not None else 1 + int(rng.integers(2))
        if count == 1:
            places = (POSITIONS[rng.integers(len(POSITIONS))],)
        else:
            places = _PAIRS[rng.integers(len(_PAIRS))]
        objs = []
        for j, place in enumerate(places):
            if split == "heldout" and j == 0:
                colour, shape = held_list[rng.integers(len(held_list))]
            else:
                while True:  # rejection keeps held-out pairs out
                    colour = int(rng.integers(len(COLOURS)))
                    shape = int(rng.integers(len(SHAPES)))
                    if (colour, shape) not in held:
                        break
            objs.append((shape, colour, int(rng.integers(len(SIZES))),
                         POSITIONS.index(place)))
        bg = int(rng.integers(len(BACKGROUNDS)))
        canvas = np.empty((size * ss, size * ss, 3), "float32")
        canvas[:] = BACKGROUND_RGB[BACKGROUNDS[bg]]
        for shape, colour, sz, pos in objs:
            fx, fy = _CENTRES[POSITIONS[pos]]
            jitter = rng.uniform(-0.03, 0.03, 2)
            half = _HALF[SIZES[sz]] * size * rng.uniform(0.9, 1.1)
            m = _mask(SHAPES[shape], (fx + jitter[0]) * size,
                      (fy + jitter[1]) * size, half, xs, ys)
            canvas[m] = COLOUR_RGB[COLOURS[colour]]
        if ss > 1:
            canvas = canvas.reshape(size, ss, size, ss, 3).mean(axis=(1, 3))
        images[i] = canvas * 2.0 - 1.0
        attrs["n_objects"][i] = len(objs)
        attrs["background"][i] = bg
        for j, values in enumerate(objs):
            suffix = "" if j == 0 else "_2"
            for k, v in zip(keys, values):
                attrs[k + suffix][i] = v
        captions.append(_caption(rng, objs, BACKGROUNDS[bg]))
    return images, captions, attrs


def _caption(rng, objs, bg):
    def describe(obj):
        shape, colour, sz, _ = obj
        return (_word(rng, SIZES[sz]), _word(rng, COLOURS[colour]),
                _word(rng, SHAPES[shape]))

    if len(objs) == 1:
        size, colour, shape = describe(objs[0])
        template = _SINGLE_TEMPLATES[rng.integers(len(_SINGLE_TEMPLATES))]
        return template.format(size=size, colour=colour, shape=shape,
                               where=_word(rng, POSITIONS[objs[0][3]]),
                               bg=_word(rng, bg))
    o1, o2 = (" ".join(describe(o)) for o in objs)
    template = _PAIR_TEMPLATES[rng.integers(len(_PAIR_TEMPLATES))]
    return template.format(o1=o1, o2=o2, w1=_word(rng, POSITIONS[objs[0][3]]),
                           w2=_word(rng, POSITIONS[objs[1][3]]))
