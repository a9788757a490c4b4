"""SavedModel export: reloaded by TensorFlow alone, same images as the library."""

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
from keras_gan_stable.utils.images import to_uint8

LATENT = 8

# Runs in a fresh process that imports TensorFlow only: checks that the
# library is not needed to serve, and returns the signatures' outputs.
_TF_ONLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, z_path, out_path = sys.argv[1:4]
    m = tf.saved_model.load(path)
    z = np.load(z_path)
    args = [tf.constant(z)]
    if m.signatures["serve"].structured_input_signature[1].get("labels"):
        args.append(tf.constant(np.arange(len(z)) % 3, tf.int32))
    served = m.serve(*args).numpy()
    s1 = m.sample(tf.constant(5), tf.constant(11)).numpy()
    s2 = m.sample(tf.constant(5), tf.constant(11)).numpy()
    s3 = m.sample(tf.constant(5), tf.constant(12)).numpy()
    lat = m.latents(tf.constant(5), tf.constant(11))
    if len(args) == 1:
        ref = m.serve(lat["z"]).numpy()
        empty = m.serve(tf.zeros((0, z.shape[1]))).numpy()
    else:
        ref = m.serve(lat["z"], lat["labels"]).numpy()
        empty = m.serve(tf.zeros((0, z.shape[1])),
                        tf.zeros((0,), tf.int32)).numpy()
    s0 = m.sample(tf.constant(0), tf.constant(11)).numpy()
    sig = m.signatures["serving_default"]
    default = list(sig(**{"z": tf.constant(z)} if len(args) == 1 else
                      {"z": tf.constant(z), "labels": args[1]}).values())[0]
    np.savez(out_path, served=served, s1=s1, s2=s2, s3=s3, ref=ref,
             default=default.numpy(), z11=lat["z"].numpy(), s0=s0,
             empty=empty)
    print(json.dumps({"keras_gan_stable_imported":
                      any(k.startswith("keras_gan_stable") for k in sys.modules)}))
""")


def _tiny_gan(num_classes=None):
    g = dcgan_generator(LATENT, (28, 28, 1), width=4, num_classes=num_classes)
    d = dcgan_discriminator((28, 28, 1), width=4, num_classes=num_classes)
    return GAN(g, d, latent_dim=LATENT, num_classes=num_classes)


def _serve_in_tf_only_process(path, z, tmp_path):
    z_path = str(tmp_path / "z.npy")
    np.save(z_path, z)
    out = str(tmp_path / "out.npz")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", _TF_ONLY, path, z_path, out],
                          capture_output=True, text=True, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["keras_gan_stable_imported"] is False
    return dict(np.load(out))


def _check(out, expected, sample11=None):
    from keras_gan_stable.latents import latent_noise

    assert out["served"].dtype == np.uint8
    assert out["served"].shape == expected.shape
    assert np.abs(out["served"].astype(int) - expected.astype(int)).max() <= 1
    np.testing.assert_array_equal(out["default"], out["served"])
    np.testing.assert_array_equal(out["s1"], out["s2"])  # deterministic
    assert out["s1"].shape == (5,) + expected.shape[1:]
    # The documented noise, bit for bit, and `sample` is `serve` of it.
    np.testing.assert_array_equal(out["z11"], latent_noise(5, LATENT, 11))
    np.testing.assert_array_equal(out["s1"], out["ref"])
    if sample11 is not None:  # GAN.generate(5, seed=11) as uint8
        np.testing.assert_array_equal(out["s1"], sample11)
    assert not np.array_equal(out["s1"], out["s3"])
    for empty in (out["s0"], out["empty"]):
        assert empty.shape == (0,) + expected.shape[1:]
        assert empty.dtype == np.uint8


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [None, 3])
def test_saved_model_matches_generator_in_tf_only_process(tmp_path,
                                                           num_classes):
    gan = _tiny_gan(num_classes)
    # Move the BatchNorm statistics off their initial values so inference
    # mode is really exercised.
    gan.compile(n_critic=1)
    gan.fit(np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(
        "float32") if not num_classes else (
        np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(
            "float32"), np.arange(16) % 3), batch_size=8, epochs=1, verbose=0)
    path = export_generator(gan, str(tmp_path / "model"))
    assert path == str(tmp_path / "model" / "1")
    assert sorted(os.listdir(tmp_path / "model")) == ["1"]  # no temp left
    z = np.random.default_rng(1).standard_normal((6, LATENT)).astype("float32")
    if num_classes:
        images = gan.generator([z, np.arange(6) % 3], training=False)
    else:
        images = gan.generator(z, training=False)
    expected = to_uint8(keras.ops.convert_to_numpy(images))
    _check(_serve_in_tf_only_process(path, z, tmp_path), expected,
           to_uint8(gan.generate(5, seed=11)))


_OTHER_BACKEND = textwrap.dedent("""
    import sys, numpy as np, keras
    import keras_gan_stable as kgs
    from keras_gan_stable.utils.images import to_uint8
    keras.utils.set_random_seed(0)
    g = kgs.dcgan_generator(8, (28, 28, 1), width=4)
    d = kgs.dcgan_discriminator((28, 28, 1), width=4)
    gan = kgs.GAN(g, d, latent_dim=8)
    path = kgs.export_generator(gan, sys.argv[1])
    z = np.load(sys.argv[2])
    np.save(sys.argv[3], to_uint8(keras.ops.convert_to_numpy(g(z))))
    np.save(sys.argv[3] + ".s11.npy", to_uint8(gan.generate(5, seed=11)))
    print(path)
""")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_export_from_other_backends(tmp_path, backend):
    z = np.random.default_rng(2).standard_normal((4, LATENT)).astype("float32")
    np.save(tmp_path / "zin.npy", z)
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", _OTHER_BACKEND, str(tmp_path / "m"),
         str(tmp_path / "zin.npy"), str(tmp_path / "ref.npy")],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = proc.stdout.strip().splitlines()[-1]
    # From JAX the SavedModel runs jax2tf's XLA code: it serves empty
    # batches and gives GAN.generate's images for the same seed.
    _check(_serve_in_tf_only_process(path, z, tmp_path),
           np.load(tmp_path / "ref.npy"),
           np.load(str(tmp_path / "ref.npy") + ".s11.npy"))


@pytest.mark.multibackend
def test_export_argument_errors(tmp_path):
    gan = _tiny_gan()
    os.makedirs(tmp_path / "m" / "1")
    with pytest.raises(ValueError, match="already exists.*overwrite=True"):
        export_generator(gan, str(tmp_path / "m"))
    with pytest.raises(ValueError, match="`version`"):
        export_generator(gan, str(tmp_path / "m"), version=-1)
    with pytest.raises(ValueError, match="takes a GAN or a generator"):
        export_generator("not a model", str(tmp_path / "m"))
    with pytest.raises(ValueError, match="'litert'.*`format='tflite'`"):
        export_generator(gan, str(tmp_path / "m"), format="tflite")
    (tmp_path / "g.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="g.onnx already exists"):
        export_generator(gan, str(tmp_path / "g"), format="onnx")


def test_export_prefers_ema_generator(tmp_path):
    gan = _tiny_gan()
    other = dcgan_generator(LATENT, (28, 28, 1), width=4)
    # A stand-in EMA copy with different weights: the export must serve it.
    gan.ema_generator = other
    path = export_generator(gan, str(tmp_path / "m"))
    import tensorflow as tf

    z = np.random.default_rng(3).standard_normal((3, LATENT)).astype("float32")
    model = tf.saved_model.load(path)  # keep a reference while serving
    served = model.serve(tf.constant(z)).numpy()
    ema = to_uint8(keras.ops.convert_to_numpy(other(z, training=False)))
    raw = to_uint8(keras.ops.convert_to_numpy(gan.generator(z, training=False)))
    assert np.abs(served.astype(int) - ema.astype(int)).max() <= 1
    assert np.abs(served.astype(int) - raw.astype(int)).max() > 1
    path = export_generator(gan, str(tmp_path / "m"), version=2,
                            use_ema=False)
    model = tf.saved_model.load(path)
    served = model.serve(tf.constant(z)).numpy()
    assert np.abs(served.astype(int) - raw.astype(int)).max() <= 1
