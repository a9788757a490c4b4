"""Applies an image-to-image model to PNG/JPEG files (what `apply` runs)."""

import os

import numpy as np

from keras_gan_stable.export_image import from_uint8
from keras_gan_stable.export_image import to_uint8

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")


def _read(path, channels=None):
    """An image file as uint8 `[H, W, C]`: grey files give C = 1, colour
    files C = 3 (RGBA with transparency 4); `channels=1` reads grey (masks).
    Unreadable files raise one-line `ValueError`s."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(path)
        img.load()
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"{path}: not a readable image ({e}).") from None
    if channels == 1:
        img = img.convert("L")
    elif img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in ("1", "I", "I;16", "F"):
        img = img.convert("L")
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[..., None] if arr.ndim == 2 else arr
    if arr.shape[-1] in (2, 4) and np.all(arr[..., -1] == 255):
        arr = arr[..., :-1]  # an opaque alpha channel carries nothing
    return arr


def _write(path, arr):
    from PIL import Image

    arr = arr[..., 0] if arr.shape[-1] == 1 else arr
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.png"
    Image.fromarray(arr).save(tmp, format="PNG")
    os.replace(tmp, path)


def apply_images(model, source, out, mask_suffix="_mask", masks=None,
                 batch_size=64):
    """Runs `model.translate` on one image file or every image of a folder.

    Outputs are PNGs named like the inputs (`out` is a folder, or a file
    path when `source` is one file), with the arithmetic of the exported
    SavedModel: uint8 -> `x / 127.5 - 1` -> generator -> `round((y + 1) *
    127.5)`. For inpainting models (input = image + mask channel) each image
    needs a mask: `<name><mask_suffix>.png` beside it (nonzero = hole), or
    drawn by `masks` (an `inpainting(...)` pair maker); mask files are not
    treated as inputs.

    Returns:
        The list of written paths.
    """
    net_in = tuple(model.generator.inputs[0].shape[1:])
    net_out = tuple(model.generator.outputs[0].shape[1:])
    inpaint = net_in[-1] == net_out[-1] + 1 and net_in[:2] == net_out[:2]
    channels = net_out[-1] if inpaint else net_in[-1]
    if os.path.isdir(source):
        names = sorted(
            n for n in os.listdir(source)
            if n.lower().endswith(IMAGE_EXTENSIONS)
            and not os.path.splitext(n)[0].endswith(mask_suffix))
        files = [os.path.join(source, n) for n in names]
        targets = [os.path.join(out, os.path.splitext(n)[0] + ".png")
                   for n in names]
    elif os.path.isfile(source):
        files = [source]
        targets = [out if out.lower().endswith(".png") else os.path.join(
            out, os.path.splitext(os.path.basename(source))[0] + ".png")]
    else:
        raise ValueError(
            f"`source` should be an image file or a folder of images. "
            f"Received: {source!r}, which does not exist."
        )
    if not files:
        raise ValueError(
            f"No images ({', '.join(IMAGE_EXTENSIONS)}) in {source!r}."
        )
    want = tuple(net_in[:2]) + (channels,)
    images = []
    for f in files:  # every input is checked before anything is written
        img = _read(f)
        if img.shape != want:
            raise ValueError(_shape_error(f, img.shape, want, net_out))
        images.append(img)
    x = from_uint8(np.stack(images))
    if inpaint:
        x = _with_masks(x, files, mask_suffix, masks)
    written = []
    for start in range(0, len(files), batch_size):
        y = to_uint8(model.translate(x[start:start + batch_size]))
        for target, arr in zip(targets[start:start + batch_size], y):
            _write(target, arr)
            written.append(target)
    return written


def _shape_error(path, got, want, net_out):
    kind = {1: "grey", 3: "RGB"}
    n = f"{got[2]} channel" + ("s" if got[2] != 1 else "")
    msg = (f"{path}: the image is {got[1]}x{got[0]} with {n}, but the model "
           f"takes {want[1]}x{want[0]} images with {want[2]} "
           f"({kind.get(want[2], '')}).")
    if got[:2] != want[:2]:
        if tuple(got[:2]) == tuple(net_out[:2]) != tuple(want[:2]):
            s = net_out[0] // want[0]
            return msg + (f" It has the size of the model's outputs: give "
                          f"the low-resolution images (1/{s} of the size).")
        return msg + (" Resize the images (or use a model trained at this "
                      "size).")
    return msg + (f" Convert the images to {kind.get(want[2], 'RGB')} (or "
                  "use a model trained on such images).")


def _with_masks(x, files, mask_suffix, masks):
    from keras_gan_stable.data.degradations import inpainting

    found = []
    for f in files:
        stem = os.path.splitext(f)[0]
        path = next((stem + mask_suffix + ext for ext in IMAGE_EXTENSIONS
                     if os.path.exists(stem + mask_suffix + ext)), None)
        if path is None:
            if masks is None:
                raise ValueError(
                    f"{f}: no mask {os.path.basename(stem)}{mask_suffix}.png "
                    "beside it. Add one (nonzero = hole) or pass `masks=` "
                    "(an inpainting() pair maker) to draw masks."
                )
            found.append(None)
            continue
        m = _read(path, 1)
        if m.shape[:2] != x.shape[1:3]:
            raise ValueError(
                f"{path}: the mask is {m.shape[1]}x{m.shape[0]}, its image "
                f"{x.shape[2]}x{x.shape[1]}. Give a mask of the image's size."
            )
        found.append((m > 0).astype("float32"))
    if any(m is None for m in found):
        drawn = masks(x)[0][..., -1:]
        found = [d if m is None else m for m, d in zip(found, drawn)]
    return inpainting(fill=0.0)(x, masks=np.stack(found))[0]
