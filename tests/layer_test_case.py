"""A shared contract test for layers and network builders (keras-hub style).

`run_layer_test` takes a layer class (or a builder function returning a
model) with its constructor arguments and input data, and checks on the
current backend:

1. build and eager call: output shape and dtype, trainable and
   non-trainable weight counts;
2. symbolic call on `keras.Input`s (batch left `None`): output shape and
   dtype; the functional wrapper gives the eager outputs bitwise;
3. `get_config` -> `from_config`: equal config, and with the weights copied
   bitwise equal outputs (the same arithmetic runs);
4. `.keras` save and load: bitwise equal outputs;
5. a `fit()` step (SGD on a mean squared error) changes the trainable
   weights, in float32 and under both mixed policies (Keras wraps the
   optimizer in a `LossScaleOptimizer` under `mixed_float16`); they stay
   finite and float32;
6. the same layer under the `mixed_float16` and `mixed_bfloat16` policies:
   the output has the compute dtype (or float32 where the convention says
   so: image and logit outputs of the network builders), every floating
   variable stays float32, and the output is close to the float32 output
   (tolerance below). The global policy is restored afterwards.

Tolerance of the mixed-precision comparison. A half-precision number
carries a relative rounding error of at most `eps / 2` (the unit round-off
`u`), with `eps = 2**-10` for float16 and `2**-7` for bfloat16. A layer
rounds its input, its weights and its output to half precision, about
`2 eps` of error relative to the largest terms of its products (the sums
run in float32 on the CPU kernels of TF, JAX and PyTorch; a half-precision
accumulation of `K` terms would add `K u`, which the CPU kernels avoid).
The errors of `depth` such stages in series add up, amplified by at most
the gain of the stages that follow (normalisations rescale them, tanh and
ReLU do not grow them), so the test allows

    max |y_half - y_float32| <= 2 * eps * depth * max |y_float32|

where `depth` (`mixed_precision_depth`) is the number of rounding stages
(weight layers and normalisations) on the longest path of the network, a
count read off the architecture, not a fitted number.
"""

import contextlib
import copy

import keras
import numpy as np

FLOAT16_EPS = 2.0 ** -10
BFLOAT16_EPS = 2.0 ** -7
MIXED_POLICIES = {"mixed_float16": ("float16", FLOAT16_EPS),
                  "mixed_bfloat16": ("bfloat16", BFLOAT16_EPS)}


@contextlib.contextmanager
def dtype_policy(name):
    """Sets the global dtype policy inside the block, restores it after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _dtype(x):
    return keras.backend.standardize_dtype(x.dtype)


def _make(layer_cls, init_kwargs):
    return layer_cls(**dict(init_kwargs))


def _call(obj, inputs, call_kwargs):
    return obj(inputs if len(inputs) > 1 else inputs[0], **call_kwargs)


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape,
                   expected_num_trainable_weights,
                   expected_num_non_trainable_weights, tmp_path,
                   call_kwargs=None, init_weights=None, run_training=True,
                   max_unchanged_trainable_weights=0,
                   mixed_precision_depth=1,
                   mixed_precision_output_dtype=None,
                   mixed_precision_policies=tuple(MIXED_POLICIES),
                   mixed_training_policies=tuple(MIXED_POLICIES),
                   run_eagerly=False):
    """Runs the contract checks of the module docstring.

    Args:
        layer_cls: a `keras.layers.Layer` subclass, or a function that
            builds a layer or a `keras.Model` from `init_kwargs` (called
            anew for every instance, under the policy being checked).
        init_kwargs: dict. Constructor (builder) arguments.
        input_data: a NumPy array or a list of arrays (several inputs).
        expected_output_shape: tuple. Output shape of the eager call.
        expected_num_trainable_weights: int.
        expected_num_non_trainable_weights: int.
        tmp_path: a directory for the `.keras` file.
        call_kwargs: dict. Extra call arguments.
        init_weights: callable(layer) or `None`. Gives the built float32
            layer non-default weights (e.g. a nonzero residual gain) before
            the comparisons.
        run_training: bool. Run the `fit()` step (needs trainable weights).
        max_unchanged_trainable_weights: int. Trainable weights a step may
            leave as they are (those with a structurally zero gradient).
        mixed_precision_depth: int. Rounding stages on the longest path
            (module docstring).
        mixed_precision_output_dtype: `None` (the compute dtype) or
            `"float32"` (outputs kept in float32 by convention).
        mixed_precision_policies: policies to check.
        mixed_training_policies: policies under which the `fit()` check
            runs too.
        run_eagerly: bool. Passed to `compile()` for the `fit()` step.
    """
    call_kwargs = dict(call_kwargs or {})
    inputs = _as_list(input_data)
    assert keras.config.dtype_policy().name == "float32", (
        "run_layer_test starts from the float32 policy; got "
        f"{keras.config.dtype_policy().name}")

    # 1. Build and eager call.
    obj = _make(layer_cls, init_kwargs)
    is_model = isinstance(obj, keras.Model)
    out = _call(obj, inputs, call_kwargs)
    if init_weights is not None:
        init_weights(obj)
        out = _call(obj, inputs, call_kwargs)
    assert tuple(out.shape) == tuple(expected_output_shape), (
        f"eager output shape {tuple(out.shape)} != {expected_output_shape}")
    assert _dtype(out) == "float32", _dtype(out)
    assert len(obj.trainable_weights) == expected_num_trainable_weights, (
        f"{len(obj.trainable_weights)} trainable weights: "
        f"{[w.path for w in obj.trainable_weights]}")
    assert len(obj.non_trainable_weights) == \
        expected_num_non_trainable_weights, (
            f"{len(obj.non_trainable_weights)} non-trainable weights: "
            f"{[w.path for w in obj.non_trainable_weights]}")
    ref_out = _numpy(out)
    ref_weights = obj.get_weights()

    # 2. Symbolic call, then a functional model around the layer.
    sym_inputs = [keras.Input(shape=x.shape[1:], dtype=str(x.dtype))
                  for x in inputs]
    sym_obj = obj if is_model else _make(layer_cls, init_kwargs)
    sym_out = _call(sym_obj, sym_inputs, call_kwargs)
    expected_symbolic = (None,) + tuple(expected_output_shape[1:])
    assert tuple(sym_out.shape) == expected_symbolic, (
        f"symbolic output shape {tuple(sym_out.shape)}")
    assert _dtype(sym_out) == "float32", _dtype(sym_out)
    if not is_model:
        model = keras.Model(sym_inputs if len(inputs) > 1 else sym_inputs[0],
                            sym_out)
        sym_obj.set_weights(ref_weights)
    else:
        model = obj
    np.testing.assert_array_equal(
        _numpy(_call(model, inputs, call_kwargs if is_model else {})),
        ref_out, err_msg="functional call differs from the eager call")

    # 3. get_config -> from_config.
    config = obj.get_config()
    # from_config may consume its argument (keras' Wrapper pops `layer`).
    revived = type(obj).from_config(copy.deepcopy(config))
    assert revived.get_config() == config, "config round trip differs"
    _call(revived, inputs, call_kwargs)  # builds
    revived.set_weights(ref_weights)
    np.testing.assert_array_equal(
        _numpy(_call(revived, inputs, call_kwargs)), ref_out,
        err_msg="from_config(get_config()) gives other outputs")

    # 4. .keras round trip.
    path = str(tmp_path / "contract.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        _numpy(_call(loaded, inputs, call_kwargs if is_model else {})),
        ref_out, err_msg=".keras save/load gives other outputs")

    # 6. Mixed precision (before training changes the weights).
    for policy in mixed_precision_policies:
        compute, eps = MIXED_POLICIES[policy]
        with dtype_policy(policy):
            half = _make(layer_cls, init_kwargs)
            _call(half, inputs, call_kwargs)  # builds
            half.set_weights(ref_weights)
            half_out = _call(half, inputs, call_kwargs)
        expected = mixed_precision_output_dtype or compute
        assert _dtype(half_out) == expected, (
            f"{policy}: output dtype {_dtype(half_out)}, expected {expected}")
        for w in half.weights:
            if "float" in _dtype(w):
                assert _dtype(w) == "float32", (
                    f"{policy}: variable {w.path} is {_dtype(w)}")
        half_out = _numpy(keras.ops.cast(half_out, "float32"))
        assert np.all(np.isfinite(half_out)), f"{policy}: non-finite output"
        err = float(np.max(np.abs(half_out - ref_out)))
        scale = float(np.max(np.abs(ref_out)))
        bound = 2 * eps * mixed_precision_depth * scale
        assert err <= bound, (
            f"{policy}: max error {err:.3g} > 2 * eps * depth * max|y| = "
            f"{bound:.3g} (eps {eps}, depth {mixed_precision_depth}, "
            f"max|y| {scale:.3g}; error / (eps * max|y|) = "
            f"{err / (eps * scale):.2f})")

    # 5. A training step changes the trainable weights, in float32 and under
    # the mixed policies (where mixed_float16 trains through Keras'
    # LossScaleOptimizer).
    if run_training:
        assert model.trainable_weights, "nothing to train"
        _check_fit(model, inputs, ref_out, run_eagerly,
                   max_unchanged_trainable_weights, "float32", steps=1)
        for policy in mixed_training_policies:
            with dtype_policy(policy):
                half = _make(layer_cls, init_kwargs)
                if not is_model:
                    half = keras.Model(
                        sym_inputs if len(inputs) > 1 else sym_inputs[0],
                        _call(half, sym_inputs, call_kwargs))
                half.set_weights(ref_weights)
                # Loss scaling starts at 2**15 and halves on each overflow
                # (a skipped step); 4 steps leave room for that.
                _check_fit(half, inputs, ref_out, run_eagerly,
                           max_unchanged_trainable_weights, policy, steps=4)
    return obj


def _check_fit(model, inputs, ref_out, run_eagerly, max_unchanged, label,
               steps):
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  loss="mse", run_eagerly=run_eagerly)
    # Targets near the current outputs: a loss gradient of order 0.1, which
    # the LossScaleOptimizer's initial scale of 2**15 does not push past
    # float16's 65504 (a random target against a summed-pooled logit of
    # order 10 did, and every step was skipped, as loss scaling does by
    # design until the scale has come down).
    target = (ref_out + 0.1 * np.random.default_rng(0).normal(
        size=ref_out.shape)).astype("float32")
    before = [_numpy(w) for w in model.trainable_weights]
    batch = len(inputs[0])
    x = [np.concatenate([a] * steps) for a in inputs]
    model.fit(x if len(x) > 1 else x[0], np.concatenate([target] * steps),
              batch_size=batch, epochs=1, verbose=0, shuffle=False)
    after = [_numpy(w) for w in model.trainable_weights]
    unchanged = [w.path for w, b, a in zip(
        model.trainable_weights, before, after) if np.array_equal(b, a)]
    assert all(np.all(np.isfinite(a)) for a in after), (
        f"{label}: non-finite weights after fit()")
    assert all(_dtype(w) == "float32" for w in model.trainable_weights), label
    assert len(unchanged) <= max_unchanged, (
        f"{label}: fit() left {unchanged} unchanged")
