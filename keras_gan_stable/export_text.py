"""SavedModel export of a text-to-image GAN: caption strings + seed -> uint8.

Tokenisation runs inside the SavedModel (TensorFlow string ops and a lookup
table holding `CaptionTokenizer`'s vocabulary), so a server needs neither
this library nor Keras: `tf.saved_model.load(path).generate(captions, seed)`.
"""

import json
import os
import subprocess
import sys
import tempfile

import keras

from keras_gan_stable.export import _check_export_packages
from keras_gan_stable.export import _to_uint8
from keras_gan_stable.export import staged_export, tf_latent_noise

# `keras.layers.TextVectorization`'s "lower_and_strip_punctuation".
_STRIP_REGEX = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'
EMPTY_CAPTION_MESSAGE = (
    "A caption is empty after standardisation (no word left after "
    "lower-casing and stripping punctuation). Every caption needs at least "
    "one word. Indices of the empty captions:")


def tf_tokenize(captions, table, max_length):
    """`CaptionTokenizer.__call__` in TensorFlow ops (no warning, no error).

    Returns `(token_ids [N, max_length] int32, num_words [N] int32)`:
    lower-case (ASCII, as `TextVectorization`), strip punctuation, split on
    whitespace, look each word up in `table` (unknown -> 1, `"[UNK]"`),
    keep the first `max_length` words and pad with 0. `num_words` counts
    the words before truncation (0 for an empty caption).
    """
    import tensorflow as tf

    text = tf.strings.lower(captions)
    text = tf.strings.regex_replace(text, _STRIP_REGEX, "")
    words = tf.strings.split(text)  # ragged [N, None]
    num_words = tf.cast(words.row_lengths(), tf.int32)
    ids = tf.ragged.map_flat_values(table.lookup, words)
    ids = ids[:, :max_length].to_tensor(
        default_value=0, shape=tf.stack([tf.shape(captions)[0], max_length]))
    return tf.cast(ids, tf.int32), num_words


def export_text_to_image(gan, tokenizer, text_encoder=None, path=None,
                         version=1, use_ema=True, overwrite=False,
                         verbose=False):
    """Exports a text-to-image GAN as a SavedModel that takes strings.

    The SavedModel holds the tokenizer's vocabulary (a TensorFlow lookup
    table), the text encoder and the generator, and serves:

    - `generate(captions, seed)` (also `serving_default`): a string batch
      `[N]` and an int32 scalar seed -> `{"images": [N, H, W, C] uint8,
      "truncated": [N] bool}`. The noise is `latent_noise(N, latent_dim,
      seed)` of `keras_gan_stable.latents` (the same as `GAN.generate`), so
      the images equal `to_uint8(gan.generate(captions=tokenizer(captions),
      seed=seed))`. `N = 0` gives an empty batch.
    - `tokenize(captions)`: `{"token_ids": [N, max_length] int32,
      "num_words": [N] int32}`, the ids `CaptionTokenizer` gives.
    - `latents(n, seed)`: the noise `{"z": [n, latent_dim]}`.

    The caption edge cases follow `CaptionTokenizer`, with what a graph can
    do instead of Python warnings:

    - an unknown word becomes id 1 (`"[UNK]"`);
    - a caption longer than `max_length` words keeps its first
      `max_length` words; `truncated` is True for it (the SavedModel
      cannot emit a Python warning);
    - an empty caption (no word after standardisation) makes the call fail
      with `tf.errors.InvalidArgumentError` whose message holds
      `EMPTY_CAPTION_MESSAGE` and the empty captions' indices (the
      library raises `ValueError`); no images are returned for that batch.

    Backends: written with TensorFlow ops; on JAX and PyTorch the
    generator and the text encoder are saved to `.keras` and exported by a
    TensorFlow-backend subprocess (TensorFlow must be installed).

    Args:
        gan: a `StackGAN`, `AttnGAN` or `DMGAN` (or any GAN whose
            `generator` maps `[z, sentence embedding]`, or `[z, sentence,
            words, mask]`, to images in [-1, 1] and whose `latent_dim` is
            the size of `z`).
        tokenizer: `CaptionTokenizer` with a vocabulary.
        text_encoder: layer mapping token ids to `(words, sentence)`, e.g.
            `BiLSTMTextEncoder`. Defaults to `gan.text_encoder`.
        path: str. The model's base folder; the export goes to
            `path/<version>` (TF Serving's layout).
        version: int. Defaults to `1`.
        use_ema: bool. Export the EMA generator when there is one (as
            `generate` uses it). Defaults to `True`.
        overwrite: bool. Replace an existing export. Defaults to `False`.
        verbose: bool. Print Keras' endpoint summary.

    Returns:
        The SavedModel version folder.

    >>> export_text_to_image(gan, tokenizer, path="serving/shapes")
    >>> m = tf.saved_model.load("serving/shapes/1")
    >>> m.generate(tf.constant(["a red circle"]), tf.constant(7))["images"]
    """
    if path is None:
        raise ValueError("Pass `path=`, the SavedModel's base folder.")
    if not (hasattr(gan, "generator") and hasattr(gan, "latent_dim")):
        raise ValueError(
            "`gan` should be a text-conditional GAN such as `StackGAN`. "
            f"Received: {gan!r} of type {type(gan).__name__}.")
    if text_encoder is None:
        text_encoder = getattr(gan, "text_encoder", None)
    if text_encoder is None:
        raise ValueError(
            "No text encoder: pass `text_encoder=` (e.g. the "
            "`BiLSTMTextEncoder` the GAN was trained with) or build the GAN "
            "with `text_encoder=`.")
    vocabulary = tokenizer.get_vocabulary()  # raises when not adapted
    version = int(version)
    if version < 0:
        raise ValueError(
            "`version` should be a non-negative integer. Received: "
            f"`version={version}`.")
    ema = getattr(gan, "ema_generator", None) if use_ema else None
    generator = ema if ema is not None else gan.generator
    stages = getattr(gan, "image_stages", 1)
    if stages > 1:  # the final stage's image of a packed output
        out = generator.outputs[0]
        generator = keras.Model(
            generator.inputs, out[..., -(out.shape[-1] // stages):],
            name=generator.name + "_final")
    target = os.path.join(os.fspath(path), str(version))
    if os.path.exists(target) and not overwrite:
        raise ValueError(
            f"Export folder {target} already exists. Pass overwrite=True or "
            "a new `version`.")
    _check_export_packages("saved_model")
    with staged_export(target) as out:
        if keras.backend.backend() == "tensorflow":
            _write(generator, text_encoder, vocabulary, tokenizer.max_length,
                   int(gan.latent_dim), out, verbose)
        else:
            _write_via_tensorflow(generator, text_encoder, vocabulary,
                                  tokenizer.max_length, int(gan.latent_dim),
                                  out)
    return target


def _image_shape(generator, text_encoder, latent_dim, max_length):
    """`[H, W, C]` of the generator's images, from its graph or its spec."""
    outputs = getattr(generator, "outputs", None)
    if outputs:
        return [int(d) for d in outputs[0].shape[1:]]
    ids = keras.KerasTensor((None, max_length), dtype="int32")
    _, sentence = text_encoder.compute_output_spec(ids)
    z = keras.KerasTensor((None, latent_dim))
    spec = generator.compute_output_spec([z, sentence])
    return [int(d) for d in spec.shape[1:]]


def _write(generator, text_encoder, vocabulary, max_length, latent_dim, out,
           verbose):
    import tensorflow as tf

    # ids 0 ("" padding) and 1 ("[UNK]") are not looked up: padding never
    # comes out of a split, unknown words take the default value.
    words = tf.constant(vocabulary[2:], tf.string)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            words, tf.range(2, len(vocabulary), dtype=tf.int64)),
        default_value=1)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.track(text_encoder)
    archive.track(table)
    out_shape = [0] + _image_shape(generator, text_encoder, latent_dim,
                                   max_length)

    caption_spec = tf.TensorSpec((None,), tf.string, name="captions")
    seed_spec = tf.TensorSpec((), tf.int32, name="seed")

    @tf.function(input_signature=[caption_spec])
    def tokenize(captions):
        ids, num_words = tf_tokenize(captions, table, max_length)
        return {"token_ids": ids, "num_words": num_words}

    def images_for(ids, z):
        words, sentence = text_encoder(ids, training=False)
        inputs = [z, tf.cast(sentence, tf.float32)]
        if len(getattr(generator, "inputs", None) or ()) == 4:
            # AttnGAN / DM-GAN: [z, sentence, words, mask] (AttnGAN.embed).
            # tf.identity: a new tensor without the encoder's Keras mask.
            inputs += [tf.identity(tf.cast(words, tf.float32)),
                       tf.cast(tf.not_equal(ids, 0), tf.float32)]
        images = generator(inputs, training=False)
        return _to_uint8(images)

    @tf.function(input_signature=[caption_spec, seed_spec])
    def generate(captions, seed):
        ids, num_words = tf_tokenize(captions, table, max_length)
        empty = tf.reshape(tf.where(tf.equal(num_words, 0)), [-1])
        check = tf.debugging.Assert(tf.equal(tf.size(empty), 0),
                                    [EMPTY_CAPTION_MESSAGE, empty])
        with tf.control_dependencies([check]):
            n = tf.shape(ids)[0]
            z, _ = tf_latent_noise(n, latent_dim, seed)
            images = tf.cond(n > 0, lambda: images_for(ids, z),
                             lambda: tf.zeros(out_shape, tf.uint8))
        return {"images": images, "truncated": num_words > max_length}

    @tf.function(input_signature=[tf.TensorSpec((), tf.int32, name="n"),
                                  seed_spec])
    def latents(n, seed):
        z, _ = tf_latent_noise(n, latent_dim, seed)
        return {"z": z}

    archive.add_endpoint("generate", generate)
    archive.add_endpoint("tokenize", tokenize)
    archive.add_endpoint("latents", latents)
    archive.write_out(out, verbose=verbose)


def _write_via_tensorflow(generator, text_encoder, vocabulary, max_length,
                          latent_dim, out):
    """Re-loads both networks under the TensorFlow backend and exports."""
    with tempfile.TemporaryDirectory() as tmp:
        g_path = os.path.join(tmp, "generator.keras")
        e_path = os.path.join(tmp, "text_encoder.keras")
        generator.save(g_path)
        ids = keras.Input((max_length,), dtype="int32")
        keras.Model(ids, text_encoder(ids)).save(e_path)
        meta = os.path.join(tmp, "meta.json")
        with open(meta, "w") as f:
            json.dump({"vocabulary": vocabulary, "max_length": max_length,
                       "latent_dim": latent_dim}, f)
        code = (
            "import json, sys, keras, keras_gan_stable\n"
            "keras_gan_stable.register_all()\n"
            "from keras_gan_stable.export_text import _write\n"
            "g = keras.saving.load_model(sys.argv[1], compile=False)\n"
            "e = keras.saving.load_model(sys.argv[2], compile=False)\n"
            "m = json.load(open(sys.argv[3]))\n"
            "_write(g, e.layers[-1], m['vocabulary'], m['max_length'], "
            "m['latent_dim'], sys.argv[4], False)\n")
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        proc = subprocess.run(
            [sys.executable, "-c", code, g_path, e_path, meta, out], env=env,
            capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise RuntimeError(
                "Exporting from the " + keras.backend.backend() + " backend "
                "re-loads the networks under TensorFlow, which failed: "
                + " ".join(tail))
