"""An independent check of generated digits: which classes a person sees.

An RBF support-vector classifier trained on scikit-learn's 8x8 handwritten
digits (the data the main job trains on, in their native 8x8 form, values
0-16) labels generated samples after area-averaging them back to 8x8. It
shares nothing with the library's own metrics (no Keras, no learned
features), so it cannot agree with them by construction.
"""

import numpy as np


def digit_classifier():
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    d = load_digits()
    return SVC(gamma=0.001, probability=True, random_state=0).fit(
        d.data, d.target)


def to_8x8(images):
    """`[N, H, W, 1]` images in [-1, 1], H and W multiples of 8 -> `[N, 64]`
    in the digits' 0-16 scale, by area averaging."""
    x = (np.asarray(images, "float64")[..., 0] + 1.0) / 2.0 * 16.0
    n, h, w = x.shape
    x = x.reshape(n, 8, h // 8, 8, w // 8).mean(axis=(2, 4))
    return x.reshape(n, 64)


def digit_coverage(images, classifier=None, min_share=0.03):
    """`(classes with >= min_share of the samples, KL to uniform in nats,
    mean top-class probability, shares)` of `images` under the classifier."""
    clf = classifier or digit_classifier()
    probs = clf.predict_proba(to_8x8(images))
    pred = probs.argmax(axis=1)
    shares = np.bincount(pred, minlength=10) / len(pred)
    nz = shares > 0
    kl = float(np.sum(shares[nz] * np.log(shares[nz] * 10)))
    return int(np.sum(shares >= min_share)), kl, float(
        probs.max(axis=1).mean()), shares
