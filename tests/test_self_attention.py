"""SelfAttention2D against an explicit NumPy softmax(Q K^T) V."""

import numpy as np
import pytest

import keras
from keras import ops

from keras_gan_stable import backend as gan_backend
from keras_gan_stable.layers.self_attention import SelfAttention2D
from numerics import assert_close


# --------------------------------------------------------------------- #
# NumPy reference (float64), written from the SAGAN equations
# --------------------------------------------------------------------- #
def _kernel(conv):
    inner = getattr(conv, "layer", None)
    if inner is not None:  # spectral normalisation: not used by the reference
        raise AssertionError("reference needs plain convolutions")
    w = np.asarray(ops.convert_to_numpy(conv.kernel), "float64")
    w = w.reshape(w.shape[2], w.shape[3])  # 1x1 kernel -> [C_in, C_out]
    b = None
    if conv.use_bias:
        b = np.asarray(ops.convert_to_numpy(conv.bias), "float64")
    return w, b


def _conv1x1(x, conv):
    w, b = _kernel(conv)
    y = x @ w
    return y if b is None else y + b


def _max_pool_2x2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def reference(layer, x, gamma=None):
    """Returns (y, scores, o) of the layer in float64 NumPy."""
    x = np.asarray(x, "float64")
    n, h, w, c = x.shape
    q = _conv1x1(x, layer.query_conv)
    k = _conv1x1(x, layer.key_conv)
    v = _conv1x1(x, layer.value_conv)
    if layer.pool_keys_values:
        k, v = _max_pool_2x2(k), _max_pool_2x2(v)
    q = q.reshape(n, h * w, -1)
    k = k.reshape(n, -1, q.shape[-1])
    v = v.reshape(n, k.shape[1], -1)
    logits = np.einsum("bnd,bmd->bnm", q, k)  # no 1/sqrt(d): SAGAN
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    att = np.einsum("bnm,bmd->bnd", p, v).reshape(n, h, w, -1)
    o = _conv1x1(att, layer.output_conv)
    if gamma is None:
        gamma = float(ops.convert_to_numpy(layer.gamma))
    return x + gamma * o, p, o


def _depth(layer, x):
    """Round-off depth of the layer's chain of reductions (tests/numerics):
    the 1x1 convolutions over C, the q.k logits over C_qk, the softmax
    normaliser and the weighted sum over the positions, the output
    convolution over C_v."""
    n_positions = x.shape[1] * x.shape[2]
    return (x.shape[-1] + layer.qk_channels + 2 * n_positions
            + layer.v_channels)


def _layer(x_shape, gamma=0.7, **kwargs):
    layer = SelfAttention2D(**kwargs)
    layer.build(x_shape)
    layer.gamma.assign(gamma)
    return layer


# --------------------------------------------------------------------- #
# Behaviour
# --------------------------------------------------------------------- #
@pytest.mark.multibackend
@pytest.mark.parametrize("implementation", ["fused", "materialized"])
@pytest.mark.parametrize("pool", [False, True])
def test_gamma_zero_is_exact_identity(rng, implementation, pool):
    x = rng.standard_normal((2, 6, 10, 16)).astype("float32") * 3.0
    layer = SelfAttention2D(pool_keys_values=pool,
                            implementation=implementation)
    y = ops.convert_to_numpy(layer(x))
    assert float(ops.convert_to_numpy(layer.gamma)) == 0.0
    np.testing.assert_array_equal(y, x)


@pytest.mark.multibackend
@pytest.mark.parametrize("implementation", ["fused", "materialized"])
@pytest.mark.parametrize("pool", [False, True])
@pytest.mark.parametrize("hw", [(6, 10), (8, 4)])
def test_matches_numpy_reference(rng, implementation, pool, hw):
    x = rng.standard_normal((3,) + hw + (32,)).astype("float32")
    layer = _layer(x.shape, pool_keys_values=pool, use_bias=pool,
                   implementation=implementation)
    # SAGAN's unequal sizes (C/8 = 4 for query/key, C/2 = 16 for value):
    # the case that keras.ops.dot_product_attention on JAX rejects as is.
    assert (layer.qk_channels, layer.v_channels) == (4, 16)
    y = ops.convert_to_numpy(layer(x))
    y_ref, _, o_ref = reference(layer, x)
    assert y.dtype == np.float32 and y.shape == x.shape
    depth = _depth(layer, x)
    assert_close(y, y_ref, depth)
    # The attention branch alone, not hidden behind the residual (whose
    # magnitude sets the round-off of y - x).
    assert_close((y - x) / 0.7, o_ref, depth,
                 magnitude=max(np.abs(y_ref).max(), 1.0) / 0.7)


@pytest.mark.multibackend
@pytest.mark.parametrize("channels,qk_reduction,v_reduction", [
    (24, 8, 2),   # C_qk 3 -> head 8, C_v 12 -> two chunks, the last padded
    (64, 8, 2),   # C_qk 8, C_v 32: four chunks, no padding (SAGAN's 1:4)
    (32, 2, 16),  # C_qk 16 wider than C_v 2: one chunk, value padded
])
def test_fused_value_chunks_match_reference(rng, channels, qk_reduction,
                                            v_reduction):
    # The fused path splits the value into query-sized chunks (and pads to
    # multiples of 8); every split must give the exact full attention.
    x = rng.standard_normal((2, 4, 6, channels)).astype("float32")
    layer = _layer(x.shape, query_key_reduction=qk_reduction,
                   value_reduction=v_reduction, implementation="fused")
    y = ops.convert_to_numpy(layer(x))
    y_ref, _, _ = reference(layer, x)
    assert_close(y, y_ref, _depth(layer, x))


@pytest.mark.multibackend
@pytest.mark.parametrize("pool", [False, True])
def test_returned_scores_are_the_softmax_map(rng, pool):
    x = rng.standard_normal((2, 4, 6, 16)).astype("float32")
    layer = _layer(x.shape, pool_keys_values=pool)
    y, scores = layer(x, return_attention_scores=True)
    y, scores = ops.convert_to_numpy(y), ops.convert_to_numpy(scores)
    y_ref, p_ref, _ = reference(layer, x)
    m = 24 // 4 if pool else 24
    assert scores.shape == (2, 24, m) and scores.dtype == np.float32
    depth = _depth(layer, x)
    assert_close(scores, p_ref, depth)
    assert_close(scores.sum(-1), 1.0, depth)
    assert_close(y, y_ref, depth)


def test_functional_model_with_scores(rng):
    inputs = keras.Input((4, 6, 16))
    y, scores = SelfAttention2D(pool_keys_values=True)(
        inputs, return_attention_scores=True)
    assert tuple(scores.shape) == (None, 24, 6)
    model = keras.Model(inputs, [y, scores])
    x = rng.standard_normal((2, 4, 6, 16)).astype("float32")
    _, s = model(x)
    np.testing.assert_allclose(ops.convert_to_numpy(s).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.multibackend
@pytest.mark.parametrize("implementation", ["fused", "materialized"])
def test_gradients_reach_gamma_and_every_conv(rng, implementation):
    x = rng.standard_normal((2, 4, 6, 16)).astype("float32")
    r = rng.standard_normal(x.shape)  # L = sum(r * y)
    layer = _layer(x.shape, gamma=0.5, pool_keys_values=True, use_bias=True,
                   implementation=implementation)
    convs = [layer.query_conv, layer.key_conv, layer.value_conv,
             layer.output_conv]
    variables = [layer.gamma] + [c.kernel for c in convs] + [
        c.bias for c in convs]
    r_t = ops.convert_to_tensor(r.astype("float32"))

    def loss_fn():
        loss = ops.sum(r_t * layer(x))
        return loss, loss

    _, _, grads = gan_backend.value_and_grad(loss_fn, variables)
    grads = [np.asarray(ops.convert_to_numpy(g), "float64") for g in grads]

    # dL/dgamma = sum(r * o), analytic.
    _, _, o = reference(layer, x)
    np.testing.assert_allclose(grads[0], np.sum(r * o), rtol=1e-4)

    # Every kernel and bias: the directional derivative against a central
    # difference of the float64 reference.
    direction_rng = np.random.default_rng(1)
    for var, g in zip(variables[1:], grads[1:]):
        assert np.abs(g).max() > 0
        value = np.asarray(ops.convert_to_numpy(var), "float64")
        d = direction_rng.standard_normal(value.shape)
        eps = 1e-4

        def loss_at(v):
            var.assign(v.astype("float32"))
            return np.sum(r * reference(layer, x)[0])

        # The reference reads the variables in float32; keep the step exact.
        lp, lm = loss_at(value + eps * d), loss_at(value - eps * d)
        var.assign(value.astype("float32"))
        fd = (lp - lm) / (2 * eps)
        np.testing.assert_allclose(np.sum(g * d), fd, rtol=2e-2, atol=1e-3)


@pytest.mark.multibackend
def test_gamma_gradient_at_initialisation(rng):
    # At gamma = 0 only gamma receives gradient: the block starts as the
    # identity and learns to open the attention branch.
    x = rng.standard_normal((2, 4, 4, 16)).astype("float32")
    layer = _layer(x.shape, gamma=0.0)

    def loss_fn():
        loss = ops.sum(ops.square(layer(x)))
        return loss, loss

    variables = [layer.gamma, layer.query_conv.kernel, layer.output_conv.kernel]
    _, _, grads = gan_backend.value_and_grad(loss_fn, variables)
    _, _, o = reference(layer, x)
    np.testing.assert_allclose(ops.convert_to_numpy(grads[0]),
                               np.sum(2 * x * o), rtol=1e-4)
    np.testing.assert_array_equal(ops.convert_to_numpy(grads[1]), 0.0)
    np.testing.assert_array_equal(ops.convert_to_numpy(grads[2]), 0.0)


@pytest.mark.multibackend
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_save_and_reload(tmp_path, rng, spectral_norm):
    inputs = keras.Input((8, 6, 16))
    layer = SelfAttention2D(spectral_norm=spectral_norm, pool_keys_values=True,
                            query_key_reduction=4, value_reduction=1)
    model = keras.Model(inputs, layer(inputs))
    layer.gamma.assign(0.3)
    x = rng.standard_normal((2, 8, 6, 16)).astype("float32")
    expected = ops.convert_to_numpy(model(x))
    path = str(tmp_path / "attention.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    got = ops.convert_to_numpy(restored(x))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    config = restored.layers[-1].get_config()
    assert config["spectral_norm"] == spectral_norm
    assert (config["query_key_reduction"], config["value_reduction"]) == (4, 1)
    assert restored.layers[-1].qk_channels == 4
    assert restored.layers[-1].v_channels == 16


@pytest.mark.multibackend
def test_spectral_norm_wraps_every_conv_and_passes_gradients(rng):
    from keras_gan_stable.layers.spectral_normalization import (
        SpectralNormalization,
    )

    x = rng.standard_normal((2, 4, 4, 16)).astype("float32")
    layer = _layer(x.shape, gamma=0.5, spectral_norm=True)
    convs = [layer.query_conv, layer.key_conv, layer.value_conv,
             layer.output_conv]
    assert all(isinstance(c, SpectralNormalization) for c in convs)
    kernels = [c.layer.kernel for c in convs]

    def loss_fn():
        loss = ops.sum(ops.square(layer(x, training=True)))
        return loss, loss

    _, _, grads = gan_backend.value_and_grad(loss_fn, [layer.gamma] + kernels)
    for g in grads:
        assert np.abs(ops.convert_to_numpy(g)).max() > 0
    # After enough power iterations (one per training call) the map the
    # output convolution applies has largest singular value 1, whatever
    # the raw kernel's.
    for _ in range(10):
        layer(x, training=True)
    dv = layer.v_channels
    basis = np.eye(dv, dtype="float32").reshape(1, 1, dv, dv)
    w_applied = ops.convert_to_numpy(layer.output_conv(basis))
    w_applied = np.asarray(w_applied, "float64").reshape(dv, -1)
    raw = np.asarray(ops.convert_to_numpy(layer.output_conv.layer.kernel),
                     "float64").reshape(dv, -1)
    assert np.linalg.svd(raw, compute_uv=False)[0] > 1.2
    np.testing.assert_allclose(np.linalg.svd(w_applied, compute_uv=False)[0],
                               1.0, rtol=2e-2)


@pytest.mark.multibackend
def test_mixed_bfloat16_on_64x64_has_no_nans(rng):
    x = rng.standard_normal((1, 64, 64, 32)).astype("float32") * 2.0
    ref_layer = _layer(x.shape, gamma=1.0)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = SelfAttention2D()
        layer.build(x.shape)
        for dst, src in zip(layer.weights, ref_layer.weights):
            dst.assign(src)
        assert layer.compute_dtype == "bfloat16"
        y, scores = layer(x, return_attention_scores=True)
        y_default = layer(x)
    finally:
        keras.config.set_dtype_policy(previous)
    y = np.asarray(ops.convert_to_numpy(ops.cast(y, "float32")))
    y_default = np.asarray(
        ops.convert_to_numpy(ops.cast(y_default, "float32")))
    scores = ops.convert_to_numpy(scores)
    assert scores.dtype == np.float32
    for a in (y, y_default, scores):
        assert np.all(np.isfinite(a))
    np.testing.assert_allclose(scores.sum(-1), 1.0, rtol=1e-5)
    y_ref, _, o_ref = reference(ref_layer, x)
    # bfloat16 keeps 8 bits of mantissa (x alone rounds by ~0.4%); the
    # attention branch is right to bfloat16 accuracy, not only the residual.
    for out in (y, y_default):
        rel = np.linalg.norm(out - y_ref) / np.linalg.norm(y_ref)
        branch = np.linalg.norm((out - x) - o_ref) / np.linalg.norm(o_ref)
        assert rel < 0.03 and branch < 0.05, (rel, branch)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="query_key_reduction=0"):
        SelfAttention2D(query_key_reduction=0)
    with pytest.raises(ValueError, match="value_reduction=1.5"):
        SelfAttention2D(value_reduction=1.5)
    with pytest.raises(ValueError, match="implementation='flash'"):
        SelfAttention2D(implementation="flash")
    with pytest.raises(ValueError, match="must be even"):
        SelfAttention2D(pool_keys_values=True).build((None, 5, 4, 16))
    with pytest.raises(ValueError, match="known channel count"):
        SelfAttention2D().build((None, 8, 8))
