"""Captions -> padded token ids, with `keras.layers.TextVectorization`."""

import warnings

import numpy as np

PAD_ID = 0
OOV_ID = 1
OOV_TOKEN = "[UNK]"


class CaptionTokenizer:
    """Turns captions into fixed-length int32 token ids.

    Built on `keras.layers.TextVectorization` (lower-cased, punctuation
    stripped, split on whitespace): id 0 is padding and id 1 the
    out-of-vocabulary token `"[UNK]"`. The vocabulary comes from the
    training captions (`adapt`) or is passed in.

    Behaviour at the edges (each documented and tested):

    - a word not in the vocabulary becomes `OOV_ID` (1), `"[UNK]"`;
    - an empty caption (no word left after standardisation) raises
      `ValueError` naming its index;
    - a caption longer than `max_length` words keeps its first `max_length`
      words and a `UserWarning` says how many captions were cut.

    `TextVectorization` runs on TensorFlow's string ops whatever the Keras
    backend (TensorFlow must be installed); the ids come back as NumPy, so
    the text encoder and the GANs that take them stay backend-agnostic.

    Args:
        max_length: int. Token ids per caption (padded with 0). Defaults
            to 18 (AttnGAN's CUB setting).
        max_tokens: int or `None`. Largest vocabulary, padding and `"[UNK]"`
            included. Defaults to `None` (every training word).
        vocabulary: list of str or `None`. The words (without padding and
            `"[UNK]"`), instead of `adapt`. Defaults to `None`.

    >>> tok = CaptionTokenizer(max_length=8)
    >>> tok.adapt(["a red circle", "a blue square"])
    >>> tok(["a red square"]).shape
    (1, 8)
    """

    def __init__(self, max_length=18, max_tokens=None, vocabulary=None):
        if (isinstance(max_length, bool)
                or not isinstance(max_length, (int, np.integer))
                or max_length < 1):
            raise ValueError(
                "`max_length` should be a positive integer. Received: "
                f"`max_length={max_length!r}`")
        if max_tokens is not None and (
                isinstance(max_tokens, bool)
                or not isinstance(max_tokens, (int, np.integer))
                or max_tokens < 3):
            raise ValueError(
                "`max_tokens` should be None or an integer >= 3 (padding, "
                f"[UNK] and one word). Received: `max_tokens={max_tokens!r}`")
        self.max_length = int(max_length)
        self.max_tokens = None if max_tokens is None else int(max_tokens)
        self._layer = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)

    def _make_layer(self, vocabulary=None):
        import keras

        return keras.layers.TextVectorization(
            max_tokens=self.max_tokens, output_mode="int",
            vocabulary=vocabulary)

    def adapt(self, captions):
        """Builds the vocabulary from training captions (list of str)."""
        captions = self._check_captions(captions)
        self._layer = self._make_layer()
        self._layer.adapt(captions)

    def set_vocabulary(self, vocabulary):
        vocabulary = [str(w) for w in vocabulary]
        if not vocabulary:
            raise ValueError(
                "`vocabulary` should hold at least one word. Received: "
                f"`vocabulary={vocabulary!r}`")
        self._layer = self._make_layer(vocabulary)

    def get_vocabulary(self):
        """The words by id: `""` (padding), `"[UNK]"`, then the words."""
        self._check_ready()
        return list(self._layer.get_vocabulary())

    @property
    def vocabulary_size(self):
        self._check_ready()
        return int(self._layer.vocabulary_size())

    def _check_ready(self):
        if self._layer is None:
            raise ValueError(
                "This CaptionTokenizer has no vocabulary yet. Call "
                "`adapt(training_captions)` or pass `vocabulary=`.")

    def _check_captions(self, captions):
        if isinstance(captions, str):
            captions = [captions]
        captions = list(captions)
        for i, c in enumerate(captions):
            if not isinstance(c, str):
                raise ValueError(
                    f"Captions should be strings. Received {c!r} of type "
                    f"{type(c).__name__} at index {i}.")
        if not captions:
            raise ValueError("Received no captions (an empty list).")
        return captions

    def __call__(self, captions):
        """Captions (a str or a list of str) -> int32 ids `[N, max_length]`."""
        import keras

        self._check_ready()
        captions = self._check_captions(captions)
        ids = keras.ops.convert_to_numpy(self._layer(captions))
        ids = np.asarray(ids, "int32").reshape(len(captions), -1)
        lengths = (ids != PAD_ID).sum(axis=1)
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            i = int(empty[0])
            raise ValueError(
                f"Caption {i} is empty after standardisation: "
                f"{captions[i]!r}. Every caption needs at least one word.")
        long = np.flatnonzero(lengths > self.max_length)
        if long.size:
            i = int(long[0])
            warnings.warn(
                f"{long.size} caption(s) longer than max_length="
                f"{self.max_length} words were truncated to their first "
                f"{self.max_length} words (e.g. caption {i}, "
                f"{int(lengths[i])} words: {captions[i]!r}).",
                UserWarning, stacklevel=2)
        out = np.zeros((len(captions), self.max_length), "int32")
        width = min(self.max_length, ids.shape[1])
        out[:, :width] = ids[:, :width]
        return out

    def get_config(self):
        vocabulary = None
        if self._layer is not None:
            vocabulary = self.get_vocabulary()[2:]
        return {"max_length": self.max_length, "max_tokens": self.max_tokens,
                "vocabulary": vocabulary}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
