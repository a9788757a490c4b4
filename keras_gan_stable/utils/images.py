"""Sample grids as PNG files people can look at."""

import math
import os

import numpy as np


def to_uint8(images):
    """[-1, 1] float images -> uint8 [0, 255]."""
    images = np.asarray(images, dtype="float32")
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype("uint8")


def image_grid(images, nrow=None, padding=2, pad_value=255):
    """Tiles `[N, H, W, C]` images in [-1, 1] into one uint8 `[H', W', C]`."""
    images = to_uint8(images)
    if images.ndim == 3:
        images = images[..., None]
    n, h, w, c = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.full((ncol * (h + padding) + padding,
                    nrow * (w + padding) + padding, c), pad_value, "uint8")
    for i in range(n):
        r, col = divmod(i, nrow)
        y = padding + r * (h + padding)
        x = padding + col * (w + padding)
        grid[y:y + h, x:x + w] = images[i]
    return grid


def save_image_grid(images, path, nrow=None, scale=None):
    """Writes a grid of `[N, H, W, C]` images in [-1, 1] to a PNG file.

    Small images are enlarged by an integer factor (nearest neighbour) so
    the grid is readable; the file is written to a temporary name first and
    then renamed, so a crash never leaves half a PNG.
    """
    from PIL import Image

    grid = image_grid(images, nrow=nrow)
    if scale is None:
        scale = max(1, 256 // max(grid.shape[0], 1))
        scale = min(scale, 8)
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    mode = "L" if grid.shape[-1] == 1 else "RGB"
    img = Image.fromarray(grid[..., 0] if mode == "L" else grid, mode=mode)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return path
