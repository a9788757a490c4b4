"""StyleGAN2 figures as files: the style-mixing grid (PNG) and a w-space
interpolation (animated GIF).

Both take a trained `StyleGAN2` and write exact images: the PNG holds the
grid's pixels one to one (`scale` enlarges them by pixel repetition), the
GIF holds grey images exactly and colour images through an adaptive
256-colour palette per frame.
"""

import os

import numpy as np

from keras_gan_stable.utils.images import to_uint8

__all__ = ["save_style_mixing_grid", "save_interpolation_gif"]


def _check_model(gan, what):
    if not (hasattr(gan, "style_mixing_grid") and hasattr(gan,
                                                          "interpolate")):
        raise ValueError(
            f"`{what}` needs a StyleGAN2 model (with `style_mixing_grid` and "
            f"`interpolate`). Received: `gan={type(gan).__name__}`"
        )


def _check_path(path, suffix, what):
    path = os.fspath(path)
    if not path.lower().endswith(suffix):
        raise ValueError(
            f"`{what}` writes a {suffix} file. Received: `path={path!r}`"
        )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return path


def _check_scale(scale):
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) \
            or scale < 1:
        raise ValueError(
            f"`scale` should be a positive integer. Received: `scale={scale!r}`"
        )
    return int(scale)


def _pil(image):
    from PIL import Image

    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def save_style_mixing_grid(gan, path, row_seeds, col_seeds, col_styles=None,
                           truncation_psi=1.0, use_ema=None, noise_seed=0,
                           scale=1):
    """Writes the style-mixing figure of `gan` to a PNG file.

    Row `r` (from the second) is seed `row_seeds[r]`'s `w` with the layers
    `col_styles` (`"coarse"`, `"middle"`, `"fine"` or a list of layer
    indices; default the coarse half) taken from column `c`'s seed; the
    first row holds the column seeds' images and the first column the row
    seeds' (see `StyleGAN2.style_mixing_grid`). Every image uses the noise
    maps of `noise_seed`.

    Args:
        gan: a trained `StyleGAN2`.
        path: str. The `.png` file.
        row_seeds, col_seeds: lists of int latent seeds.
        col_styles: str or list of int. The layers taken from the columns.
        truncation_psi: float. Truncation of every `w`. Defaults to `1.0`.
        use_ema: bool or `None`. Use the EMA generator (default: when
            there is one).
        noise_seed: int. Seed of the shared noise maps. Defaults to `0`.
        scale: int. Pixel repetition factor. Defaults to `1`.

    Returns:
        The grid as uint8 `[(R + 1) H, (C + 1) W, channels]` (before
        `scale`).

    >>> save_style_mixing_grid(gan, "mixing.png", [1, 2, 3], [4, 5, 6],
    ...                        col_styles="coarse", scale=4)
    """
    _check_model(gan, "save_style_mixing_grid")
    path = _check_path(path, ".png", "save_style_mixing_grid")
    scale = _check_scale(scale)
    grid = to_uint8(gan.style_mixing_grid(
        row_seeds, col_seeds, col_styles=col_styles,
        truncation_psi=truncation_psi, use_ema=use_ema,
        noise_seed=noise_seed))
    big = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    tmp = path + ".tmp.png"
    _pil(big).save(tmp)
    os.replace(tmp, path)
    return grid


def save_interpolation_gif(gan, path, seeds, steps=16, frame_ms=80,
                           truncation_psi=1.0, use_ema=None, noise_seed=0,
                           scale=1, loop=True):
    """Writes a linear w-space walk through `seeds` as an animated GIF.

    Frames are `StyleGAN2.interpolate(seeds, steps)`: `steps` per segment
    and the last seed's image, all with the noise maps of `noise_seed`, so
    the first and last frames are `gan.generate(1, seed=s,
    noise_seed=noise_seed)` of the end seeds.

    Args:
        gan: a trained `StyleGAN2`.
        path: str. The `.gif` file.
        seeds: list of int. At least two latent seeds.
        steps: int. Frames per segment. Defaults to `16`.
        frame_ms: int. Display time of a frame in milliseconds. Defaults
            to `80`.
        truncation_psi: float. Truncation of every `w`. Defaults to `1.0`.
        use_ema: bool or `None`. Use the EMA generator (default: when
            there is one).
        noise_seed: int. Seed of the shared noise maps. Defaults to `0`.
        scale: int. Pixel repetition factor. Defaults to `1`.
        loop: bool. Loop forever (else play once). Defaults to `True`.

    Returns:
        The frames as uint8 `[F, H, W, channels]` (before `scale`).

    >>> save_interpolation_gif(gan, "walk.gif", [1, 2, 3, 1], steps=24)
    """
    _check_model(gan, "save_interpolation_gif")
    path = _check_path(path, ".gif", "save_interpolation_gif")
    scale = _check_scale(scale)
    if isinstance(frame_ms, bool) or not isinstance(
            frame_ms, (int, np.integer)) or frame_ms < 1:
        raise ValueError(
            "`frame_ms` should be a positive integer (milliseconds). "
            f"Received: `frame_ms={frame_ms!r}`"
        )
    frames = to_uint8(gan.interpolate(seeds, steps=steps,
                                      truncation_psi=truncation_psi,
                                      use_ema=use_ema, noise_seed=noise_seed))
    big = np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)
    images = [_pil(f) for f in big]
    if frames.shape[-1] == 3:  # GIF frames are palette images
        from PIL import Image

        images = [im.quantize(256, method=Image.Quantize.MEDIANCUT)
                  for im in images]
    tmp = path + ".tmp.gif"
    extra = {"loop": 0} if loop else {}
    images[0].save(tmp, format="GIF", save_all=True,
                   append_images=images[1:], duration=int(frame_ms),
                   optimize=False, disposal=1, **extra)
    os.replace(tmp, path)
    return frames
