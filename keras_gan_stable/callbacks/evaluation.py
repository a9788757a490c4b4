"""`Evaluation`: metrics of the generator every N epochs during `fit()`."""

import keras

from keras_gan_stable.metrics.evaluate import Evaluator


class Evaluation(keras.callbacks.Callback):
    """Computes FID, KID, IS, precision/recall or mode coverage during `fit()`.

    Every `every` epochs (and after the last one) it samples `num_samples`
    images from the model's generator (its `ema_generator` when the model
    has a non-`None` one and `use_ema`), always from the same latent
    vectors (`seed`), and writes the results into the epoch's `logs` under
    `prefix + name` (`fid`, `kid`, `kid_std`, `precision`, ...). The real
    images go through the extractor once, at the start of training.

    Keras passes one `logs` dict to the callbacks in list order and appends
    its `History` last, so the values reach `fit()`'s History whatever the
    order; a `keras.callbacks.TensorBoard` (or `CSVLogger`) records them
    only when it comes after this callback in `callbacks=[...]`. On epochs
    without an evaluation the keys are absent, so `history.history["fid"]`
    holds one value per evaluation; `self.history` keeps
    `{epoch: results}`.

    Args:
        real_data: real images `[N, H, W, C]` in [-1, 1], or
            `(images, labels)`.
        metrics: list among `"fid"`, `"kid"`, `"is"`, `"pr"`, `"modes"`.
            Defaults to `["fid"]`.
        every: int. Evaluate every `every` epochs. Defaults to `1`.
        extractor: feature extractor (see `keras_gan_stable.evaluate`).
            `None` trains a feature classifier on labelled `real_data`.
        num_samples: int. Generated images per evaluation. Defaults to
            `2000`.
        seed: int. Seed of the (fixed) latent vectors. Defaults to `0`.
        use_ema: bool. Evaluate the EMA generator when there is one.
            Defaults to `True`.
        prefix: str. Prefix of the log keys. Defaults to `""`.
        verbose: int. Print the results when > 0. Defaults to `0`.
        **kwargs: other `Evaluator` arguments (`kid_subsets`, `pr_k`, ...).

    >>> cb = Evaluation((x_test, y_test), metrics=["fid", "kid"], every=5)
    >>> history = gan.fit(x, epochs=50, callbacks=[cb, keras.callbacks.TensorBoard("logs")])
    >>> history.history["fid"]

    Reference:
        Heusel et al. 2017 (FID); Binkowski et al. 2018 (KID).
    """

    def __init__(self, real_data, metrics=("fid",), every=1, extractor=None,
                 num_samples=2000, seed=0, use_ema=True, prefix="", verbose=0,
                 **kwargs):
        super().__init__()
        if isinstance(every, bool) or int(every) != every or every < 1:
            raise ValueError(
                f"`every` should be a positive integer (epochs between "
                f"evaluations). Received: `every={every!r}`"
            )
        if int(num_samples) < 2:
            raise ValueError(
                "`num_samples` should be an integer >= 2. Received: "
                f"`num_samples={num_samples}`"
            )
        self.real_data = real_data
        self.metrics = metrics
        self.every = int(every)
        self.extractor = extractor
        self.num_samples = int(num_samples)
        self.seed = seed
        self.use_ema = bool(use_ema)
        self.prefix = str(prefix)
        self.verbose = int(verbose)
        self.evaluator_kwargs = kwargs
        self.evaluator = None
        self.history = {}

    def _build_evaluator(self):
        if self.evaluator is None:
            self.evaluator = Evaluator(
                self.real_data, metrics=self.metrics, extractor=self.extractor,
                num_samples=self.num_samples, seed=self.seed,
                **self.evaluator_kwargs)
        return self.evaluator

    def on_train_begin(self, logs=None):
        self._build_evaluator()

    def evaluate_now(self):
        """Evaluates the model now; returns the prefixed results."""
        model = self.model  # on JAX, reading the model syncs its state
        results = self._build_evaluator()(model, use_ema=self.use_ema)
        return {self.prefix + k: float(v) for k, v in results.items()}

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every and (last is None or epoch + 1 != last):
            return
        results = self.evaluate_now()
        self.history[epoch] = results
        if logs is not None:
            logs.update(results)
        if self.verbose:
            text = " - ".join(f"{k}: {v:.4g}" for k, v in results.items())
            print(f"Evaluation after epoch {epoch + 1}: {text}")
