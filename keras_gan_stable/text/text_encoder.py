"""A bidirectional-LSTM caption encoder: word and sentence features."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class BiLSTMTextEncoder(keras.layers.Layer):
    """Token ids -> word features `[B, T, D]` and a sentence feature `[B, D]`.

    AttnGAN's text encoder: an embedding, then one bidirectional LSTM with
    `D / 2` units per direction. A word's feature is the concatenation of
    the two directions' outputs at that word; the sentence feature is the
    concatenation of the forward LSTM's last state and the backward LSTM's
    state after the first word. Token id 0 is padding: padded steps leave
    the LSTM states unchanged (Keras masking), so trailing padding does not
    change the sentence feature, and the word features there are zero.

    Args:
        vocabulary_size: int. Number of token ids (padding and OOV
            included), e.g. `CaptionTokenizer.vocabulary_size`.
        embedding_dim: int. Size of the word embedding. Defaults to 300.
        feature_dim: int. `D`, even; each direction has `D / 2` units.
            Defaults to 256 (AttnGAN).
        dropout: float. Dropout on the embeddings in training. Defaults
            to 0.

    Call returns `(words [B, T, D], sentence [B, D])`; `compute_mask` gives
    the padding mask `[B, T]` (True at words).

    >>> enc = BiLSTMTextEncoder(vocabulary_size=100, feature_dim=32)
    >>> words, sentence = enc(token_ids)   # [B, T, 32], [B, 32]

    Reference:
        Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with
        Attentional Generative Adversarial Networks", CVPR 2018.
    """

    def __init__(self, vocabulary_size, embedding_dim=300, feature_dim=256,
                 dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("vocabulary_size", vocabulary_size),
                            ("embedding_dim", embedding_dim),
                            ("feature_dim", feature_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or (
                    value < (3 if name == "vocabulary_size" else 1)):
                raise ValueError(
                    f"`{name}` should be a positive integer"
                    + (" >= 3" if name == "vocabulary_size" else "")
                    + f". Received: `{name}={value!r}`")
        if feature_dim % 2:
            raise ValueError(
                "`feature_dim` should be even (half per LSTM direction). "
                f"Received: `feature_dim={feature_dim}`")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(
                "`dropout` should be in [0, 1). Received: "
                f"`dropout={dropout}`")
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.feature_dim = feature_dim
        self.dropout = float(dropout)
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="embedding")
        self.embedding_dropout = keras.layers.Dropout(self.dropout)
        self.rnn = keras.layers.Bidirectional(
            keras.layers.LSTM(feature_dim // 2, return_sequences=True,
                              return_state=True),
            merge_mode="concat", name="bilstm")

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.rnn.build(tuple(input_shape) + (self.embedding_dim,))
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, 0)

    def call(self, inputs, training=False):
        inputs = ops.cast(inputs, "int32")
        mask = ops.not_equal(inputs, 0)  # [B, T]
        x = self.embedding(inputs)  # [B, T, E]
        x = self.embedding_dropout(x, training=training)
        words, h_fwd, _, h_bwd, _ = self.rnn(x, mask=mask, training=training)
        words = words * ops.cast(mask, words.dtype)[..., None]  # [B, T, D]
        sentence = ops.concatenate([h_fwd, h_bwd], axis=-1)  # [B, D]
        return words, sentence

    def compute_output_shape(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        return (b, t, self.feature_dim), (b, self.feature_dim)

    def get_config(self):
        return {**super().get_config(),
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "feature_dim": self.feature_dim, "dropout": self.dropout}
