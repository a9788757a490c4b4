"""Class coverage of generated samples: which classes a classifier sees."""

import numpy as np

from keras_gan_stable.metrics.mode_coverage import mode_coverage


def class_coverage(probabilities, min_share=0.03):
    """How evenly generated samples cover the classes of the real data.

    A classifier trained on the labelled real data (the library's feature
    classifier, say) gives class probabilities for each generated sample.
    The summary of a run reports, from them:

    - `classes`: the number of classes holding at least `min_share` of the
      samples (a class that appears in 1 of 1,000 samples is not covered);
    - `kl`: KL(class histogram || uniform) in nats, 0 for balanced samples,
      `log K` when every sample falls in one class;
    - `confidence`: the mean top-class probability, a legibility proxy
      (compare it with the same figure on real images);
    - `shares`: the share of each class.

    Args:
        probabilities: array `[N, K]` of class probabilities (rows sum to 1).
        min_share: float in (0, 1). Share a class needs to count as
            covered. Defaults to `0.03`.

    Returns:
        A dict with `classes`, `num_classes`, `kl`, `confidence`, `shares`.
    """
    p = np.asarray(probabilities, dtype="float64")
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ValueError(
            "`probabilities` should be [num_samples, num_classes] with at "
            f"least one sample and two classes. Received shape {p.shape}."
        )
    if not 0.0 < float(min_share) < 1.0:
        raise ValueError(
            f"`min_share` should be in (0, 1). Received: `min_share={min_share}`"
        )
    k = p.shape[1]
    pred = p.argmax(axis=1)
    shares = np.bincount(pred, minlength=k) / len(pred)
    _, kl = mode_coverage(pred, num_classes=k)
    return {
        "classes": int(np.sum(shares >= float(min_share))),
        "num_classes": int(k),
        "kl": float(kl),
        "confidence": float(p.max(axis=1).mean()),
        "shares": [float(s) for s in shares],
    }
