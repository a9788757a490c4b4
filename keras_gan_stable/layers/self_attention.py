"""The self-attention (non-local) block of SAGAN for 2D feature maps."""

import numbers

import keras
from keras import ops

_IMPLEMENTATIONS = ("auto", "fused", "materialized")


def _on_accelerator(x):
    """Whether a fused attention kernel may exist for `x` (JAX/torch GPU)."""
    backend = keras.backend.backend()
    if backend == "torch":
        device = getattr(x, "device", None)
        return getattr(device, "type", None) == "cuda"
    if backend == "jax":
        devices = keras.distribution.list_devices()
        return bool(devices) and devices[0].split(":")[0] in ("gpu", "cuda")
    # TensorFlow's dot_product_attention is an einsum/softmax/einsum graph.
    return False


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class SelfAttention2D(keras.layers.Layer):
    """Self-attention over all positions of a feature map (SAGAN).

    For an input `x` of shape `[B, H, W, C]` the layer computes, with
    1x1 convolutions `f`, `g`, `h` and `v` and `N = H * W` positions:

        q = f(x)  [B, N, C_qk]     k = g(x)  [B, M, C_qk]
        s = h(x)  [B, M, C_v]      beta = softmax(q k^T)  [B, N, M]
        o = v(beta s)  [B, H, W, C]
        y = gamma * o + x

    with a trainable scalar `gamma` that starts at 0, so that a freshly
    built block is exactly the identity and the network learns how much
    non-local evidence to use. With `pool_keys_values=True` the keys and
    values are max-pooled 2x2 first (`M = N / 4`), as in the BigGAN
    implementation. There is no `1 / sqrt(d)` scaling: SAGAN uses a plain
    softmax of the dot products.

    The attention runs through `keras.ops.dot_product_attention`, so a
    backend's fused kernel (cuDNN flash attention under JAX, flash SDPA
    under PyTorch) is used on a GPU in bfloat16/float16 and the
    `[B, N, M]` map never lives in memory. JAX's kernel wants one head size
    for query, key and value, so the value (C/2) is split into chunks of
    the query size (C/8) that attend with the same query and key; each
    chunk's output is exactly its columns of the full output, and query
    and key keep their small size. Where no fused kernel exists
    (the CPU, TensorFlow, JAX in float32) and whenever the attention map is
    returned, the map is materialised with logits and softmax in float32.

    Args:
        query_key_reduction: int. The query and key have
            `max(1, C // query_key_reduction)` channels. Defaults to `8`
            (SAGAN).
        value_reduction: int. The value has `max(1, C // value_reduction)`
            channels. Defaults to `2` (the SAGAN and BigGAN code).
        pool_keys_values: bool. Max-pool keys and values 2x2 (H and W must
            be even); 4x fewer query-key pairs. Defaults to `False`.
        spectral_norm: bool. Wrap the four convolutions in
            `SpectralNormalization` (SAGAN does so in G and D). Defaults to
            `False`.
        power_iterations: int. Power iterations per training call of each
            spectral normalisation. Defaults to `1`.
        use_bias: bool. Biases in the 1x1 convolutions. Defaults to `False`
            (the SAGAN and BigGAN code).
        kernel_initializer: initializer of the convolution kernels.
            Defaults to `"glorot_uniform"`.
        implementation: `"auto"`, `"fused"` (always
            `keras.ops.dot_product_attention`) or `"materialized"` (always
            the explicit `[B, N, M]` map with a float32 softmax). `"auto"`
            picks `"fused"` where a fused kernel exists: PyTorch on a GPU,
            and JAX on a GPU in float16/bfloat16; otherwise (CPU,
            TensorFlow) `"materialized"`, which computes the map once
            instead of once per value chunk. Defaults to `"auto"`.

    Call arguments:
        inputs: `[B, H, W, C]` feature map.
        return_attention_scores: bool. Also return the float32 attention
            map `[B, H * W, M]`; row `i` is where the query at position
            `(i // W, i % W)` attends (keys in row-major order of the
            possibly pooled map). Defaults to `False`.

    >>> layer = SelfAttention2D(spectral_norm=True)
    >>> y = layer(keras.random.normal((2, 32, 32, 64)))  # y == x at init
    >>> y, scores = layer(x, return_attention_scores=True)  # [2, 1024, 1024]

    Reference:
        Zhang, Goodfellow, Metaxas and Odena, "Self-Attention Generative
        Adversarial Networks", ICML 2019; Wang et al., "Non-local Neural
        Networks", CVPR 2018.
    """

    def __init__(self, query_key_reduction=8, value_reduction=2,
                 pool_keys_values=False, spectral_norm=False,
                 power_iterations=1, use_bias=False,
                 kernel_initializer="glorot_uniform", implementation="auto",
                 **kwargs):
        super().__init__(**kwargs)
        for name, value in (("query_key_reduction", query_key_reduction),
                            ("value_reduction", value_reduction),
                            ("power_iterations", power_iterations)):
            if isinstance(value, bool) or not isinstance(
                    value, numbers.Integral) or value < 1:
                raise ValueError(
                    f"`{name}` should be a positive integer. Received: "
                    f"`{name}={value!r}`"
                )
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` should be one of {_IMPLEMENTATIONS}. "
                f"Received: `implementation={implementation!r}`"
            )
        self.query_key_reduction = int(query_key_reduction)
        self.value_reduction = int(value_reduction)
        self.pool_keys_values = bool(pool_keys_values)
        self.spectral_norm = bool(spectral_norm)
        self.power_iterations = int(power_iterations)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.implementation = implementation
        self.supports_masking = False

    def _conv(self, filters, name):
        conv = keras.layers.Conv2D(
            filters, 1, use_bias=self.use_bias,
            kernel_initializer=keras.initializers.get(
                keras.initializers.serialize(self.kernel_initializer)),
            dtype=self.dtype_policy, name=name)
        if not self.spectral_norm:
            return conv
        from keras_gan_stable.layers.spectral_normalization import (
            SpectralNormalization,
        )

        return SpectralNormalization(
            conv, power_iterations=self.power_iterations,
            dtype=self.dtype_policy, name=f"{name}_sn")

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                "`SelfAttention2D` takes feature maps [batch, height, width, "
                f"channels] with a known channel count. Received input shape "
                f"{tuple(input_shape)}."
            )
        h, w = input_shape[1], input_shape[2]
        if self.pool_keys_values and any(
                s is not None and s % 2 for s in (h, w)):
            raise ValueError(
                "`pool_keys_values=True` max-pools keys and values 2x2, so "
                f"height and width must be even. Received input shape "
                f"{tuple(input_shape)}. Use an even feature map or "
                "`pool_keys_values=False`."
            )
        channels = int(input_shape[-1])
        self.channels = channels
        self.qk_channels = max(1, channels // self.query_key_reduction)
        self.v_channels = max(1, channels // self.value_reduction)
        self.query_conv = self._conv(self.qk_channels, "query")
        self.key_conv = self._conv(self.qk_channels, "key")
        self.value_conv = self._conv(self.v_channels, "value")
        self.output_conv = self._conv(channels, "attention_output")
        self.query_conv.build(input_shape)
        self.key_conv.build(input_shape)
        self.value_conv.build(input_shape)
        self.output_conv.build(tuple(input_shape[:3]) + (self.v_channels,))
        # sigma in the reference code: the weight of the attention branch.
        self.gamma = self.add_weight(
            shape=(), initializer="zeros", trainable=True, name="gamma")
        self.built = True

    def _use_fused(self, x):
        if self.implementation != "auto":
            return self.implementation == "fused"
        if not _on_accelerator(x):
            # No fused kernel: one explicit map beats one per value chunk.
            return False
        if keras.backend.backend() == "torch":
            return True  # flash (half) or memory-efficient (float32) SDPA
        # cuDNN attention exists for float16/bfloat16 only.
        return keras.backend.standardize_dtype(self.compute_dtype) in (
            "float16", "bfloat16")

    def call(self, inputs, return_attention_scores=False):
        x = inputs  # [B, H, W, C]
        shape = ops.shape(x)
        b, h, w = shape[0], shape[1], shape[2]
        q = self.query_conv(x)  # [B, H, W, C_qk]
        k = self.key_conv(x)  # [B, H, W, C_qk]
        v = self.value_conv(x)  # [B, H, W, C_v]
        if self.pool_keys_values:
            k = ops.max_pool(k, 2, strides=2, padding="valid")
            v = ops.max_pool(v, 2, strides=2, padding="valid")
        dk, dv = self.qk_channels, self.v_channels
        q = ops.reshape(q, (b, -1, dk))  # [B, N, C_qk]
        k = ops.reshape(k, (b, -1, dk))  # [B, M, C_qk]
        v = ops.reshape(v, (b, -1, dv))  # [B, M, C_v]

        scores = None
        if return_attention_scores or not self._use_fused(x):
            # The map in float32: logits of bf16 products lose digits that
            # the softmax then amplifies.
            logits = ops.matmul(ops.cast(q, "float32"),
                                ops.transpose(ops.cast(k, "float32"), (0, 2, 1)))
            scores = ops.softmax(logits, axis=-1)  # [B, N, M]
            att = ops.matmul(scores, ops.cast(v, "float32"))  # [B, N, C_v]
            att = ops.cast(att, self.compute_dtype)
        else:
            att = self._fused_attention(q, k, v)  # [B, N, C_v]
        att = ops.reshape(att, (b, h, w, dv))
        o = self.output_conv(att)  # [B, H, W, C]
        y = x + ops.cast(self.gamma, o.dtype) * o
        if return_attention_scores:
            return y, scores
        return y

    def _fused_attention(self, q, k, v):
        """`softmax(q k^T) v` through `dot_product_attention`, in chunks.

        JAX's fused kernel wants one head size for query, key and value,
        while SAGAN's value is 4x wider than its query and key. Rather than
        zero-padding query and key up to the value size (4x their memory,
        and 4x that of their gradients), the value is split into chunks of
        the query size and each chunk attends with the same query and key.
        Every chunk's output is exactly the matching columns of the full
        output, the arithmetic is the same (`N * M * (C_qk + C_v)` per
        image), and the extra memory beyond the fused kernel's own is the
        small query and key.
        """
        dk, dv = self.qk_channels, self.v_channels
        # cuDNN wants head sizes that are multiples of 8.
        d = -(-dk // 8) * 8
        if d != dk:  # zero columns leave every q.k unchanged
            q = ops.pad(q, ((0, 0), (0, 0), (0, d - dk)))
            k = ops.pad(k, ((0, 0), (0, 0), (0, d - dk)))
        chunks = -(-dv // d)
        if chunks * d != dv:
            v = ops.pad(v, ((0, 0), (0, 0), (0, chunks * d - dv)))
        q, k = q[:, :, None, :], k[:, :, None, :]
        # On PyTorch, `flash_attention=True` (Keras' choice where flash is
        # possible) pins the flash kernel, which has no double backward;
        # False lets SDPA choose, and a gradient penalty's pass (the torch
        # backend's `input_gradient`) restricts it to the math kernel.
        flash = False if keras.backend.backend() == "torch" else None
        outputs = [
            ops.dot_product_attention(
                q, k, v[:, :, None, i * d:(i + 1) * d], scale=1.0,
                flash_attention=flash)[:, :, 0, :]
            for i in range(chunks)
        ]
        att = outputs[0] if chunks == 1 else ops.concatenate(outputs, axis=-1)
        return att[:, :, :dv] if chunks * d != dv else att

    def compute_output_shape(self, input_shape, return_attention_scores=False):
        if not return_attention_scores:
            return tuple(input_shape)
        b, h, w = input_shape[:3]
        n = None if h is None or w is None else h * w
        m = n
        if n is not None and self.pool_keys_values:
            m = n // 4
        return tuple(input_shape), (b, n, m)

    def compute_output_spec(self, inputs, return_attention_scores=False):
        y = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not return_attention_scores:
            return y
        _, scores_shape = self.compute_output_shape(inputs.shape, True)
        return y, keras.KerasTensor(scores_shape, dtype="float32")

    def get_config(self):
        return {
            **super().get_config(),
            "query_key_reduction": self.query_key_reduction,
            "value_reduction": self.value_reduction,
            "pool_keys_values": self.pool_keys_values,
            "spectral_norm": self.spectral_norm,
            "power_iterations": self.power_iterations,
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer),
            "implementation": self.implementation,
        }
