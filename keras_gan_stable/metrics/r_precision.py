"""R-precision of text-to-image models (AttnGAN's DAMSM protocol).

For each generated image, its true caption and `num_candidates - 1`
captions of other samples are ranked by the cosine similarity of their
text features to the image's features; R-precision is the fraction of
images whose true caption ranks first (one relevant caption, R = 1).
"""

import numpy as np
import keras


def _as_features(x, name):
    x = np.asarray(x, "float64")
    if x.ndim != 2 or not x.shape[0]:
        raise ValueError(
            f"`{name}` should be a non-empty array [N, D] of features. "
            f"Received shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` contains NaN or Inf values.")
    return x


def r_precision(image_features, text_features, num_candidates=100, seed=0):
    """R-precision from paired features (row `i` of both is one sample).

    Each image `i` is compared with its own caption and
    `num_candidates - 1` distinct captions drawn from the other samples
    (without replacement, from `seed`); it counts when its own caption's
    cosine similarity is strictly the highest (a tie counts as a miss, so
    constant features score 0, not 1).

    Args:
        image_features: array `[N, D]`.
        text_features: array `[N, D]` (the same `D`).
        num_candidates: int. Captions ranked per image, the true one
            included. Defaults to 100 (AttnGAN's protocol); needs
            `N >= num_candidates`.
        seed: int. Seed of the candidate draws. AttnGAN reports the mean
            and standard deviation over several draws: call with several
            seeds.

    Returns:
        float in [0, 1]. Chance level is `1 / num_candidates`.

    >>> r_precision(np.eye(200), np.eye(200))
    1.0

    Reference:
        Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with
        Attentional Generative Adversarial Networks", CVPR 2018.
    """
    img = _as_features(image_features, "image_features")
    txt = _as_features(text_features, "text_features")
    if img.shape != txt.shape:
        raise ValueError(
            "`image_features` and `text_features` should have the same "
            f"shape [N, D]. Received {img.shape} and {txt.shape}.")
    n = img.shape[0]
    k = num_candidates
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or (
            k < 2 or k > n):
        raise ValueError(
            f"`num_candidates` should be an integer in [2, N={n}] (the true "
            f"caption and k - 1 others). Received: `num_candidates={k!r}`. "
            "Pass more samples or fewer candidates.")
    # Cosine similarity; an all-zero feature row has similarity 0.
    img = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)
    txt = txt / np.maximum(np.linalg.norm(txt, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(int(seed))
    hits = 0
    for i in range(n):
        others = rng.choice(n - 1, size=k - 1, replace=False)
        others = others + (others >= i)  # skip the true caption's index
        true_sim = img[i] @ txt[i]
        hits += bool(true_sim > np.max(txt[others] @ img[i]))
    return hits / n


def _encode(encoder, data, batch_size, name):
    out = []
    for start in range(0, len(data), batch_size):
        batch = data[start:start + batch_size]
        feats = encoder(batch)
        if isinstance(feats, (tuple, list)):
            feats = feats[-1]  # (words, sentence): the sentence feature
        feats = np.asarray(keras.ops.convert_to_numpy(feats), "float64")
        if feats.ndim != 2 or feats.shape[0] != len(batch):
            raise ValueError(
                f"`{name}` should map a batch of n inputs to features "
                "[n, D] (or (words, sentence) with sentence [n, D]). "
                f"Received shape {feats.shape} for {len(batch)} inputs.")
        out.append(feats)
    return np.concatenate(out)


def encoder_r_precision(image_encoder, text_encoder, images, captions,
                        num_candidates=100, seed=0, batch_size=100):
    """R-precision of `images` for `captions` under an encoder pair.

    Args:
        image_encoder: callable mapping images `[n, H, W, C]` to features
            `[n, D]` (a DAMSM image encoder, or any other).
        text_encoder: callable mapping a batch of captions (as the encoder
            takes them, e.g. token ids `[n, T]`) to features `[n, D]` or to
            `(words, sentence)` as `BiLSTMTextEncoder` does (the sentence
            feature is used).
        images: array `[N, H, W, C]`, e.g. generated for `captions`.
        captions: array or list of `N` captions in the text encoder's
            input form.
        num_candidates, seed: as for `r_precision`.
        batch_size: int. Inputs per encoder call.

    Use encoders trained separately from any text-matching loss the model
    was trained with (AttnGAN's DAMSM in the loss would otherwise grade
    itself).
    """
    if len(images) != len(captions):
        raise ValueError(
            f"{len(images)} images and {len(captions)} captions: pass one "
            "caption per image.")
    img = _encode(image_encoder, images, int(batch_size), "image_encoder")
    txt = _encode(text_encoder, captions, int(batch_size), "text_encoder")
    return r_precision(img, txt, num_candidates=num_candidates, seed=seed)
