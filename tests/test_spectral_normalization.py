"""SpectralNormalization: the paper's semantics on every backend.

Known answers: numpy SVD and power iteration, and
`torch.nn.utils.parametrizations.spectral_norm` as the reference
implementation (same W and vectors -> same sigma, outputs and dL/dW).
"""

import numpy as np
import pytest
import keras
from keras import ops

from keras_gan_stable import GAN
from keras_gan_stable import backend as gan_backend
from keras_gan_stable.layers import SpectralNormalization
from keras_gan_stable.layers import power_iteration_updates

pytestmark = pytest.mark.multibackend


def np_normalize(x):
    return x / max(np.linalg.norm(x), 1e-12)


def np_power_iteration(w_mat, u, v, n):
    """torch's order: u = normalize(W v), v = normalize(W^T u)."""
    for _ in range(n):
        u = np_normalize(w_mat @ v)
        v = np_normalize(w_mat.T @ u)
    return u, v


def to_torch_layout(kind, kernel):
    """Keras weight -> torch weight ([out, in, *k] for conv, [in, out, *k]
    for transposed conv, [out, in] for Linear, as is for Embedding)."""
    if kind == "dense":
        return kernel.T
    if kind == "embedding":
        return kernel
    n = kernel.ndim
    return np.transpose(kernel, (n - 1, n - 2) + tuple(range(n - 2)))


def weight_matrix(kind, kernel):
    """The weight as [out, -1] in torch's flattening order (numpy only)."""
    w = to_torch_layout(kind, kernel)
    if kind == "conv2d_transpose":  # torch dim=1 is the output axis
        w = np.swapaxes(w, 0, 1)
    return w.reshape(w.shape[0], -1)


CASES = {
    "dense": (lambda: keras.layers.Dense(5), (4, 7)),
    "conv1d": (lambda: keras.layers.Conv1D(4, 3, strides=2), (2, 9, 3)),
    "conv2d": (lambda: keras.layers.Conv2D(6, 3, strides=2), (2, 9, 9, 3)),
    "conv2d_transpose": (
        lambda: keras.layers.Conv2DTranspose(6, 3, strides=2), (2, 4, 4, 3)),
    "embedding": (lambda: keras.layers.Embedding(10, 4), (6,)),
}


def make_input(kind, shape, rng):
    if kind == "embedding":
        return np.array([0, 3, 9, 3, 5, 1], "int32")
    return rng.standard_normal(shape).astype("float32")


def build_sn(kind, rng, power_iterations=1):
    factory, shape = CASES[kind]
    x = make_input(kind, shape, rng)
    sn = SpectralNormalization(factory(), power_iterations=power_iterations)
    sn.build(x.shape)
    weight = sn._weight_variable
    # A weight far from norm 1, and vectors far from converged.
    weight.assign(3.0 * rng.standard_normal(weight.shape).astype("float32"))
    sn.vector_u.assign(np_normalize(rng.standard_normal(sn.vector_u.shape))
                       .astype("float32"))
    sn.vector_v.assign(np_normalize(rng.standard_normal(sn.vector_v.shape))
                       .astype("float32"))
    return sn, x


def numpy_of(v):
    return np.array(ops.convert_to_numpy(v))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_build_warm_start_is_15_power_iterations(kind, rng):
    """The warm start at build (NumPy on eager values) is torch's 15 power
    iterations from the stored vectors, in the weight's torch layout."""
    sn, _ = build_sn(kind, rng)
    w_mat = weight_matrix(kind, numpy_of(sn._weight_variable))
    u0, v0 = numpy_of(sn.vector_u), numpy_of(sn.vector_v)
    u_ref, v_ref = np_power_iteration(w_mat.astype("float64"), u0[0], v0[0],
                                      15)
    sn._warm_start()
    np.testing.assert_allclose(numpy_of(sn.vector_u)[0], u_ref, atol=1e-5)
    np.testing.assert_allclose(numpy_of(sn.vector_v)[0], v_ref, atol=1e-5)
    if gan_backend.backend() == "tensorflow":
        # Inside a traced function the values are symbolic: the backend ops
        # run the same iterations.
        import tensorflow as tf

        sn.vector_u.assign(u0)
        sn.vector_v.assign(v0)
        tf.function(sn._warm_start)()
        np.testing.assert_allclose(numpy_of(sn.vector_u)[0], u_ref,
                                   atol=1e-5)
        np.testing.assert_allclose(numpy_of(sn.vector_v)[0], v_ref,
                                   atol=1e-5)


@pytest.mark.parametrize(
    "kind", ["dense", "conv2d", "conv2d_transpose", "embedding"])
def test_top_singular_value_of_normalized_weight_is_one(kind, rng):
    sn, x = build_sn(kind, rng)
    kernel = numpy_of(sn._weight_variable)
    for _ in range(60):
        sn(x, training=True)
    w_bar = numpy_of(sn.normalized_weight())
    top = np.linalg.svd(weight_matrix(kind, w_bar), compute_uv=False)[0]
    assert abs(top - 1.0) < 1e-3
    # The kernel keeps its unnormalised value.
    np.testing.assert_array_equal(numpy_of(sn._weight_variable), kernel)
    assert np.linalg.svd(weight_matrix(kind, kernel), compute_uv=False)[0] > 2
    # The layer really computes with W_bar.
    y = numpy_of(sn(x, training=False))
    if kind == "dense":
        bias = numpy_of(sn.layer.bias)
        np.testing.assert_allclose(y, x @ w_bar + bias, rtol=1e-5, atol=1e-5)
    elif kind == "embedding":
        np.testing.assert_allclose(y, w_bar[x], rtol=1e-6, atol=1e-7)


def _torch_module(kind, torch):
    if kind == "dense":
        return torch.nn.Linear(7, 5)
    if kind == "conv1d":
        return torch.nn.Conv1d(3, 4, 3, stride=2)
    if kind == "conv2d":
        return torch.nn.Conv2d(3, 6, 3, stride=2)
    if kind == "conv2d_transpose":
        return torch.nn.ConvTranspose2d(3, 6, 3, stride=2)
    return torch.nn.Embedding(10, 4)


def _torch_reference(kind, kernel, bias, u, v, x, cotangent):
    """Output, sigma, updated u/v and dL/dW from torch's spectral_norm, with
    L = sum(output * cotangent) and W in torch layout."""
    import torch
    from torch.nn.utils.parametrizations import spectral_norm

    module = _torch_module(kind, torch).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(
            to_torch_layout(kind, kernel).astype("float64")))
        if bias is not None:
            module.bias.copy_(torch.from_numpy(bias.astype("float64")))
    spectral_norm(module)
    param = module.parametrizations.weight
    with torch.no_grad():
        param[0]._u.copy_(torch.from_numpy(u.reshape(-1).astype("float64")))
        param[0]._v.copy_(torch.from_numpy(v.reshape(-1).astype("float64")))
    module.train()
    if kind == "embedding":
        tx = torch.from_numpy(x.astype("int64"))
    else:
        tx = torch.from_numpy(np.moveaxis(x, -1, 1).astype("float64"))
    out = module(tx)
    if kind != "embedding" and kind != "dense":
        out = torch.movedim(out, 1, -1)
    loss = (out * torch.from_numpy(cotangent.astype("float64"))).sum()
    (grad,) = torch.autograd.grad(loss, [param.original])
    grad = grad.numpy()
    n = grad.ndim
    if kind == "dense":
        grad = grad.T
    elif kind != "embedding":  # back to the Keras layout
        grad = np.transpose(grad, tuple(range(2, n)) + (1, 0))
    u_new = param[0]._u.detach().numpy()
    v_new = param[0]._v.detach().numpy()
    w_mat = param[0]._reshape_weight_to_matrix(param.original).detach()
    sigma = float(u_new @ w_mat.numpy() @ v_new)
    return out.detach().numpy(), sigma, u_new, v_new, grad


@pytest.mark.parametrize("kind", sorted(CASES))
def test_parity_with_torch_parametrization(kind, rng):
    pytest.importorskip("torch")
    sn, x = build_sn(kind, rng)
    kernel = numpy_of(sn._weight_variable)
    bias = numpy_of(sn.layer.bias) if getattr(sn.layer, "bias", None) \
        is not None else None
    u0, v0 = numpy_of(sn.vector_u), numpy_of(sn.vector_v)
    y_ref, sigma_ref, u_ref, v_ref, grad_ref = _torch_reference(
        kind, kernel, bias, u0, v0, x,
        cotangent=np.ones(1))  # shape fixed below
    cotangent = rng.standard_normal(y_ref.shape)
    y_ref, sigma_ref, u_ref, v_ref, grad_ref = _torch_reference(
        kind, kernel, bias, u0, v0, x, cotangent)

    # Forward in training: one power iteration, then W / sigma.
    y = numpy_of(sn(x, training=True))
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(sn.vector_u)[0], u_ref,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(sn.vector_v)[0], v_ref,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(numpy_of(sn.sigma())), sigma_ref,
                               rtol=1e-5, atol=1e-6)

    # Gradient w.r.t. W, from the same starting vectors.
    sn.vector_u.assign(u0)
    sn.vector_v.assign(v0)
    ct = ops.convert_to_tensor(cotangent.astype("float32"))

    def objective():
        out = sn(ops.convert_to_tensor(x), training=True)
        loss = ops.sum(out * ct)
        return loss, loss

    _, _, grads = gan_backend.value_and_grad(
        objective, [sn._weight_variable])
    np.testing.assert_allclose(numpy_of(grads[0]), grad_ref,
                               rtol=1e-5, atol=1e-6)


def test_vectors_advance_only_in_training_calls(rng):
    sn, x = build_sn("dense", rng)
    kernel = numpy_of(sn._weight_variable)
    w_mat = kernel.T  # [out, in]
    bias = numpy_of(sn.layer.bias)
    u0, v0 = numpy_of(sn.vector_u)[0], numpy_of(sn.vector_v)[0]

    def vectors():
        return numpy_of(sn.vector_u)[0], numpy_of(sn.vector_v)[0]

    # Inference: stored vectors, deterministic, the known formula.
    y1 = numpy_of(sn(x))
    y2 = numpy_of(sn(x, training=False))
    np.testing.assert_array_equal(y1, y2)
    sigma0 = u0 @ w_mat @ v0
    np.testing.assert_allclose(y1, x @ (kernel / sigma0) + bias,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(vectors()[0], u0)
    np.testing.assert_array_equal(vectors()[1], v0)

    # Training calls inside the switch, or with update_vectors=False, reuse.
    with power_iteration_updates(False):
        sn(x, training=True)
    sn(x, training=True, update_vectors=False)
    np.testing.assert_array_equal(vectors()[0], u0)

    # A training call makes exactly one power iteration (power_iterations=1).
    sn(x, training=True)
    u1, v1 = np_power_iteration(w_mat, u0, v0, 1)
    np.testing.assert_allclose(vectors()[0], u1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(vectors()[1], v1, rtol=1e-5, atol=1e-6)
    assert np.abs(u1 - u0).max() > 1e-3

    # update_vectors=True forces one, even in an inference call.
    sn(x, training=False, update_vectors=True)
    u2, v2 = np_power_iteration(w_mat, u0, v0, 2)
    np.testing.assert_allclose(vectors()[0], u2, rtol=1e-5, atol=1e-6)


def test_power_iterations_argument(rng):
    sn, x = build_sn("conv2d", rng, power_iterations=3)
    kernel = numpy_of(sn._weight_variable)
    u0, v0 = numpy_of(sn.vector_u)[0], numpy_of(sn.vector_v)[0]
    sn(x, training=True)
    u3, v3 = np_power_iteration(weight_matrix("conv2d", kernel), u0, v0, 3)
    np.testing.assert_allclose(numpy_of(sn.vector_u)[0], u3,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(numpy_of(sn.vector_v)[0], v3,
                               rtol=1e-5, atol=1e-6)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="power_iterations=0"):
        SpectralNormalization(keras.layers.Dense(2), power_iterations=0)
    with pytest.raises(ValueError, match="epsilon"):
        SpectralNormalization(keras.layers.Dense(2), epsilon=0.0)
    with pytest.raises(ValueError, match="DepthwiseConv2D"):
        SpectralNormalization(keras.layers.DepthwiseConv2D(3))
    with pytest.raises(ValueError, match="kernel"):
        SpectralNormalization(keras.layers.ReLU()).build((2, 3))


def test_vectors_survive_keras_save_load(tmp_path, rng):
    inputs = keras.Input((6, 6, 2))
    h = SpectralNormalization(keras.layers.Conv2D(3, 3), power_iterations=2,
                              epsilon=1e-10, name="sn_conv")(inputs)
    h = keras.layers.Flatten()(h)
    outputs = SpectralNormalization(keras.layers.Dense(1), name="sn_dense")(h)
    model = keras.Model(inputs, outputs)
    for layer in (model.get_layer("sn_conv"), model.get_layer("sn_dense")):
        layer.vector_u.assign(np_normalize(
            rng.standard_normal(layer.vector_u.shape)).astype("float32"))
    x = rng.standard_normal((3, 6, 6, 2)).astype("float32")
    y = numpy_of(model(x, training=False))
    path = str(tmp_path / "sn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for name in ("sn_conv", "sn_dense"):
        for attr in ("vector_u", "vector_v"):
            np.testing.assert_array_equal(
                numpy_of(getattr(loaded.get_layer(name), attr)),
                numpy_of(getattr(model.get_layer(name), attr)))
    assert loaded.get_layer("sn_conv").power_iterations == 2
    assert loaded.get_layer("sn_conv").epsilon == 1e-10
    np.testing.assert_array_equal(numpy_of(loaded(x, training=False)), y)


def _tiny_gan(rng, lr):
    generator = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4)], name="g")
    images = keras.Input((4,))
    h = SpectralNormalization(keras.layers.Dense(6), name="sn1")(images)
    h = keras.layers.LeakyReLU(0.2)(h)
    logits = SpectralNormalization(keras.layers.Dense(1), name="sn2")(h)
    discriminator = keras.Model(images, logits, name="d")
    for name in ("sn1", "sn2"):
        layer = discriminator.get_layer(name)
        layer._weight_variable.assign(
            3.0 * rng.standard_normal(layer._weight_variable.shape)
            .astype("float32"))
        layer.vector_u.assign(np_normalize(
            rng.standard_normal(layer.vector_u.shape)).astype("float32"))
        layer.vector_v.assign(np_normalize(
            rng.standard_normal(layer.vector_v.shape)).astype("float32"))
    gan = GAN(generator, discriminator, latent_dim=3, seed=0)
    gan.compile(d_optimizer=keras.optimizers.SGD(lr),
                g_optimizer=keras.optimizers.SGD(1e-2), loss="hinge",
                penalty="gp", n_critic=3)
    return gan, discriminator


def test_gan_train_step_advances_vectors_once_per_d_update(rng):
    # With a frozen D (learning rate 0) the kernel stays W, so after one
    # train step with n_critic=3 the vectors must be exactly three power
    # iterations further, although D is called on real, fake, interpolated
    # and generated images.
    gan, d = _tiny_gan(rng, lr=0.0)
    start = {}
    for name in ("sn1", "sn2"):
        layer = d.get_layer(name)
        start[name] = (numpy_of(layer._weight_variable),
                       numpy_of(layer.vector_u)[0], numpy_of(layer.vector_v)[0])
    x = rng.standard_normal((6, 4)).astype("float32")
    gan.fit(x, batch_size=6, epochs=1, verbose=0, shuffle=False)
    for name in ("sn1", "sn2"):
        layer = d.get_layer(name)
        kernel, u0, v0 = start[name]
        np.testing.assert_array_equal(numpy_of(layer._weight_variable), kernel)
        u3, v3 = np_power_iteration(kernel.T, u0, v0, 3)
        np.testing.assert_allclose(numpy_of(layer.vector_u)[0], u3,
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(numpy_of(layer.vector_v)[0], v3,
                                   rtol=1e-5, atol=1e-6)
    # One iteration more (or fewer) would be visible in the [6, 4] layer.
    kernel, u0, v0 = start["sn1"]
    u2, _ = np_power_iteration(kernel.T, u0, v0, 2)
    u3, _ = np_power_iteration(kernel.T, u0, v0, 3)
    u4, _ = np_power_iteration(kernel.T, u0, v0, 4)
    assert min(np.abs(u4 - u3).max(), np.abs(u2 - u3).max()) > 1e-4


def test_gan_training_keeps_kernel_unnormalised(rng):
    # The optimizer updates W itself: the kernel moves by a small step and
    # keeps its scale (sigma about 3 * 2.5), it is never replaced by W/sigma.
    gan, d = _tiny_gan(rng, lr=1e-3)
    layer = d.get_layer("sn1")
    k0 = numpy_of(layer._weight_variable)
    u0 = numpy_of(layer.vector_u)
    x = rng.standard_normal((12, 4)).astype("float32")
    gan.fit(x, batch_size=6, epochs=2, verbose=0)
    k1 = numpy_of(layer._weight_variable)
    assert 0 < np.abs(k1 - k0).max() < 0.1
    s0 = np.linalg.svd(k0, compute_uv=False)[0]
    s1 = np.linalg.svd(k1, compute_uv=False)[0]
    assert s0 > 2 and abs(s1 - s0) < 0.1
    assert np.abs(numpy_of(layer.vector_u) - u0).max() > 1e-3
    # sigma() tracks the kernel's top singular value.
    for _ in range(30):
        layer(x, training=True)
    assert abs(float(numpy_of(layer.sigma())) - s1) < 1e-3 * s1
