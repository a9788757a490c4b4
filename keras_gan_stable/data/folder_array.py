"""A lazy, array-like view of an image folder (the run API's streamed data)."""

import operator
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from keras_gan_stable.data import loaders


class FolderImages:
    """An image folder seen as a read-only float32 array `[N, H, W, C]` in
    [-1, 1], whose images are decoded only when indexed.

    `view[i]`, `view[a:b]` and `view[index_array]` decode just those files,
    with the same PIL decoding and the same float32 arithmetic as
    `load_arrays(folder)`, so the values are identical to the in-memory
    array's; only the requested batch is ever held. Files, labels, sizes and
    channels come from `loaders.scan_folder` (sorted recursive walk, the
    first-level sub-folders are the classes, every header checked before
    any decoding, mixed sizes refused unless `image_size` is given).

    `ResumableBatches` indexes it batch by batch (`x[order[i:j]]`), so a run
    streams a large folder while its batch stream stays a function of
    `(seed, epoch, batch)` and resumes exactly. `np.asarray(view)` decodes
    everything (it works, but holds the whole array).

    A batch is decoded by up to `workers` threads (PIL releases the GIL
    while it decodes and resizes); each image is written to its own row,
    so the result does not depend on the threads' timing.

    Unlike `load_arrays`, the values are not scanned against
    `value_range` before training: decoded values outside it are clipped
    to [-1, 1] (as `load_dataset(folder, stream=True)` does).

    Args:
        folder: str. A folder of PNG/JPEG images (sub-folders are classes).
        image_size: int or `(H, W)`. Resize every image (bilinear). Required
            for folders of mixed sizes.
        channels: 1, 3 or `None` (grey when every image is grey, else RGB).
        max_samples: int or `None`. Keep the first `max_samples` files.
        value_range: `(low, high)` or `None`. The range of the stored
            values, mapped to [-1, 1]. Defaults to `(0, 255)`.
        workers: int or `None`. Decoding threads per batch. Defaults to
            `min(4, os.cpu_count())`.

    >>> view = FolderImages("faces/", image_size=64)
    >>> view.shape, view.labels.shape
    ((70000, 64, 64, 3), (70000,))
    >>> batch = view[np.array([5, 3, 9])]     # float32 [3, 64, 64, 3]
    """

    def __init__(self, folder, image_size=None, channels=None,
                 max_samples=None, value_range=None, workers=None):
        folder = os.fspath(folder)
        files, labels, size, channels = loaders.scan_folder(
            folder, image_size, channels)
        if max_samples is not None:
            if isinstance(max_samples, bool) or int(max_samples) < 1:
                raise loaders.DataError(
                    "`max_samples` should be >= 1 or None. Received: "
                    f"`max_samples={max_samples!r}`."
                )
            files, labels = files[:int(max_samples)], labels[:int(max_samples)]
        self._init(folder, files, labels, size, channels,
                   loaders._check_value_range(value_range), workers)

    def _init(self, folder, files, labels, size, channels, value_range,
              workers):
        if workers is None:
            workers = min(4, os.cpu_count() or 1)
        if isinstance(workers, bool) or int(workers) < 1:
            raise ValueError(
                f"`workers` should be a positive integer or None. Received: "
                f"`workers={workers!r}`."
            )
        self.folder = folder
        self.files = list(files)
        self.labels = np.asarray(labels, "int32")
        self.image_size = (int(size[0]), int(size[1]))
        self.channels = int(channels)
        self.value_range = value_range
        self.workers = int(workers)
        # The in-memory path's arithmetic (`loaders._prepare` and
        # `load_arrays`): x * float32(scale) + float32(shift), then a clip.
        lo, hi = value_range if value_range is not None else (0.0, 255.0)
        scale = 2.0 / (hi - lo)
        shift = -1.0 - lo * scale
        self._rescale = scale != 1.0 or shift != 0.0
        self._scale, self._shift = np.float32(scale), np.float32(shift)
        self._pool = None

    def with_image_size(self, image_size):
        """The same files and labels decoded at another size (no re-scan)."""
        view = FolderImages.__new__(FolderImages)
        view._init(self.folder, self.files, self.labels,
                   loaders._check_image_size(image_size), self.channels,
                   self.value_range, self.workers)
        return view

    @property
    def shape(self):
        return (len(self.files),) + self.image_size + (self.channels,)

    @property
    def dtype(self):
        return np.dtype("float32")

    @property
    def ndim(self):
        return 4

    @property
    def decoded_bytes(self):
        """Bytes of the whole folder decoded as uint8 (4x as float32)."""
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self):
        return len(self.files)

    def __repr__(self):
        return (f"FolderImages({self.folder!r}, shape={self.shape}, "
                "dtype=float32)")

    def __getitem__(self, key):
        n = len(self.files)
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = operator.index(key)
            if not -n <= i < n:
                raise IndexError(
                    f"index {i} is out of bounds for {n} images.")
            return self._decode([i % n])[0]
        if isinstance(key, slice):
            return self._decode(range(*key.indices(n)))
        idx = np.asarray(key)
        if idx.dtype == bool and idx.shape == (n,):
            idx = np.flatnonzero(idx)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise IndexError(
                "FolderImages takes an int, a slice or a 1-D array of "
                f"indices (or a boolean mask of length {n}). Received: "
                f"{type(key).__name__} {getattr(idx, 'shape', '')}."
            )
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(f"index {bad} is out of bounds for {n} images.")
        return self._decode(idx % n if n else idx)

    def _decode(self, indices):
        h, w = self.image_size
        indices = list(indices)
        out = np.empty((len(indices), h, w, self.channels), "float32")

        def one(k):
            img = loaders.decode_image(self.files[indices[k]],
                                       self.image_size, self.channels)
            out[k] = img  # uint8 -> float32 exactly, as astype("float32")

        if self.workers > 1 and len(indices) > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self.workers, thread_name_prefix="FolderImages")
            # list(): wait for every image and re-raise the first error.
            list(self._pool.map(one, range(len(indices))))
        else:
            for k in range(len(indices)):
                one(k)
        if self._rescale:
            out *= self._scale
            out += self._shift
            np.clip(out, -1.0, 1.0, out=out)
        return out

    def __getstate__(self):  # a thread pool does not pickle
        state = dict(self.__dict__)
        state["_pool"] = None
        return state

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)


def should_stream(source, stream="auto", image_size=None, channels=None,
                  max_samples=None):
    """Whether a run streams `source` (`data.stream`): `True` for an image
    folder when `stream` is `True`, or `"auto"` and the folder's decoded
    uint8 size `N x H x W x C` exceeds `loaders.STREAM_ABOVE_BYTES`
    (128 MiB, i.e. 512 MiB as the float32 array the in-memory path holds),
    the rule `load_dataset(folder)` follows too. `N` is the file count
    (at most `max_samples`), `H x W` the `image_size` or the first image's,
    `C` the `channels` or the first image's (1 when grey, else 3): a file
    walk and one header, so the decision costs no decoding. Other sources
    are never streamed."""
    if stream is False or not isinstance(source, (str, os.PathLike)) or (
            not os.path.isdir(source)):
        return False
    if stream is True:
        return True
    from PIL import Image

    files, _ = loaders.list_image_files(os.fspath(source))
    n = len(files) if max_samples is None else min(len(files),
                                                  int(max_samples))
    size = loaders._check_image_size(image_size)
    channels = loaders._check_channels(channels)
    if size is None or channels is None:
        try:
            with Image.open(files[0]) as im:
                first_size, mode = (im.size[1], im.size[0]), im.mode
        except (OSError, SyntaxError, ValueError):
            # A corrupt first file: the folder's scan names it next.
            first_size, mode = (1, 1), "RGB"
        size = size or first_size
        channels = channels or (1 if mode in ("1", "L", "LA", "I", "I;16",
                                              "F") else 3)
    return n * size[0] * size[1] * channels > loaders.STREAM_ABOVE_BYTES
