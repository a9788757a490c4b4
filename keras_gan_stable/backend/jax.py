"""JAX plumbing: pure functions under `jit`, driven through `StatelessScope`.

Keras' JAX trainer hands `train_step` the values of every variable and
expects their new values back. The GAN step is written imperatively (read
variables, assign variables); running it inside one `StatelessScope` turns
it into a pure function: reads come from the scope, assignments are recorded
in it. `value_and_grad` and `input_gradient` open nested scopes that start
from the enclosing scope's values (a scope does not read through to its
parent), differentiate with `jax.value_and_grad`, and hand the state updates
made inside (BatchNorm statistics, normalisation vectors, RNG seeds) back to
the enclosing scope as auxiliary outputs, so no tracer escapes.
"""

import jax
from keras import ops
from keras_gan_stable.utils.keras_compat import StatelessScope
from keras_gan_stable.utils.keras_compat import get_stateless_scope

# keras.distribution shards the global batch inside one program: the step
# sees the global batch, so there is nothing to rescale or agree on.
from keras_gan_stable.backend._global_batch import (  # noqa: F401
    all_replicas, assert_divisible, num_replicas_in_sync, replica_id_in_sync)


def _child_scope(parent, overrides):
    scope = StatelessScope()
    if parent is not None:
        scope.state_mapping = dict(parent.state_mapping)
    scope.state_mapping.update(overrides)
    return scope


def _changed(scope, base, exclude):
    return {
        k: v
        for k, v in scope.state_mapping.items()
        if k not in exclude and (k not in base or v is not base[k])
    }


def value_and_grad(fn, variables):
    parent = get_stateless_scope()
    base = dict(parent.state_mapping) if parent is not None else {}
    ids = [id(v) for v in variables]
    values = [base.get(i, v.value) for i, v in zip(ids, variables)]
    exclude = set(ids)

    def pure(vals):
        scope = _child_scope(parent, dict(zip(ids, vals)))
        with scope:
            loss, aux = fn()
        return loss, (aux, _changed(scope, base, exclude))

    (loss, (aux, updates)), grads = jax.value_and_grad(pure, has_aux=True)(
        values
    )
    if parent is not None:
        parent.state_mapping.update(updates)
    return loss, aux, grads


def input_gradient(fn, x):
    parent = get_stateless_scope()
    base = dict(parent.state_mapping) if parent is not None else {}

    def pure(x):
        scope = _child_scope(parent, {})
        with scope:
            out = ops.sum(fn(x))
        return out, _changed(scope, base, set())

    grad, updates = jax.grad(pure, has_aux=True)(x)
    if parent is not None:
        parent.state_mapping.update(updates)
    return grad


def apply_gradients(optimizer, grads, variables):
    optimizer.apply(grads, variables)


def _run_stateless(model, groups, fn):
    mapping = []
    for variables, values in groups:
        mapping.extend(zip(variables, values))
    with StatelessScope(state_mapping=mapping) as scope:
        out = fn()
    new = []
    for variables, values in groups:
        vals = []
        for v, old in zip(variables, values):
            cur = scope.get_current_value(v)
            vals.append(old if cur is None else cur)
        new.append(vals)
    return out, new


class GANTrainer:
    """Adapts the imperative GAN step to Keras' stateless JAX trainer."""

    def train_step(self, state, data):
        tv, ntv, ov, mv = state
        groups = [
            (self.trainable_variables, tv),
            (self.non_trainable_variables, ntv),
            (self.optimizer.variables, ov),
            (self.metrics_variables, mv),
        ]
        logs, new = _run_stateless(
            self, groups, lambda: self._gan_train_step(data)
        )
        return logs, tuple(new)

    def test_step(self, state, data):
        tv, ntv, mv = state
        groups = [
            (self.trainable_variables, tv),
            (self.non_trainable_variables, ntv),
            (self.metrics_variables, mv),
        ]
        logs, new = _run_stateless(
            self, groups, lambda: self._gan_test_step(data)
        )
        return logs, tuple(new)
