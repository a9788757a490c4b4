"""Reads a captioned image folder: one `.txt` of captions per image.

The layout of CUB-200 (Reed et al.'s captions) and of COCO once its captions
are written out per image:

    images/001.Black_footed_Albatross/Black_Footed_Albatross_0001.jpg
    text/001.Black_footed_Albatross/Black_Footed_Albatross_0001.txt

or each `.txt` beside its image. A caption file holds one caption per line;
blank lines are skipped.
"""

import os

import numpy as np

from keras_gan_stable.data.loaders import DataError
from keras_gan_stable.data.loaders import decode_image
from keras_gan_stable.data.loaders import scan_folder


def caption_path(image_path, folder, text_folder=None):
    """The caption file of `image_path`: beside it, or at the same relative
    path under `text_folder`."""
    stem = os.path.splitext(image_path)[0]
    if text_folder is None:
        return stem + ".txt"
    return os.path.join(text_folder, os.path.relpath(stem, folder) + ".txt")


def read_captions(path, image_path):
    """The non-blank lines of one caption file (a list of strings)."""
    if not os.path.isfile(path):
        raise DataError(
            f"No caption file {path} for image {image_path}. Add a .txt "
            "with one caption per line there, or remove the image.")
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as e:
        raise DataError(
            f"Caption file {path} is not UTF-8 text ({e.reason} at byte "
            f"{e.start}). Re-save it as UTF-8.") from None
    captions = [line for line in lines if line]
    if not captions:
        raise DataError(
            f"Caption file {path} (for image {image_path}) holds no caption. "
            "Write one caption per line in it, or remove the image.")
    return captions


def load_caption_folder(folder, image_size=None, text_folder=None,
                        channels=3, max_samples=None):
    """Images and their captions from a captioned image folder.

    Args:
        folder: str. Folder of PNG/JPEG images (searched recursively).
        image_size: int, `(H, W)` or `None`. Resize every image to this;
            `None` requires all images to share one size. Defaults to `None`.
        text_folder: str or `None`. Root of the caption files, mirroring
            `folder`'s sub-folders (CUB's `text/`); `None` reads each `.txt`
            beside its image. Defaults to `None`.
        channels: int. 1 or 3. Defaults to 3.
        max_samples: int or `None`. Read at most this many images (in
            sorted order). Defaults to `None` (all).

    Returns:
        `(images, captions)`: float32 `[N, H, W, C]` in [-1, 1] and a list
        of `N` lists of caption strings.

    Raises:
        DataError: (a `ValueError`) a missing folder, an image without a
            caption file, an empty or non-UTF-8 caption file, a corrupt image.
    """
    if max_samples is not None and (isinstance(max_samples, bool) or not
                                    isinstance(max_samples, (int, np.integer))
                                    or max_samples < 1):
        raise DataError(
            "`max_samples` should be a positive integer or None. Received: "
            f"`max_samples={max_samples!r}`")
    if text_folder is not None and not os.path.isdir(text_folder):
        raise DataError(
            f"Caption folder {text_folder} does not exist. Pass the folder "
            "that mirrors the image folder with .txt files, or None to read "
            "each .txt beside its image.")
    files, _, size, channels = scan_folder(folder, image_size, channels)
    if max_samples is not None:
        files = files[:max_samples]
    # Every caption file is checked before any image is decoded.
    captions = [read_captions(caption_path(f, folder, text_folder), f)
                for f in files]
    images = np.empty((len(files), size[0], size[1], channels), "float32")
    for i, f in enumerate(files):
        images[i] = decode_image(f, size, channels) / 127.5 - 1.0
    return images, captions
