"""`ResumableBatches.blocks()` and the `tf.data` pipeline the run trains on
hold the very batches of `stream()`, in its order, from any position."""

import numpy as np
import pytest

from keras_gan_stable.callbacks.checkpoint import ResumableBatches


def _stream_batches(data, n):
    it = data.stream()
    return [next(it) for _ in range(n)]


def _block_batches(data, n, **kwargs):
    out, it = [], data.blocks(**kwargs)
    while len(out) < n:
        block = next(it)
        assert isinstance(block, tuple)
        k = len(block[0])
        assert all(len(part) == k for part in block)
        out.extend(tuple(part[i] for part in block) for i in range(k))
    return out[:n]


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert len(u) == len(v)
        for p, q in zip(u, v):
            np.testing.assert_array_equal(p, q)  # a copy: exactly equal


@pytest.mark.parametrize("labels", [False, True])
@pytest.mark.parametrize("start", [(0, 0), (2, 3)])
def test_blocks_are_the_stream_from_any_position(labels, start):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(53, 3, 2)).astype("float32")
    y = rng.integers(0, 4, size=53) if labels else None
    data = ResumableBatches(x, 4, y=y, seed=7, steps_per_epoch=11)
    data.set_state({"epoch": start[0], "batch": start[1]})
    n = 40  # crosses three epoch boundaries
    want = _stream_batches(data, n)
    # Blocks of at most 3 batches, then blocks limited by bytes (96 bytes
    # of images a batch, labels on top); both are cut at each epoch's end.
    _assert_same(_block_batches(data, n, max_batches=3), want)
    _assert_same(_block_batches(data, n, max_bytes=5 * 96 + 1), want)
    # The first block ends at the epoch's end (batch 11 of 11).
    first = next(data.blocks(max_batches=64))
    assert len(first[0]) == 11 - start[1]


def test_tf_dataset_holds_the_stream():
    pytest.importorskip("tensorflow", reason="the tf.data pipeline of blocks "
                        "is built on TensorFlow only (the default backend; CI "
                        "installs it)")
    from keras_gan_stable.backend import tf_data

    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 3, size=30).astype("int32")
    data = ResumableBatches(x, 6, y=y, seed=3)
    data.set_state({"epoch": 1, "batch": 2})
    want = _stream_batches(data, 12)
    dataset = tf_data.batches_dataset(data)
    # The batch dimension is left open, as for Keras' generator adapter.
    assert [s.shape.as_list() for s in dataset.element_spec] == [
        [None, 4, 4, 1], [None]]
    got = [tuple(t.numpy() for t in b) for b in dataset.take(12)]
    _assert_same(got, want)
