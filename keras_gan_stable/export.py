"""Persisting a trained GAN: SavedModel export for serving.

Checkpoints for resuming are `keras_gan_stable.callbacks.checkpoint`
(`ResumableCheckpoint`, `save_checkpoint`, `restore_checkpoint`)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import keras


def _generator_of(gan, use_ema=True):
    """The network to export: the EMA copy when the GAN carries one."""
    if isinstance(gan, keras.Model) and hasattr(gan, "generator"):
        ema = getattr(gan, "ema_generator", None) if use_ema else None
        generator = ema if ema is not None else gan.generator
        return generator, int(gan.latent_dim), gan.num_classes
    if isinstance(gan, keras.Model):
        shape = tuple(gan.inputs[0].shape) if isinstance(
            gan.inputs, (list, tuple)) else tuple(gan.inputs.shape)
        num_classes = None
        if len(gan.inputs) == 2:
            for layer in gan.layers:
                if isinstance(layer, keras.layers.Embedding):
                    num_classes = int(layer.input_dim)
                    break
            if num_classes is None:
                raise ValueError(
                    "Cannot tell the number of classes of this conditional "
                    "generator; export the GAN instead of its generator."
                )
        return gan, int(shape[-1]), num_classes
    raise ValueError(
        "`export_generator` takes a GAN or a generator `keras.Model`. "
        f"Received: {gan!r} of type {type(gan).__name__}."
    )


def export_generator(gan, path, version=1, use_ema=True, overwrite=False,
                     verbose=False):
    """Writes the generator as a TF SavedModel in TF Serving's layout.

    The model lands in `path/<version>/` with two signatures:

    - `serve(z[, labels])`: latent vectors `[N, latent_dim]` float32 (and
      int32 class labels `[N]` for a conditional GAN) -> images
      `[N, H, W, C]` uint8 (`round((x + 1) * 127.5)`, clipped). Also the
      `serving_default` signature.
    - `sample(n, seed)`: int32 scalars -> `n` uint8 images from
      `z = tf.random.stateless_normal([n, latent_dim], seed=[seed, 0])`
      (labels from `tf.random.stateless_uniform(..., seed=[seed, 1])` when
      conditional), so a seed always gives the same images.

    The generator's EMA copy (`gan.ema_generator`) is exported when present
    and `use_ema` is set. The SavedModel needs only TensorFlow to load:
    `tf.saved_model.load(path + "/1").serve(z)`. The folder is written under
    a temporary name and renamed, so a crash never leaves half an export.

    Backends: TensorFlow natively; JAX through `jax2tf` (TensorFlow must be
    installed); PyTorch by saving the generator to `.keras` and exporting it
    in a TensorFlow-backend subprocess (TensorFlow must be installed).

    Args:
        gan: `GAN` (or a generator `keras.Model`).
        path: str. The model's base folder; the export goes to
            `path/<version>`.
        version: int. TF Serving version number. Defaults to `1`.
        use_ema: bool. Export the EMA generator when there is one.
            Defaults to `True`.
        overwrite: bool. Replace an existing `path/<version>`. Defaults to
            `False`.
        verbose: bool. Print Keras' endpoint summary.

    Returns:
        The version folder written.

    >>> export_generator(gan, "serving/digits")       # serving/digits/1/
    """
    version = int(version)
    if version < 0:
        raise ValueError(
            f"`version` should be a non-negative integer. Received: "
            f"`version={version}`."
        )
    generator, latent_dim, num_classes = _generator_of(gan, use_ema)
    target = os.path.join(os.fspath(path), str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Export folder {target} already exists. Pass overwrite=True or "
            "a new `version`."
        )
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise ImportError(
            "export_generator writes a TensorFlow SavedModel and needs "
            "TensorFlow installed (also on the JAX and PyTorch backends): "
            "`pip install tensorflow`."
        ) from None
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{version}.tmp-", dir=parent)
    try:
        out = os.path.join(tmp, "model")
        if keras.backend.backend() == "torch":
            _export_via_tensorflow(generator, out, latent_dim, num_classes)
        else:
            _write_saved_model(generator, out, latent_dim, num_classes,
                               verbose)
        if os.path.exists(target):
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_saved_model(generator, out, latent_dim, num_classes, verbose):
    import tensorflow as tf
    from keras import ops

    def to_uint8(images):
        images = ops.cast(images, "float32")
        images = ops.clip(ops.round((images + 1.0) * 127.5), 0.0, 255.0)
        return ops.cast(images, "uint8")

    archive = keras.export.ExportArchive()
    archive.track(generator)
    z_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="z")
    if num_classes:
        def serve_fn(z, labels):
            return to_uint8(generator([z, labels], training=False))

        signature = [z_spec, tf.TensorSpec((None,), tf.int32, name="labels")]
    else:
        def serve_fn(z):
            return to_uint8(generator(z, training=False))

        signature = [z_spec]
    serve = archive.add_endpoint("serve", serve_fn, input_signature=signature)

    @tf.function(input_signature=[tf.TensorSpec((), tf.int32, name="n"),
                                  tf.TensorSpec((), tf.int32, name="seed")])
    def sample(n, seed):
        seed = tf.cast(seed, tf.int64)
        z = tf.random.stateless_normal(
            tf.stack([n, latent_dim]), seed=tf.stack([seed, 0]))
        if num_classes:
            labels = tf.random.stateless_uniform(
                tf.reshape(n, [1]), seed=tf.stack([seed, 1]), minval=0,
                maxval=num_classes, dtype=tf.int32)
            return serve(z, labels)
        return serve(z)

    sample.get_concrete_function()
    archive.add_endpoint("sample", sample)
    archive.write_out(out, verbose=verbose)


def _export_via_tensorflow(generator, out, latent_dim, num_classes):
    """PyTorch backend: re-load the generator under TensorFlow and export."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "generator.keras")
        generator.save(model_path)
        code = (
            "import sys, keras, keras_gan_stable\n"
            "keras_gan_stable.register_all()\n"
            "from keras_gan_stable.export import _write_saved_model\n"
            "g = keras.saving.load_model(sys.argv[1], compile=False)\n"
            "nc = None if sys.argv[4] == 'None' else int(sys.argv[4])\n"
            "_write_saved_model(g, sys.argv[2], int(sys.argv[3]), nc, False)\n"
        )
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        proc = subprocess.run(
            [sys.executable, "-c", code, model_path, out, str(latent_dim),
             str(num_classes)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise RuntimeError(
                "Exporting from the PyTorch backend re-loads the generator "
                "under TensorFlow, which failed: " + " ".join(tail)
            )


def write_json_atomic(path, obj):
    """Writes `obj` as indented JSON via a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)
    return path
