"""`StabilityMonitor`: watch a GAN's health during `fit()` and raise alarms."""

import collections
import math

import keras
import numpy as np
from keras import ops

from keras_gan_stable.utils import keras_compat

__all__ = ["StabilityMonitor", "mean_pairwise_distance", "pixel_features"]

ALARMS = ("collapse", "overfitting", "divergence", "nonfinite")


def pixel_features(images, size=16):
    """Default diversity features: images average-pooled to at most
    `size x size`, flattened. `[N, H, W, C]` -> `[N, F]`."""
    x = np.asarray(images, dtype="float32")
    n, h, w, c = x.shape
    fh, fw = max(h // size, 1), max(w // size, 1)
    x = x[:, :h - h % fh, :w - w % fw]
    x = x.reshape(n, x.shape[1] // fh, fh, x.shape[2] // fw, fw, c)
    return x.mean(axis=(2, 4)).reshape(n, -1)


def mean_pairwise_distance(features):
    """Mean Euclidean distance over all pairs `i < j` of rows `[N, F]`."""
    f = np.asarray(features, dtype="float64")
    n = f.shape[0]
    if n < 2:
        raise ValueError(
            f"Diversity needs at least 2 samples. Received {n}."
        )
    # Row by row on differences (no |a|^2 + |b|^2 - 2ab cancellation, so
    # identical samples give exactly 0).
    total = 0.0
    for i in range(n - 1):
        total += float(np.sqrt(np.sum((f[i + 1:] - f[i]) ** 2, axis=1)).sum())
    return total / (n * (n - 1) / 2)


def _float(value):
    try:
        return float(np.asarray(ops.convert_to_numpy(value)).reshape(()))
    except Exception:  # non-scalar or non-numeric log entries
        return None


class StabilityMonitor(keras.callbacks.Callback):
    """Logs a GAN's stability statistics and raises alarms.

    Every `every` train steps the monitor appends to `history` the means
    over those steps of: `d_real`/`d_fake` (mean D logits), `r_t` (the ADA
    heuristic `E[sign(D(x_real))]`), `d_grad_norm`/`g_grad_norm`, each
    penalty's magnitude, `augment_p` when ADA is used, the losses, and the
    current sigma (largest singular value) of every `SpectralNormalization`
    layer. It turns on `track_stats` in the model, which makes the train
    step log the per-step values it needs.

    Every `diversity_every` steps it also measures sample diversity: the
    mean pairwise distance between features (`feature_fn`, default average-
    pooled pixels) of `num_samples` generated images (fixed latent seed),
    against the same statistic on `num_samples` of `real_images`.

    Alarms (appended to `events`, printed, and stopping training when their
    kind is in `stop_on`):

    - `"collapse"`: generated diversity < `collapse_fraction` x real
      diversity (a generator stuck on few outputs);
    - `"overfitting"`: `r_t` above `overfit_threshold` for
      `overfit_patience` consecutive checks (D is confidently separating
      its training reals: Karras et al. 2020 use 0.6 as the target);
    - `"divergence"`: a step's D or G loss lies more than
      `divergence_threshold` robust standard deviations (1.4826 x median
      absolute deviation) from the median of the last `divergence_window`
      steps;
    - `"nonfinite"`: a non-finite loss, or updates skipped by the guard
      (`compile(skip_nonfinite=True)`).

    `get_state()`/`set_state()` make the history, events and windows part
    of a `ResumableCheckpoint`.

    Args:
        real_images: array `[N, H, W, C]` in [-1, 1] or `None`. Reference
            for the diversity check (disabled when `None`).
        every: int. Steps between history entries. Defaults to `50`.
        diversity_every: int or `None`. Steps between diversity checks.
            Defaults to `every`.
        num_samples: int. Images per diversity check. Defaults to `64`.
        feature_fn: callable `[N, H, W, C] -> [N, F]` or `None`
            (`pixel_features`).
        collapse_fraction: float. Defaults to `0.5`.
        overfit_threshold: float. Defaults to `0.9`.
        overfit_patience: int. Defaults to `5`.
        divergence_window: int. Defaults to `100`.
        divergence_threshold: float. Defaults to `10.0`.
        stop_on: iterable of alarm kinds that stop training. Defaults to
            `()`.
        use_ema: bool or `None`. Generator used for the diversity check
            (passed to `gan.generate`). Defaults to `None`.
        seed: int. Latent seed of the diversity samples. Defaults to `0`.
        verbose: int. Print alarms when > 0. Defaults to `1`.

    >>> monitor = StabilityMonitor(real_images=x[:256], every=20,
    ...                            stop_on=("divergence",))
    >>> gan.fit(x, epochs=5, callbacks=[monitor])
    >>> monitor.events   # [{"step": ..., "alarm": "collapse", ...}]
    """

    def __init__(self, real_images=None, every=50, diversity_every=None,
                 num_samples=64, feature_fn=None, collapse_fraction=0.5,
                 overfit_threshold=0.9, overfit_patience=5,
                 divergence_window=100, divergence_threshold=10.0,
                 stop_on=(), use_ema=None, seed=0, verbose=1):
        super().__init__()
        for name, value in (("every", every), ("num_samples", num_samples),
                            ("overfit_patience", overfit_patience),
                            ("divergence_window", divergence_window)):
            if int(value) < 1:
                raise ValueError(
                    f"`{name}` should be a positive integer. Received: "
                    f"`{name}={value}`"
                )
        if int(num_samples) < 2:
            raise ValueError(
                "`num_samples` should be >= 2 (diversity is a pairwise "
                f"distance). Received: `num_samples={num_samples}`"
            )
        if diversity_every is not None and int(diversity_every) < 1:
            raise ValueError(
                "`diversity_every` should be a positive integer or None. "
                f"Received: `diversity_every={diversity_every}`"
            )
        if not 0.0 < float(collapse_fraction) < 1.0:
            raise ValueError(
                "`collapse_fraction` should be in (0, 1). Received: "
                f"`collapse_fraction={collapse_fraction}`"
            )
        stop_on = tuple(stop_on)
        bad = [s for s in stop_on if s not in ALARMS]
        if bad:
            raise ValueError(
                f"`stop_on` should hold alarm kinds from {ALARMS}. Received: "
                f"`stop_on={stop_on}`"
            )
        if real_images is not None:
            real_images = np.asarray(real_images, "float32")
            if real_images.ndim != 4 or len(real_images) < 2:
                raise ValueError(
                    "`real_images` should be an array [N, H, W, C] with N >= "
                    f"2. Received shape {real_images.shape}."
                )
        self.real_images = real_images
        self.every = int(every)
        self.diversity_every = int(diversity_every or every)
        self.num_samples = int(num_samples)
        self.feature_fn = feature_fn or pixel_features
        self.collapse_fraction = float(collapse_fraction)
        self.overfit_threshold = float(overfit_threshold)
        self.overfit_patience = int(overfit_patience)
        self.divergence_window = int(divergence_window)
        self.divergence_threshold = float(divergence_threshold)
        self.stop_on = stop_on
        self.use_ema = use_ema
        self.seed = seed
        self.verbose = int(verbose)
        self.history = []
        self.events = []
        self.step = 0
        self.real_diversity = None
        self._pending = collections.defaultdict(list)
        self._loss_windows = {"d": collections.deque(), "g": collections.deque()}
        self._overfit_streak = 0
        self._last_skips = None

    # -- model wiring ------------------------------------------------------
    def set_model(self, model):
        super().set_model(model)
        if hasattr(model, "track_stats") and not model.track_stats:
            # The per-step statistics are part of the compiled step.
            model.track_stats = True
            if hasattr(model, "_gan_compile_args"):
                model._gan_compile_args["track_stats"] = True
            model.train_function = None

    # -- alarms ------------------------------------------------------------
    def _alarm(self, kind, message, value=None):
        event = {"step": int(self.step), "alarm": kind, "message": message,
                 "value": None if value is None else float(value)}
        self.events.append(event)
        if self.verbose:
            print(f"[StabilityMonitor] step {self.step}: {kind}: {message}")
        # The model without `Callback.model`'s JAX state sync.
        model = keras_compat.unsynced_callback_model(self)
        if kind in self.stop_on and model is not None:
            model.stop_training = True
        return event

    def alarms(self, kind=None):
        """The recorded alarm events, optionally of one kind."""
        return [e for e in self.events if kind is None or e["alarm"] == kind]

    # -- statistics ----------------------------------------------------------
    def spectral_sigmas(self, model):
        """`{layer_name: sigma}` of every spectral-normalisation layer."""
        out = {}
        nets = [getattr(model, "discriminator", None),
                getattr(model, "generator", None)]
        for net in nets:
            if net is None:
                continue
            for layer in keras_compat.flatten_layers(net):
                if "SpectralNorm" not in type(layer).__name__:
                    continue
                sigma = getattr(layer, "sigma", None)
                if callable(sigma):
                    try:
                        value = _float(sigma())
                    except Exception:  # not built yet
                        value = None
                    if value is not None:
                        out[f"{net.name}/{layer.name}"] = value
        return out

    def diversity(self, model):
        """`(generated, real)` mean pairwise feature distances."""
        if self.real_images is None:
            raise ValueError(
                "The diversity check needs `real_images` given to "
                "StabilityMonitor."
            )
        if self.real_diversity is None:
            real = self.real_images[:self.num_samples]
            self.real_diversity = mean_pairwise_distance(self.feature_fn(real))
        kwargs = {}
        if self.use_ema is not None:
            kwargs["use_ema"] = self.use_ema
        fake = model.generate(self.num_samples, seed=self.seed, **kwargs)
        return (mean_pairwise_distance(self.feature_fn(fake)),
                self.real_diversity)

    def check_diversity(self, model=None):
        """Measures diversity now; raises a collapse alarm when too low.
        Returns `(generated, real)`."""
        model = model if model is not None else self.model
        gen, real = self.diversity(model)
        ratio = gen / max(real, 1e-12)
        if ratio < self.collapse_fraction:
            self._alarm(
                "collapse",
                f"sample diversity {gen:.4g} is {ratio:.2f}x the real "
                f"diversity {real:.4g} (< {self.collapse_fraction})",
                ratio)
        return gen, real

    def _check_divergence(self, which, value):
        window = self._loss_windows[which]
        if value is None:
            return
        if not math.isfinite(value):
            self._alarm("nonfinite", f"{which}_loss is {value}", value)
            return
        if len(window) >= self.divergence_window:
            arr = np.asarray(window)
            med = float(np.median(arr))
            spread = 1.4826 * float(np.median(np.abs(arr - med)))
            spread = max(spread, 1e-6 * (abs(med) + 1.0))
            z = abs(value - med) / spread
            if z > self.divergence_threshold:
                self._alarm(
                    "divergence",
                    f"{which}_loss {value:.4g} is {z:.1f} robust std from "
                    f"its recent median {med:.4g}", value)
            window.popleft()
        window.append(value)

    # -- Keras hooks -------------------------------------------------------
    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.step += 1
        keys = ["d_loss", "g_loss", "d_real", "d_fake", "r_t", "d_grad_norm",
                "g_grad_norm", "augment_p", "instance_noise"]
        model = keras_compat.unsynced_callback_model(self)
        keys += list(getattr(model, "penalty_trackers", {}) or {})
        for key in keys:
            if key in logs:
                value = _float(logs[key])
                if value is not None:
                    self._pending[key].append(value)
        self._check_divergence("d", _float(logs["d_loss_step"])
                               if "d_loss_step" in logs else None)
        self._check_divergence("g", _float(logs["g_loss_step"])
                               if "g_loss_step" in logs else None)
        if "nonfinite_skips" in logs:
            skips = _float(logs["nonfinite_skips"])
            if self._last_skips is not None and skips > self._last_skips:
                self._alarm("nonfinite",
                            f"{skips - self._last_skips:g} update(s) skipped "
                            "by the non-finite guard", skips)
            self._last_skips = skips
        if self.step % self.every == 0:
            self._record()
        if (self.real_images is not None
                and self.step % self.diversity_every == 0):
            gen, real = self.check_diversity(self.model)
            if self.history and self.history[-1]["step"] == self.step:
                self.history[-1]["diversity"] = gen
                self.history[-1]["real_diversity"] = real

    def _record(self):
        entry = {"step": int(self.step)}
        for key, values in self._pending.items():
            entry[key] = float(np.mean(values))
        self._pending = collections.defaultdict(list)
        model = self.model
        for name, sigma in self.spectral_sigmas(model).items():
            entry[f"sigma/{name}"] = sigma
        self.history.append(entry)
        r_t = entry.get("r_t")
        if r_t is not None and r_t > self.overfit_threshold:
            self._overfit_streak += 1
            if self._overfit_streak == self.overfit_patience:
                self._alarm(
                    "overfitting",
                    f"r_t = E[sign(D(real))] = {r_t:.3f} > "
                    f"{self.overfit_threshold} for {self.overfit_patience} "
                    "checks: D separates its training images (use more "
                    "data, DiffAugment/AdaptiveAugment, or R1)", r_t)
        else:
            self._overfit_streak = 0

    # -- checkpointing -----------------------------------------------------
    def get_state(self):
        return {
            "step": int(self.step),
            "history": self.history,
            "events": self.events,
            "real_diversity": self.real_diversity,
            "loss_windows": {k: list(v) for k, v in self._loss_windows.items()},
            "overfit_streak": self._overfit_streak,
            "last_skips": self._last_skips,
        }

    def set_state(self, state):
        self.step = int(state["step"])
        self.history = list(state["history"])
        self.events = list(state["events"])
        self.real_diversity = state.get("real_diversity")
        windows = state.get("loss_windows") or {}
        self._loss_windows = {k: collections.deque(windows.get(k, []))
                              for k in ("d", "g")}
        self._overfit_streak = int(state.get("overfit_streak", 0))
        self._last_skips = state.get("last_skips")
