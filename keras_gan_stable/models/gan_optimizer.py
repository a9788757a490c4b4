"""One optimizer object that carries the D and G optimizers through `fit()`."""

import keras


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class GANOptimizer(keras.optimizers.Optimizer):
    """Holds the discriminator's and the generator's optimizers.

    Keras' JAX trainer threads only `model.optimizer.variables` through its
    jitted state; this container returns both optimizers' variables there, so
    their state survives `fit()` on every backend. It applies nothing itself:
    the GAN's train step calls each inner optimizer on its own variables.

    `iterations` is the generator optimizer's count (one per train step), and
    `learning_rate` reads the generator's rate; setting it (for example from
    `keras.callbacks.LearningRateScheduler`) scales both rates together,
    keeping their TTUR ratio.

    Args:
        d_optimizer: `keras.optimizers.Optimizer` of the discriminator.
        g_optimizer: `keras.optimizers.Optimizer` of the generator.
    """

    def __init__(self, d_optimizer, g_optimizer, name="gan_optimizer", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.d_optimizer = keras.optimizers.get(d_optimizer)
        self.g_optimizer = keras.optimizers.get(g_optimizer)
        if self.d_optimizer is self.g_optimizer:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two distinct optimizer "
                "instances (each keeps per-variable state). Received the same "
                f"object twice: {self.d_optimizer}. Create one per network."
            )
        self._d_ids = frozenset()
        self._g_ids = frozenset()

    def set_variable_roles(self, d_variables, g_variables):
        self._d_ids = frozenset(id(v) for v in d_variables)
        self._g_ids = frozenset(id(v) for v in g_variables)

    def build(self, var_list):
        d_vars = [v for v in var_list if id(v) in self._d_ids]
        g_vars = [v for v in var_list if id(v) in self._g_ids]
        if not self.d_optimizer.built:
            self.d_optimizer.build(d_vars)
        if not self.g_optimizer.built:
            self.g_optimizer.build(g_vars)
        self.built = True

    @property
    def variables(self):
        return list(self.d_optimizer.variables) + list(self.g_optimizer.variables)

    @property
    def iterations(self):
        return self.g_optimizer.iterations

    @property
    def learning_rate(self):
        return self.g_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        # Called by the base constructor before the inner optimizers exist.
        if "g_optimizer" not in self.__dict__:
            return
        old = float(keras.ops.convert_to_numpy(self.g_optimizer.learning_rate))
        d_old = float(keras.ops.convert_to_numpy(self.d_optimizer.learning_rate))
        ratio = d_old / old if old else 1.0
        self.g_optimizer.learning_rate = value
        self.d_optimizer.learning_rate = float(value) * ratio

    def apply(self, grads, trainable_variables=None):
        raise NotImplementedError(
            "GANOptimizer applies no gradients itself; update the networks "
            "through `d_optimizer` and `g_optimizer`."
        )

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        raise NotImplementedError(
            "GANOptimizer applies no gradients itself; update the networks "
            "through `d_optimizer` and `g_optimizer`."
        )

    def finalize_variable_values(self, var_list):
        self.d_optimizer.finalize_variable_values(
            [v for v in var_list if id(v) in self._d_ids])
        self.g_optimizer.finalize_variable_values(
            [v for v in var_list if id(v) in self._g_ids])

    def save_own_variables(self, store):
        for prefix, opt in (("d", self.d_optimizer), ("g", self.g_optimizer)):
            for i, v in enumerate(opt.variables):
                store[f"{prefix}{i}"] = v

    def load_own_variables(self, store):
        for prefix, opt in (("d", self.d_optimizer), ("g", self.g_optimizer)):
            for i, v in enumerate(opt.variables):
                key = f"{prefix}{i}"
                if key in store:
                    v.assign(store[key])

    def get_config(self):
        return {
            "name": self.name,
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)
