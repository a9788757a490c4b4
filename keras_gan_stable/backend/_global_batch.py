"""Replica helpers for backends whose step sees the global batch.

Under JAX, `keras.distribution` shards the global batch inside one program,
and the PyTorch backend trains on one device: either way the step already
sees the whole batch, so there is nothing to rescale or agree on.
"""


def num_replicas_in_sync():
    return 1


def replica_id_in_sync():
    return 0


def all_replicas(flag):
    # A decision taken on the global batch is already everyone's.
    return flag


def assert_divisible(n, k, message):
    # JAX traces and PyTorch runs with concrete batch sizes, which the GAN
    # step checks itself.
    return None
