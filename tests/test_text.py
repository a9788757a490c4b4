"""Caption tokenizer edge cases and the BiLSTM text encoder against a NumPy
LSTM."""

import warnings

import numpy as np
import pytest

import keras

from keras_gan_stable.text.caption_tokenizer import (
    OOV_ID, PAD_ID, CaptionTokenizer)
from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

TRAIN = ["a red circle on the left", "a big blue square", "A red square!"]


def _tokenizer(max_length=6):
    tok = CaptionTokenizer(max_length=max_length)
    tok.adapt(TRAIN)
    return tok


def test_tokenizer_ids_padding_and_round_trip():
    tok = _tokenizer()
    vocab = tok.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    assert set(vocab[2:]) == {"a", "red", "circle", "on", "the", "left",
                              "big", "blue", "square"}
    ids = tok(["A red, SQUARE", "blue"])
    assert ids.dtype == np.int32 and ids.shape == (2, 6)
    index = {w: i for i, w in enumerate(vocab)}
    np.testing.assert_array_equal(
        ids, [[index["a"], index["red"], index["square"], 0, 0, 0],
              [index["blue"], 0, 0, 0, 0, 0]])
    again = CaptionTokenizer.from_config(tok.get_config())
    np.testing.assert_array_equal(again(["A red, SQUARE", "blue"]), ids)


def test_unknown_word_is_the_oov_token():
    tok = _tokenizer()
    ids = tok(["a green circle"])
    assert ids[0, 1] == OOV_ID and tok.get_vocabulary()[OOV_ID] == "[UNK]"
    assert ids[0, 0] not in (PAD_ID, OOV_ID) and ids[0, 3] == PAD_ID


def test_empty_caption_raises():
    tok = _tokenizer()
    for bad in ("", "  ", "?!"):
        with pytest.raises(ValueError, match="Caption 1 is empty"):
            tok(["a red circle", bad])
    with pytest.raises(ValueError, match="no vocabulary yet"):
        CaptionTokenizer()(["a"])
    with pytest.raises(ValueError, match="max_length=0"):
        CaptionTokenizer(max_length=0)


def test_long_caption_is_truncated_with_a_warning():
    tok = _tokenizer(max_length=3)
    expected = r"1 caption\(s\) longer than max_length=3 .*truncated"
    with pytest.warns(UserWarning, match=expected):
        ids = tok(["a red circle on the left", "a red circle"])
    np.testing.assert_array_equal(ids[0], ids[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tok(["a red circle"])  # exactly max_length: no warning


def _np_lstm(x, kernel, recurrent, bias):
    """Keras' LSTM (gates i, f, c, o; sigmoid / tanh) over x [T, E]."""
    u = recurrent.shape[0]
    h, c = np.zeros(u), np.zeros(u)
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    out = []
    for xt in x:
        z = xt @ kernel + h @ recurrent + bias
        i, f, g, o = z[:u], z[u:2 * u], z[2 * u:3 * u], z[3 * u:]
        c = sig(f) * c + sig(i) * np.tanh(g)
        h = sig(o) * np.tanh(c)
        out.append(h)
    return np.array(out), h


@pytest.mark.multibackend
def test_encoder_matches_numpy_lstm_and_ignores_padding():
    rng = np.random.default_rng(0)
    enc = BiLSTMTextEncoder(vocabulary_size=12, embedding_dim=5,
                            feature_dim=8)
    ids = np.array([[3, 7, 2, 0, 0, 0], [5, 1, 9, 4, 11, 6]], "int32")
    enc(ids)
    for v in enc.weights:  # non-trivial biases and gate weights
        v.assign(rng.normal(0, 0.5, tuple(v.shape)).astype("float32"))
    words, sentence = (keras.ops.convert_to_numpy(t) for t in enc(ids))
    assert words.shape == (2, 6, 8) and sentence.shape == (2, 8)
    table = keras.ops.convert_to_numpy(enc.embedding.embeddings)
    cells = [enc.rnn.forward_layer.cell, enc.rnn.backward_layer.cell]
    params = [[keras.ops.convert_to_numpy(w) for w in
               (c.kernel, c.recurrent_kernel, c.bias)] for c in cells]
    for b in range(2):
        n = int((ids[b] != 0).sum())
        x = table[ids[b, :n]].astype("float64")
        f_out, f_h = _np_lstm(x, *params[0])
        b_out, b_h = _np_lstm(x[::-1], *params[1])
        expected = np.zeros((6, 8))
        expected[:n] = np.concatenate([f_out, b_out[::-1]], axis=-1)
        # A few float32 products over 5-12 terms: 1e-5 is ~100x round-off.
        np.testing.assert_allclose(words[b], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sentence[b], np.concatenate([f_h, b_h]),
                                   rtol=1e-5, atol=1e-5)
    # More trailing padding changes nothing; a changed word changes it.
    longer = np.pad(ids, ((0, 0), (0, 4)))
    words2, sentence2 = (keras.ops.convert_to_numpy(t) for t in enc(longer))
    np.testing.assert_allclose(sentence2, sentence, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(words2[:, :6], words, rtol=1e-6, atol=1e-6)
    assert np.all(words2[:, 6:] == 0)
    changed = ids.copy()
    changed[0, 1] = 8
    _, sentence3 = enc(changed)
    assert np.abs(keras.ops.convert_to_numpy(sentence3)[0]
                  - sentence[0]).max() > 1e-3
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(enc.compute_mask(ids)), ids != 0)


def test_encoder_config_and_argument_checks():
    enc = BiLSTMTextEncoder(vocabulary_size=12, embedding_dim=4,
                            feature_dim=6, dropout=0.1, name="enc")
    again = BiLSTMTextEncoder.from_config(enc.get_config())
    assert again.get_config() == enc.get_config()
    with pytest.raises(ValueError, match="feature_dim=7"):
        BiLSTMTextEncoder(vocabulary_size=12, feature_dim=7)
    with pytest.raises(ValueError, match="vocabulary_size=2"):
        BiLSTMTextEncoder(vocabulary_size=2)
