"""Spectral normalisation computed inside `call`, as in Miyato et al. 2018."""

import keras
import numpy as np
from keras import ops

from keras_gan_stable.layers.power_iteration import power_iteration_enabled
from keras_gan_stable.utils.keras_compat import child_stateless_scope
from keras_gan_stable.utils.keras_compat import in_stateless_scope
from keras_gan_stable.utils.keras_compat import no_autocast

_TRANSPOSED_CONVS = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_UNSUPPORTED = (
    keras.layers.DepthwiseConv1D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv1D,
    keras.layers.SeparableConv2D,
)
# Power iterations run when the layer is built, so that `sigma()` and
# inference are meaningful before the first training call (torch does 15).
_WARM_START_ITERATIONS = 15


def _normalize(x, epsilon):
    # torch.nn.functional.normalize: x / max(||x||, eps)
    return x / ops.maximum(ops.sqrt(ops.sum(ops.square(x))), epsilon)


def _numpy_power_iteration(w_mat, u, v, iterations, epsilon):
    """`SpectralNormalization._power_iteration` on NumPy arrays."""
    w_mat = np.asarray(w_mat, "float32")
    u, v = np.asarray(u, "float32"), np.asarray(v, "float32")
    for _ in range(iterations):
        u = v @ w_mat.T
        u = u / np.float32(max(np.sqrt(np.sum(np.square(u))), epsilon))
        v = u @ w_mat
        v = v / np.float32(max(np.sqrt(np.sum(np.square(v))), epsilon))
    return u, v


def _unit_normal(shape, dtype=None):
    x = keras.initializers.RandomNormal(stddev=1.0)(shape, dtype=dtype)
    return _normalize(x, 1e-12)


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class SpectralNormalization(keras.layers.Wrapper):
    """Spectral normalisation of a layer's weight, computed inside `call`.

    The wrapped layer runs with `W_bar = W / sigma(W)`, where `sigma(W)` is
    the largest singular value of the weight reshaped to a matrix
    `[out_features, -1]`, estimated by power iteration. Unlike
    `keras.layers.SpectralNormalization`, the normalised weight is never
    assigned to the kernel variable: the kernel keeps its unnormalised value,
    the optimizer updates `W`, and gradients flow through `sigma` (as in
    `torch.nn.utils.parametrizations.spectral_norm`). The computation is
    stateless apart from the two vectors, so it works under `tf.function`,
    `jax.jit` (inside `fit()`) and torch alike.

    The power-iteration vectors `u` (`[1, out_features]`, variable
    `"vector_u"`) and `v` (`[1, in_features]`, `"vector_v"`) are non-trainable
    weights, saved with the model. One iteration is, as in torch,
    `u = normalize(W v)`, `v = normalize(W^T u)`, and
    `sigma = u^T W v` with `u`, `v` held constant for the gradient. The
    vectors start normal and normalised, followed by 15 power iterations at
    `build()` time (as torch does), so inference is meaningful at once.

    When the vectors advance: by default only in training calls
    (`training=True`) made while
    `keras_gan_stable.layers.power_iteration.power_iteration_enabled()` is
    true. A network called several times per optimizer update (real, fake,
    interpolated images) advances them once by wrapping the later calls in
    `power_iteration_updates(False)`; the switch is read when `call` is
    traced. The call argument `update_vectors=True` or `False` overrides both
    `training` and the switch for one call. Calls that do not advance the
    vectors (all inference calls) use the stored `u` and `v`, so inference is
    deterministic.

    Weight layouts (the output axis becomes the matrix rows, as in torch):
    `Dense` kernel `[in, out]`; `Conv1D/2D/3D` kernel `[*k, in, out]`
    (rows ordered like torch's `[out, in, *k]`); `Conv*Transpose` kernel
    `[*k, out, in]` (output axis -2, torch's `dim=1`); `Embedding`
    `embeddings` `[vocab, dim]` used as is (torch's `dim=0`). Other layers
    with a `kernel` are treated as having the output on the last axis.

    `sigma()` returns the current estimate from the stored vectors without
    updating them (for monitoring), and `normalized_weight()` returns
    `W / sigma()` in the wrapped layer's own layout.

    Args:
        layer: `keras.layers.Layer`. A `Dense`, `Conv1D/2D/3D`,
            `Conv1D/2D/3DTranspose` or `Embedding` layer (or another layer
            with a `kernel` whose last axis is the output).
        power_iterations: int. Power iterations per update. Defaults to `1`.
        epsilon: float. Lower bound of the norm in the normalisation of `u`
            and `v`. Defaults to `1e-12`.
        **kwargs: base layer arguments (`name`, ...).

    >>> dense = SpectralNormalization(keras.layers.Dense(10))
    >>> y = dense(x, training=True)            # advances u, v
    >>> y = dense(x, training=True, update_vectors=False)  # reuses them
    >>> float(dense.sigma())                   # current estimate of sigma(W)

    Reference:
        Miyato et al., "Spectral Normalization for Generative Adversarial
        Networks", ICLR 2018.
    """

    def __init__(self, layer, power_iterations=1, epsilon=1e-12, **kwargs):
        # The wrapper computes in its layer's dtype policy (a layer kept in
        # float32 under a mixed policy stays float32 wrapped).
        if isinstance(layer, keras.layers.Layer):
            kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(layer, **kwargs)
        if isinstance(layer, _UNSUPPORTED):
            raise ValueError(
                "SpectralNormalization does not support depthwise or "
                "separable convolutions (their weight has no single output "
                f"axis). Received: `layer={layer.__class__.__name__}`. Wrap a "
                "Conv2D, Conv2DTranspose, Dense or Embedding layer instead."
            )
        if isinstance(power_iterations, bool) or not isinstance(
                power_iterations, int) or power_iterations < 1:
            raise ValueError(
                "`power_iterations` should be an integer greater than zero. "
                f"Received: `power_iterations={power_iterations!r}`"
            )
        if not float(epsilon) > 0:
            raise ValueError(
                "`epsilon` should be greater than zero. Received: "
                f"`epsilon={epsilon!r}`"
            )
        self.power_iterations = int(power_iterations)
        self.epsilon = float(epsilon)
        self.supports_masking = getattr(layer, "supports_masking", False)

    # ------------------------------------------------------------------ #
    # State
    # ------------------------------------------------------------------ #
    def build(self, input_shape=None):
        super().build(input_shape)
        self._weight_variable = self._find_weight()
        out_features, in_features = self._matrix_shape()
        self.vector_u = self.add_weight(
            shape=(1, out_features), initializer=_unit_normal,
            trainable=False, name="vector_u", dtype="float32",
            autocast=False)
        self.vector_v = self.add_weight(
            shape=(1, in_features), initializer=_unit_normal,
            trainable=False, name="vector_v", dtype="float32",
            autocast=False)
        self._warm_start()
        self.built = True

    def _find_weight(self):
        layer = self.layer
        names = (("_embeddings", "embeddings")
                 if isinstance(layer, keras.layers.Embedding)
                 else ("_kernel", "kernel"))
        for name in names:
            weight = getattr(layer, name, None)
            if isinstance(weight, keras.Variable):
                return weight
        raise ValueError(
            "SpectralNormalization needs a layer with a `kernel` (or, for "
            "Embedding, `embeddings`) variable. Received: "
            f"`layer={layer.__class__.__name__}` (name={layer.name!r}) "
            "without one."
        )

    def _layout(self):
        if isinstance(self.layer, keras.layers.Embedding):
            return "rows"
        if isinstance(self.layer, _TRANSPOSED_CONVS):
            return "transposed_conv"
        if isinstance(self.layer, _CONVS):
            return "conv"
        return "last"

    def _matrix_shape(self):
        shape = tuple(self._weight_variable.shape)
        layout = self._layout()
        out_axis = {"rows": 0, "transposed_conv": len(shape) - 2}.get(
            layout, len(shape) - 1)
        out = int(shape[out_axis])
        total = 1
        for s in shape:
            total *= int(s)
        return out, total // out

    def _to_matrix(self, w):
        """The weight as a matrix `[out_features, in_features]`."""
        layout = self._layout()
        n = len(w.shape)
        if layout == "rows":
            return w
        if layout == "conv":  # [*k, in, out] -> [out, in, *k]
            perm = (n - 1, n - 2) + tuple(range(n - 2))
        elif layout == "transposed_conv":  # [*k, out, in] -> [out, in, *k]
            perm = (n - 2, n - 1) + tuple(range(n - 2))
        else:  # [..., out] -> [out, ...]
            perm = (n - 1,) + tuple(range(n - 1))
        w = ops.transpose(w, perm)
        return ops.reshape(w, (ops.shape(w)[0], -1))

    def _float32_weight(self):
        # The float32 weight itself: under a mixed policy an autocast read
        # would round it to float16/bfloat16 before the power iteration and
        # sigma (inside `call`, or a build inside an enclosing layer's call).
        with no_autocast():
            return ops.cast(self._weight_variable.value, "float32")

    def _warm_start(self):
        if in_stateless_scope():
            return
        w_mat = self._to_matrix(
            self._float32_weight())
        u, v = self.vector_u.value, self.vector_v.value
        try:  # eager values: the same iterations in NumPy, without the
            # per-op dispatch of ~200 small backend ops (3x faster builds
            # of an SN network on TensorFlow)
            w_mat, u, v = (ops.convert_to_numpy(x) for x in (w_mat, u, v))
        except (TypeError, ValueError, NotImplementedError, AttributeError):
            # symbolic values (a build inside a traced function)
            self._warm_start_with_ops()
            return
        self._set_vectors(*_numpy_power_iteration(
            w_mat, u, v, _WARM_START_ITERATIONS, self.epsilon))

    def _warm_start_with_ops(self):
        w_mat = self._to_matrix(
            self._float32_weight())
        self._set_vectors(*self._power_iteration(
            w_mat, self.vector_u.value, self.vector_v.value,
            _WARM_START_ITERATIONS))

    def _set_vectors(self, u, v):
        self.vector_u.assign(u)
        self.vector_v.assign(v)

    # ------------------------------------------------------------------ #
    # Power iteration
    # ------------------------------------------------------------------ #
    def _power_iteration(self, w_mat, u, v, iterations):
        w_mat = ops.stop_gradient(w_mat)  # [out, in]
        w_mat_t = ops.transpose(w_mat)
        for _ in range(iterations):
            u = _normalize(ops.matmul(v, w_mat_t), self.epsilon)  # [1, out]
            v = _normalize(ops.matmul(u, w_mat), self.epsilon)  # [1, in]
        return ops.stop_gradient(u), ops.stop_gradient(v)

    def _sigma(self, w_mat, u, v):
        # u^T W v; u and v are constants, so d sigma / dW = u v^T.
        return ops.sum(ops.matmul(u, w_mat) * v)

    def sigma(self):
        """The current estimate of the top singular value of the weight,
        from the stored `u` and `v` (nothing is updated)."""
        return self._sigma(
            self._to_matrix(self._float32_weight()),
            ops.stop_gradient(self.vector_u.value),
            ops.stop_gradient(self.vector_v.value))

    def normalized_weight(self):
        """`W / sigma()` in the wrapped layer's weight layout."""
        w = self._float32_weight()
        return w / self.sigma()

    # ------------------------------------------------------------------ #
    # Call
    # ------------------------------------------------------------------ #
    def call(self, inputs, training=None, update_vectors=None):
        variable = self._weight_variable
        # W / sigma in float32; the wrapped layer casts it to its compute
        # dtype when it reads it.
        w = self._float32_weight()
        w_mat = self._to_matrix(w)  # [out, in]
        if update_vectors is None:
            update = bool(training) and power_iteration_enabled()
        else:
            update = bool(update_vectors)
        if update:
            u, v = self._power_iteration(
                w_mat, self.vector_u.value, self.vector_v.value,
                self.power_iterations)
            self._set_vectors(u, v)
        else:
            # A copy, so that a later in-place update of the stored vectors
            # (torch) cannot touch a graph that still needs these values.
            u = ops.stop_gradient(ops.copy(self.vector_u.value))
            v = ops.stop_gradient(ops.copy(self.vector_v.value))
        w_bar = ops.cast(w / self._sigma(w_mat, u, v), variable.dtype)
        # Run the wrapped layer with W_bar read in place of its weight; the
        # variable itself is never assigned. Reads of every other variable
        # see the enclosing scope's values (JAX passes state that way).
        with child_stateless_scope([(variable, w_bar)]):
            outputs = self.layer(inputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, *args, **kwargs):
        return self.layer.compute_output_spec(inputs)

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    def get_config(self):
        return {
            **super().get_config(),
            "power_iterations": self.power_iterations,
            "epsilon": self.epsilon,
        }
