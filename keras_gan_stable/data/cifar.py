"""Reads CIFAR-10 JPEGs straight from the local `train-jpeg.tar.gz`."""

import io
import os
import tarfile

import numpy as np

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                   "frog", "horse", "ship", "truck")


def load_cifar10_from_tar(path=None, max_per_class=None, scale=True):
    """Decodes CIFAR-10 images from the tar.gz without unpacking it to disk.

    Args:
        path: the `train-jpeg.tar.gz`; defaults to
            `$KERAS_GAN_STABLE_DATA/cifar10/train-jpeg.tar.gz`.
        max_per_class: int or `None`. Keep at most this many images per
            class (sorted by file name, so the subset is deterministic).
        scale: float32 in [-1, 1] when True, else uint8.

    Returns:
        `(images [N, 32, 32, 3], labels [N] int32)`, classes in
        `CIFAR10_CLASSES` order.
    """
    from PIL import Image

    from keras_gan_stable.data.paths import data_path

    if path is None:
        path = data_path("cifar10", "train-jpeg.tar.gz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"CIFAR-10 archive not found: {path}")
    selected = {}
    with tarfile.open(path, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile()
                   and m.name.lower().endswith((".jpg", ".jpeg", ".png"))]
        by_class = {}
        for m in members:
            cls = m.name.split("/")[-2]
            by_class.setdefault(cls, []).append(m)
        wanted = []
        for cls in sorted(by_class):
            ms = sorted(by_class[cls], key=lambda m: m.name)
            if max_per_class is not None:
                ms = ms[:max_per_class]
            wanted.extend(ms)
        wanted_names = {m.name for m in wanted}
        # Re-open and stream once: random access into a gzip stream is slow.
    with tarfile.open(path, "r|gz") as tar:
        for m in tar:
            if m.name in wanted_names:
                data = tar.extractfile(m).read()
                img = Image.open(io.BytesIO(data)).convert("RGB")
                selected[m.name] = np.asarray(img, dtype=np.uint8)
    names = sorted(selected)
    classes = sorted({n.split("/")[-2] for n in names})
    order = [c for c in CIFAR10_CLASSES if c in classes] + [
        c for c in classes if c not in CIFAR10_CLASSES]
    index = {c: i for i, c in enumerate(order)}
    images = np.stack([selected[n] for n in names])
    labels = np.array([index[n.split("/")[-2]] for n in names], "int32")
    if scale:
        images = images.astype("float32") / 127.5 - 1.0
    return images, labels
