"""Reader of the IDX format of MNIST (`*-idx3-ubyte[.gz]`)."""

import gzip
import os

import numpy as np

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
           0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array.

    Raises `ValueError` naming the file when its header or size is wrong.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(
            f"Cannot read IDX file {path}: {e}. The file is corrupt or not "
            "gzip-compressed; download it again."
        ) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise ValueError(
            f"{path} is not an IDX file (bad magic number {raw[:4].hex()}); "
            "expected e.g. 0x00000803 for MNIST images."
        )
    dtype = np.dtype(_DTYPES[raw[2]])
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(
            f"{path} is truncated or padded: header says shape {dims} "
            f"({expected} bytes of data) but the file holds {len(raw) - offset}."
        )
    return np.frombuffer(raw, dtype=dtype, offset=offset).reshape(dims)


def load_mnist_test(root=None, scale=True):
    """The MNIST test set from local IDX files: `(images [N,28,28,1], labels)`.

    Images are float32 in [-1, 1] when `scale`, else uint8.
    """
    from keras_gan_stable.data.paths import data_path

    if root is None:
        img_path = data_path("mnist", "t10k-images-idx3-ubyte.gz")
        lbl_path = data_path("mnist", "t10k-labels-idx1-ubyte.gz")
    else:
        img_path = os.path.join(root, "t10k-images-idx3-ubyte.gz")
        lbl_path = os.path.join(root, "t10k-labels-idx1-ubyte.gz")
    images = read_idx(img_path)[..., None]
    labels = read_idx(lbl_path).astype("int32")
    if scale:
        images = images.astype("float32") / 127.5 - 1.0
    return images, labels
