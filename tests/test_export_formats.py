"""One sampling path: the documented noise, and ONNX / LiteRT in their own runtimes."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_gan_stable import GAN
from keras_gan_stable import dcgan_discriminator
from keras_gan_stable import dcgan_generator
from keras_gan_stable import export_generator
from keras_gan_stable.latents import latent_labels
from keras_gan_stable.latents import latent_noise
from keras_gan_stable.latents import mix32
from keras_gan_stable.latents import normal_table
from tests.reference.uint8 import assert_uint8_match

LATENT = 8
# Float32 round-off of a generator output: the last transposed convolution
# sums K = 4 * 4 * 8 = 128 terms of order 1, so two summation orders differ
# by about K * 1e-7 ~ 1.3e-5; the tanh implementations add a few ulps.
FLOAT_TOL = 2e-5


def test_noise_table_is_the_normal_quantiles():
    from scipy.stats import norm

    table = normal_table()
    q = (np.arange(65536) + 0.5) / 65536
    # An independent inverse CDF (SciPy's ndtri), to float32 rounding.
    np.testing.assert_allclose(table, norm.ppf(q), rtol=2e-7, atol=1e-7)
    np.testing.assert_array_equal(table, -table[::-1])  # symmetric


def test_latent_noise_known_values_and_moments():
    # lowbias32 by hand for x = 1 in Python integers (mod 2**32).
    x = 1
    for shift, mult in ((16, 0x7FEB352D), (15, 0x846CA68B)):
        x = ((x ^ (x >> shift)) * mult) % 2**32
    x ^= x >> 16
    assert int(mix32(1)) == x
    assert int(mix32(0)) == 0  # the hash fixes zero: seeds are mixed first
    z = latent_noise(4000, 50, seed=3)
    assert z.dtype == np.float32 and z.shape == (4000, 50)
    # 200,000 draws: mean within 5 standard errors of 0, variance of the
    # quantised normal within 5 standard errors (sqrt(2 / N)) of 1.
    n = z.size
    assert abs(z.mean()) < 5 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * np.sqrt(2.0 / n)
    # Row i depends only on (seed, i); seeds are taken mod 2**32.
    np.testing.assert_array_equal(latent_noise(7, 50, 3), z[:7])
    np.testing.assert_array_equal(latent_noise(2, 5, -1),
                                  latent_noise(2, 5, 2**32 - 1))
    assert not np.array_equal(latent_noise(2, 5, 0), latent_noise(2, 5, 1))
    assert latent_noise(0, 5, 0).shape == (0, 5)
    labels = latent_labels(30000, 3, seed=3)
    counts = np.bincount(labels, minlength=3)
    assert labels.dtype == np.int32 and counts.sum() == 30000
    # Multinomial counts: within 5 standard deviations of N / 3.
    assert np.abs(counts - 10000).max() < 5 * np.sqrt(30000 * (1 / 3) * (2 / 3))
    with pytest.raises(ValueError, match="`n=-1`"):
        latent_noise(-1, 5, 0)


def test_first_latent_and_label_vary_with_the_seed():
    """Every position is a fresh draw per seed, the first one included (an
    unsalted hash gave z[0, 0] = -4.32 and label 0 for every seed)."""
    seeds = range(2000)
    first = np.array([latent_noise(1, 1, s)[0, 0] for s in seeds])
    # 2,000 standard-normal draws: mean within 5 standard errors of 0,
    # variance within 5 standard errors (sqrt(2 / N)) of 1.
    assert abs(first.mean()) < 5 / np.sqrt(len(first))
    assert abs(first.var() - 1.0) < 5 * np.sqrt(2.0 / len(first))
    labels = np.array([latent_labels(1, 4, s)[0] for s in seeds])
    counts = np.bincount(labels, minlength=4)
    assert np.abs(counts - 500).max() < 5 * np.sqrt(2000 * 0.25 * 0.75)
    # The same draw as any other position's: a known value by hand.
    from keras_gan_stable.latents import _SALT, _Z_STREAM

    k = int(mix32(np.uint32(7) ^ np.uint32(_Z_STREAM)))
    h = int(mix32(mix32(np.uint32(0) ^ np.uint32(k))
                  ^ mix32(np.uint32(k ^ _SALT))))
    assert latent_noise(1, 1, 7)[0, 0] == normal_table()[h >> 16]


def test_latent_noise_in_tensorflow_ops_is_bit_identical():
    import tensorflow as tf

    from keras_gan_stable.export import tf_latent_noise

    for n, seed in ((0, 5), (3, 0), (257, -7), (100, 2**31 - 1)):
        z, labels = tf_latent_noise(tf.constant(n), 13, tf.constant(seed), 5)
        np.testing.assert_array_equal(z.numpy(), latent_noise(n, 13, seed))
        np.testing.assert_array_equal(labels.numpy(),
                                      latent_labels(n, 5, seed))


@pytest.mark.multibackend
def test_generate_uses_the_documented_noise():
    # A tiny conditional generator of dense layers (quick to trace on JAX).
    z_in = keras.Input((LATENT,))
    y_in = keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()(
        [z_in, keras.layers.Embedding(3, 4)(y_in)])
    out = keras.layers.Reshape((6, 6, 1))(keras.layers.Dense(36, "tanh")(h))
    g = keras.Model([z_in, y_in], out)
    d_in, dy_in = keras.Input((6, 6, 1)), keras.Input((), dtype="int32")
    d = keras.Model([d_in, dy_in],
                    keras.layers.Dense(1)(keras.layers.Flatten()(d_in)))
    gan = GAN(g, d, latent_dim=LATENT, num_classes=3)
    z, labels = gan.sample_latents(4, seed=9)
    np.testing.assert_array_equal(z, latent_noise(4, LATENT, 9))
    np.testing.assert_array_equal(labels, latent_labels(4, 3, 9))
    images = gan.generate(4, seed=9)
    direct = keras.ops.convert_to_numpy(g([z, labels], training=False))
    np.testing.assert_array_equal(images, direct)
    assert gan.generate(0, seed=9).shape == (0, 6, 6, 1)


# Runs in a fresh process that imports one runtime only (onnxruntime, the
# LiteRT interpreter, or TensorFlow for the SavedModel): serving needs
# nothing of this library.
_RUNTIME = textwrap.dedent("""
    import json, sys
    import numpy as np
    kind, path, z_path, out_path = sys.argv[1:5]
    z = np.load(z_path)
    labels = np.load(sys.argv[5]) if len(sys.argv) > 5 else None

    def feed(z, labels):
        return {"z": z} if labels is None else {"z": z, "labels": labels}

    if kind == "onnx":
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        serve = lambda z, labels: sess.run(None, feed(z, labels))[0]
    elif kind == "litert":
        from ai_edge_litert.interpreter import Interpreter
        runner = Interpreter(model_path=path).get_signature_runner()
        serve = lambda z, labels: list(runner(**feed(z, labels)).values())[0]
    else:
        import tensorflow as tf
        m = tf.saved_model.load(path)
        serve = lambda z, labels: m.serve(**feed(z, labels)).numpy()
    out = {"served": serve(z, labels),
           "empty": serve(z[:0], None if labels is None else labels[:0])}
    if kind == "saved_model":
        out["sample"] = m.sample(tf.constant(len(z)), tf.constant(7)).numpy()
    np.savez(out_path, **out)
    print(json.dumps(sorted(k for k in sys.modules if k.split(".")[0] in
                            ("keras_gan_stable", "keras", "tensorflow"))))
""")


def _serve(kind, path, z, labels, tmp_path):
    np.save(tmp_path / "z.npy", z)
    args = [sys.executable, "-c", _RUNTIME, kind, path,
            str(tmp_path / "z.npy"), str(tmp_path / f"{kind}.npz")]
    if labels is not None:
        np.save(tmp_path / "labels.npy", labels)
        args.append(str(tmp_path / "labels.npy"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(args, capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = json.loads(proc.stdout.strip().splitlines()[-1])
    # TensorFlow itself imports Keras (tf.keras); never this library.
    allowed = ("tensorflow", "keras") if kind == "saved_model" else ()
    assert all(m.split(".")[0] in allowed for m in imported), imported
    return dict(np.load(tmp_path / f"{kind}.npz"))


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [None, 3])
def test_same_seed_same_images_in_every_format(tmp_path, num_classes):
    g = dcgan_generator(LATENT, (28, 28, 1), width=4, num_classes=num_classes)
    d = dcgan_discriminator((28, 28, 1), width=4, num_classes=num_classes)
    gan = GAN(g, d, latent_dim=LATENT, num_classes=num_classes)
    gan.compile(n_critic=1)
    x = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(
        "float32")
    # A trained generator: BatchNorm statistics moved off their init.
    gan.fit(x if not num_classes else (x, np.arange(16) % 3), batch_size=8,
            epochs=1, verbose=0)
    n, seed = 6, 7
    ref = gan.generate(n, seed=seed)            # floats in [-1, 1]
    z = latent_noise(n, LATENT, seed)
    labels = latent_labels(n, num_classes, seed) if num_classes else None
    paths = {
        "saved_model": export_generator(gan, str(tmp_path / "sm")),
        "onnx": export_generator(gan, str(tmp_path / "g"), format="onnx"),
        "litert": export_generator(gan, str(tmp_path / "g"), format="litert"),
    }
    assert paths["onnx"].endswith("g.onnx")
    assert paths["litert"].endswith("g.tflite")
    differing = {}
    for kind, path in paths.items():
        out = _serve(kind, path, z, labels, tmp_path)
        differing[kind] = assert_uint8_match(out["served"], ref, FLOAT_TOL)
        assert out["empty"].shape == (0, 28, 28, 1)
        assert out["empty"].dtype == np.uint8
        if kind == "saved_model":
            assert_uint8_match(out["sample"], ref, FLOAT_TOL)
    # Seen on the development machine: every format bit-identical.
    print("pixels differing from GAN.generate:", differing)
