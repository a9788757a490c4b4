"""Per-backend gradient plumbing: the only package that imports a framework.

Each backend module provides the same small surface:

- `value_and_grad(fn, variables)`: runs `fn() -> (loss, aux)` and returns
  `(loss, aux, grads)` with the gradient of `loss` w.r.t. `variables`.
- `input_gradient(fn, x)`: the gradient of `sum(fn(x))` w.r.t. `x`, kept
  differentiable so a penalty on it can be back-propagated (double backprop).
- `apply_gradients(optimizer, grads, variables)`.
- `num_replicas_in_sync()`, `replica_id_in_sync()` and `all_replicas(flag)`
  (a boolean AND-ed over the replicas of a `tf.distribute` strategy).
- `GANTrainer`: a mixin with the `train_step`/`test_step` signatures that
  Keras' backend trainer expects, wrapping the backend-agnostic step.

The GAN's losses are written once, with `keras.ops`, in `models/gan.py`.
"""

import keras

_BACKEND = keras.backend.backend()

if _BACKEND == "tensorflow":
    from keras_gan_stable.backend import tensorflow as _impl
elif _BACKEND == "jax":
    from keras_gan_stable.backend import jax as _impl
elif _BACKEND == "torch":
    from keras_gan_stable.backend import torch as _impl
else:  # pragma: no cover - numpy/openvino have no training path
    raise ImportError(
        f"keras-gan-stable trains on the 'tensorflow', 'jax' and 'torch' "
        f"Keras backends. Received: KERAS_BACKEND={_BACKEND!r}. Set the "
        "environment variable KERAS_BACKEND to one of those before importing "
        "keras."
    )

value_and_grad = _impl.value_and_grad
input_gradient = _impl.input_gradient
apply_gradients = _impl.apply_gradients
GANTrainer = _impl.GANTrainer
num_replicas_in_sync = _impl.num_replicas_in_sync
replica_id_in_sync = _impl.replica_id_in_sync
all_replicas = _impl.all_replicas
assert_divisible = _impl.assert_divisible


def backend():
    """The name of the active Keras backend."""
    return _BACKEND
