"""The layer contract (`layer_test_case.run_layer_test`) for every public
layer and network builder, on TensorFlow, JAX and PyTorch.

Tiny configurations (4-16 channels, 8-32 px, batch 2-4). The mixed-precision
depths count the rounding stages (weight layers and normalisations) on the
longest path of each network; see `layer_test_case` for the tolerance.
"""

import keras
import numpy as np
import pytest
from layer_test_case import dtype_policy
from layer_test_case import run_layer_test

from keras_gan_stable.architectures.dcgan import dcgan_discriminator
from keras_gan_stable.architectures.dcgan import dcgan_generator
from keras_gan_stable.architectures.progan import progan_discriminator
from keras_gan_stable.architectures.progan import progan_generator
from keras_gan_stable.architectures.sagan import sagan_discriminator
from keras_gan_stable.architectures.sagan import sagan_generator
from keras_gan_stable.architectures.sngan import GlobalSumPooling2D
from keras_gan_stable.architectures.sngan import sngan_cnn_discriminator
from keras_gan_stable.architectures.sngan import sngan_cnn_generator
from keras_gan_stable.architectures.sngan import sngan_resnet_discriminator
from keras_gan_stable.architectures.sngan import sngan_resnet_generator
from keras_gan_stable.distribute import SyncBatchNormalization
from keras_gan_stable.layers import ConditionalBatchNormalization
from keras_gan_stable.layers import EqualizedConv2D
from keras_gan_stable.layers import EqualizedDense
from keras_gan_stable.layers import FadeIn
from keras_gan_stable.layers import MinibatchStdDev
from keras_gan_stable.layers import PixelNormalization
from keras_gan_stable.layers import SelfAttention2D
from keras_gan_stable.layers import SpectralNormalization
from keras_gan_stable.layers import VectorConditionalBatchNormalization

pytestmark = pytest.mark.multibackend

# The fit() step eagerly on TensorFlow (no tf.function trace: 2x faster on
# these tiny networks), jitted on JAX (its op-by-op eager mode compiles
# every primitive: 6x slower). PyTorch runs eagerly either way.
RUN_EAGERLY = keras.backend.backend() == "tensorflow"
# The fit() check under both mixed policies; on JAX, where each policy is
# one more jit compilation, under the loss-scaled mixed_float16 only.
LAYER_MIXED_TRAINING = (("mixed_float16",) if keras.backend.backend() == "jax"
                        else ("mixed_float16", "mixed_bfloat16"))


@pytest.fixture(autouse=True)
def _float32_policy():
    # Whatever a failing check left behind, the next test starts in float32.
    with dtype_policy("float32"):
        yield


def _normal(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _labels(n, classes, seed=1):
    return np.random.default_rng(seed).integers(
        0, classes, size=(n,)).astype("int32")


def _sn(make_layer):
    # A fresh wrapped layer for every instance: it takes the dtype policy
    # in force when it is made.
    def build(**kwargs):
        return SpectralNormalization(make_layer(), **kwargs)

    return build


# ---------------------------------------------------------------------- #
# Layers
# ---------------------------------------------------------------------- #
# (id, class, init kwargs, inputs, output shape, trainable, non-trainable,
#  extra run_layer_test arguments)
LAYER_CASES = [
    ("sn_dense", _sn(lambda: keras.layers.Dense(4, name="d")),
     {}, _normal(2, 6), (2, 4), 2, 2,
     {}),
    ("sn_conv2d", _sn(lambda: keras.layers.Conv2D(4, 3, name="c")),
     {}, _normal(2, 6, 6, 3),
     (2, 4, 4, 4), 2, 2, {}),
    ("sn_conv2d_transpose", _sn(lambda: keras.layers.Conv2DTranspose(
        4, 3, strides=2, padding="same", name="ct")),
     {},
     _normal(2, 4, 4, 3), (2, 8, 8, 4), 2, 2, {}),
    ("sn_embedding", _sn(lambda: keras.layers.Embedding(5, 4, name="e")),
     {},
     _labels(4, 5)[:, None], (4, 1, 4), 1, 2, {}),
    # gamma starts at 0 (identity block); 0.5 makes the attention branch
    # count in every comparison. One step from gamma = 0.5 moves all
    # weights.
    ("self_attention_materialized", SelfAttention2D,
     {"query_key_reduction": 4, "implementation": "materialized"},
     _normal(2, 4, 4, 8), (2, 4, 4, 8), 5, 0,
     {"init_weights": lambda l: l.gamma.assign(0.5),
      "mixed_precision_depth": 3}),
    ("self_attention_default_sn", SelfAttention2D,
     {"query_key_reduction": 4, "spectral_norm": True,
      "pool_keys_values": True},
     _normal(2, 4, 4, 8), (2, 4, 4, 8), 5, 8,
     {"init_weights": lambda l: l.gamma.assign(0.5),
      "mixed_precision_depth": 3}),
    ("conditional_batch_norm", ConditionalBatchNormalization,
     {"num_classes": 3, "gamma_initializer": "random_normal",
      "beta_initializer": "random_normal"},
     [_normal(4, 3, 3, 4), _labels(4, 3)], (4, 3, 3, 4), 2, 2,
     {"call_kwargs": {"training": True}, "mixed_precision_depth": 2}),
    # The scale and shift maps start at zero (a plain batch norm); random
    # values make the condition count in every comparison.
    ("vector_conditional_batch_norm", VectorConditionalBatchNormalization,
     {"hidden_units": 3},
     [_normal(4, 3, 3, 4), _normal(4, 5)], (4, 3, 3, 4), 6, 2,
     {"call_kwargs": {"training": True}, "mixed_precision_depth": 2,
      "init_weights": lambda l: [w.assign(np.random.default_rng(0).normal(
          0, 0.5, w.shape)) for w in (l.gamma_kernel, l.beta_kernel)]}),
    ("sync_batch_norm", SyncBatchNormalization, {"momentum": 0.9},
     _normal(4, 3, 3, 4), (4, 3, 3, 4), 2, 2,
     {"call_kwargs": {"training": True}, "mixed_precision_depth": 2}),
    ("pixel_norm", PixelNormalization, {}, _normal(2, 3, 3, 8) * 100.0,
     (2, 3, 3, 8), 0, 0, {"run_training": False}),
    ("minibatch_stddev", MinibatchStdDev, {"group_size": 2},
     _normal(4, 3, 3, 5), (4, 3, 3, 6), 0, 0, {"run_training": False}),
    ("equalized_dense", EqualizedDense, {"units": 4}, _normal(2, 6), (2, 4),
     2, 0, {}),
    ("equalized_conv2d", EqualizedConv2D, {"filters": 4, "kernel_size": 3},
     _normal(2, 5, 5, 3), (2, 5, 5, 4), 2, 0, {}),
    ("fade_in", FadeIn, {"alpha": 0.25},
     [_normal(2, 4, 4, 3), _normal(2, 4, 4, 3, seed=1)], (2, 4, 4, 3), 0, 1,
     {"run_training": False}),
    ("global_sum_pooling", GlobalSumPooling2D, {}, _normal(2, 4, 4, 3),
     (2, 3), 0, 0, {"run_training": False}),
]


@pytest.mark.parametrize(
    "cls,kwargs,data,shape,n_train,n_non_train,extra",
    [case[1:] for case in LAYER_CASES], ids=[case[0] for case in LAYER_CASES])
def test_layer_contract(cls, kwargs, data, shape, n_train, n_non_train, extra,
                        tmp_path):
    run_layer_test(cls, kwargs, data, shape, n_train, n_non_train, tmp_path,
                   run_eagerly=RUN_EAGERLY,
                   mixed_training_policies=LAYER_MIXED_TRAINING, **extra)


# ---------------------------------------------------------------------- #
# Network builders: images and logits stay float32 under a mixed policy.
# ---------------------------------------------------------------------- #
# (id, builder, kwargs, inputs, output shape, trainable, non-trainable,
#  depth or {"depth": rounding stages, "unchanged": trainable weights with a
#  structurally zero gradient at initialisation})
# Depth: the weight layers, normalisations (BN, CBN, pixel norm, minibatch
# stddev) and global poolings on the longest path, read off each builder:
# DCGAN G 28px dense, BN, (deconv, BN), deconv = 5; D conv, conv, BN,
# dense = 4; SNGAN CNN G dense, CBN, 3 x (deconv, CBN), conv = 9; D 7 convs
# + dense = 8; ResNet G dense, 3 blocks x (BN, conv, BN, conv), BN, conv =
# 15; ResNet D 4 blocks x 2 convs, sum pooling, dense = 10; SAGAN G dense,
# 3 blocks x 4, attention 3 (q/k conv, attention, output conv), BN, conv =
# 18; SAGAN D 4 x 2 convs, attention 3, pooling, dense = 13; ProGAN G at
# 8x8 pixel norm, dense, 3 x (conv, pixel norm) + pixel norm, toRGB = 10;
# ProGAN D fromRGB, 2 convs, mbstd, conv, 2 dense + fade = 8.
# Measured on TF, the largest error / (2 eps max|y|) is 4.2 (ProGAN G,
# bfloat16; bound 10) and 3.0 (ResNet G, bfloat16; bound 15).
# Structural zeros: the SNGAN CNN generator's dense and deconvolution
# biases feed a batch norm, which removes any constant (their gradient is
# round-off, exactly 0 in float16); a fresh SAGAN attention block has
# gamma = 0, so its four convolutions get no gradient in the first step; a
# ProGAN network at its last level with alpha = 1 multiplies the previous
# level's toRGB/fromRGB by 1 - alpha = 0.
BUILDER_CASES = [
    ("dcgan_generator", dcgan_generator,
     {"latent_dim": 8, "image_shape": (28, 28, 1), "width": 4},
     _normal(2, 8), (2, 28, 28, 1), 8, 4, 5),
    ("dcgan_discriminator", dcgan_discriminator,
     {"image_shape": (28, 28, 1), "width": 4},
     _normal(2, 28, 28, 1), (2, 1), 7, 2, 4),
    ("sngan_cnn_generator_conditional", sngan_cnn_generator,
     {"latent_dim": 8, "image_shape": (8, 8, 1), "width": 2,
      "num_classes": 3},
     [_normal(2, 8), _labels(2, 3)], (2, 8, 8, 1), 18, 8,
     {"depth": 9, "unchanged": 4}),
    ("sngan_cnn_discriminator", sngan_cnn_discriminator,
     {"image_shape": (8, 8, 1), "width": 2},
     _normal(2, 8, 8, 1), (2, 1), 16, 16, 8),
    ("sngan_resnet_generator", sngan_resnet_generator,
     {"latent_dim": 8, "image_shape": (32, 32, 1), "width": 4},
     _normal(2, 8), (2, 32, 32, 1), 36, 14, 15),
    ("sngan_resnet_discriminator_projection", sngan_resnet_discriminator,
     {"image_shape": (32, 32, 1), "width": 4, "num_classes": 3},
     [_normal(2, 32, 32, 1), _labels(2, 3)], (2, 1), 23, 24, 10),
    ("sagan_generator", sagan_generator,
     {"latent_dim": 8, "image_shape": (32, 32, 1), "width": 1,
      "attention_resolutions": (8,)},
     _normal(2, 8), (2, 32, 32, 1), 41, 44, {"depth": 18, "unchanged": 4}),
    ("sagan_discriminator", sagan_discriminator,
     {"image_shape": (32, 32, 1), "width": 1, "attention_resolutions": (8,)},
     _normal(2, 32, 32, 1), (2, 1), 27, 30, {"depth": 13, "unchanged": 4}),
    ("progan_generator", progan_generator,
     {"latent_dim": 8, "image_shape": (8, 8, 1), "filters": 4},
     _normal(2, 8), (2, 8, 8, 1), 12, 2, {"depth": 10, "unchanged": 2}),
    ("progan_discriminator", progan_discriminator,
     {"image_shape": (8, 8, 1), "filters": 4, "mbstd_group_size": 2},
     _normal(2, 8, 8, 1), (2, 1), 14, 2, {"depth": 8, "unchanged": 2}),
]


# JAX's eager mode compiles every primitive for every new shape and dtype:
# the ten builders cost about 110 CPU-seconds there (against about 15 on
# TensorFlow and PyTorch), over the JAX fast pass's budget, so on JAX they
# run with the slow tests: KERAS_BACKEND=jax pytest -m slow
# tests/test_layer_contracts.py. The layers run in every fast pass.
_BUILDER_MARKS = [pytest.mark.slow] if keras.backend.backend() == "jax" \
    else []


@pytest.mark.parametrize(
    "builder,kwargs,data,shape,n_train,n_non_train,extra",
    [pytest.param(*case[1:], marks=_BUILDER_MARKS) for case in BUILDER_CASES],
    ids=[case[0] for case in BUILDER_CASES])
def test_builder_contract(builder, kwargs, data, shape, n_train, n_non_train,
                          extra, tmp_path):
    if not isinstance(extra, dict):
        extra = {"depth": extra}
    run_layer_test(builder, kwargs, data, shape, n_train, n_non_train,
                   tmp_path, mixed_precision_depth=extra["depth"],
                   max_unchanged_trainable_weights=extra.get("unchanged", 0),
                   mixed_precision_output_dtype="float32",
                   # The loss-scaled path; bfloat16 training is checked on
                   # the layers (CPU time).
                   mixed_training_policies=("mixed_float16",),
                   run_eagerly=RUN_EAGERLY)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_spectral_norm_power_iteration_stays_float32(policy):
    # The power iteration reads only W (float32 variable), never the
    # half-precision activations: under a mixed policy u, v and sigma are
    # float32 and bitwise those of the float32 layer with the same weights.
    x = _normal(2, 6)
    ref = SpectralNormalization(keras.layers.Dense(4))
    ref(x)
    with dtype_policy(policy):
        half = SpectralNormalization(keras.layers.Dense(4))
        half(x)
        half.set_weights(ref.get_weights())
        y = half(x, training=True)
        sigma = half.sigma()
    ref(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == policy[6:]
    assert keras.backend.standardize_dtype(sigma.dtype) == "float32"
    for a, b in zip(half.non_trainable_weights, ref.non_trainable_weights):
        assert keras.backend.standardize_dtype(a.dtype) == "float32"
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a),
                                      keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(sigma),
                                  keras.ops.convert_to_numpy(ref.sigma()))
