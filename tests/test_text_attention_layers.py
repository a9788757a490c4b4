"""AttnGAN's word attention, DM-GAN's dynamic memory and the
sentence-conditioned batch normalisation against NumPy references of the
papers' formulas, and the masking of padded words."""

import numpy as np
import pytest

import keras

from keras_gan_stable.layers.dynamic_memory import DynamicMemory
from keras_gan_stable.layers.word_attention import WordAttention

B, H, W, C, T, D = 3, 2, 3, 4, 5, 6
# Caption 0 is full, caption 1 has two padded words, caption 2 is empty.
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 0, 0, 0]],
                "float32")
# float32 against float64 over sums of at most max(C, D, T) = 6 terms
# (after an exp of scores of order 1-10): round-off is ~1e-6 relative;
# 1e-5 leaves a margin of ~10x and is far below any formula error.
RTOL, ATOL = 1e-5, 1e-6


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x), "float64")


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    h = rng.normal(0, 1, (B, H, W, C)).astype("float32")
    words = rng.normal(0, 1, (B, T, D)).astype("float32")
    return h, words


def _softmax_over_words(scores, mask):
    """Softmax over the valid words of each row; 0 at padding and for a
    caption without words."""
    out = np.zeros_like(scores)
    valid = mask > 0
    if valid.any():
        s = scores[..., valid]
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        out[..., valid] = e / e.sum(axis=-1, keepdims=True)
    return out


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.multibackend
def test_word_attention_equals_the_papers_formula():
    h, words = _inputs()
    layer = WordAttention()
    context, beta = layer([h, words, MASK], return_attention=True)
    u = _np(layer.kernel)  # [D, C]: e' = U e
    h64, w64 = h.astype("float64"), words.astype("float64")
    for b in range(B):
        e = w64[b] @ u  # [T, C]
        pixels = h64[b].reshape(-1, C)  # [N, C]
        ref_beta = _softmax_over_words(pixels @ e.T, MASK[b])  # [N, T]
        ref_context = (ref_beta @ e).reshape(H, W, C)
        np.testing.assert_allclose(_np(beta)[b], ref_beta, rtol=RTOL,
                                   atol=ATOL)
        np.testing.assert_allclose(_np(context)[b], ref_context, rtol=RTOL,
                                   atol=ATOL)
    # Each pixel's weights over a caption's words sum to 1 (0 without words).
    np.testing.assert_allclose(_np(beta).sum(-1)[:2], 1.0, rtol=1e-6)
    assert np.all(_np(beta)[2] == 0) and np.all(_np(context)[2] == 0)


def test_word_attention_ignores_padded_words():
    h, words = _inputs(1)
    layer = WordAttention()
    context, beta = layer([h, words, MASK], return_attention=True)
    # Padding gets exactly zero attention...
    assert np.all(_np(beta)[1, :, 3:] == 0.0)
    assert _np(beta)[1, :, :3].min() > 0
    # ...so whatever sits at padded positions does not change the output.
    noisy = words.copy()
    noisy[1, 3:] = 50.0
    noisy[2] = -50.0
    np.testing.assert_array_equal(_np(layer([h, noisy, MASK])),
                                  _np(context))
    # A real word does change it.
    changed = words.copy()
    changed[1, 0] += 1.0
    assert np.abs(_np(layer([h, changed, MASK]))[1] - _np(context)[1]).max(
        ) > 1e-3


def _memory_reference(layer, h, words, mask):
    """DM-GAN Eqs. 3-8 in float64, one caption at a time."""
    p = {v.path.split("/")[-1]: _np(v) for v in layer.weights}
    out = {k: [] for k in ("memory", "write_gate", "o", "alpha", "r_new",
                           "response_gate")}
    for b in range(B):
        r = h[b].astype("float64").reshape(-1, C)  # [N, Nr]
        w = words[b].astype("float64")  # [T, Nw]
        r_bar = r.mean(0)
        gate = _sigmoid(w @ p["gate_words"] + r_bar @ p["gate_image"])
        memory = ((w @ p["memory_words"] + p["memory_words_bias"]) * gate
                  + (r_bar @ p["memory_image"] + p["memory_image_bias"])
                  * (1 - gate))  # [T, Nm]
        keys, values = memory @ p["key"], memory @ p["value"]  # [T, Nr]
        alpha = _softmax_over_words(r @ keys.T, mask[b])  # [N, T]
        o = alpha @ values  # [N, Nr]
        g_r = _sigmoid(np.concatenate([o, r], -1) @ p["response"]
                       + p["response_bias"])  # [N, 1]
        for key, value in (("memory", memory), ("write_gate", gate),
                           ("o", o), ("alpha", alpha),
                           ("r_new", o * g_r + r * (1 - g_r)),
                           ("response_gate", g_r)):
            out[key].append(value)
    return {k: np.stack(v) for k, v in out.items()}


@pytest.mark.multibackend
def test_dynamic_memory_gates_equal_the_papers_formulas():
    h, words = _inputs(2)
    layer = DynamicMemory(memory_dim=7)
    r_new = layer([h, words, MASK])
    # Non-zero biases, so a dropped bias term would show.
    rng = np.random.default_rng(3)
    for v in layer.weights:
        v.assign(rng.normal(0, 0.5, tuple(v.shape)).astype("float32"))
    r_new = layer([h, words, MASK])
    ref = _memory_reference(layer, h, words, MASK)
    memory, write_gate = layer.write(h, words)
    o, alpha = layer.read(h, memory, MASK)
    respond, response_gate = layer.respond(h, o)
    for key, got in (("memory", memory), ("write_gate", write_gate),
                     ("o", o), ("alpha", alpha), ("r_new", respond),
                     ("response_gate", response_gate)):
        np.testing.assert_allclose(_np(got), ref[key], rtol=RTOL, atol=ATOL,
                                   err_msg=key)
    np.testing.assert_allclose(_np(r_new), ref["r_new"].reshape(h.shape),
                               rtol=RTOL, atol=ATOL)
    # The gates are proper mixtures: strictly inside (0, 1).
    for gate in (ref["write_gate"], ref["response_gate"]):
        assert 0 < gate.min() and gate.max() < 1


def test_dynamic_memory_ignores_padded_words():
    h, words = _inputs(4)
    layer = DynamicMemory()
    out = _np(layer([h, words, MASK]))
    memory, _ = layer.write(h, words)
    _, alpha = layer.read(h, memory, MASK)
    assert np.all(_np(alpha)[1, :, 3:] == 0.0)
    assert np.all(_np(alpha)[2] == 0.0)
    noisy = words.copy()
    noisy[1, 3:] = 50.0
    noisy[2] = -50.0
    np.testing.assert_array_equal(_np(layer([h, noisy, MASK])), out)
    # With no word the response is o = 0, so r_new = r (1 - g_r).
    _, gate = layer.respond(h, np.zeros((B, H * W, C), "float32"))
    expected = h[2].reshape(-1, C) * (1 - _np(gate)[2])
    np.testing.assert_allclose(out[2].reshape(-1, C), expected, rtol=RTOL,
                               atol=ATOL)


def test_layer_configs_round_trip():
    h, words = _inputs()
    for layer in (WordAttention(name="attn"), DynamicMemory(5, name="mem")):
        out = _np(layer([h, words, MASK]))
        clone = layer.__class__.from_config(layer.get_config())
        clone([h, words, MASK])
        clone.set_weights(layer.get_weights())
        assert clone.get_config() == layer.get_config()
        np.testing.assert_array_equal(_np(clone([h, words, MASK])), out)
    with pytest.raises(ValueError, match="memory_dim=0"):
        DynamicMemory(0)
    with pytest.raises(ValueError, match="Received shapes"):
        WordAttention()([words, words, MASK])


# ---------------------------------------------------------------------- #
# VectorConditionalBatchNormalization (the generator's sentence affine)
# ---------------------------------------------------------------------- #
@pytest.mark.multibackend
@pytest.mark.parametrize("hidden", [None, 5])
def test_vector_conditional_batch_norm_matches_numpy(hidden):
    from keras_gan_stable.layers import VectorConditionalBatchNormalization

    rng = np.random.default_rng(1)
    x = (rng.normal(0, 2, (B, H, W, C)) + 1.0).astype("float32")
    c = rng.normal(0, 1, (B, D)).astype("float32")
    layer = VectorConditionalBatchNormalization(hidden, momentum=0.9,
                                                epsilon=1e-3)
    layer.build([x.shape, c.shape])
    # At the start the layer is a plain batch normalisation.
    x_hat = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3)
    np.testing.assert_allclose(_np(layer([x, c], training=True)), x_hat,
                               rtol=1e-4, atol=1e-5)
    weights = [rng.normal(0, 0.5, w.shape).astype("float32")
               for w in layer.trainable_weights]
    layer.set_weights(weights + [_np(w) for w in
                                 layer.non_trainable_weights])
    h = c.astype("float64")
    if hidden is not None:
        w1, b1, wg, bg, wb, bb = weights
        h = np.maximum(h @ w1 + b1, 0.0)
    else:
        wg, bg, wb, bb = weights
    gamma, beta = 1.0 + h @ wg + bg, h @ wb + bb
    expected = x_hat * gamma[:, None, None] + beta[:, None, None]
    # float32 BN statistics over B*H*W = 18 values and sums of <= D + 5
    # products of order 1: round-off ~1e-6 relative, well inside 1e-4.
    np.testing.assert_allclose(_np(layer([x, c], training=True)), expected,
                               rtol=1e-4, atol=1e-4)
    clone = VectorConditionalBatchNormalization.from_config(
        layer.get_config())
    clone([x, c])
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(_np(clone([x, c], training=True)),
                                  _np(layer([x, c], training=True)))
    with pytest.raises(ValueError, match="hidden_units=0"):
        VectorConditionalBatchNormalization(0)
    with pytest.raises(ValueError, match=r"`c` of shape `\[N, D\]`"):
        VectorConditionalBatchNormalization()([x, x])
