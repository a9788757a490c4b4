"""DM-GAN's dynamic memory: gated memory writing, key/value reading and a
gated response that refines image features with the caption's words."""

import keras
from keras import ops

from keras_gan_stable.layers.word_attention import masked_softmax


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class DynamicMemory(keras.layers.Layer):
    """DM-GAN's memory writing, key addressing, value reading and response.

    For image features `r` `[B, H, W, Nr]` (`N = H W` pixels `r_j`) and
    word features `w` `[B, T, Nw]` with a padding mask:

    - Memory writing gate (Eq. 3-4): with the mean image feature
      `r_bar = (1/N) sum_j r_j`,
      `g^w_i = sigmoid(A w_i + B r_bar)` (scalars, `A` `[Nw, 1]`, `B`
      `[Nr, 1]`) and the memory slot
      `m_i = M_w(w_i) g^w_i + M_r(r_bar) (1 - g^w_i)`, `M_w`, `M_r` 1x1
      convolutions (with bias) to `memory_dim` `Nm`.
    - Key addressing (Eq. 5):
      `alpha_{i,j} = exp(phi_K(m_i)^T r_j) / sum_l exp(phi_K(m_l)^T r_j)`
      over the memory slots (words), padded words getting exactly zero.
    - Value reading (Eq. 6): `o_j = sum_i alpha_{i,j} phi_V(m_i)`;
      `phi_K`, `phi_V` are 1x1 convolutions `Nm -> Nr` without bias.
    - Response gate (Eq. 7-8): `g^r_j = sigmoid(W [o_j, r_j] + b)` (a
      scalar per pixel) and `r_new_j = o_j g^r_j + r_j (1 - g^r_j)`.

    Call with `[r, words, mask]`; returns `r_new` `[B, H, W, Nr]`. The
    three steps are also methods (`write`, `read`, `respond`) so each can be
    checked on its own. The generator then upsamples and refines `r_new`.
    Computed in float32, returned in `r`'s dtype.

    Args:
        memory_dim: int or `None`. `Nm`, the size of a memory slot.
            Defaults to `None` (the image feature size `Nr`).

    >>> memory = DynamicMemory()
    >>> r_new = memory([r, words, mask])   # [B, 16, 16, Nr]

    Reference:
        Zhu et al., "DM-GAN: Dynamic Memory Generative Adversarial Networks
        for Text-to-Image Synthesis", CVPR 2019 (Section 3.2).
    """

    def __init__(self, memory_dim=None, **kwargs):
        super().__init__(**kwargs)
        if memory_dim is not None and (
                isinstance(memory_dim, bool) or not isinstance(memory_dim, int)
                or memory_dim < 1):
            raise ValueError(
                "`memory_dim` should be a positive integer or None (the "
                f"image feature size). Received: `memory_dim={memory_dim!r}`")
        self.memory_dim = memory_dim

    def build(self, input_shape):
        r_shape, w_shape = input_shape[0], input_shape[1]
        if len(r_shape) != 4 or len(w_shape) != 3:
            raise ValueError(
                "DynamicMemory takes [r [B, H, W, Nr], words [B, T, Nw], mask "
                f"[B, T]]. Received shapes: {list(input_shape)}")
        nr, nw = r_shape[-1], w_shape[-1]
        nm = self.memory_dim or nr

        def weight(shape, name, init="glorot_uniform"):
            return self.add_weight(shape=shape, initializer=init, name=name)

        self.gate_words = weight((nw, 1), "gate_words")  # A
        self.gate_image = weight((nr, 1), "gate_image")  # B
        self.memory_words = weight((nw, nm), "memory_words")  # M_w
        self.memory_words_bias = weight((nm,), "memory_words_bias", "zeros")
        self.memory_image = weight((nr, nm), "memory_image")  # M_r
        self.memory_image_bias = weight((nm,), "memory_image_bias", "zeros")
        self.key = weight((nm, nr), "key")  # phi_K
        self.value = weight((nm, nr), "value")  # phi_V
        self.response = weight((2 * nr, 1), "response")  # W over [o, r]
        self.response_bias = weight((1,), "response_bias", "zeros")
        self.built = True

    def _w(self, v):
        return ops.cast(v, "float32")

    def write(self, r, words):
        """`(memory [B, T, Nm], gate [B, T, 1])`: Eq. 3-4."""
        words = ops.cast(words, "float32")
        r_bar = ops.mean(ops.cast(r, "float32"), axis=(1, 2))  # [B, Nr]
        gate = ops.sigmoid(
            ops.matmul(words, self._w(self.gate_words))
            + ops.matmul(r_bar, self._w(self.gate_image))[:, None, :])
        from_words = (ops.matmul(words, self._w(self.memory_words))
                      + self._w(self.memory_words_bias))  # [B, T, Nm]
        from_image = (ops.matmul(r_bar, self._w(self.memory_image))
                      + self._w(self.memory_image_bias))[:, None, :]
        return from_words * gate + from_image * (1.0 - gate), gate

    def read(self, r, memory, mask):
        """`(o [B, N, Nr], alpha [B, N, T])`: Eq. 5-6."""
        shape = ops.shape(r)
        pixels = ops.reshape(ops.cast(r, "float32"),
                             (shape[0], -1, shape[-1]))  # [B, N, Nr]
        keys = ops.matmul(memory, self._w(self.key))  # [B, T, Nr]
        values = ops.matmul(memory, self._w(self.value))  # [B, T, Nr]
        scores = ops.einsum("bnc,btc->bnt", pixels, keys)
        alpha = masked_softmax(scores, ops.cast(mask, "bool")[:, None, :])
        return ops.einsum("bnt,btc->bnc", alpha, values), alpha

    def respond(self, r, o):
        """`(r_new [B, N, Nr], gate [B, N, 1])`: Eq. 7-8."""
        shape = ops.shape(r)
        pixels = ops.reshape(ops.cast(r, "float32"),
                             (shape[0], -1, shape[-1]))  # [B, N, Nr]
        gate = ops.sigmoid(
            ops.matmul(ops.concatenate([o, pixels], axis=-1),
                       self._w(self.response)) + self._w(self.response_bias))
        return o * gate + pixels * (1.0 - gate), gate

    def call(self, inputs):
        r, words, mask = inputs
        memory, _ = self.write(r, words)
        o, _ = self.read(r, memory, mask)
        r_new, _ = self.respond(r, o)
        return ops.cast(ops.reshape(r_new, ops.shape(r)), r.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "memory_dim": self.memory_dim}
