"""A trace-time switch for the power-iteration updates of normalisation layers.

A discriminator is called several times per update (real, generated,
interpolates); its spectral-normalisation vectors should advance once per
update. Calls made inside `power_iteration_updates(False)` use the stored
vectors without updating them. The switch is read when the layer's `call`
is traced, so it costs nothing at run time and works under `tf.function`
and `jax.jit`.

>>> with power_iteration_updates(False):
...     logits = discriminator(fake, training=True)  # u stays put
"""

import contextlib
import threading

_state = threading.local()


def power_iteration_enabled():
    """Whether training calls may advance power-iteration vectors now."""
    return getattr(_state, "enabled", True)


@contextlib.contextmanager
def power_iteration_updates(enabled):
    """Enables or disables power-iteration updates inside the block."""
    previous = power_iteration_enabled()
    _state.enabled = bool(enabled)
    try:
        yield
    finally:
        _state.enabled = previous
