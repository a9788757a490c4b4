"""Persisting a trained GAN: SavedModel / ONNX / LiteRT export for serving.

Checkpoints for resuming are `keras_gan_stable.callbacks.checkpoint`
(`ResumableCheckpoint`, `save_checkpoint`, `restore_checkpoint`)."""

import json
import contextlib
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


FORMATS = ("saved_model", "onnx", "litert")
_SUFFIX = {"onnx": ".onnx", "litert": ".tflite"}


def export_generator(gan, path, format="saved_model", version=1, use_ema=True,
                     overwrite=False, verbose=False):
    """Exports the generator for serving: a SavedModel, an ONNX or a LiteRT file.

    Every format takes the same inputs and returns the same images:

    - `serve(z[, labels])`: latent vectors `z` `[N, latent_dim]` float32 (and
      int32 class labels `[N]` for a conditional GAN) -> images
      `[N, H, W, C]` uint8 (`round((x + 1) * 127.5)`, clipped, round half
      to even). `N = 0` gives an empty batch. In ONNX the inputs are named
      `z` (and `labels`); in LiteRT they are the model's inputs in that
      order.

    The SavedModel adds, in TensorFlow ops:

    - `sample(n, seed)`: int32 scalars -> `serve(z[, labels])` with
      `z = latent_noise(n, latent_dim, seed)` (and
      `labels = latent_labels(n, num_classes, seed)`), the noise of
      `keras_gan_stable.latents`: the same images as `GAN.generate(n, seed)`.
    - `latents(n, seed)`: that noise itself, `{"z": ..., "labels": ...}`.

    A StyleGAN2 generator (`StyleGAN2`, `stylegan2_generator`) takes the
    truncation and its per-pixel noise as serving inputs instead:

    - `serve(z[, labels], truncation_psi, noise_seed)`: `truncation_psi` a
      float32 scalar (`w <- w_avg + psi (w - w_avg)`; 1 is none),
      `noise_seed` an int32 scalar: row `i` takes the noise maps of row `i`
      of `latents.synthesis_noise(N, noise_size, noise_seed)`.
    - `sample(n, seed, truncation_psi)`: `serve(z, psi, noise_seed=seed)`
      with `z` of `seed`, the same images as `StyleGAN2.generate(n, seed,
      truncation_psi=psi)`.
    - `latents(n, seed)`: `{"z": ..., "noise": ...[, "labels": ...]}`.

    ONNX and LiteRT files hold `serve` only (their runtimes have no integer
    hash ops in common); feed them `keras_gan_stable.latents.latent_noise(n,
    latent_dim, seed)`, or the few NumPy lines documented in that module, to
    get the same images for the same seed.

    The generator's EMA copy (`gan.ema_generator`) is exported when present
    and `use_ema` is set. Files are written under a temporary name and
    renamed, so a crash never leaves half an export.

    Backends: all formats are made with TensorFlow (`keras.Model.export`):
    natively on TensorFlow; through `jax2tf` on JAX (SavedModel) or a
    TensorFlow-backend subprocess (ONNX, LiteRT); on PyTorch by saving the
    generator to `.keras` and exporting it in a TensorFlow-backend
    subprocess. ONNX needs `tf2onnx` and `onnx`, LiteRT TensorFlow's
    converter: `pip install keras-gan-stable[export]`.

    Args:
        gan: `GAN` (or a generator `keras.Model`).
        path: str. SavedModel: the model's base folder, the export goes to
            `path/<version>` (TF Serving's layout). ONNX / LiteRT: the file,
            `.onnx` / `.tflite` appended when missing.
        format: `"saved_model"` (default), `"onnx"` or `"litert"`.
        version: int. TF Serving version number (SavedModel only).
            Defaults to `1`.
        use_ema: bool. Export the EMA generator when there is one.
            Defaults to `True`.
        overwrite: bool. Replace an existing export. Defaults to `False`.
        verbose: bool. Print Keras' endpoint summary.

    Returns:
        The SavedModel version folder or the file written.

    >>> export_generator(gan, "serving/digits")              # serving/digits/1/
    >>> export_generator(gan, "digits.onnx", format="onnx")
    """
    if format not in FORMATS:
        raise ValueError(
            f"`format` should be one of {list(FORMATS)}. Received: "
            f"`format={format!r}`."
        )
    version = int(version)
    if version < 0:
        raise ValueError(
            f"`version` should be a non-negative integer. Received: "
            f"`version={version}`."
        )
    generator, latent_dim, num_classes = _generator_of(gan, use_ema)
    if format != "saved_model" and _is_stylegan2(generator):
        raise ValueError(
            f"`format={format!r}` does not export StyleGAN2 generators yet "
            "(their noise and truncation inputs are in the SavedModel "
            "only). Use `format='saved_model'`."
        )
    path = os.fspath(path)
    if format == "saved_model":
        target = os.path.join(path, str(version))
    else:
        target = path if path.endswith(_SUFFIX[format]) else (
            path + _SUFFIX[format])
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Export {'folder' if format == 'saved_model' else 'file'} "
            f"{target} already exists. Pass overwrite=True"
            + (" or a new `version`." if format == "saved_model" else
               " or another path.")
        )
    _check_export_packages(format)
    with staged_export(target, "model" + _SUFFIX.get(format, "")) as out:
        backend = keras.backend.backend()
        if backend == "torch" or (backend == "jax" and format != "saved_model"):
            _export_via_tensorflow(generator, out, latent_dim, num_classes,
                                   format)
        else:
            _write(generator, out, latent_dim, num_classes, format, verbose)
    return target


@contextlib.contextmanager
def staged_export(target, name="model"):
    """Yields a path in a temporary folder beside `target` to write an
    export to. When the block ends normally the export replaces `target`
    (`os.replace`, atomic on one file system); the temporary folder is
    always removed, so a failed or killed export leaves no half-written
    `target`."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.tmp-",
                           dir=parent)
    try:
        out = os.path.join(tmp, name)
        yield out
        if os.path.isdir(target):
            shutil.rmtree(target)
        os.replace(out, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_export_packages(format):
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise ImportError(
            f"export_generator(format={format!r}) needs TensorFlow installed "
            "(also on the JAX and PyTorch backends): `pip install tensorflow`."
        ) from None
    if format == "onnx":
        import importlib.util

        missing = [m for m in ("tf2onnx", "onnx")
                   if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(
                "export_generator(format='onnx') converts with tf2onnx and "
                f"onnx; missing: {', '.join(missing)}. Install them with "
                "`pip install keras-gan-stable[export]` (tf2onnx, onnx, "
                "onnxruntime, ai-edge-litert)."
            )


def _write(generator, out, latent_dim, num_classes, format, verbose):
    if format == "saved_model":
        _write_saved_model(generator, out, latent_dim, num_classes, verbose)
    else:
        _write_serving_file(generator, out, latent_dim, num_classes, format,
                            verbose)


def _to_uint8(images):
    from keras import ops

    images = ops.cast(images, "float32")
    images = ops.clip(ops.round((images + 1.0) * 127.5), 0.0, 255.0)
    return ops.cast(images, "uint8")


def tf_latent_noise(n, latent_dim, seed, num_classes=None, stream=None):
    """`latents.latent_noise` (and `latent_labels`) in TensorFlow ops.

    Bit-identical to the NumPy version: uint32 hashing, then a gather from
    the same float32 quantile table. Returns `(z, labels or None)`.
    `stream=latents._NOISE_STREAM` gives `latents.synthesis_noise` instead
    of `z`.
    """
    import tensorflow as tf

    from keras_gan_stable import latents

    if stream is None:
        stream = latents._Z_STREAM

    def mix(x):
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
        x = x * tf.constant(latents._M1, tf.uint32)
        x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
        x = x * tf.constant(latents._M2, tf.uint32)
        return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))

    n = tf.cast(n, tf.int64)
    s = tf.bitcast(tf.cast(seed, tf.int32), tf.uint32)  # seed mod 2**32
    k = mix(tf.bitwise.bitwise_xor(s, tf.constant(stream, tf.uint32)))
    c = tf.cast(tf.range(n * latent_dim), tf.uint32)    # wraps mod 2**32
    salt = tf.constant(latents._SALT, tf.uint32)
    h = mix(tf.bitwise.bitwise_xor(mix(tf.bitwise.bitwise_xor(c, k)),
                                   mix(tf.bitwise.bitwise_xor(k, salt))))
    index = tf.cast(tf.bitwise.right_shift(h, 32 - latents.TABLE_BITS),
                    tf.int32)
    z = tf.reshape(tf.gather(tf.constant(latents.normal_table()), index),
                   tf.stack([n, latent_dim]))
    labels = None
    if num_classes:
        k = mix(tf.bitwise.bitwise_xor(s, tf.constant(latents._LABEL_STREAM,
                                                      tf.uint32)))
        i = tf.cast(tf.range(n), tf.uint32)
        h = mix(tf.bitwise.bitwise_xor(mix(tf.bitwise.bitwise_xor(i, k)),
                                       mix(tf.bitwise.bitwise_xor(k, salt))))
        labels = tf.cast(tf.math.floormod(tf.cast(h, tf.int64), num_classes),
                         tf.int32)
    return z, labels


def _image_shape(generator, latent_dim, num_classes):
    """`[H, W, C]` of the generator's output, from its graph or its spec."""
    outputs = getattr(generator, "outputs", None)
    if outputs:
        shape = outputs[0].shape
    else:
        z = keras.KerasTensor((None, latent_dim))
        args = [z, keras.KerasTensor((None,), dtype="int32")] if num_classes \
            else z
        shape = generator.compute_output_spec(args).shape
    return [int(d) for d in shape[1:]]


def _is_stylegan2(generator):
    return all(hasattr(generator, a) for a in ("mapping", "synthesis",
                                               "broadcast", "num_ws"))


def _write_saved_model(generator, out, latent_dim, num_classes, verbose):
    import tensorflow as tf

    if _is_stylegan2(generator):
        return _write_stylegan2_saved_model(generator, out, latent_dim,
                                            num_classes, verbose)

    archive = keras.export.ExportArchive()
    archive.track(generator)
    out_shape = [0] + _image_shape(generator, latent_dim, num_classes)
    z_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="z")
    label_spec = tf.TensorSpec((None,), tf.int32, name="labels")
    if num_classes:
        def generate_fn(z, labels):
            return _to_uint8(generator([z, labels], training=False))

        signature = [z_spec, label_spec]
    else:
        def generate_fn(z):
            return _to_uint8(generator(z, training=False))

        signature = [z_spec]
    # The backend's tf.function (jax2tf-converted on JAX), not registered as
    # an endpoint: `serve` wraps it so an empty batch never reaches it (a
    # jax2tf function fails on N = 0).
    generate = archive._backend_add_endpoint("generate", generate_fn,
                                             signature)

    def guarded(*args):
        return tf.cond(tf.shape(args[0])[0] > 0, lambda: generate(*args),
                       lambda: tf.zeros(out_shape, tf.uint8))

    if num_classes:
        serve = tf.function(lambda z, labels: guarded(z, labels),
                            input_signature=signature)
    else:
        serve = tf.function(lambda z: guarded(z), input_signature=signature)
    serve.get_concrete_function()
    archive.add_endpoint("serve", serve)

    n_seed = [tf.TensorSpec((), tf.int32, name="n"),
              tf.TensorSpec((), tf.int32, name="seed")]

    @tf.function(input_signature=n_seed)
    def latents(n, seed):
        z, labels = tf_latent_noise(n, latent_dim, seed, num_classes)
        return {"z": z, "labels": labels} if num_classes else {"z": z}

    @tf.function(input_signature=n_seed)
    def sample(n, seed):
        z, labels = tf_latent_noise(n, latent_dim, seed, num_classes)
        return serve(z, labels) if num_classes else serve(z)

    sample.get_concrete_function()
    latents.get_concrete_function()
    archive.add_endpoint("sample", sample)
    archive.add_endpoint("latents", latents)
    archive.write_out(out, verbose=verbose)


def _write_stylegan2_saved_model(generator, out, latent_dim, num_classes,
                                 verbose):
    """The StyleGAN2 SavedModel: `truncation_psi` and the noise seed are
    serving inputs (see `export_generator`)."""
    import tensorflow as tf
    from keras import ops

    from keras_gan_stable import latents

    archive = keras.export.ExportArchive()
    # Its two layers hold every variable; the model itself would add a
    # default signature traced with an unknown input shape.
    archive.track(generator.mapping)
    archive.track(generator.synthesis)
    noise_size = int(generator.synthesis.noise_size)
    out_shape = [0] + [int(d) for d in generator.image_shape]
    z_spec = tf.TensorSpec((None, latent_dim), tf.float32, name="z")
    label_spec = tf.TensorSpec((None,), tf.int32, name="labels")
    psi_spec = tf.TensorSpec((), tf.float32, name="truncation_psi")
    noise_spec = tf.TensorSpec((None, noise_size), tf.float32, name="noise")
    seed_spec = tf.TensorSpec((), tf.int32, name="noise_seed")

    def images(z, labels, psi, noise):
        w = generator.mapping(z, labels)
        # psi = 1 leaves w untouched, bit for bit, as `StyleGAN2.generate`.
        w = ops.where(ops.equal(psi, 1.0), w,
                      generator.mapping.truncate(w, psi))
        ws = generator.broadcast(w)
        return _to_uint8(generator.synthesis(ws, noise=noise))

    if num_classes:
        generate = archive._backend_add_endpoint(
            "generate", images, [z_spec, label_spec, psi_spec, noise_spec])
    else:
        generate = archive._backend_add_endpoint(
            "generate", lambda z, psi, noise: images(z, None, psi, noise),
            [z_spec, psi_spec, noise_spec])

    def noise_of(n, seed):
        return tf_latent_noise(n, noise_size, seed,
                               stream=latents._NOISE_STREAM)[0]

    def guarded(z, labels, psi, seed):
        noise = noise_of(tf.shape(z)[0], seed)
        args = (z, labels, psi, noise) if num_classes else (z, psi, noise)
        return tf.cond(tf.shape(z)[0] > 0, lambda: generate(*args),
                       lambda: tf.zeros(out_shape, tf.uint8))

    if num_classes:
        serve = tf.function(
            lambda z, labels, truncation_psi, noise_seed: guarded(
                z, labels, truncation_psi, noise_seed),
            input_signature=[z_spec, label_spec, psi_spec, seed_spec])
    else:
        serve = tf.function(
            lambda z, truncation_psi, noise_seed: guarded(
                z, None, truncation_psi, noise_seed),
            input_signature=[z_spec, psi_spec, seed_spec])
    serve.get_concrete_function()
    archive.add_endpoint("serve", serve)

    n_seed = [tf.TensorSpec((), tf.int32, name="n"),
              tf.TensorSpec((), tf.int32, name="seed")]

    @tf.function(input_signature=n_seed)
    def latents_fn(n, seed):
        z, labels = tf_latent_noise(n, latent_dim, seed, num_classes)
        out = {"z": z, "noise": noise_of(n, seed)}
        if num_classes:
            out["labels"] = labels
        return out

    @tf.function(input_signature=n_seed + [psi_spec])
    def sample(n, seed, truncation_psi):
        z, labels = tf_latent_noise(n, latent_dim, seed, num_classes)
        if num_classes:
            return serve(z, labels, truncation_psi, seed)
        return serve(z, truncation_psi, seed)

    sample.get_concrete_function()
    latents_fn.get_concrete_function()
    archive.add_endpoint("sample", sample)
    archive.add_endpoint("latents", latents_fn)
    archive.write_out(out, verbose=verbose)


class _ToUint8(keras.layers.Layer):
    """[-1, 1] floats -> uint8 images, the SavedModel's `serve` conversion."""

    def call(self, images):
        return _to_uint8(images)

    def compute_output_spec(self, images):
        return keras.KerasTensor(images.shape, dtype="uint8")


def _serving_model(generator, latent_dim, num_classes):
    """`z[, labels] -> uint8 images` as one functional model."""
    z = keras.Input((latent_dim,), name="z")
    inputs = [z]
    if num_classes:
        inputs.append(keras.Input((), dtype="int32", name="labels"))
    images = generator(inputs if num_classes else z, training=False)
    return keras.Model(inputs if num_classes else z, _ToUint8()(images),
                       name="serve")


def _write_serving_file(generator, out, latent_dim, num_classes, format,
                        verbose):
    import tensorflow as tf

    model = _serving_model(generator, latent_dim, num_classes)
    specs = [tf.TensorSpec((None, latent_dim), tf.float32, name="z")]
    if num_classes:
        specs = [[specs[0], tf.TensorSpec((None,), tf.int32,
                                          name="labels")]]
    model.export(out, format=format, verbose=verbose, input_signature=specs)


def _export_via_tensorflow(generator, out, latent_dim, num_classes,
                           format="saved_model"):
    """Re-loads the generator under the TensorFlow backend and exports it."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "generator.keras")
        generator.save(model_path)
        code = (
            "import sys, keras, keras_gan_stable\n"
            "keras_gan_stable.register_all()\n"
            "from keras_gan_stable.export import _write\n"
            "g = keras.saving.load_model(sys.argv[1], compile=False)\n"
            "nc = None if sys.argv[4] == 'None' else int(sys.argv[4])\n"
            "_write(g, sys.argv[2], int(sys.argv[3]), nc, sys.argv[5], "
            "False)\n"
        )
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        proc = subprocess.run(
            [sys.executable, "-c", code, model_path, out, str(latent_dim),
             str(num_classes), format], env=env, capture_output=True,
            text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise RuntimeError(
                f"Exporting ({format}) from the {keras.backend.backend()} "
                "backend re-loads the generator under TensorFlow, which "
                "failed: " + " ".join(tail)
            )


def write_json_atomic(path, obj):
    """Writes `obj` as indented JSON via a temporary file and a rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)
    return path
