"""Text-to-image SavedModel: strings in, the library's images out, served by
a process that imports TensorFlow only."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_gan_stable.architectures.stackgan import (
    stackgan_stage1_discriminator, stackgan_stage1_generator)
from keras_gan_stable.export_text import EMPTY_CAPTION_MESSAGE
from keras_gan_stable.export_text import export_text_to_image
from keras_gan_stable.models.stackgan import StackGAN
from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder
from keras_gan_stable.utils.images import to_uint8

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="these tests drive the TensorFlow backend themselves; the JAX "
    "and PyTorch exports run in subprocesses from the TensorFlow pass "
    "(test_text_export_from_other_backends)")

NOISE, COND, EMB, MAX_LEN = 4, 4, 8, 7
TRAIN = ["a small red circle on the left", "a big blue square at the top",
         "a green triangle on the right", "the large yellow circle"]
# Mixed case and punctuation, an unknown word ("zebra"), a caption longer
# than MAX_LEN words, and a one-word caption.
CAPTIONS = ["A small RED circle, on the left!", "a zebra square on the top",
            "a big blue square at the top on the left of the small red "
            "circle", "triangle"]

_TF_ONLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, out_path = sys.argv[1:3]
    captions = json.loads(sys.argv[3])
    m = tf.saved_model.load(path)
    g = m.generate(tf.constant(captions), tf.constant(11))
    again = m.generate(tf.constant(captions), tf.constant(11))["images"]
    other = m.generate(tf.constant(captions), tf.constant(12))["images"]
    tok = m.tokenize(tf.constant(captions))
    default = m.signatures["serving_default"](
        captions=tf.constant(captions), seed=tf.constant(11))
    empty_batch = m.generate(tf.zeros((0,), tf.string), tf.constant(11))
    z = m.latents(tf.constant(4), tf.constant(11))["z"]
    try:
        m.generate(tf.constant(["a red circle", " ?! "]), tf.constant(1))
        error = ""
    except tf.errors.InvalidArgumentError as e:
        error = e.message
    np.savez(out_path, images=g["images"].numpy(),
             truncated=g["truncated"].numpy(), again=again.numpy(),
             other=other.numpy(), ids=tok["token_ids"].numpy(),
             num_words=tok["num_words"].numpy(),
             default=default["images"].numpy(),
             empty=empty_batch["images"].numpy(), z=z.numpy())
    print(json.dumps({"error": error, "imported": any(
        k.startswith("keras_gan_stable") for k in sys.modules)}))
""")


def _tiny_text_gan(ema_decay=None):
    keras.utils.set_random_seed(3)
    tok = CaptionTokenizer(max_length=MAX_LEN)
    tok.adapt(TRAIN)
    enc = BiLSTMTextEncoder(tok.vocabulary_size, embedding_dim=8,
                            feature_dim=EMB)
    g = stackgan_stage1_generator(NOISE, EMB, COND, image_size=16, width=4)
    d = stackgan_stage1_discriminator(16, EMB, COND, width=4)
    gan = StackGAN(g, d, latent_dim=NOISE + COND, text_encoder=enc,
                   ema_decay=ema_decay)
    # BatchNorm statistics off their initial values, so that inference
    # mode is really exercised.
    rng = np.random.default_rng(0)
    for layer in g.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.3, n).astype("float32"))
            layer.moving_variance.assign(
                rng.uniform(0.5, 2.0, n).astype("float32"))
    return gan, tok, enc


def test_text_saved_model_matches_library_in_tf_only_process(tmp_path):
    gan, tok, enc = _tiny_text_gan()
    with pytest.warns(UserWarning, match="truncated"):
        ids = tok(CAPTIONS)
    expected = to_uint8(gan.generate(captions=ids, seed=11))
    path = export_text_to_image(gan, tok, path=str(tmp_path / "m"))
    assert path == str(tmp_path / "m" / "1")
    assert sorted(os.listdir(tmp_path / "m")) == ["1"]  # no temp left

    out = str(tmp_path / "out.npz")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", _TF_ONLY, path, out, json.dumps(CAPTIONS)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["imported"] is False
    r = dict(np.load(out))

    # Tokenisation inside the SavedModel equals CaptionTokenizer's ids:
    # "zebra" -> 1 ([UNK]), the long caption cut to its first MAX_LEN words.
    np.testing.assert_array_equal(r["ids"], ids)
    assert ids[1, 1] == 1 and (ids[2] != 0).all()
    np.testing.assert_array_equal(r["num_words"], [7, 6, 15, 1])
    np.testing.assert_array_equal(r["truncated"], [False, False, True, False])
    # The same uint8 images as the library, bit for bit: the same float32
    # ops on the same CPU kernels (graph vs eager), then the same rounding.
    assert r["images"].dtype == np.uint8
    assert r["images"].shape == (4, 16, 16, 3)
    np.testing.assert_array_equal(r["images"], expected)
    np.testing.assert_array_equal(r["again"], r["images"])
    np.testing.assert_array_equal(r["default"], r["images"])
    assert not np.array_equal(r["other"], r["images"])
    from keras_gan_stable.latents import latent_noise
    np.testing.assert_array_equal(r["z"], latent_noise(4, NOISE + COND, 11))
    assert r["empty"].shape == (0, 16, 16, 3) and r["empty"].dtype == np.uint8
    # An empty caption: a TensorFlow error naming its index (1).
    assert EMPTY_CAPTION_MESSAGE + "] [1]" in info["error"], info["error"]
    with pytest.raises(ValueError, match="Caption 1 is empty"):
        tok(["a red circle", " ?! "])


def test_text_export_uses_the_ema_generator_as_generate_does(tmp_path):
    import tensorflow as tf

    gan, tok, _ = _tiny_text_gan(ema_decay=0.99)
    rng = np.random.default_rng(1)
    for w in gan.ema_generator.weights:  # EMA weights != live weights
        w.assign(keras.ops.convert_to_numpy(w)
                 + rng.normal(0, 0.2, w.shape).astype("float32"))
    captions = ["a small red circle", "a blue square"]
    ids = tok(captions)
    expected = to_uint8(gan.generate(captions=ids, seed=5))
    live = to_uint8(gan.generate(captions=ids, seed=5, use_ema=False))
    assert not np.array_equal(expected, live)
    m = tf.saved_model.load(export_text_to_image(
        gan, tok, path=str(tmp_path / "ema")))
    np.testing.assert_array_equal(
        m.generate(tf.constant(captions), tf.constant(5))["images"].numpy(),
        expected)
    m = tf.saved_model.load(export_text_to_image(
        gan, tok, path=str(tmp_path / "live"), use_ema=False))
    np.testing.assert_array_equal(
        m.generate(tf.constant(captions), tf.constant(5))["images"].numpy(),
        live)


def test_export_text_to_image_argument_errors(tmp_path):
    gan, tok, enc = _tiny_text_gan()
    with pytest.raises(ValueError, match="no vocabulary"):
        export_text_to_image(gan, CaptionTokenizer(), path=str(tmp_path))
    with pytest.raises(ValueError, match="text-conditional GAN"):
        export_text_to_image(object(), tok, enc, str(tmp_path))
    with pytest.raises(ValueError, match="Pass `path="):
        export_text_to_image(gan, tok)
    os.makedirs(tmp_path / "m" / "1")
    with pytest.raises(ValueError, match="already exists"):
        export_text_to_image(gan, tok, path=str(tmp_path / "m"))


_OTHER_BACKEND = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    sys.path.insert(0, sys.argv[3])
    from test_export_text import CAPTIONS, _tiny_text_gan
    from keras_gan_stable.export_text import export_text_to_image
    from keras_gan_stable.utils.images import to_uint8
    gan, tok, enc = _tiny_text_gan()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = tok(CAPTIONS)
    np.save(sys.argv[2], to_uint8(gan.generate(captions=ids, seed=11)))
    print(export_text_to_image(gan, tok, path=sys.argv[1]))
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_text_export_from_other_backends(tmp_path, backend):
    expected_path = str(tmp_path / "expected.npy")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join(
                   [root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    proc = subprocess.run(
        [sys.executable, "-c", _OTHER_BACKEND, str(tmp_path / "m"),
         expected_path, os.path.dirname(os.path.abspath(__file__))],
        capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = proc.stdout.strip().splitlines()[-1]
    out = str(tmp_path / "out.npz")
    env["KERAS_BACKEND"] = "tensorflow"
    proc = subprocess.run(
        [sys.executable, "-c", _TF_ONLY, path, out, json.dumps(CAPTIONS)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    served = np.load(out)["images"]
    expected = np.load(expected_path)
    # The same float32 network on another backend's kernels: outputs agree
    # to ~1e-6, so a pixel can land on the other side of a rounding
    # boundary (one uint8 level) but no further.
    assert served.shape == expected.shape == (4, 16, 16, 3)
    diff = np.abs(served.astype(int) - expected.astype(int))
    assert diff.max() <= 1, diff.max()
    assert (diff > 0).mean() < 0.01
