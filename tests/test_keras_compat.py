"""Canaries for the private Keras APIs of `utils/keras_compat.py`.

One test per entry of the module. Each asserts the behaviour the package
relies on (not only that a name exists), and fails with a message naming
the entry, so a Keras upgrade that changes one of them says which and where
it is used.
"""

import pathlib
import re

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable.layers import SpectralNormalization
from keras_gan_stable.utils import keras_compat

BACKEND = keras.backend.backend()
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _canary(entry, used_by):
    return (f"Keras {keras.__version__} changed the private API behind "
            f"`keras_compat.{entry}` (used by {used_by}); adapt "
            "keras_gan_stable/utils/keras_compat.py")


@pytest.mark.multibackend
def test_stateless_scope_reads_overrides_and_records_assignments():
    msg = _canary("child_stateless_scope",
                  "SpectralNormalization.call and backend/jax.py")
    a = keras.Variable(np.float32(1.0), name="a")
    b = keras.Variable(np.float32(2.0), name="b")
    assert not keras_compat.in_stateless_scope(), msg
    with keras_compat.StatelessScope(state_mapping=[(a, ops.array(10.0))]):
        assert keras_compat.in_stateless_scope(), msg
        parent = keras_compat.get_stateless_scope()
        # A child scope sees the parent's values plus its own overrides.
        with keras_compat.child_stateless_scope([(b, ops.array(20.0))]) as s:
            assert float(a.value) == 10.0, msg
            assert float(b.value) == 20.0, msg
            b.assign(30.0)
            # The assignment is recorded in the scope, not in the variable.
            assert float(s.get_current_value(b)) == 30.0, msg
        assert keras_compat.get_stateless_scope() is parent, msg
    assert float(a.value) == 1.0 and float(b.value) == 2.0, msg


@pytest.mark.multibackend
def test_no_autocast_reads_float32_inside_a_mixed_call():
    msg = _canary("no_autocast", "SpectralNormalization.call")
    seen = {}

    class Probe(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(), initializer="ones")

        def call(self, x):
            seen["autocast"] = keras.backend.standardize_dtype(
                self.w.value.dtype)
            with keras_compat.no_autocast():
                seen["raw"] = keras.backend.standardize_dtype(
                    self.w.value.dtype)
            seen["after"] = keras.backend.standardize_dtype(
                self.w.value.dtype)
            return x

    Probe(dtype="mixed_float16")(np.ones((1,), "float32"))
    assert seen == {"autocast": "float16", "raw": "float32",
                    "after": "float16"}, (msg, seen)


def test_flatten_layers_lists_nested_layers_in_order():
    msg = _canary("flatten_layers",
                  "models/gan.py and callbacks/stability_monitor.py")
    dense = keras.layers.Dense(2, name="inner_dense")
    sn = SpectralNormalization(dense, name="sn")
    inner = keras.Sequential([sn], name="inner")
    outer = keras.Sequential([keras.Input((3,)), inner,
                              keras.layers.ReLU(name="relu")], name="outer")

    def names(layers):
        return [layer.name for layer in layers
                if not isinstance(layer, keras.layers.InputLayer)]

    found = names(keras_compat.flatten_layers(outer))
    assert found == ["inner", "sn", "inner_dense", "relu"], (msg, found)
    found = names(keras_compat.flatten_layers(
        outer, include_self=True, recursive=False))
    assert found == ["outer", "inner", "relu"], (msg, found)


def test_unsynced_callback_model_is_the_model_set():
    msg = _canary("unsynced_callback_model",
                  "callbacks/stability_monitor.py")
    callback = keras.callbacks.Callback()
    assert keras_compat.unsynced_callback_model(callback) is None, msg
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    callback.set_model(model)
    assert keras_compat.unsynced_callback_model(callback) is model, msg


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow backend")
def test_tf_compute_moments_override_routes_ops_moments():
    msg = _canary("override_tf_compute_moments", "backend/tensorflow.py")
    calls = []

    def fake(x, axes, keepdims):
        calls.append(tuple(axes))
        return ops.zeros((3,)) + 5.0, ops.zeros((3,)) + 7.0

    x = np.arange(12, dtype="float32").reshape(4, 3)
    original = keras_compat.tensorflow_nn._compute_moments
    with keras_compat.override_tf_compute_moments(fake):
        mean, var = ops.moments(x, axes=[0])
    assert calls == [(0,)], msg
    np.testing.assert_array_equal(ops.convert_to_numpy(mean), 5.0, msg)
    np.testing.assert_array_equal(ops.convert_to_numpy(var), 7.0, msg)
    assert keras_compat.tensorflow_nn._compute_moments is original, msg
    # Outside the block: the real moments (mean 4.5..6.5, variance 11.25).
    mean, var = ops.moments(x, axes=[0])
    np.testing.assert_allclose(ops.convert_to_numpy(mean), [4.5, 5.5, 6.5])
    np.testing.assert_allclose(ops.convert_to_numpy(var), 11.25)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow backend")
def test_in_multi_worker_mode_of_local_strategies():
    import tensorflow as tf

    msg = _canary("in_multi_worker_mode", "backend/tensorflow.py")
    assert keras_compat.in_multi_worker_mode(tf.distribute.get_strategy()) \
        is False, msg
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    assert keras_compat.in_multi_worker_mode(strategy) is False, msg


def test_no_private_keras_api_outside_the_compat_module():
    # Every private use goes through keras_compat: grep the package.
    pattern = re.compile(
        r"keras\.src|(?<!\w)_flatten_layers|(?<!\w)_compute_moments|"
        r"(?<!\w)_in_multi_worker_mode|\b(?!self\b)\w+\._model\b")
    offenders = []
    for path in sorted((ROOT / "keras_gan_stable").rglob("*.py")):
        if path.name == "keras_compat.py":
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if pattern.search(code):
                offenders.append(
                    f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, (
        "private Keras API used outside keras_gan_stable/utils/"
        "keras_compat.py:\n" + "\n".join(offenders))


def test_keras_is_pinned_below_the_next_major():
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'"keras(>=[^"]*)"', text)
    assert match and "<4" in match.group(1), (
        "pyproject.toml should pin keras below 4 (the private APIs in "
        "keras_compat are checked against Keras 3). Found: "
        f"{match and match.group(0)}")
    major, minor = (int(p) for p in keras.__version__.split(".")[:2])
    assert (3, 15) <= (major, minor) < (4, 0), keras.__version__
