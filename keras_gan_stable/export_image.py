"""SavedModel export of an image-to-image generator (uint8 in, uint8 out)."""

import os

import numpy as np
import keras
from keras import ops


def to_uint8(images):
    """[-1, 1] floats -> uint8, `round((x + 1) * 127.5)` clipped (NumPy)."""
    x = np.asarray(images, "float32")
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype("uint8")


def from_uint8(images):
    """uint8 -> [-1, 1] float32, `x / 127.5 - 1` (NumPy)."""
    return np.asarray(images, "float32") / 127.5 - 1.0


def export_translator(model, path, version=1, use_ema=True, overwrite=False,
                      masked=None, verbose=False):
    """Writes the generator of an `ImageToImageGAN` (or `CycleGAN`'s `g_ab`)
    as a TF SavedModel in TF Serving's layout, `path/<version>/`.

    Endpoint `serve(images)`: uint8 `[N, h, w, C_in]` -> uint8
    `[N, H, W, C]`, the same arithmetic as `to_uint8(model.translate(
    from_uint8(images)))`. For inpainting models (whose input holds the mask
    as its last channel) the endpoint is `serve(images, masks)`: uint8
    images `[N, H, W, C]` and masks `[N, H, W, 1]` (nonzero = hole); the
    holes are filled with 0 and the mask appended, as
    `degradations.inpainting` does.

    Args:
        model: `ImageToImageGAN` or `CycleGAN`.
        path: folder; the model goes to `path/<version>`.
        version: int. Defaults to `1`.
        use_ema: bool. Export the EMA generator when the model keeps one.
        overwrite: bool. Replace an existing version folder.
        masked: bool or `None`. Serve `(images, masks)`; `None` decides
            from the shapes: an input of the output's size with one more
            channel is an inpainting model.
    """
    if keras.backend.backend() == "torch":
        raise ValueError(
            "export_translator writes a TF SavedModel from the TensorFlow or "
            "JAX backend. Save the model (`model.save('m.keras')`), load it "
            "with KERAS_BACKEND=tensorflow and export from there."
        )
    import tensorflow as tf

    net = getattr(model, "g_ab", None) or model.generator
    if use_ema and getattr(model, "ema_generator", None) is not None:
        net = model.ema_generator
    in_shape = tuple(net.inputs[0].shape[1:])
    out_shape = tuple(net.outputs[0].shape[1:])
    inpaint = masked
    if inpaint is None:
        inpaint = (in_shape[-1] == out_shape[-1] + 1
                   and in_shape[:2] == out_shape[:2])
    target = os.path.join(os.fspath(path), str(int(version)))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"{target} exists. Pass `overwrite=True` or another `version`."
        )

    def to_u8(x):
        x = ops.clip(ops.round((ops.cast(x, "float32") + 1.0) * 127.5),
                     0.0, 255.0)
        return ops.cast(x, "uint8")

    archive = keras.export.ExportArchive()
    archive.track(net)
    if inpaint:
        c = in_shape[-1] - 1

        def serve_fn(images, masks):
            x = ops.cast(images, "float32") / 127.5 - 1.0
            m = ops.cast(ops.cast(masks, "float32") > 0, "float32")
            x = ops.concatenate([x * (1.0 - m), m], axis=-1)
            return to_u8(net(x, training=False))

        signature = [
            tf.TensorSpec((None,) + in_shape[:2] + (c,), tf.uint8,
                          name="images"),
            tf.TensorSpec((None,) + in_shape[:2] + (1,), tf.uint8,
                          name="masks")]
    else:
        def serve_fn(images):
            x = ops.cast(images, "float32") / 127.5 - 1.0
            return to_u8(net(x, training=False))

        signature = [tf.TensorSpec((None,) + in_shape, tf.uint8,
                                   name="images")]
    archive.add_endpoint("serve", serve_fn, input_signature=signature)
    from keras_gan_stable.export import staged_export

    with staged_export(target) as out:
        archive.write_out(out, verbose=verbose)
    return target
