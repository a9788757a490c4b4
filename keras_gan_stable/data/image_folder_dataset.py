"""A streaming image-folder loader that needs no TensorFlow."""

import numpy as np
import keras

from keras_gan_stable.data import loaders


class ImageFolderDataset(keras.utils.PyDataset):
    """Streams an image folder in batches: decoded, resized, scaled on the fly.

    A `keras.utils.PyDataset`, so `GAN.fit` takes it on every backend,
    TensorFlow installed or not, and only one batch per worker is decoded
    at a time. Files are found, labelled and checked as by `load_arrays`
    (sorted recursive walk, first-level sub-folders are the classes, corrupt
    headers and mixed sizes reported before training); each image is decoded
    with PIL exactly as the in-memory path does, so the values are the same.

    Args:
        folder: str. A folder of PNG/JPEG images (sub-folders are classes).
        batch_size: int. Images per batch. Defaults to `64`.
        image_size: int or `(H, W)`. Resize every image (bilinear). Required
            for folders of mixed sizes.
        channels: 1, 3 or `None` (grey when every image is grey, else RGB).
        labels: bool. Yield `(images, labels)`. Defaults to `False`.
        shuffle: bool. A new order every epoch. Defaults to `True`.
        seed: int. Seed of the shuffling. Defaults to `0`.
        drop_remainder: bool. Drop the last partial batch. Defaults to
            `True`.
        max_samples: int or `None`. Keep the first `max_samples` files.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of
            `keras.utils.PyDataset`.

    >>> ds = ImageFolderDataset("faces/", batch_size=64, image_size=64)
    >>> gan.fit(ds, epochs=10)
    """

    def __init__(self, folder, batch_size=64, image_size=None, channels=None,
                 labels=False, shuffle=True, seed=0, drop_remainder=True,
                 max_samples=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise loaders.DataError(
                f"`batch_size` should be >= 1. Received: "
                f"`batch_size={batch_size!r}`."
            )
        self.folder = folder
        self.batch_size = int(batch_size)
        self.labels = bool(labels)
        self.shuffle = bool(shuffle)
        self.seed = seed
        self.drop_remainder = bool(drop_remainder)
        files, y, self.image_size, self.channels = loaders.scan_folder(
            folder, image_size, channels)
        if max_samples is not None:
            if int(max_samples) < 1:
                raise loaders.DataError(
                    "`max_samples` should be >= 1 or None. Received: "
                    f"`max_samples={max_samples!r}`."
                )
            files, y = files[:int(max_samples)], y[:int(max_samples)]
        if self.drop_remainder and len(files) < self.batch_size:
            raise loaders.DataError(
                f"{folder}: found {len(files)} samples, fewer than one batch "
                f"of {self.batch_size} (drop_remainder=True). Lower "
                "batch_size or pass drop_remainder=False."
            )
        self.files = files
        self.class_labels = y
        self._epoch = 0
        self._order = self._make_order()

    def _make_order(self):
        n = len(self.files)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([int(self.seed), self._epoch]).permutation(n)

    def __len__(self):
        n = len(self.files)
        return n // self.batch_size if self.drop_remainder else -(
            -n // self.batch_size)

    def __getitem__(self, index):
        idx = self._order[index * self.batch_size:(index + 1) *
                          self.batch_size]
        h, w = self.image_size
        batch = np.empty((len(idx), h, w, self.channels), "float32")
        for i, j in enumerate(idx):
            img = loaders.decode_image(self.files[j], self.image_size,
                                       self.channels)
            # uint8 -> [-1, 1] with the in-memory path's float32 arithmetic.
            batch[i] = img.astype("float32") * np.float32(2.0 / 255.0) + \
                np.float32(-1.0)
        np.clip(batch, -1.0, 1.0, out=batch)
        if self.labels:
            return batch, self.class_labels[idx]
        return batch

    def on_epoch_end(self):
        self._epoch += 1
        self._order = self._make_order()
