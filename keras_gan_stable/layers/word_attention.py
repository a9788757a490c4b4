"""AttnGAN's word-level attention: a word-context vector for every pixel."""

import keras
from keras import ops

_NEG = -1e9  # masked scores: exp(_NEG - max) is 0 in float32


def masked_softmax(scores, mask):
    """Softmax over the last axis, exactly 0 where `mask` is False.

    `scores` `[..., T]` (float32), `mask` broadcastable bool. A row with no
    True entry (an all-padding caption) gets all zeros instead of a
    uniform distribution.
    """
    scores = ops.where(mask, scores, _NEG)
    weights = ops.softmax(scores, axis=-1)
    return weights * ops.cast(mask, weights.dtype)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class WordAttention(keras.layers.Layer):
    """Word-context features for each sub-region of an image feature map.

    AttnGAN's attention model `F^attn(e, h)`: the word features `e`
    `[B, T, D]` are mapped into the image feature space by a perceptron
    `e' = U e` (a 1x1 convolution without bias, `U` `[D, C]` here as a
    kernel), and for each sub-region (pixel) `j` of the hidden features
    `h` `[B, H, W, C]`

        s'_{j,i} = h_j^T e'_i,
        beta_{j,i} = exp(s'_{j,i}) / sum_k exp(s'_{j,k}),
        c_j = sum_i beta_{j,i} e'_i,

    the softmax running over the caption's words. Padded words (`mask`
    False) get exactly zero attention; a caption with no word at all gets
    a zero context. The scores and softmax are computed in float32.

    Call with `[h, words, mask]` (`mask` `[B, T]`, bool or 0/1); returns
    the word-context features `[B, H, W, C]`, or `(context, beta)` with
    `beta` `[B, H * W, T]` when `return_attention=True`. The generator
    concatenates `[h, c]` and refines/upsamples it to the next stage.

    >>> attn = WordAttention()
    >>> c = attn([h, words, mask])        # [B, 16, 16, C]
    >>> x = keras.layers.Concatenate()([h, c])

    Reference:
        Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with
        Attentional Generative Adversarial Networks", CVPR 2018 (Eq. 2
        and Section 3.1).
    """

    def build(self, input_shape):
        h_shape, w_shape = input_shape[0], input_shape[1]
        if len(h_shape) != 4 or len(w_shape) != 3:
            raise ValueError(
                "WordAttention takes [h [B, H, W, C], words [B, T, D], mask "
                f"[B, T]]. Received shapes: {list(input_shape)}")
        self.kernel = self.add_weight(
            shape=(w_shape[-1], h_shape[-1]), initializer="glorot_uniform",
            name="kernel")  # U^T: words -> image feature space
        self.built = True

    def call(self, inputs, return_attention=False):
        h, words, mask = inputs
        shape = ops.shape(h)
        b, c = shape[0], shape[-1]
        e = ops.einsum("btd,dc->btc", ops.cast(words, "float32"),
                       ops.cast(self.kernel, "float32"))  # [B, T, C]
        regions = ops.reshape(ops.cast(h, "float32"), (b, -1, c))  # [B, N, C]
        scores = ops.einsum("bnc,btc->bnt", regions, e)  # [B, N, T]
        keep = ops.cast(mask, "bool")[:, None, :]
        beta = masked_softmax(scores, keep)  # softmax over the words
        context = ops.einsum("bnt,btc->bnc", beta, e)  # [B, N, C]
        context = ops.cast(ops.reshape(context, shape), h.dtype)
        if return_attention:
            return context, beta
        return context

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])
