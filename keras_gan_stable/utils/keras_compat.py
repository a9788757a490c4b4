"""Every private Keras (and TensorFlow) API the package uses, in one place.

Keras 3 keeps a few things the package needs behind private names. Each use
goes through this module, and `tests/test_keras_compat.py` holds one canary
test per entry that fails with a message naming the entry when a Keras
release changes it. `pyproject.toml` pins `keras>=3.15,<4`.

Entries (private API; used by; why):

- `StatelessScope`, `get_stateless_scope`, `in_stateless_scope`,
  `child_stateless_scope`: `keras.src.backend.common.stateless_scope` (and
  its `state_mapping`, keyed by `id(variable)`); `layers/
  spectral_normalization.py`, `backend/jax.py`; SN reads `W / sigma` in
  place of the kernel without assigning it, the JAX step runs as a pure
  function.
- `no_autocast`: `keras.src.backend.common.variables.AutocastScope(None)`;
  `layers/spectral_normalization.py`; the float32 kernel inside a
  mixed-precision `call` (the power iteration runs in float32).
- `flatten_layers`: `Layer._flatten_layers`; `models/gan.py`,
  `callbacks/stability_monitor.py`; every nested layer of a model.
- `unsynced_callback_model`: `Callback._model`;
  `callbacks/stability_monitor.py`; the model without `Callback.model`'s
  JAX state sync.
- `tensorflow_nn` (imported lazily), `override_tf_compute_moments`:
  `keras.src.backend.tensorflow.nn._compute_moments`;
  `backend/tensorflow.py`; twice-differentiable `ops.moments` under a
  gradient penalty.
- `in_multi_worker_mode`: TensorFlow's
  `strategy.extended._in_multi_worker_mode()`; `backend/tensorflow.py`;
  whether a `tf.distribute` strategy spans workers.

`backend/tensorflow.py` imports the TF `nn` module from here but still
spells `_compute_moments` and `_in_multi_worker_mode` itself;
`override_tf_compute_moments(fn)` and `in_multi_worker_mode(strategy)` are
the drop-in replacements for those two places. The canaries cover both.

>>> from keras_gan_stable.utils import keras_compat
>>> layers = list(keras_compat.flatten_layers(model))
"""

import contextlib

try:
    from keras.src.backend.common.variables import AutocastScope
    from keras.src.backend.common.stateless_scope import StatelessScope
    from keras.src.backend.common.stateless_scope import get_stateless_scope
    from keras.src.backend.common.stateless_scope import in_stateless_scope
except ImportError as e:  # pragma: no cover - a Keras that moved it
    import keras as _keras

    raise ImportError(
        "keras_gan_stable needs `keras.src.backend.common.stateless_scope` "
        "(StatelessScope, get_stateless_scope, in_stateless_scope) and "
        "`keras.src.backend.common.variables.AutocastScope`, which "
        f"this Keras ({_keras.__version__}) does not have. Install a "
        "supported Keras: pip install 'keras>=3.15,<4'."
    ) from e

__all__ = [
    "StatelessScope",
    "child_stateless_scope",
    "flatten_layers",
    "get_stateless_scope",
    "in_multi_worker_mode",
    "in_stateless_scope",
    "no_autocast",
    "override_tf_compute_moments",
    "unsynced_callback_model",
]

_TF_NN_MODULE = "keras.src.backend.tensorflow.nn"


def _changed(what, e=None):
    import keras

    return RuntimeError(
        f"keras_gan_stable relies on the private Keras API {what}, which this "
        f"Keras ({keras.__version__}) does not provide as expected"
        + (f" ({e})" if e else "")
        + ". Install a supported Keras: pip install 'keras>=3.15,<4', and "
        "report the version at the project's issue tracker."
    )


def child_stateless_scope(overrides=None):
    """A `StatelessScope` that starts from the enclosing scope's values.

    A `StatelessScope` does not read through to its parent, so a nested one
    copies the parent's `state_mapping` (values keyed by `id(variable)`).
    `overrides` is a list of `(variable, value)` pairs (variables are not
    hashable on every backend): the values they read inside the scope.
    """
    scope = StatelessScope()
    parent = get_stateless_scope()
    if not isinstance(getattr(scope, "state_mapping", None), dict):
        raise _changed("`StatelessScope.state_mapping` (a dict)")
    if parent is not None:
        scope.state_mapping = dict(parent.state_mapping)
    for variable, value in overrides or ():
        scope.state_mapping[id(variable)] = value
    return scope


def no_autocast():
    """A context in which variables read their own dtype (no autocasting to
    a layer's compute dtype, which `Layer.__call__` switches on under a
    mixed policy)."""
    return AutocastScope(None)


def flatten_layers(layer, include_self=False, recursive=True):
    """Every layer nested in `layer` (depth first), as `_flatten_layers`.

    Unlike `_flatten_layers`, `include_self` defaults to `False`.
    """
    method = getattr(layer, "_flatten_layers", None)
    if method is None:
        raise _changed("`Layer._flatten_layers`")
    return method(include_self=include_self, recursive=recursive)


def unsynced_callback_model(callback):
    """`callback.model` without the JAX state sync `Callback.model` does
    (None before `set_model`)."""
    if not hasattr(callback, "_model"):
        raise _changed("`Callback._model`")
    return callback._model


def __getattr__(name):
    # `tensorflow_nn` is imported on first use: it imports TensorFlow.
    if name == "tensorflow_nn":
        import importlib

        try:
            return importlib.import_module(_TF_NN_MODULE)
        except ImportError as e:
            raise ImportError(
                f"`{_TF_NN_MODULE}` is not importable ({e}); "
                "keras_gan_stable uses its `_compute_moments`.") from e
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@contextlib.contextmanager
def override_tf_compute_moments(fn):
    """Routes the TF backend's `ops.moments` through `fn(x, axes, keepdims)`
    inside the block (read when a graph is traced)."""
    module = __getattr__("tensorflow_nn")
    original = getattr(module, "_compute_moments", None)
    if original is None:
        raise _changed(f"`{_TF_NN_MODULE}._compute_moments`")
    module._compute_moments = fn
    try:
        yield
    finally:
        module._compute_moments = original


def in_multi_worker_mode(strategy):
    """Whether a `tf.distribute` strategy spans several workers."""
    method = getattr(strategy.extended, "_in_multi_worker_mode", None)
    if method is None:
        raise _changed(
            "TensorFlow's `strategy.extended._in_multi_worker_mode`")
    return bool(method())
