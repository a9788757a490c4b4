"""`evaluate()`: all metrics of a generator against real data in one call."""

import numpy as np
import keras

from keras_gan_stable.metrics.extractors import ClassifierExtractor
from keras_gan_stable.metrics.extractors import get_extractor
from keras_gan_stable.metrics.feature_classifier import train_feature_classifier
from keras_gan_stable.metrics.frechet import frechet_distance
from keras_gan_stable.metrics.inception_score import inception_score
from keras_gan_stable.metrics.kid import kernel_inception_distance
from keras_gan_stable.metrics.mode_coverage import mode_coverage
from keras_gan_stable.metrics.precision_recall import precision_recall
from keras_gan_stable.metrics.streaming import FeatureStatistics
from keras_gan_stable.metrics.streaming import FeatureStore

METRICS = ("fid", "kid", "is", "pr", "modes")
_NEEDS_REAL = ("fid", "kid", "pr")
_NEEDS_PROBS = ("is", "modes")
_NEEDS_STORE = ("kid", "pr")


def _check_metrics(metrics):
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = [str(m).lower() for m in metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"Unknown metrics {unknown or metrics}. Choose from {list(METRICS)}: "
            "'fid' (Frechet distance), 'kid' (kernel distance), 'is' "
            "(Inception Score), 'pr' (precision and recall), 'modes' (mode "
            "coverage and KL to uniform)."
        )
    return list(dict.fromkeys(metrics))


def _split_real(real_data):
    if isinstance(real_data, dict):
        return real_data.get("images"), real_data.get("labels")
    if isinstance(real_data, (tuple, list)):
        if len(real_data) == 2:
            return real_data[0], real_data[1]
        if len(real_data) == 1:
            return real_data[0], None
        raise ValueError(
            "`real_data` should be images or `(images, labels)`. Received a "
            f"sequence of length {len(real_data)}."
        )
    return real_data, None


def _as_images(images, name):
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(
            f"`{name}` should be a non-empty array [N, H, W, C] in [-1, 1]. "
            f"Received shape {images.shape}."
        )
    return images


class ImageSource:
    """Draws `n` images batch by batch from a GAN, a generator or an array.

    Args:
        source: a `GAN` (its `ema_generator` is used when present and
            `use_ema`), a Keras generator model taking `z` (or `[z, labels]`
            with `num_classes`), or an array of images `[N, H, W, C]`.
        use_ema: bool. Prefer the model's `ema_generator`. Defaults to `True`.
        num_classes: int or `None`. Classes of a conditional generator model
            given without its GAN.
        batch_size: int. Images per generator call.
    """

    def __init__(self, source, use_ema=True, num_classes=None, batch_size=256):
        self.source = source
        self.use_ema = use_ema
        self.batch_size = int(batch_size)
        self.array = None
        self.latent_dim = None
        self.num_classes = num_classes
        self.net = None
        self.gan = None
        if isinstance(source, np.ndarray) or (
                hasattr(source, "shape") and not isinstance(source, keras.Layer)):
            self.array = _as_images(source, "generated images")
        elif hasattr(source, "sample_latents") and hasattr(source, "generator"):
            self.gan = source
            ema = getattr(source, "ema_generator", None)
            self.net = ema if (use_ema and ema is not None) else source.generator
            self.num_classes = source.num_classes
        elif isinstance(source, keras.Model):
            self.net = source
            inputs = getattr(source, "inputs", None) or []
            if not inputs:
                raise ValueError(
                    "A generator model given without its GAN must have known "
                    "inputs (a functional model). Pass the GAN instead."
                )
            self.latent_dim = int(inputs[0].shape[-1])
            if len(inputs) == 2 and num_classes is None:
                raise ValueError(
                    "This generator takes [z, labels]: pass `num_classes` or "
                    "the GAN itself."
                )
        else:
            raise ValueError(
                "`generator` should be a GAN, a Keras generator model or an "
                f"array of images. Received: {type(source).__name__}."
            )

    def __len__(self):
        return None if self.array is None else self.array.shape[0]

    def batches(self, n, seed=None):
        """Yields image batches (NumPy, [-1, 1]) totalling `n` images."""
        if self.array is not None:
            if n > self.array.shape[0]:
                raise ValueError(
                    f"{n} samples requested but only {self.array.shape[0]} "
                    "generated images were given."
                )
            for start in range(0, n, self.batch_size):
                yield self.array[start:min(n, start + self.batch_size)]
            return
        if self.gan is not None:
            z, labels = self.gan.sample_latents(n, seed=seed)
        else:
            rng = np.random.default_rng(seed)
            z = rng.standard_normal((n, self.latent_dim)).astype("float32")
            labels = (rng.integers(0, self.num_classes, size=n).astype("int32")
                      if self.num_classes else None)
        for start in range(0, n, self.batch_size):
            zb = z[start:start + self.batch_size]
            if self.num_classes:
                zb = [zb, labels[start:start + self.batch_size]]
            # A compiled inference call: op-by-op eager calls are slow on JAX.
            out = self.net.predict_on_batch(zb)
            yield np.asarray(keras.ops.convert_to_numpy(out), "float32")


class Evaluator:
    """Computes chosen metrics of generators against fixed real data.

    The real images pass through the feature extractor once, at
    construction; each call then streams generated images batch by batch
    into float64 running statistics (FID), a float32 feature store (KID,
    precision/recall, only when asked for) and the class probabilities
    (Inception Score, mode coverage).

    Args:
        real_data: images `[N, H, W, C]` in [-1, 1], or `(images, labels)`.
        metrics: list of `"fid"`, `"kid"`, `"is"`, `"pr"`, `"modes"`.
            Defaults to all five.
        extractor: a `FeatureExtractor`, a Keras model, a `.keras` feature
            classifier path, an InceptionV3 `.h5` weights path, `"inception"`
            or `None`. `None` trains a feature classifier on the real
            images when labels are given (`train_feature_classifier`, the
            default for MNIST, digits and CIFAR-10), else uses InceptionV3
            (local weights).
        num_samples: int or `None`. Generated samples per evaluation;
            defaults to the number of real images.
        seed: int or `None`. Seed of the latent vectors. Defaults to `0`.
        kid_subsets: int. KID subsets. Defaults to `100`.
        kid_subset_size: int. KID subset size. Defaults to `1000`.
        pr_k: int. Neighbourhood size of precision/recall. Defaults to `3`.
        is_splits: int. Inception Score splits. Defaults to `10`.
        batch_size: int. Images per generator and extractor call.
        classifier_kwargs: dict. Arguments of `train_feature_classifier` when
            one is trained here.

    >>> evaluator = Evaluator((x_test, y_test), metrics=["fid", "pr"])
    >>> evaluator(gan)          # {"fid": ..., "precision": ..., "recall": ...}
    """

    def __init__(self, real_data, metrics=METRICS, extractor=None,
                 num_samples=None, seed=0, kid_subsets=100,
                 kid_subset_size=1000, pr_k=3, is_splits=10, batch_size=256,
                 classifier_kwargs=None):
        self.metrics = _check_metrics(metrics)
        self.seed = seed
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.pr_k = int(pr_k)
        self.is_splits = int(is_splits)
        self.batch_size = int(batch_size)
        if num_samples is not None and int(num_samples) < 2:
            raise ValueError(
                "`num_samples` should be an integer >= 2 or None. Received: "
                f"`num_samples={num_samples}`"
            )
        images, labels = (None, None) if real_data is None else _split_real(
            real_data)
        needs_real = any(m in _NEEDS_REAL for m in self.metrics)
        if images is None and (needs_real or extractor is None):
            raise ValueError(
                f"The metrics {[m for m in self.metrics if m in _NEEDS_REAL]} "
                "compare with real data: pass `real_data` (images or "
                "(images, labels))."
            )
        if images is not None:
            images = _as_images(images, "real_data")
        if extractor is None and labels is not None:
            extractor = train_feature_classifier(
                images, labels, **(classifier_kwargs or {}))
            extractor = ClassifierExtractor(extractor, batch_size=batch_size)
        elif extractor is None:
            extractor = "inception"
        self.extractor = get_extractor(extractor)
        if (any(m in _NEEDS_PROBS for m in self.metrics)
                and not self.extractor.has_probabilities):
            raise ValueError(
                "The metrics 'is' and 'modes' need class probabilities, but "
                "this extractor gives features only. Use a feature "
                "classifier (`train_feature_classifier`) or "
                "`InceptionExtractor(include_top=True)`, or drop them from "
                f"`metrics`. Received: `metrics={self.metrics}`"
            )
        self.num_samples = (int(num_samples) if num_samples is not None
                            else (images.shape[0] if images is not None
                                  else 10000))
        self.real_stats = None
        self.real_features = None
        if images is not None and needs_real:
            self.real_stats, self.real_features = self._accumulate(
                self.extractor.iter_batches(images), store=any(
                    m in _NEEDS_STORE for m in self.metrics))[:2]

    def _accumulate(self, batches, store):
        stats = FeatureStatistics()
        features = FeatureStore() if store else None
        probs = []
        for feats, p in batches:
            stats.update(feats)
            if features is not None:
                features.update(feats)
            if p is not None:
                probs.append(p)
        return (stats, None if features is None else features.result(),
                np.concatenate(probs) if probs else None)

    def __call__(self, generator, num_samples=None, seed=None, use_ema=True):
        """Returns a dict of metric values for `generator`.

        Keys: `fid`; `kid`, `kid_std`, `kid_stderr`; `is`, `is_std`;
        `precision`, `recall`; `modes`, `modes_kl`.
        """
        n = int(num_samples) if num_samples is not None else self.num_samples
        seed = self.seed if seed is None else seed
        source = ImageSource(generator, use_ema=use_ema,
                             batch_size=self.batch_size)
        if source.array is not None and num_samples is None:
            n = min(n, source.array.shape[0])

        def feature_batches():
            for images in source.batches(n, seed=seed):
                yield from self.extractor.iter_batches(images)

        stats, feats, probs = self._accumulate(
            feature_batches(),
            store=any(m in _NEEDS_STORE for m in self.metrics))
        out = {}
        if "fid" in self.metrics:
            out["fid"] = frechet_distance(self.real_stats.mean,
                                          self.real_stats.covariance,
                                          stats.mean, stats.covariance)
        if "kid" in self.metrics:
            kid = kernel_inception_distance(
                self.real_features, feats, num_subsets=self.kid_subsets,
                subset_size=self.kid_subset_size, seed=seed)
            out.update(kid=kid.mean, kid_std=kid.std, kid_stderr=kid.stderr)
        if "is" in self.metrics:
            mean, std = inception_score(probs,
                                        splits=min(self.is_splits, n))
            out.update({"is": mean, "is_std": std})
        if "pr" in self.metrics:
            out["precision"], out["recall"] = precision_recall(
                self.real_features, feats, k=self.pr_k)
        if "modes" in self.metrics:
            modes = mode_coverage(probs)
            out.update(modes=modes.modes, modes_kl=modes.kl)
        return out


def evaluate(generator, real_data=None, metrics=METRICS, extractor=None,
             num_samples=None, seed=0, use_ema=True, **kwargs):
    """Evaluates a generator against real data; returns a dict of metrics.

    Args:
        generator: a `GAN` (its `ema_generator` when present and
            `use_ema`), a Keras generator model, or an array of generated
            images `[N, H, W, C]` in [-1, 1].
        real_data: real images `[N, H, W, C]` in [-1, 1], or
            `(images, labels)`.
        metrics: list among `"fid"`, `"kid"`, `"is"`, `"pr"`, `"modes"`.
            Defaults to all.
        extractor: see `Evaluator`: `None` trains a feature classifier on
            labelled real data, else uses InceptionV3 from local weights.
        num_samples: int. Generated samples; defaults to the number of real
            images.
        seed: int. Seed of the latent vectors and KID subsets.
        use_ema: bool. Use the GAN's `ema_generator` when it has one.
        **kwargs: other `Evaluator` arguments (`kid_subsets`, `pr_k`, ...).

    Returns:
        dict with `fid`; `kid`, `kid_std`, `kid_stderr`; `is`, `is_std`;
        `precision`, `recall`; `modes`, `modes_kl` (those asked for).

    >>> clf = keras_gan_stable.train_feature_classifier(x_test, y_test)
    >>> keras_gan_stable.evaluate(gan, x_test, metrics=["fid", "pr"],
    ...                           extractor=clf, num_samples=10000)
    """
    evaluator = Evaluator(real_data, metrics=metrics, extractor=extractor,
                          num_samples=num_samples, seed=seed, **kwargs)
    return evaluator(generator, use_ema=use_ema)
