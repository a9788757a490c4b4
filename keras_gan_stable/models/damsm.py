"""DAMSM: AttnGAN's deep attentional multimodal similarity model."""

import keras
from keras import ops

_NEG = -1e9  # masked logits: exp(_NEG) is 0 in float32


def _cosine(a, b):
    # eps inside the roots: a padded word's feature is zero, and sqrt has
    # an infinite derivative at 0 (masked terms would still give NaN).
    num = ops.sum(a * b, axis=-1)
    den = (ops.sqrt(ops.sum(ops.square(a), axis=-1) + 1e-12)
           * ops.sqrt(ops.sum(ops.square(b), axis=-1) + 1e-12))
    return num / den


def word_match_scores(words, mask, local, gamma1=5.0, gamma2=5.0):
    """Word-level matching scores `R(Q_j, D_i)` for every caption/image pair.

    Args:
        words: `[B, T, D]` word features `e` of the captions.
        mask: `[B, T]` bool, True at words (False at padding).
        local: `[B, H, W, D]` region features `v` of the images.
        gamma1, gamma2: AttnGAN's attention sharpness and word-pooling
            factors.

    Returns `[B_captions, B_images]`: for caption `i` and image `j`, the
    similarity `s = e^T v` (`[T, N]`) is normalised over words (Eq. 8),
    each word attends to the regions with `softmax(gamma1 s_bar)` over
    regions (Eq. 9) giving a region-context vector `c_t`, and
    `R = log(sum_t exp(gamma2 cos(c_t, e_t))) / gamma2` over the caption's
    words (Eq. 10).
    """
    words = ops.cast(words, "float32")
    local = ops.cast(local, "float32")
    b = ops.shape(local)[0]
    regions = ops.reshape(local, (b, -1, ops.shape(local)[-1]))  # [B, N, D]
    mask = ops.cast(mask, "bool")
    s = ops.einsum("itd,jnd->ijtn", words, regions)  # [Bc, Bi, T, N]
    s = ops.where(mask[:, None, :, None], s, _NEG)
    s_bar = ops.softmax(s, axis=2)  # Eq. 8: over the words
    alpha = ops.softmax(gamma1 * s_bar, axis=3)  # Eq. 9: over the regions
    context = ops.einsum("ijtn,jnd->ijtd", alpha, regions)  # [Bc, Bi, T, D]
    r = _cosine(context, words[:, None])  # [Bc, Bi, T]
    r = ops.where(mask[:, None, :], gamma2 * r, _NEG)
    return ops.logsumexp(r, axis=2) / gamma2  # Eq. 10


def sentence_match_scores(sentence, global_):
    """`cos(e_bar_i, v_bar_j)`: `[B_captions, B_images]`."""
    sentence = ops.cast(sentence, "float32")
    global_ = ops.cast(global_, "float32")
    return _cosine(sentence[:, None, :], global_[None, :, :])


def matching_losses(scores, gamma3=10.0):
    """`(L1, L2)` of AttnGAN's Eqs. 11-13 from scores `[B_captions, B_images]`.

    `L1 = -mean_i log P(D_i | Q_i)` (image `i` picks its caption among the
    batch's captions) and `L2 = -mean_i log P(Q_i | D_i)` (caption `i`
    picks its image), with `P` a softmax of `gamma3 * scores`. The paper
    sums over the batch; the mean keeps the scale independent of the batch
    size (AttnGAN's code does the same through cross-entropy).
    """
    logits = gamma3 * ops.cast(scores, "float32")
    l1 = -ops.mean(ops.diagonal(ops.log_softmax(logits, axis=0)))
    l2 = -ops.mean(ops.diagonal(ops.log_softmax(logits, axis=1)))
    return l1, l2


def damsm_losses(words, mask, sentence, local, global_, gamma1=5.0,
                 gamma2=5.0, gamma3=10.0):
    """DAMSM's four terms: `{"w1", "w2", "s1", "s2"}` (word, sentence)."""
    w1, w2 = matching_losses(
        word_match_scores(words, mask, local, gamma1, gamma2), gamma3)
    s1, s2 = matching_losses(sentence_match_scores(sentence, global_),
                             gamma3)
    return {"w1": w1, "w2": w2, "s1": s1, "s2": s2}


@keras.saving.register_keras_serializable(package="keras_gan_stable")
class DAMSM(keras.Model):
    """AttnGAN's DAMSM, pretrained with `fit()` on images and their captions.

    An image encoder (region features `v` and a global feature `v_bar`) and
    a text encoder (word features `e` and a sentence feature `e_bar`) are
    trained jointly so that matching image/caption pairs of a batch score
    higher than mismatched ones, at the word level (each word attends to
    the regions) and at the sentence level:
    `L_DAMSM = L1^w + L2^w + L1^s + L2^s` (Eqs. 8-13, see
    `damsm_losses`). The other pairs of the batch are the negatives.

    Batches are dicts `{"images": [B, S, S, C], "captions": [B, T] int}`
    or tuples `(images, captions)` as `x`, or images as `x` and the
    captions as `y` (`fit(images, ids)`, or a dataset of `(images, ids)`
    pairs), the captions being token ids from `CaptionTokenizer` (0 =
    padding). Compile with an optimizer only: the loss is the model's own.

    Args:
        image_encoder: `keras.Model` images -> `(local [B, R, R, D], global
            [B, D])`, e.g. `damsm_image_encoder`.
        text_encoder: layer token ids -> `(words [B, T, D], sentence [B,
            D])`, e.g. `BiLSTMTextEncoder`.
        gamma1: float. Attention sharpness over regions (Eq. 9). Defaults
            to 5.0 (the paper; AttnGAN's CUB config uses 4.0).
        gamma2: float. Word-pooling factor (Eq. 10). Defaults to 5.0.
        gamma3: float. Smoothing factor of the posteriors (Eq. 11).
            Defaults to 10.0.

    >>> damsm = DAMSM(damsm_image_encoder(32, 64),
    ...               BiLSTMTextEncoder(tok.vocabulary_size, 64, 64))
    >>> damsm.compile(optimizer=keras.optimizers.Adam(2e-4))
    >>> damsm.fit({"images": x, "captions": tok(captions)}, batch_size=32)
    >>> r_precision(damsm.encode_images(x), damsm.encode_captions(ids))

    Reference:
        Xu et al., "AttnGAN: Fine-Grained Text to Image Generation with
        Attentional Generative Adversarial Networks", CVPR 2018.
    """

    def __init__(self, image_encoder, text_encoder, gamma1=5.0, gamma2=5.0,
                 gamma3=10.0, **kwargs):
        super().__init__(**kwargs)
        for key, value in (("gamma1", gamma1), ("gamma2", gamma2),
                           ("gamma3", gamma3)):
            try:
                value = float(value)
            except (TypeError, ValueError):
                value = float("nan")
            if not value > 0:
                raise ValueError(
                    f"`{key}` should be a positive number. Received: "
                    f"`{key}={value!r}`")
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.gamma1 = float(gamma1)
        self.gamma2 = float(gamma2)
        self.gamma3 = float(gamma3)

    @staticmethod
    def _split(inputs):
        if isinstance(inputs, dict) and {"images", "captions"} <= set(inputs):
            return inputs["images"], inputs["captions"]
        if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
            return inputs[0], inputs[1]
        if isinstance(inputs, dict) or isinstance(inputs, (tuple, list)):
            what = (f"a dict with keys {sorted(inputs)}"
                    if isinstance(inputs, dict)
                    else f"a {type(inputs).__name__} of {len(inputs)}")
            raise ValueError(
                "DAMSM takes {'images': [B, S, S, C], 'captions': [B, T] "
                "token ids}, a pair (images, captions), or images as x and "
                f"the captions as y. Received {what}.")
        return inputs, None  # images only: the captions come as `y`

    def _text_features(self, captions, training):
        captions = ops.cast(captions, "int32")
        words, sentence = self.text_encoder(captions, training=training)
        return {"words": words, "sentence": sentence,
                "mask": ops.not_equal(captions, 0)}

    def call(self, inputs, training=False):
        images, captions = self._split(inputs)
        local, global_ = self.image_encoder(images, training=training)
        out = {"local": local, "global": global_}
        if captions is not None:
            out.update(self._text_features(captions, training))
        return out

    def loss_terms(self, y_pred):
        """The four loss terms of `damsm_losses` from `call`'s outputs."""
        return damsm_losses(y_pred["words"], y_pred["mask"],
                            y_pred["sentence"], y_pred["local"],
                            y_pred["global"], self.gamma1, self.gamma2,
                            self.gamma3)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        if "words" not in y_pred:
            # `fit(images, captions)` or a dataset of (images, captions)
            # pairs: Keras passes the captions as `y`.
            if y is None:
                raise ValueError(
                    "DAMSM got images without captions. Pass "
                    "{'images': ..., 'captions': ...} as x, or the token ids "
                    "as y.")
            y_pred = {**y_pred, **self._text_features(y, training)}
        terms = self.loss_terms(y_pred)
        loss = terms["w1"] + terms["w2"] + terms["s1"] + terms["s2"]
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def encode_images(self, images, batch_size=256):
        """Images -> global features `[N, D]` as NumPy."""
        import numpy as np

        out = [ops.convert_to_numpy(self.image_encoder(
            images[i:i + batch_size], training=False)[1])
            for i in range(0, len(images), batch_size)]
        return np.concatenate(out)

    def encode_captions(self, captions, batch_size=256):
        """Token ids -> sentence features `[N, D]` as NumPy."""
        import numpy as np

        out = [ops.convert_to_numpy(self.text_encoder(
            ops.cast(captions[i:i + batch_size], "int32"),
            training=False)[1]) for i in range(0, len(captions), batch_size)]
        return np.concatenate(out)

    def get_config(self):
        return {**super().get_config(),
                "image_encoder": keras.saving.serialize_keras_object(
                    self.image_encoder),
                "text_encoder": keras.saving.serialize_keras_object(
                    self.text_encoder),
                "gamma1": self.gamma1, "gamma2": self.gamma2,
                "gamma3": self.gamma3}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("image_encoder", "text_encoder"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        return cls(**config)
