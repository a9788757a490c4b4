"""Training on several devices and machines with the engines users already run.

The GAN trains data-parallel through each backend's own machinery:

| backend    | one machine, several devices      | several machines                 |
| ---------- | --------------------------------- | -------------------------------- |
| TensorFlow | `MirroredStrategy`                | `MultiWorkerMirroredStrategy`    |
| JAX        | `keras.distribution.DataParallel` | the same, after `keras.distribution.initialize()` |
| PyTorch    | not supported (one device)        | not supported                    |

What this module adds on top:

- `get_strategy()` builds the right `tf.distribute` strategy (with a bounded
  collective time-out, so a dead worker gives an error instead of a hang),
  `data_parallel()` sets `keras.distribution.DataParallel` on JAX; both
  refuse, with a clear message, on backends where they cannot work.
- `distribute_dataset()` hands each TensorFlow replica its part of a global
  batch so that a step on `R` replicas computes exactly the step of one
  device on the global batch (see `shard_batch()` for the layout).
- `SyncBatchNormalization`: BatchNorm whose statistics cover the global batch
  on every backend.
- `is_chief()`: whether this process writes checkpoints, samples and logs
  (`callbacks.ResumableCheckpoint(dir, strategy=...)` writes once, by the chief).
- `worker_failure_errors()`: turns the collective errors raised when a peer
  dies into one `WorkerFailureError` that says what to do.

Losses are averaged over the global batch: `GAN._reduce` divides the
per-replica sum by `B_local * R`, and Keras' TF optimizer sums the gradients
of the replicas (no further scaling), so an `R`-replica step equals the step
of one device on the concatenated batch. See `docs/distributed.md`.
"""

import contextlib
import json
import os

import keras

__all__ = [
    "SyncBatchNormalization",
    "WorkerFailureError",
    "data_parallel",
    "distribute_dataset",
    "get_strategy",
    "is_chief",
    "num_replicas",
    "shard_batch",
    "worker_failure_errors",
]

_TORCH_UNSUPPORTED = (
    "Multi-device training is not supported on the PyTorch backend of "
    "keras-gan-stable: Keras 3 implements `keras.distribution` for JAX, and "
    "the GAN's train step does not wrap torch DistributedDataParallel. On "
    "PyTorch the GAN trains on one device (CPU or one GPU). For several "
    "devices or machines use KERAS_BACKEND=tensorflow (tf.distribute) or "
    "KERAS_BACKEND=jax (keras.distribution.DataParallel)."
)


def _backend():
    return keras.backend.backend()


def _tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        raise ValueError(
            "The environment variable TF_CONFIG is not valid JSON. Received: "
            f"TF_CONFIG={raw!r}. It should look like {{\"cluster\": "
            "{\"worker\": [\"host1:port\", \"host2:port\"]}, \"task\": "
            "{\"type\": \"worker\", \"index\": 0}}."
        ) from None


def _cluster_size(config):
    cluster = config.get("cluster", {})
    return sum(len(cluster.get(k, [])) for k in ("chief", "worker"))


def get_strategy(devices=None, multi_worker=None, timeout_seconds=None):
    """Returns the `tf.distribute` strategy for data-parallel GAN training.

    Build and compile the GAN (and create its optimizers) inside
    `strategy.scope()`: Keras' TensorFlow optimizer binds the strategy when
    it is created, and sums the replicas' gradients when it applies them.

    Args:
        devices: list of device names for `MirroredStrategy` (for example
            `["/gpu:0", "/gpu:1"]`), or `None` for every visible GPU (or the
            CPU when there is none). Ignored across machines.
        multi_worker: bool or `None`. `True` builds a
            `MultiWorkerMirroredStrategy` from `TF_CONFIG`; `None` does so
            when `TF_CONFIG` lists more than one worker. Defaults to `None`.
        timeout_seconds: float or `None`. Time-out of each cross-worker
            collective: when a worker dies, the others fail with an error
            after this long instead of waiting for ever. Only used across
            machines. Defaults to `None` (TensorFlow's default: no limit).

    Returns:
        A `tf.distribute.MirroredStrategy` or
        `tf.distribute.MultiWorkerMirroredStrategy`.

    >>> strategy = get_strategy()
    >>> with strategy.scope():
    ...     gan = GAN(generator, discriminator, latent_dim=128)
    ...     gan.compile(loss="wasserstein", penalty="gp")
    """
    if _backend() != "tensorflow":
        if _backend() == "torch":
            raise NotImplementedError(_TORCH_UNSUPPORTED)
        raise ValueError(
            "`get_strategy()` builds a tf.distribute strategy and needs "
            f"KERAS_BACKEND=tensorflow. Received: backend={_backend()!r}. On "
            "JAX use `keras_gan_stable.distribute.data_parallel()`."
        )
    if timeout_seconds is not None and not float(timeout_seconds) > 0:
        raise ValueError(
            "`timeout_seconds` should be a positive number of seconds or "
            f"None. Received: `timeout_seconds={timeout_seconds!r}`"
        )
    import tensorflow as tf

    config = _tf_config()
    if multi_worker is None:
        multi_worker = _cluster_size(config) > 1
    if multi_worker:
        if not config:
            raise ValueError(
                "`multi_worker=True` needs the environment variable TF_CONFIG "
                "(the cluster's worker addresses and this task's index). "
                "Received: TF_CONFIG is not set."
            )
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=None if timeout_seconds is None
            else float(timeout_seconds))
        return tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options)
    return tf.distribute.MirroredStrategy(devices)


def data_parallel(devices=None):
    """Sets and returns `keras.distribution.DataParallel` (JAX backend).

    Every later `fit()` then shards each global batch over `devices` along
    the batch axis and replicates the variables; the train step sees the
    global batch, so losses, penalties and BatchNorm statistics are exact
    global-batch quantities. In a multi-process job call
    `keras.distribution.initialize()` (which wraps
    `jax.distributed.initialize()`) first.

    Args:
        devices: list of JAX devices or device strings, or `None` for all
            devices (of every process).

    Returns:
        The `keras.distribution.DataParallel` now in effect.
    """
    if _backend() == "torch":
        raise NotImplementedError(_TORCH_UNSUPPORTED)
    if _backend() != "jax":
        raise ValueError(
            "`data_parallel()` uses keras.distribution, which keras-gan-stable "
            "supports on KERAS_BACKEND=jax. Received: "
            f"backend={_backend()!r}. On TensorFlow use "
            "`keras_gan_stable.distribute.get_strategy()`."
        )
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    return distribution


def num_replicas():
    """Number of data-parallel replicas the current training step runs on."""
    if _backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().num_replicas_in_sync
    if _backend() == "jax":
        distribution = keras.distribution.distribution()
        if isinstance(distribution, keras.distribution.DataParallel):
            return int(distribution.device_mesh.devices.size)
    return 1


def is_chief(strategy=None):
    """Whether this process should write checkpoints, samples and logs.

    TensorFlow: the task `chief`, or worker 0 when the cluster has no chief
    (read from the strategy's cluster resolver, else from `TF_CONFIG`).
    JAX: process 0. Otherwise `True`.
    """
    if _backend() == "jax":
        import jax

        return jax.process_index() == 0
    if _backend() != "tensorflow":
        return True
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is not None and resolver.task_type is not None:
        task_type, task_id = resolver.task_type, resolver.task_id
        cluster = resolver.cluster_spec().as_dict()
    else:
        config = _tf_config()
        task = config.get("task", {})
        task_type, task_id = task.get("type"), task.get("index", 0)
        cluster = config.get("cluster", {})
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    return task_type == "worker" and int(task_id) == 0 and "chief" not in cluster


# ---------------------------------------------------------------------- #
# Input pipeline
# ---------------------------------------------------------------------- #
def _split(x, parts):
    return [x[i * (x.shape[0] // parts):(i + 1) * (x.shape[0] // parts)]
            for i in range(parts)]


def shard_batch(batch, replica_id, num_replicas, n_critic=1):
    """The part of a global batch that replica `replica_id` trains on.

    A GAN step splits the batch it gets into `n_critic` consecutive
    discriminator batches. A global batch `[k * R * B, ...]` (`k = n_critic`,
    `R` replicas) is therefore cut so that discriminator update `i` of every
    replica sees its share of the global update `i`: replica `r` gets rows
    `[i * R * B + r * B, i * R * B + (r + 1) * B)` for `i = 0..k-1`, stacked.
    `"z_g"` (`[R * B, latent_dim]`) is cut into `R` consecutive parts. With
    this layout an `R`-replica step computes exactly the one-device step on
    the global batch.

    Args:
        batch: images `[k * R * B, ...]`, a tuple `(images, labels)`, or a
            dict with `"images"` and optionally `"labels"`, `"z"`, `"eps"`
            (all `[k * R * B, ...]`) and `"z_g"` (`[R * B, ...]`). NumPy
            arrays or tensors with a static batch size.
        replica_id: int. Index of the replica, `0 <= replica_id < R`.
        num_replicas: int. `R`.
        n_critic: int. The GAN's `n_critic`. Defaults to `1`.

    Returns:
        The same structure with the replica's rows.
    """
    if not 0 <= int(replica_id) < int(num_replicas):
        raise ValueError(
            f"`replica_id` should be in [0, {num_replicas}). Received: "
            f"`replica_id={replica_id}`"
        )
    k, num_replicas, r = int(n_critic), int(num_replicas), int(replica_id)

    def cut(x, key=None):
        if x is None:
            return None
        n = x.shape[0]
        if key == "z_g":
            if n is None or n % num_replicas:
                raise ValueError(
                    f"'z_g' has {n} rows, not a multiple of the {num_replicas} "
                    "replicas. Give a global batch with R * B rows of z_g."
                )
            return _split(x, num_replicas)[r]
        if n is None or n % (k * num_replicas):
            raise ValueError(
                f"A global batch of {n} rows cannot be split into n_critic="
                f"{k} discriminator batches on {num_replicas} replicas. Use a "
                f"global batch size that is a multiple of n_critic * replicas "
                f"= {k * num_replicas}."
            )
        parts = [_split(chunk, num_replicas)[r] for chunk in _split(x, k)]
        if len(parts) == 1:
            return parts[0]
        if _is_numpy(x):
            import numpy as np

            return np.concatenate(parts, axis=0)
        return keras.ops.concatenate(parts, axis=0)

    if isinstance(batch, dict):
        return {key: cut(value, key) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(cut(value) for value in batch)
    return cut(batch)


def _is_numpy(x):
    return type(x).__module__ == "numpy"


def distribute_dataset(strategy, dataset, n_critic=1):
    """Distributes a dataset of global batches over a TF strategy's replicas.

    Each element of `dataset` is one global batch, exactly as a one-device
    `fit()` would consume it (see `shard_batch()` for the accepted
    structures). Each replica receives its `shard_batch()` part, so the
    distributed training step equals the one-device step on the global batch,
    `n_critic` interleaving included. On several machines every worker must
    build the same sequence of global batches (same files, same seed); each
    keeps only its own replicas' parts.

    Pass the result to `gan.fit(..., steps_per_epoch=...)`.

    Args:
        strategy: a `tf.distribute` strategy.
        dataset: `tf.data.Dataset` of global batches with a static batch
            dimension (`batch(..., drop_remainder=True)`).
        n_critic: int. The GAN's `n_critic`. Defaults to `1`.

    Returns:
        A `tf.distribute.DistributedDataset`.
    """
    if _backend() != "tensorflow":
        raise ValueError(
            "`distribute_dataset()` feeds tf.distribute replicas and needs "
            f"KERAS_BACKEND=tensorflow. Received: backend={_backend()!r}. On "
            "JAX, `fit()` shards the global batch itself under "
            "`data_parallel()`."
        )
    import tensorflow as tf

    replicas = strategy.num_replicas_in_sync

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def parts(batch):
            shards = [shard_batch(batch, first + j, replicas, n_critic)
                      for j in range(local)]
            stacked = tf.nest.map_structure(
                lambda *xs: tf.stack(xs, axis=0), *shards)
            return tf.data.Dataset.from_tensor_slices(stacked)

        # Elements go to this worker's replicas in turn.
        return dataset.flat_map(parts)

    return strategy.distribute_datasets_from_function(dataset_fn)


# ---------------------------------------------------------------------- #
# Synchronised BatchNorm
# ---------------------------------------------------------------------- #
@keras.saving.register_keras_serializable(package="keras_gan_stable")
class SyncBatchNormalization(keras.layers.BatchNormalization):
    """BatchNorm whose batch statistics cover the global batch.

    Under a `tf.distribute` strategy each replica normally normalises with
    the mean and variance of its own part of the batch, so a GAN on `R`
    replicas of `B` images trains differently from one device with `R * B`
    images. This layer all-reduces the statistics across replicas
    (`keras.layers.BatchNormalization(synchronized=True)`) on TensorFlow.
    On JAX under `keras.distribution.DataParallel` the step sees the global
    batch, so plain BatchNorm statistics are already global and the layer is
    plain BatchNorm; likewise on one device and on PyTorch. A model saved
    with this layer loads on every backend.

    Use it in the generator. Gradient penalties forbid BatchNorm in the
    discriminator.

    Args:
        **kwargs: the arguments of `keras.layers.BatchNormalization`
            (`synchronized` is set by the layer).

    >>> x = SyncBatchNormalization(momentum=0.9)(x)

    Reference:
        Ioffe & Szegedy, "Batch Normalization", ICML 2015; Zhang et al.,
        "Context Encoding for Semantic Segmentation", CVPR 2018
        (cross-device BatchNorm).
    """

    def __init__(self, **kwargs):
        requested = kwargs.pop("synchronized", True)
        if not requested:
            raise ValueError(
                "SyncBatchNormalization always synchronises its statistics. "
                "Received: `synchronized=False`; use "
                "keras.layers.BatchNormalization for per-replica statistics."
            )
        super().__init__(synchronized=_backend() == "tensorflow", **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("synchronized", None)
        return config


# ---------------------------------------------------------------------- #
# Checkpoints and failures
# ---------------------------------------------------------------------- #
class WorkerFailureError(RuntimeError):
    """A peer worker stopped answering during multi-worker training."""


def _collective_errors():
    if _backend() != "tensorflow":
        return ()
    import tensorflow as tf

    return (tf.errors.DeadlineExceededError, tf.errors.UnavailableError,
            tf.errors.CancelledError, tf.errors.AbortedError,
            tf.errors.InternalError)


@contextlib.contextmanager
def worker_failure_errors(timeout_seconds=None):
    """Re-raises a failed cross-worker collective as `WorkerFailureError`.

    Wrap `fit()` in a multi-worker job. With a collective time-out
    (`get_strategy(timeout_seconds=...)`) and TensorFlow's peer health
    checks, a worker that dies makes the others fail within a bounded time;
    this context turns the low-level error into one that says what happened
    and what to do.

    >>> with worker_failure_errors():
    ...     gan.fit(dataset, epochs=10, callbacks=[ResumableCheckpoint(...)])
    """
    errors = _collective_errors()
    if not errors:
        yield
        return
    try:
        yield
    except errors as e:
        after = ("" if timeout_seconds is None
                 else f" (collective time-out {timeout_seconds} s)")
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        cause = next((line for line in lines if any(
            word in line.lower() for word in (
                "unhealthy", "abort", "deadline", "timed out", "timeout",
                "unavailable", "connect"))), lines[0] if lines else "")
        raise WorkerFailureError(
            "Multi-worker training stopped: another worker did not answer"
            f"{after}. It has probably died or lost its network connection. "
            "Restart every worker; resume from the last checkpoint "
            "(callbacks.ResumableCheckpoint with strategy=...). "
            f"Underlying error: {type(e).__name__}: {cause}"
        ) from e
