"""Mode coverage and KL to the uniform class distribution (Stacked MNIST)."""

import collections

import numpy as np

ModeCoverage = collections.namedtuple("ModeCoverage", ["modes", "kl"])


def stacked_labels(digit_labels, base=10):
    """Joins per-channel class labels `[N, C]` into one mode index `[N]`.

    Stacked MNIST stacks three digits as RGB channels: its 1,000 modes are
    `100 * d_0 + 10 * d_1 + d_2`.
    """
    d = np.asarray(digit_labels)
    if d.ndim != 2:
        raise ValueError(
            "`digit_labels` should be [num_samples, num_channels]. Received "
            f"shape {d.shape}."
        )
    weights = base ** np.arange(d.shape[1] - 1, -1, -1)
    return (d.astype(np.int64) * weights[None, :]).sum(axis=1)


def mode_coverage(predictions, num_classes=None, min_count=1):
    """Number of modes covered and KL(generated histogram || uniform).

    A classifier labels every generated sample; a mode (class) is covered
    when at least `min_count` samples fall in it. The KL divergence of the
    generated class histogram `p` from the uniform distribution over
    `num_classes` modes, `sum_k p_k log(p_k * K)`, is 0 for perfectly
    balanced samples and `log K` when all samples share one mode.

    Args:
        predictions: int array `[N]` of predicted classes, or probabilities
            `[N, K]` (their argmax is used).
        num_classes: int or `None`. Number of modes `K`; defaults to `K` of
            the probabilities, required for integer predictions.
        min_count: int. Samples needed to count a mode as covered. Defaults
            to `1` (the Stacked MNIST convention).

    Returns:
        `ModeCoverage(modes, kl)`.

    Reference:
        Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017;
        Lin et al., "PacGAN: The power of two samples in generative
        adversarial networks", NeurIPS 2018.
    """
    pred = np.asarray(predictions)
    if pred.ndim == 2:
        if num_classes is None:
            num_classes = pred.shape[1]
        pred = pred.argmax(axis=1)
    if pred.ndim != 1:
        raise ValueError(
            "`predictions` should be class indices [N] or probabilities "
            f"[N, K]. Received shape {pred.shape}."
        )
    if num_classes is None:
        raise ValueError(
            "Pass `num_classes` (the number of modes) with integer "
            "predictions."
        )
    num_classes = int(num_classes)
    if num_classes < 1:
        raise ValueError(
            f"`num_classes` should be >= 1. Received: `num_classes={num_classes}`"
        )
    if pred.size == 0:
        raise ValueError("`predictions` is empty.")
    if pred.min() < 0 or pred.max() >= num_classes:
        raise ValueError(
            f"Predicted classes should lie in [0, {num_classes}). Received "
            f"values in [{pred.min()}, {pred.max()}]."
        )
    if int(min_count) < 1:
        raise ValueError(
            f"`min_count` should be >= 1. Received: `min_count={min_count}`"
        )
    counts = np.bincount(pred.astype(np.int64), minlength=num_classes)
    p = counts / counts.sum()
    nz = p > 0
    kl = float(np.sum(p[nz] * np.log(p[nz] * num_classes)))
    return ModeCoverage(int(np.sum(counts >= int(min_count))), kl)


def mixture_scores(samples, centres, std):
    """The VEEGAN/PacGAN metrics of 2D samples against a Gaussian mixture.

    A sample is "high quality" when it lies within 3 standard deviations of
    its nearest mode; a mode is covered when at least one high-quality
    sample is nearest to it; the reverse KL is KL(p || uniform) of the
    histogram `p` of the high-quality samples over the modes.

    Args:
        samples: array `[N, D]`.
        centres: array `[K, D]` of the modes.
        std: float. The modes' standard deviation.

    Returns:
        A dict with `modes`, `num_modes`, `high_quality` (a share) and
        `reverse_kl` (inf when no sample is high quality).

    Reference:
        Srivastava et al., "VEEGAN", NeurIPS 2017; Lin et al., "PacGAN",
        NeurIPS 2018.
    """
    samples = np.asarray(samples, "float64")
    centres = np.asarray(centres, "float64")
    dist = np.linalg.norm(samples[:, None, :] - centres[None], axis=-1)
    nearest = dist.argmin(axis=1)
    good = dist.min(axis=1) <= 3.0 * float(std)
    k = len(centres)
    counts = np.bincount(nearest[good], minlength=k).astype("float64")
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
    else:
        reverse_kl = float("inf")
    return {"modes": int((counts > 0).sum()), "num_modes": k,
            "high_quality": float(good.mean()), "reverse_kl": reverse_kl}
