"""One entry point for training data: `load_dataset` (tf.data) and `load_arrays` (NumPy).

Sources (the `source` argument, also the CLI's `--data`):

- `"digits"` (the default): scikit-learn's bundled 8x8 handwritten digits
  (1,797 images, offline), resized to 32x32, grey.
- `"ring8"`, `"grid25"`: 2D Gaussian mixtures for mode-collapse studies
  (points `[N, 2]`, not images); see `mixtures.mixture_modes`.
- `"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"cifar100"`: through
  `keras.datasets` (see `named.py`): the training split by default
  (`split="test"` or `"all"`), read from the optional local mirror
  `KERAS_GAN_STABLE_DATA` when it holds the split, else from the Keras cache
  (`~/.keras/datasets`), else downloaded there by `keras.datasets`
  (`download=False` forbids it).
- `"tfds:<name>[:<split>]"`: a TensorFlow Datasets set, e.g. `tfds:mnist`,
  `tfds:cifar10:test`, read from its prepared local copy; `download=True`
  lets tfds download and prepare it.
- a folder of PNG/JPEG images (searched recursively; the first-level
  sub-folder names are the class labels);
- a `.npy` or `.npz` file of images `[N, H, W(, C)]` (uint8, or floats in
  [-1, 1]) or points `[N, D]`;
- an MNIST IDX file (`*-idx3-ubyte[.gz]`); labels come from the sibling
  `*-labels-idx1-ubyte[.gz]` file.

Every bad input raises `DataError` (a `ValueError`) whose one-line message
names the file or argument, what was found, and what to do.
"""

import os

import numpy as np

from keras_gan_stable.data import mixtures
from keras_gan_stable.data import named

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
BUILTIN_SOURCES = ("digits", "ring8", "grid25", "mnist", "fashion_mnist",
                   "cifar10", "cifar100")
_SOURCES_HELP = (
    "'digits', 'ring8', 'grid25', 'mnist', 'fashion_mnist', 'cifar10', "
    "'cifar100', 'tfds:<name>[:<split>]', "
    "an image folder, a .npy/.npz file or an IDX (.gz) file"
)


class DataError(ValueError):
    """A data source that cannot be used, with a one-line explanation."""


# ---------------------------------------------------------------------- #
# Argument checks
# ---------------------------------------------------------------------- #
def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, (int, np.integer)) and not isinstance(
            image_size, bool):
        image_size = (int(image_size), int(image_size))
    try:
        h, w = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise DataError(
            f"`image_size` should be an int or (height, width). Received: "
            f"`image_size={image_size!r}`."
        ) from None
    if h < 1 or w < 1:
        raise DataError(
            f"`image_size` should be positive. Received: `image_size={image_size!r}`."
        )
    return (h, w)


def _check_channels(channels):
    if channels is None:
        return None
    if isinstance(channels, bool) or channels not in (1, 3):
        raise DataError(
            f"`channels` should be 1 (grey), 3 (RGB) or None (keep the data's). "
            f"Received: `channels={channels!r}`."
        )
    return int(channels)


def _check_value_range(value_range):
    if value_range is None:
        return None
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise DataError(
            "`value_range` should be (low, high), e.g. (0, 255). Received: "
            f"`value_range={value_range!r}`."
        ) from None
    if not hi > lo:
        raise DataError(
            "`value_range` should satisfy low < high. Received: "
            f"`value_range={value_range!r}`."
        )
    return (lo, hi)


# ---------------------------------------------------------------------- #
# Array checks and conversion
# ---------------------------------------------------------------------- #
def _check_array(x, where, value_range):
    """Validates dtype, finiteness and range; returns (x, (low, high))."""
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "uifb":
        raise DataError(
            f"{where}: found dtype {x.dtype}, expected uint8 images or floats. "
            "Convert the array to uint8 [0, 255] or float32 [-1, 1]."
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise DataError(
            f"{where}: the array is empty (shape {x.shape}). Provide at least "
            "one sample."
        )
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            idx = np.argwhere(bad.reshape(x.shape[0], -1).any(axis=1)).ravel()
            raise DataError(
                f"{where}: found {int(bad.sum())} NaN/Inf values in "
                f"{idx.size} samples (first: index {int(idx[0])}). Drop or "
                "repair those samples."
            )
    if x.ndim == 2:  # points [N, D]: no range convention
        return x, None
    if value_range is not None:
        lo, hi = value_range
    elif x.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    elif x.dtype.kind == "f":
        lo, hi = -1.0, 1.0
        mn, mx = float(x.min()), float(x.max())
        if mn < -1.001 or mx > 1.001:
            raise DataError(
                f"{where}: found float values in [{mn:g}, {mx:g}], expected "
                "[-1, 1]. Scale the data to [-1, 1] or pass value_range=(low, "
                f"high) (CLI: --set data.value_range=[0,{mx:g}])."
            )
        if mn >= 0.0 and mx <= 1.0:
            raise DataError(
                f"{where}: found float values in [{mn:g}, {mx:g}], which may "
                "be [0, 1] or [-1, 1] data. Pass value_range=(0, 1) or "
                "value_range=(-1, 1) to say which (CLI: --set "
                "data.value_range=[0,1])."
            )
    else:
        mn, mx = x.min(), x.max()
        raise DataError(
            f"{where}: found dtype {x.dtype} with values in [{mn}, {mx}]; "
            "expected uint8 or float. Convert with x.astype('uint8') or pass "
            f"value_range=({mn}, {mx})."
        )
    mn, mx = float(x.min()), float(x.max())
    tol = 1e-3 * (hi - lo)
    if mn < lo - tol or mx > hi + tol:
        raise DataError(
            f"{where}: found values in [{mn:g}, {mx:g}], outside "
            f"value_range=({lo:g}, {hi:g}). Pass the data's true range."
        )
    return x, (lo, hi)


def _as_nhwc(x, where):
    """[N, H, W] -> [N, H, W, 1]; checks the channel axis."""
    if x.ndim == 2:
        return x
    if x.ndim == 3:
        return x[..., None]
    if x.ndim != 4:
        raise DataError(
            f"{where}: found an array of shape {x.shape}; expected images "
            "[N, H, W] or [N, H, W, C], or points [N, D]."
        )
    c = x.shape[-1]
    if c not in (1, 3, 4):
        hint = ""
        if x.shape[1] in (1, 3):
            hint = (" It looks channels-first: transpose it with "
                    "np.transpose(x, (0, 2, 3, 1)).")
        raise DataError(
            f"{where}: found {c} channels (shape {x.shape}); expected 1 "
            f"(grey), 3 (RGB) or 4 (RGBA) in the last axis.{hint}"
        )
    return x


def _convert_channels(x, channels):
    if x.ndim != 4:
        return x
    c = x.shape[-1]
    if c == 4:  # drop alpha
        x = x[..., :3]
        c = 3
    if channels is None or channels == c:
        return x
    if channels == 3:
        return np.repeat(x, 3, axis=-1)
    # RGB -> grey with ITU-R 601 luma, as PIL's convert("L").
    grey = x.astype("float32") @ np.array([0.299, 0.587, 0.114], "float32")
    if x.dtype == np.uint8:
        grey = np.clip(np.round(grey), 0, 255).astype("uint8")
    return grey[..., None]


def _resize(x, size):
    """Resizes `[N, H, W, C]` images with PIL (bilinear, antialiased)."""
    if x.ndim != 4 or size is None or tuple(x.shape[1:3]) == tuple(size):
        return x
    from PIL import Image

    h, w = size
    out = np.empty((x.shape[0], h, w, x.shape[-1]), x.dtype)
    for i in range(x.shape[0]):
        for c in range(x.shape[-1]):
            img = Image.fromarray(x[i, :, :, c].astype("float32"), mode="F")
            img = img.resize((w, h), Image.BILINEAR)
            out[i, :, :, c] = np.asarray(img).astype(x.dtype) if (
                x.dtype.kind == "f") else np.clip(
                    np.round(np.asarray(img)), 0, 255).astype(x.dtype)
    return out


# ---------------------------------------------------------------------- #
# Readers
# ---------------------------------------------------------------------- #
def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    # 8x8 grey levels 0..16
    return d.images.astype("float32")[..., None], d.target.astype("int32"), (
        0.0, 16.0)


def list_image_files(folder):
    """Sorted image files under `folder` (recursive) and their class names."""
    if not os.path.isdir(folder):
        what = "is a file" if os.path.exists(folder) else "does not exist"
        raise DataError(
            f"Image folder {folder} {what}. Pass an existing folder of "
            "PNG/JPEG images (sub-folders are classes)."
        )
    files, others = [], 0
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if name.lower().endswith(IMAGE_EXTENSIONS):
                files.append(os.path.join(root, name))
            else:
                others += 1
    if not files:
        raise DataError(
            f"Image folder {folder} holds no PNG/JPEG images (searched "
            f"recursively; {others} other files). Add images to it or to "
            "class sub-folders."
        )
    classes = []
    for f in files:
        rel = os.path.relpath(f, folder).split(os.sep)
        classes.append(rel[0] if len(rel) > 1 else "")
    return files, classes


def scan_folder(folder, image_size=None, channels=None):
    """Lists and checks an image folder without decoding it.

    Reads every file's header (cheap), so corrupt headers and mixed sizes
    are reported before any decoding.

    Returns:
        `(files, labels int32 [N], (height, width), channels)`; labels index
        the sorted first-level sub-folder names.
    """
    from PIL import Image, UnidentifiedImageError

    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    files, classes = list_image_files(folder)
    sizes, modes = [], []
    for f in files:
        try:
            with Image.open(f) as im:
                sizes.append(im.size)
                modes.append(im.mode)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise DataError(
                f"Corrupt image file {f}: {str(e).splitlines()[0]}. Delete "
                "or replace it."
            ) from None
    if image_size is None and len(set(sizes)) > 1:
        first = sizes[0]
        j = next(i for i, s in enumerate(sizes) if s != first)
        raise DataError(
            f"Images in {folder} have different sizes: {files[0]} is "
            f"{first[0]}x{first[1]} but {files[j]} is {sizes[j][0]}x"
            f"{sizes[j][1]} (width x height). Pass image_size=(H, W) to "
            "resize them all (CLI: --set data.image_size=32)."
        )
    if channels is None:
        grey = all(m in ("1", "L", "LA", "I", "I;16", "F") for m in modes)
        channels = 1 if grey else 3
    size = image_size if image_size is not None else (sizes[0][1],
                                                      sizes[0][0])
    names = sorted(set(classes))
    index = {c: i for i, c in enumerate(names)}
    labels = np.array([index[c] for c in classes], "int32")
    return files, labels, size, channels


def decode_image(path, size, channels):
    """One image file -> uint8 `[H, W, C]` (PIL, bilinear resize)."""
    from PIL import Image

    h, w = size
    try:
        with Image.open(path) as im:
            im.load()
            im = im.convert("L" if channels == 1 else "RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.BILINEAR)
            arr = np.asarray(im, dtype="uint8")
    except (OSError, SyntaxError, ValueError) as e:
        raise DataError(
            f"Corrupt image file {path}: {str(e).splitlines()[0]}. Delete "
            "or replace it."
        ) from None
    return arr.reshape(h, w, channels)


def _read_folder(folder, image_size, channels):
    files, labels, size, channels = scan_folder(folder, image_size, channels)
    out = np.empty((len(files), size[0], size[1], channels), "uint8")
    for i, f in enumerate(files):
        out[i] = decode_image(f, size, channels)
    return out, labels


def _read_numpy(path, value_range):
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise DataError(
            f"Cannot read {path}: {str(e).splitlines()[0]} (object arrays are "
            "not loaded, for safety). Save plain numeric arrays with np.save/"
            "np.savez."
        ) from None
    except OSError as e:
        raise DataError(
            f"Cannot read {path}: {str(e).splitlines()[0]}. The file is "
            "corrupt or not a NumPy file."
        ) from None
    labels = None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            img_key = next((k for k in ("images", "x", "x_train", "arr_0")
                            if k in keys), keys[0] if len(keys) == 1 else None)
            if img_key is None:
                raise DataError(
                    f"{path}: found arrays {keys} but none named 'images' "
                    "(or 'x', 'x_train'). Save the images as "
                    "np.savez(path, images=..., labels=...)."
                )
            images = loaded[img_key]
            lbl_key = next((k for k in ("labels", "y", "y_train")
                            if k in keys), None)
            if lbl_key is not None:
                labels = np.asarray(loaded[lbl_key])
    else:
        images = loaded
    if labels is not None:
        if labels.dtype.kind not in "iu" or labels.reshape(-1).shape[0] != \
                images.shape[0]:
            raise DataError(
                f"{path}: found labels of dtype {labels.dtype} and shape "
                f"{labels.shape} for {images.shape[0]} images. Labels should "
                "be integers, one per image."
            )
        labels = labels.reshape(-1).astype("int32")
    return images, labels


def _read_idx_source(path):
    from keras_gan_stable.data.idx import read_idx

    try:
        images = read_idx(path)
    except (ValueError, FileNotFoundError) as e:
        raise DataError(str(e).replace("\n", " ")) from None
    labels = None
    base = os.path.basename(path)
    if "images-idx3" in base:
        lpath = os.path.join(os.path.dirname(path),
                             base.replace("images-idx3", "labels-idx1"))
        if os.path.exists(lpath):
            try:
                labels = read_idx(lpath).astype("int32")
            except ValueError as e:
                raise DataError(str(e).replace("\n", " ")) from None
    return images, labels


def parse_tfds_source(source):
    """`"tfds:name[:split]"` -> `(name, split or None)`."""
    rest = source[len("tfds:"):]
    name, _, split = rest.partition(":")
    if not name:
        raise DataError(
            f"Data source {source!r} names no dataset. Write 'tfds:<name>', "
            "e.g. 'tfds:mnist' or 'tfds:cifar10:test'."
        )
    return name, (split or None)


def tfds_split(source, split):
    """The split to read: the one in `source` (`tfds:name:split`), else `split`."""
    _, src_split = parse_tfds_source(source)
    if src_split and split is not None and split != src_split:
        raise DataError(
            f"{source} names the split {src_split!r} but `split={split!r}` "
            "was passed too. Give the split in one place."
        )
    return src_split or split or "train"


def tfds_load(name, split="train", data_dir=None, download=False,
              with_info=False):
    """`tfds.load` (as_supervised=False) with a clear error when offline."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise DataError(
            f"tfds:{name} needs tensorflow-datasets, which is not installed. "
            "Install it with `pip install tensorflow-datasets`."
        ) from None
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), "tensorflow_datasets")
    try:
        return tfds.load(name, split=split, data_dir=data_dir,
                         download=download, with_info=with_info)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"tfds:{name} is not a TensorFlow Datasets name. See "
            "https://www.tensorflow.org/datasets/catalog for the names."
        ) from None
    except (AssertionError, FileNotFoundError, OSError) as e:
        if download:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(
                f"tfds:{name} could not be downloaded ({msg}). Check the "
                f"internet connection or prepare it in {data_dir} elsewhere "
                "and copy it here."
            ) from None
        raise DataError(
            f"tfds:{name} is not available offline: no prepared copy in "
            f"{data_dir}. Prepare it where there is internet (`tfds build "
            f"{name} --data_dir DIR`), copy DIR here and pass data_dir=DIR "
            "(or set TFDS_DATA_DIR), or pass download=True when online."
        ) from None


def _read_tfds(source, split, data_dir, download, max_samples):
    name, _ = parse_tfds_source(source)
    ds = tfds_load(name, split=tfds_split(source, split), data_dir=data_dir,
                   download=bool(download))
    if max_samples:
        ds = ds.take(int(max_samples))
    images, labels = [], []
    for ex in ds.as_numpy_iterator():
        images.append(ex["image"])
        if "label" in ex:
            labels.append(ex["label"])
    images = np.stack(images)
    labels = np.asarray(labels, "int32") if len(labels) == len(images) else None
    return images, labels


def _read_source(source, split=None, data_dir=None, download=None,
                 num_samples=10000, seed=0, max_samples=None, image_size=None,
                 channels=None):
    """Returns `(raw array, labels or None, where, value_range or None)`."""
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(
            f"`source` should be a string or path. Received: "
            f"`source={source!r}`. Use {_SOURCES_HELP}."
        )
    source = os.fspath(source)
    if split not in (None, "train", "all") and not (
            source in named.KERAS_DATASETS or source.startswith("tfds:")):
        raise DataError(
            f"{source}: `split={split!r}` applies only to the named data sets "
            f"({', '.join(named.KERAS_DATASETS)}) and tfds:<name>; this "
            "source is one set. Pass split=None."
        )
    if source == "digits":
        x, y, vr = _digits()
        return x, y, "digits", vr
    if source in mixtures.MIXTURES:
        x, y = mixtures.sample_mixture(source, num_samples, seed=seed)
        return x, y, source, None
    if source in named.KERAS_DATASETS:
        x, y, where = named.load_named(source, split=split, download=download,
                                       max_samples=max_samples)
        return x, y, where, None
    if source.startswith("tfds:"):
        x, y = _read_tfds(source, split, data_dir, download, max_samples)
        return x, y, source, None
    lower = source.lower()
    if os.path.isdir(source):
        x, y = _read_folder(source, image_size, channels)
        return x, y, source, None
    if lower.endswith((".npy", ".npz")):
        if not os.path.exists(source):
            raise DataError(
                f"NumPy file {source} does not exist. Check the path."
            )
        x, y = _read_numpy(source, None)
        return x, y, source, None
    if "idx" in os.path.basename(lower) and (
            lower.endswith(".gz") or "ubyte" in lower):
        if not os.path.exists(source):
            raise DataError(f"IDX file {source} does not exist. Check the path.")
        x, y = _read_idx_source(source)
        return x, y, source, None
    if lower.endswith(IMAGE_EXTENSIONS) or os.sep in source or (
            "/" in source):
        raise DataError(
            f"Image folder {source} does not exist. Pass an existing folder "
            "of PNG/JPEG images, or one of " + _SOURCES_HELP + "."
        )
    raise DataError(
        f"Unknown data source {source!r}. Use {_SOURCES_HELP}."
    )


def _prepare(source, image_size=None, channels=None, labels=False,
             max_samples=None, value_range=None, split=None,
             data_dir=None, download=None, num_samples=10000, seed=0):
    """Loads, checks and shapes the data; returns (x, labels, scale, shift).

    `x` keeps its storage dtype (uint8 stays uint8, 4x smaller); the caller
    maps it to [-1, 1] with `x * scale + shift`.
    """
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    value_range = _check_value_range(value_range)
    x, y, where, vr = _read_source(
        source, split=split, data_dir=data_dir, download=download,
        num_samples=num_samples, seed=seed, max_samples=max_samples,
        image_size=image_size, channels=channels)
    if max_samples is not None:
        if int(max_samples) < 1:
            raise DataError(
                "`max_samples` should be >= 1 or None. Received: "
                f"`max_samples={max_samples!r}`."
            )
        x = x[:int(max_samples)]
        y = None if y is None else y[:int(max_samples)]
    x = _as_nhwc(np.asarray(x), where)
    x, vr_checked = _check_array(x, where, value_range or vr)
    if labels and y is None:
        raise DataError(
            f"{where}: labels were requested but the source has none. Pass "
            "labels=False, use class sub-folders, or save labels in the .npz "
            "as 'labels'."
        )
    if x.ndim == 2:
        if image_size is not None or channels is not None:
            raise DataError(
                f"{where}: the data are points of shape {x.shape}, not images; "
                "remove image_size/channels."
            )
        return x.astype("float32"), y, 1.0, 0.0
    if source == "digits" and image_size is None:
        image_size = (32, 32)
    x = _convert_channels(x, channels)
    x = _resize(x, image_size)
    lo, hi = vr_checked
    scale = 2.0 / (hi - lo)
    shift = -1.0 - lo * scale
    return x, y, scale, shift


def load_arrays(source="digits", image_size=None, channels=None, labels=False,
                max_samples=None, value_range=None, split=None,
                data_dir=None, download=None, num_samples=10000, seed=0):
    """Loads a data source into NumPy: images `[N, H, W, C]` float32 in [-1, 1].

    Needs no TensorFlow (except for `tfds:` sources), so JAX and PyTorch users
    can pass the arrays straight to `GAN.fit`. The 2D mixtures return points
    `[N, 2]` as they are.

    Args:
        source: str. See the module docstring; defaults to `"digits"`.
        image_size: int or `(H, W)`. Resize every image (bilinear). Required
            for folders of mixed sizes. `"digits"` defaults to 32.
        channels: 1, 3 or `None`. Convert to grey or RGB; `None` keeps the
            data's (a folder of grey images gives 1, otherwise 3).
        labels: bool. Also return int32 labels `[N]`.
        max_samples: int or `None`. Keep the first `max_samples` samples.
        value_range: `(low, high)` or `None`. The range of the stored values,
            mapped to [-1, 1]; by default uint8 is `(0, 255)` and floats must
            already be in [-1, 1].
        split: `"train"`, `"test"`, `"all"` or `None` (= `"train"`). The
            split of a named data set; for `tfds:` any tfds split string
            (also given as `tfds:<name>:<split>`). Other sources are one
            set and accept only `None`, `"train"` or `"all"`.
        data_dir: str. The tfds data folder (default `$TFDS_DATA_DIR` or
            `~/tensorflow_datasets`).
        download: bool or `None`. `None` (default): a named set missing
            from the Keras cache is downloaded by `keras.datasets` (as
            Keras does), tfds never downloads. `True`: both may download
            (tfds prepares the set). `False`: offline only; a missing set
            raises a `DataError` naming the cache path.
        num_samples: int. Points drawn for the 2D mixtures.
        seed: int. Seed of the 2D mixtures.

    Returns:
        `images`, or `(images, labels)` when `labels=True`.
    """
    x, y, scale, shift = _prepare(
        source, image_size=image_size, channels=channels, labels=labels,
        max_samples=max_samples, value_range=value_range, split=split,
        data_dir=data_dir, download=download, num_samples=num_samples,
        seed=seed)
    x = x.astype("float32")
    if scale != 1.0 or shift != 0.0:
        x = x * np.float32(scale) + np.float32(shift)
        np.clip(x, -1.0, 1.0, out=x)
    return (x, y) if labels else x


def load_dataset(source="digits", image_size=None, channels=None,
                 batch_size=64, shuffle=True, cache=True, drop_remainder=True,
                 labels=False, max_samples=None, value_range=None,
                 split=None, data_dir=None, download=None,
                 num_samples=10000, seed=0, shuffle_buffer=None,
                 prefetch=True, repeat=False, stream=None):
    """Loads a data source as a batched `tf.data.Dataset` in [-1, 1].

    Elements are images `[B, H, W, C]` float32 (or `(images, labels)`), ready
    for `GAN.fit` on every backend. `tfds:` sources stream through tf.data,
    and so do image folders whose decoded size exceeds `STREAM_ABOVE_BYTES`
    (128 MiB) or when `stream=True`: file names are shuffled, and each
    batch is decoded, converted and resized on the fly (the same PIL
    decoding as the in-memory path, so the values are identical). The other
    sources are decoded once into memory (uint8 stays uint8) and scaled in
    the pipeline. Without TensorFlow use `ImageFolderDataset` (a
    `keras.utils.PyDataset`) to stream a folder.

    Args:
        source, image_size, channels, labels, max_samples, value_range,
        split, data_dir, download, num_samples, seed: as in `load_arrays`.
        batch_size: int. Samples per batch. For `n_critic = k` pass
            `k * B`. Defaults to `64`.
        shuffle: bool. Shuffle every epoch. Defaults to `True`.
        cache: bool. Cache the decoded, scaled samples (tfds sources) in
            memory. Defaults to `True`.
        drop_remainder: bool. Drop the last partial batch. Defaults to `True`.
        shuffle_buffer: int. Defaults to the whole set (at most 50,000).
        prefetch: bool. Prefetch with `tf.data.AUTOTUNE`.
        repeat: bool. Repeat forever (then pass `steps_per_epoch` to fit).
        stream: bool or `None`. Image folders only: `True` decodes on the
            fly, `False` decodes the folder into memory once, `None`
            (default) streams folders larger than `STREAM_ABOVE_BYTES`
            decoded. A streamed folder is never cached.

    >>> ds = load_dataset("digits", batch_size=64)
    >>> gan.fit(ds, epochs=10)
    """
    try:
        import tensorflow as tf
    except ImportError:
        raise DataError(
            "load_dataset returns a tf.data.Dataset and needs TensorFlow, "
            "which is not installed. Use load_arrays(...) with GAN.fit on "
            "arrays, or `pip install tensorflow`."
        ) from None
    batch_size = int(batch_size)
    if batch_size < 1:
        raise DataError(
            f"`batch_size` should be >= 1. Received: `batch_size={batch_size}`."
        )
    image_size = _check_image_size(image_size)
    channels = _check_channels(channels)
    is_folder = isinstance(source, (str, os.PathLike)) and os.path.isdir(
        source)
    decode = None
    if isinstance(source, str) and source.startswith("tfds:"):
        ds, n = _tfds_pipeline(source, image_size, channels, labels,
                               max_samples, value_range, split, data_dir,
                               download)
        if cache:
            ds = ds.cache()
    elif is_folder and stream is not False:
        ds, n, decode = _folder_pipeline(
            os.fspath(source), image_size, channels, labels, max_samples,
            value_range, split, stream)
    else:
        x, y, scale, shift = _prepare(
            source, image_size=image_size, channels=channels, labels=labels,
            max_samples=max_samples, value_range=value_range, split=split,
            data_dir=data_dir, download=download, num_samples=num_samples,
            seed=seed)
        n = x.shape[0]
        ds, decode = _in_memory(x, y if labels else None, scale, shift)
        del x, y  # the tensor in `decode` is the one copy kept
    if n is not None and drop_remainder and n < batch_size:
        raise DataError(
            f"{source}: found {n} samples, fewer than one batch of "
            f"{batch_size} (drop_remainder=True). Lower batch_size or pass "
            "drop_remainder=False."
        )
    if decode is not None:
        # Shuffle the indices or file names (cheap: no image sits in a
        # shuffle buffer), then gather or decode in parallel.
        if shuffle:
            ds = ds.shuffle(shuffle_buffer or n, seed=seed,
                            reshuffle_each_iteration=True)
        ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)
    elif shuffle:
        buf = shuffle_buffer or min(n or 10000, 50000)
        ds = ds.shuffle(buf, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    return ds


STREAM_ABOVE_BYTES = 128 * 2**20


def _in_memory(x, y, scale, shift):
    """`(indices dataset, take)`: one tensor copy of `x`, gathered by index.

    Shuffling indices instead of samples keeps no image in a shuffle buffer
    (a buffer of 20,000 float32 64x64x3 images is 983 MB); `take` maps an
    index to the sample in [-1, 1] (and its label when `y` is given).
    """
    import tensorflow as tf

    xt = tf.constant(x)
    yt = None if y is None else tf.constant(y)
    scale, shift = np.float32(scale), np.float32(shift)

    def take(i):
        t = tf.cast(tf.gather(xt, i), tf.float32)
        if scale != 1.0 or shift != 0.0:
            t = tf.clip_by_value(t * scale + shift, -1.0, 1.0)
        return t if yt is None else (t, tf.gather(yt, i))

    return tf.data.Dataset.range(x.shape[0]), take


def _folder_pipeline(folder, image_size, channels, labels, max_samples,
                     value_range, split, stream):
    """`(dataset, n, decode)`: file names and their decoder when streamed,
    else indices into the decoded images and their gather (`load_dataset`
    shuffles the names or indices, then maps `decode`)."""
    import tensorflow as tf

    if split not in (None, "train", "all"):
        raise DataError(
            f"{folder}: `split={split!r}` applies only to the named data sets "
            f"({', '.join(named.KERAS_DATASETS)}) and tfds:<name>; this "
            "source is one set. Pass split=None."
        )
    files, y, size, channels = scan_folder(folder, image_size, channels)
    if max_samples is not None:
        if int(max_samples) < 1:
            raise DataError(
                "`max_samples` should be >= 1 or None. Received: "
                f"`max_samples={max_samples!r}`."
            )
        files, y = files[:int(max_samples)], y[:int(max_samples)]
    n = len(files)
    if stream is None and n * size[0] * size[1] * channels <= \
            STREAM_ABOVE_BYTES:
        # Small: decode once into memory (uint8), as the other sources.
        x = np.empty((n, size[0], size[1], channels), "uint8")
        for i, f in enumerate(files):
            x[i] = decode_image(f, size, channels)
        lo, hi = value_range if value_range is not None else (0.0, 255.0)
        ds, decode = _in_memory(x, y if labels else None, 2.0 / (hi - lo),
                                -1.0 - lo * (2.0 / (hi - lo)))
        return ds, n, decode
    lo, hi = value_range if value_range is not None else (0.0, 255.0)
    scale = np.float32(2.0 / (hi - lo))
    shift = np.float32(-1.0 - lo * (2.0 / (hi - lo)))
    h, w = size

    def read(path):
        return decode_image(path.decode(), size, channels)

    def decode(path, label):
        img = tf.numpy_function(read, [path], tf.uint8, stateful=False)
        img = tf.ensure_shape(img, (h, w, channels))
        img = tf.clip_by_value(tf.cast(img, tf.float32) * scale + shift,
                               -1.0, 1.0)
        return (img, label) if labels else img

    files_ds = tf.data.Dataset.from_tensor_slices(
        (np.array(files), y.astype("int32")))
    return files_ds, n, decode


def _tfds_pipeline(source, image_size, channels, labels, max_samples,
                   value_range, split, data_dir, download):
    import tensorflow as tf

    name, _ = parse_tfds_source(source)
    split = tfds_split(source, split)
    ds, info = tfds_load(name, split=split, data_dir=data_dir,
                         download=bool(download), with_info=True)
    features = info.features
    if "image" not in features:
        raise DataError(
            f"{source}: the dataset has features {list(features)} but no "
            "'image'. Pick an image dataset."
        )
    if labels and "label" not in features:
        raise DataError(
            f"{source}: labels were requested but the dataset has no 'label' "
            "feature. Pass labels=False."
        )
    shape = features["image"].shape
    c_in = shape[-1] if shape and shape[-1] is not None else None
    if c_in is not None and c_in not in (1, 3, 4):
        raise DataError(
            f"{source}: found {c_in} channels; expected 1, 3 or 4."
        )
    lo, hi = value_range if value_range is not None else (0.0, 255.0)
    scale = 2.0 / (hi - lo)
    shift = -1.0 - lo * scale

    def convert(ex):
        img = tf.cast(ex["image"], tf.float32)
        if c_in == 4:
            img = img[..., :3]
        if channels == 3 and c_in == 1:
            img = tf.image.grayscale_to_rgb(img)
        elif channels == 1 and c_in in (3, 4):
            img = tf.image.rgb_to_grayscale(img)
        if image_size is not None:
            img = tf.image.resize(img, image_size, antialias=True)
        img = tf.clip_by_value(img * scale + shift, -1.0, 1.0)
        if labels:
            return img, tf.cast(ex["label"], tf.int32)
        return img

    if max_samples:
        ds = ds.take(int(max_samples))
    n = info.splits[split].num_examples
    if max_samples:
        n = min(n, int(max_samples))
    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE), n
