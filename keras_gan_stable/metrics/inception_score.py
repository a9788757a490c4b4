"""Inception Score from class probabilities."""

import numpy as np


def inception_score(probabilities, splits=10, eps=1e-12):
    """Inception Score `exp(E_x KL(p(y|x) || p(y)))`, mean and std over splits.

    The samples are cut into `splits` consecutive groups; in each, `p(y)` is
    the mean of the predicted distributions and the score is the exponential
    of the mean KL divergence. It ranges from 1 (every prediction equal) to
    the number of classes (confident predictions spread evenly over all
    classes).

    Args:
        probabilities: array `[N, K]`. Predicted class distributions (rows
            sum to 1).
        splits: int. Number of groups. Defaults to `10` (the paper's
            setting, on 50,000 samples).
        eps: float. Guards `log(0)`; terms with `p = 0` contribute 0.

    Returns:
        `(mean, std)` over the splits.

    Reference:
        Salimans et al., "Improved Techniques for Training GANs", NeurIPS
        2016.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            "`probabilities` should be an array [num_samples, num_classes] "
            f"with at least 2 classes. Received shape {p.shape}."
        )
    if np.any(p < -1e-6) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            "`probabilities` rows should be probability distributions "
            "(non-negative, summing to 1). Apply a softmax to logits first."
        )
    splits = int(splits)
    if splits < 1 or splits > p.shape[0]:
        raise ValueError(
            f"`splits` should be between 1 and the number of samples "
            f"({p.shape[0]}). Received: `splits={splits}`"
        )
    p = np.clip(p, 0.0, None)
    scores = []
    for part in np.array_split(p, splits, axis=0):
        py = part.mean(axis=0, keepdims=True)                  # [1, K]
        kl = np.where(part > 0,
                      part * (np.log(part + eps) - np.log(py + eps)), 0.0)
        scores.append(np.exp(kl.sum(axis=1).mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())
