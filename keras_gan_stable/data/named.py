"""Named data sets the Keras way: `keras.datasets`, its cache, an optional mirror.

`mnist`, `fashion_mnist`, `cifar10` and `cifar100` are read, in this order,
from:

1. the local mirror `KERAS_GAN_STABLE_DATA` when it is set and holds the
   requested split (this project's shared layout: `mnist/t10k-*.gz` is only
   the MNIST *test* set, `cifar10/train-jpeg.tar.gz` only CIFAR-10's
   *training* images);
2. the Keras cache, `$KERAS_HOME/datasets` or `~/.keras/datasets`, the files
   `keras.datasets.<name>.load_data()` writes (read directly, offline);
3. `keras.datasets.<name>.load_data()`, which downloads into that cache,
   unless `download=False`.

When none works the error is one line naming the cache path and the
`download=True` option (CLI: `--download`).
"""

import os

import numpy as np

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
SPLITS = ("train", "test", "all")

# Files `keras.datasets.<name>.load_data()` leaves under `<cache>/datasets`,
# per split.
_CACHE_FILES = {
    "mnist": {"train": ["mnist.npz"], "test": ["mnist.npz"]},
    "fashion_mnist": {
        s: [f"fashion-mnist/{p}-{k}-ubyte.gz" for k in ("images-idx3",
                                                        "labels-idx1")]
        for s, p in (("train", "train"), ("test", "t10k"))},
    "cifar10": {
        "train": [f"cifar-10-batches-py-target/cifar-10-batches-py/"
                  f"data_batch_{i}" for i in range(1, 6)],
        "test": ["cifar-10-batches-py-target/cifar-10-batches-py/test_batch"]},
    "cifar100": {
        s: [f"cifar-100-python-target/cifar-100-python/{s}"]
        for s in ("train", "test")},
}

# Files of the shared mirror layout, per split; a split missing here is not
# served by the mirror.
_MIRROR_FILES = {
    "mnist": {s: [f"mnist/{p}-images-idx3-ubyte.gz",
                  f"mnist/{p}-labels-idx1-ubyte.gz"]
              for s, p in (("train", "train"), ("test", "t10k"))},
    "fashion_mnist": {s: [f"fashion_mnist/{p}-images-idx3-ubyte.gz",
                          f"fashion_mnist/{p}-labels-idx1-ubyte.gz"]
                      for s, p in (("train", "train"), ("test", "t10k"))},
    "cifar10": {s: [f"cifar10/{s}-jpeg.tar.gz"] for s in ("train", "test")},
    "cifar100": {},
}


def keras_cache_dir():
    """`<Keras home>/datasets`, resolved now as `keras.utils.get_file` does.

    The Keras home is `$KERAS_HOME`, else `~/.keras`; `get_file` falls back to
    `/tmp/.keras` when that folder exists but is not writable.
    """
    base = os.environ.get("KERAS_HOME")
    if not base:
        home = os.path.expanduser("~")
        base = os.path.join(home if os.access(home, os.W_OK) else "/tmp",
                            ".keras")
    base = os.path.expanduser(base)
    if os.path.isdir(base) and not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return os.path.join(base, "datasets")


def check_split(split, source):
    """`None` -> `"train"`; anything but train/test/all raises."""
    from keras_gan_stable.data.loaders import DataError

    if split is None:
        return "train"
    if split not in SPLITS:
        raise DataError(
            f"`split` should be one of {list(SPLITS)} for {source!r}. "
            f"Received: `split={split!r}`."
        )
    return split


def _parts(split):
    return ("train", "test") if split == "all" else (split,)


def _mirror_split(name, split):
    """The mirror files of `split`, or `None` when the mirror lacks them."""
    from keras_gan_stable.data.paths import mirror_root

    root = mirror_root()
    if root is None:
        return None
    files = []
    for part in _parts(split):
        names = _MIRROR_FILES[name].get(part)
        if not names:
            return None
        paths = [os.path.join(root, n) for n in names]
        if not all(os.path.exists(p) for p in paths):
            return None
        files.append((part, paths))
    return files


def _mirror_holds(name):
    """A phrase saying which splits the mirror holds for `name`."""
    from keras_gan_stable.data.paths import ENV_VAR, mirror_root

    root = mirror_root()
    if root is None:
        return ""
    held = [s for s in ("train", "test") if _mirror_split(name, s)]
    what = (f"only the {held[0]} split (pass split={held[0]!r})"
            if len(held) == 1 else "no copy")
    return f"; the mirror {ENV_VAR}={root} holds {what} of {name}"


def _read_mirror(name, files, max_samples):
    from keras_gan_stable.data.idx import read_idx

    xs, ys = [], []
    for _, paths in files:
        if name == "cifar10":
            from keras_gan_stable.data.cifar import load_cifar10_from_tar

            per_class = None if not max_samples else -(-int(max_samples) // 10)
            x, y = load_cifar10_from_tar(paths[0], max_per_class=per_class,
                                         scale=False)
        else:
            x, y = read_idx(paths[0]), read_idx(paths[1])
        xs.append(x)
        ys.append(y)
    return xs, ys


def _read_cache(name, split, cache):
    """The cached files of `split` -> `(images, labels)` lists, or `None`."""
    xs, ys = [], []
    for part in _parts(split):
        paths = [os.path.join(cache, f) for f in _CACHE_FILES[name][part]]
        if not all(os.path.exists(p) for p in paths):
            return None
        if name == "mnist":
            x, y = _read_mnist_npz(paths[0], part)
        elif name == "fashion_mnist":
            from keras_gan_stable.data.idx import read_idx

            x, y = read_idx(paths[0]), read_idx(paths[1])
        else:
            key = "fine_labels" if name == "cifar100" else "labels"
            batches = [_load_cifar_batch(p, key) for p in paths]
            x = np.concatenate([b[0] for b in batches]).transpose(0, 2, 3, 1)
            y = np.concatenate([np.asarray(b[1]) for b in batches])
        xs.append(x)
        ys.append(y)
    return xs, ys


def _read_mnist_npz(path, part):
    from keras_gan_stable.data.loaders import DataError

    keys = (f"x_{part}", f"y_{part}")
    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in keys if k not in f.files]
            if missing:
                raise DataError(
                    f"{path}: found arrays {sorted(f.files)} but not "
                    f"{missing}. Delete the file and download it again "
                    "(download=True)."
                )
            return f[keys[0]], f[keys[1]]
    except (OSError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(
            f"Cannot read {path}: {str(e).splitlines()[0]}. Delete the file "
            "and download it again (download=True)."
        ) from None


def _download(name, split):
    import keras

    loader = getattr(keras.datasets, name).load_data
    (x_train, y_train), (x_test, y_test) = loader()
    parts = {"train": (x_train, y_train), "test": (x_test, y_test)}
    return ([parts[p][0] for p in _parts(split)],
            [parts[p][1] for p in _parts(split)])


def load_named(name, split=None, download=None, max_samples=None):
    """Reads a named data set; returns `(images uint8 [N, H, W(, C)], labels, where)`.

    Args:
        name: one of `KERAS_DATASETS`.
        split: `"train"` (default), `"test"` or `"all"` (train then test).
        download: `None` fetches a missing set with `keras.datasets` (Keras'
            own behaviour), `True` likewise, `False` never downloads.
        max_samples: int or `None`. Lets the CIFAR-10 mirror decode only
            what is kept.
    """
    from keras_gan_stable.data.loaders import DataError

    split = check_split(split, name)
    files = _mirror_split(name, split)
    if files is not None:
        xs, ys = _read_mirror(name, files, max_samples)
        where = os.path.dirname(files[0][1][0])
    else:
        cache = keras_cache_dir()
        where = os.path.join(cache, _CACHE_FILES[name]["train"][0])
        got = _read_cache(name, split, cache)
        if got is None and download is False:
            missing = [os.path.join(cache, f) for p in _parts(split)
                       for f in _CACHE_FILES[name][p]
                       if not os.path.exists(os.path.join(cache, f))]
            raise DataError(
                f"{name} ({split} split) is not in the Keras cache: "
                f"{missing[0]} does not exist{_mirror_holds(name)}. Pass "
                "download=True (CLI: --download) to fetch it with "
                f"keras.datasets.{name}.load_data() when online, or copy "
                "the file there from a machine that has it."
            )
        if got is None:
            try:
                got = _download(name, split)
            except Exception as e:  # keras raises bare Exceptions when offline
                msg = (str(e).splitlines() or [type(e).__name__])[0]
                raise DataError(
                    f"{name} ({split} split) is not in the Keras cache "
                    f"({where}) and keras.datasets.{name}.load_data() could "
                    f"not download it: {msg}{_mirror_holds(name)}. Connect "
                    "to the internet and retry (download=True, CLI: "
                    "--download), or copy the file there from a machine "
                    "that has it."
                ) from None
        xs, ys = got
    x = np.concatenate(xs) if len(xs) > 1 else xs[0]
    y = np.concatenate([np.asarray(v).reshape(-1) for v in ys])
    return x, y.astype("int32"), where


def _load_cifar_batch(path, label_key):
    """`(images [N, 3, 32, 32] uint8, labels)` of one batch file of the
    CIFAR "python version" (the files `keras.datasets` caches): a pickled
    dict with bytes keys, as Keras reads it."""
    import pickle

    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    batch = {(k.decode("utf8") if isinstance(k, bytes) else k): v
             for k, v in batch.items()}
    return batch["data"].reshape(-1, 3, 32, 32), batch[label_key]
