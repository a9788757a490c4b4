"""The one checkpoint system: exact, crash-safe checkpoints of a GAN run with
the `keras.callbacks.BackupAndRestore` contract, and the non-finite rollback.

A checkpoint is a directory `ckpt-<step>` holding:

- `state.npz`: the value of every variable of the model, in a fixed order
  (trainable, non-trainable, optimizer, metrics; de-duplicated), keyed by
  position and path. This covers G, D, the EMA generator, both optimizers'
  moments and `iterations`, every `SeedGenerator` state (the model's and the
  augmentation's), BatchNorm statistics, spectral-norm vectors, ADA's `p`,
  and the `images_seen` / `nonfinite_skips` counters.
- `meta.json`, written last: format version, step, epoch, image count,
  backend, SHA-256 and size of `state.npz`, the variables' paths and shapes,
  the data position (`data.get_state()`), and the `get_state()` of every
  callback of the run that has one (`ProgressiveGrowing` stage and alpha,
  `StabilityMonitor` history and events).

Both files are written into a temporary directory, flushed to disk, and
the directory is renamed into place (atomic on POSIX); the previous
checkpoints are kept (`keep`), and `manifest.json` (written atomically)
lists the complete ones, newest first. A checkpoint whose `meta.json` is missing
or unreadable, or whose `state.npz` does not match the recorded size and
checksum (a write cut short by a crash, a truncated copy), is reported
and skipped, and the next older one is used.
"""

import hashlib
import json
import os
import shutil
import time
import warnings

import keras
import numpy as np
from keras import ops

__all__ = [
    "ResumableCheckpoint",
    "clean_temporary_files",
    "ResumableBatches",
    "save_checkpoint",
    "restore_checkpoint",
    "list_checkpoints",
    "checkpoint_variables",
]

FORMAT_VERSION = 1
_PREFIX = "ckpt-"


def checkpoint_variables(model):
    """The variables a checkpoint holds, in a fixed order: `[(key, var)]`."""
    groups = [model.trainable_variables, model.non_trainable_variables]
    if getattr(model, "optimizer", None) is not None:
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    out, seen = [], set()
    for group in groups:
        for v in group:
            if id(v) in seen:
                continue
            seen.add(id(v))
            out.append((f"{len(out):05d}:{v.path}", v))
    return out


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without dir fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _step_of(model):
    opt = getattr(model, "g_optimizer", None) or getattr(model, "optimizer")
    return int(ops.convert_to_numpy(opt.iterations))


def list_checkpoints(directory):
    """Checkpoint directories under `directory`, newest (highest step) first."""
    if not os.path.isdir(directory):
        return []
    names = [n for n in os.listdir(directory)
             if n.startswith(_PREFIX) and n[len(_PREFIX):].isdigit()]
    names.sort(key=lambda n: int(n[len(_PREFIX):]), reverse=True)
    return [os.path.join(directory, n) for n in names]


def _write_json_atomic(path, obj):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_manifest(directory):
    entries = []
    for path in list_checkpoints(directory):
        try:
            with open(os.path.join(path, "meta.json")) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            continue
        entries.append({"name": os.path.basename(path), "step": meta["step"],
                        "epoch": meta.get("epoch"),
                        "batch": meta.get("batch", 0),
                        "state_sha256": meta.get("state_sha256")})
    _write_json_atomic(os.path.join(directory, "manifest.json"),
                       {"format_version": FORMAT_VERSION,
                        "checkpoints": entries})


def clean_temporary_files(directory):
    """Removes what a write cut short left in `directory` (`.tmp-*`)."""
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in os.listdir(directory):
        if name.startswith(".tmp-") or ".tmp-" in name or ".old-" in name:
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    continue
            removed.append(path)
    return removed


def save_checkpoint(model, directory, epoch=None, data_state=None,
                    callback_states=None, extra=None, keep=2, batch=0):
    """Writes a checkpoint of `model` atomically; returns its path.

    Args:
        model: the `GAN` (or any compiled Keras model).
        directory: str. Folder of the run's checkpoints (created).
        epoch: int or `None`. Completed epochs (the `initial_epoch` of a
            resumed `fit()`).
        data_state: JSON-serialisable data position (for example
            `ResumableBatches.get_state()`).
        callback_states: dict of JSON-serialisable callback states.
        extra: dict of JSON-serialisable values stored in `meta.json`.
        keep: int. Checkpoints to keep (older ones are deleted); at least 2
            so a damaged newest one always has a predecessor.
        batch: int. Batches of epoch `epoch` already trained (0 at an
            epoch end): a checkpoint written mid-epoch.
    """
    keep = int(keep)
    if keep < 1:
        raise ValueError(f"`keep` should be >= 1. Received: `keep={keep}`")
    os.makedirs(directory, exist_ok=True)
    step = _step_of(model)
    entries = checkpoint_variables(model)
    arrays = {key: np.asarray(ops.convert_to_numpy(v)) for key, v in entries}
    final = os.path.join(directory, f"{_PREFIX}{step:010d}")
    tmp = os.path.join(directory, f".tmp-{step:010d}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    state_path = os.path.join(tmp, "state.npz")
    with open(state_path, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    images_seen = getattr(model, "images_seen", None)
    meta = {
        "format_version": FORMAT_VERSION,
        "step": step,
        "epoch": None if epoch is None else int(epoch),
        "batch": int(batch),
        "images_seen": (None if images_seen is None
                        else int(ops.convert_to_numpy(images_seen))),
        "backend": keras.backend.backend(),
        "keras_version": keras.__version__,
        "time": time.time(),
        "state_sha256": _sha256(state_path),
        "state_bytes": os.path.getsize(state_path),
        "variables": [[key, list(arrays[key].shape), str(arrays[key].dtype)]
                      for key, _ in entries],
        "data_state": data_state,
        "callback_states": callback_states or {},
        "extra": extra or {},
    }
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    if os.path.exists(final):
        old = final + f".old-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    _fsync_dir(directory)
    for path in list_checkpoints(directory)[max(keep, 1):]:
        shutil.rmtree(path, ignore_errors=True)
    _write_manifest(directory)
    return final


def _read_valid(path):
    """`(meta, None)` for a complete checkpoint, else `(None, reason)`."""
    meta_path = os.path.join(path, "meta.json")
    state_path = os.path.join(path, "state.npz")
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        return None, f"meta.json missing or unreadable ({e})"
    if meta.get("format_version") != FORMAT_VERSION:
        return None, f"unknown format_version {meta.get('format_version')!r}"
    if not os.path.exists(state_path):
        return None, "state.npz missing"
    size = os.path.getsize(state_path)
    if size != meta.get("state_bytes"):
        return None, (f"state.npz has {size} bytes, {meta.get('state_bytes')}"
                      " were written (truncated)")
    if _sha256(state_path) != meta.get("state_sha256"):
        return None, "state.npz checksum mismatch (corrupted)"
    return meta, None


def restore_checkpoint(model, directory, max_step=None, on_skip=None):
    """Restores the newest complete checkpoint under `directory`.

    Damaged checkpoints are reported (a warning, and `on_skip(path,
    reason)`) and the next older one is used.

    Args:
        model: the model the checkpoint was written from (same structure).
        directory: str. Folder given to `save_checkpoint`.
        max_step: int or `None`. Only consider checkpoints with a step
            `<= max_step`.
        on_skip: callable or `None`, called with `(path, reason)` for each
            damaged checkpoint skipped.

    Returns:
        The checkpoint's `meta` dict (with `"path"` added), or `None` when
        there is no usable checkpoint. Data and callback states are in
        `meta["data_state"]` and `meta["callback_states"]`; the epoch to
        pass as `fit(initial_epoch=...)` is `meta["epoch"]`.
    """
    for path in list_checkpoints(directory):
        step = int(os.path.basename(path)[len(_PREFIX):])
        if max_step is not None and step > max_step:
            continue
        meta, reason = _read_valid(path)
        if meta is None:
            warnings.warn(
                f"Skipping damaged checkpoint {path}: {reason}. Using the "
                "previous one.", stacklevel=2)
            if on_skip is not None:
                on_skip(path, reason)
            continue
        entries = checkpoint_variables(model)
        # Matched by position and shape: layer names get suffixes (dense_1)
        # when a process builds the same model twice.
        expected = [[k, list(v.shape)] for k, v in entries]
        stored = [[k, shape] for k, shape, _ in meta["variables"]]
        if [e[1] for e in expected] != [s[1] for s in stored]:
            diff = next((a, b) for a, b in zip(expected + [None] * len(stored),
                                               stored + [None] * len(expected))
                        if (a and a[1]) != (b and b[1]))
            raise ValueError(
                f"The checkpoint {path} was written from a model with other "
                f"variables (first difference: model {diff[0]} vs checkpoint "
                f"{diff[1]}). Restore into a model built and compiled the "
                "same way (same networks, options and optimizers)."
            )
        with np.load(os.path.join(path, "state.npz")) as data:
            for (_, v), (key, _) in zip(entries, stored):
                v.assign(data[key])
        meta["path"] = path
        meta.setdefault("batch", 0)
        return meta
    return None


def _lr_value(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))


def _is_lazy_array(x):
    """An array-like that decodes on demand (no `__array__`): not copied."""
    return (not isinstance(x, np.ndarray) and hasattr(x, "shape")
            and hasattr(x, "__getitem__") and hasattr(x, "__len__")
            and not hasattr(x, "__array__"))


class ResumableBatches:
    """A stream of batches of an array (in memory, or a lazy view such as
    `FolderImages`), shuffled as a function of the epoch, that resumes at
    any epoch.

    Epoch `e` visits the samples in the order
    `np.random.default_rng([seed, e]).permutation(n)`, so the stream from
    any epoch on is reproducible without replaying earlier epochs. Train
    on `stream()` (a generator, read in order even when Keras prefetches)
    with `steps_per_epoch=batches.steps_per_epoch`; the stream starts at
    `batches.epoch`, read when its first batch is drawn, which is after
    `ResumableCheckpoint` has restored it from the checkpoint
    (`get_state()` / `set_state()`).

    Args:
        x: array `[N, ...]` of images, or a lazy array that decodes on
            demand (an object with `shape`, `__len__` and `__getitem__`
            taking an index array, and no `__array__`, such as
            `keras_gan_stable.data.folder_array.FolderImages`): it is kept
            as it is and indexed one batch at a time (`x[indices]`).
        batch_size: int. Samples per batch; the last partial batch of an
            epoch is dropped.
        y: optional array `[N]` of labels (batches are then `(x, y)`).
        seed: int. Seed of the shuffle. Defaults to `0`.
        shuffle: bool. Defaults to `True`.
        steps_per_epoch: int or `None`. Use only the first this many
            batches of each epoch's order. Defaults to all full batches.

    >>> data = ResumableBatches(images, batch_size=64, seed=0)
    >>> gan.fit(data.stream(), steps_per_epoch=data.steps_per_epoch,
    ...         epochs=20, callbacks=[ResumableCheckpoint("ckpt", data=data)])
    """

    def __init__(self, x, batch_size, y=None, seed=0, shuffle=True,
                 steps_per_epoch=None):
        self.x = x if _is_lazy_array(x) else np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        self.batch_size = int(batch_size)
        if self.batch_size < 1 or self.batch_size > len(self.x):
            raise ValueError(
                f"`batch_size` should be in [1, {len(self.x)}] (the number of "
                f"samples). Received: `batch_size={batch_size}`"
            )
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(
                f"`x` has {len(self.x)} samples but `y` has {len(self.y)}."
            )
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        full = len(self.x) // self.batch_size
        if steps_per_epoch is not None and not 1 <= int(steps_per_epoch) <= full:
            raise ValueError(
                f"`steps_per_epoch` should be in [1, {full}] (full batches). "
                f"Received: `steps_per_epoch={steps_per_epoch}`"
            )
        self._steps = full if steps_per_epoch is None else int(steps_per_epoch)
        self.epoch = 0
        self.batch_index = 0
        self._order = None
        self._order_epoch = None

    @property
    def steps_per_epoch(self):
        return self._steps

    def __len__(self):
        return self.steps_per_epoch

    def _permutation(self, epoch):
        if self._order_epoch != epoch:
            n = len(self.x)
            self._order = (np.random.default_rng([self.seed, epoch])
                           .permutation(n) if self.shuffle else np.arange(n))
            self._order_epoch = epoch
        return self._order

    def batch(self, epoch, index):
        """Batch `index` of epoch `epoch`."""
        idx = self._permutation(epoch)[index * self.batch_size:
                                       (index + 1) * self.batch_size]
        if self.y is None:
            return self.x[idx]
        return self.x[idx], self.y[idx]

    def stream(self):
        """An endless generator of batches from batch `self.batch_index` of
        epoch `self.epoch` on (both read at the first draw, after a restore)."""
        epoch, start = self.epoch, self.batch_index
        while True:
            for index in range(start, self.steps_per_epoch):
                batch = self.batch(epoch, index)
                # Keras takes generator items as tuples.
                yield batch if isinstance(batch, tuple) else (batch,)
            epoch += 1
            start = 0

    def blocks(self, max_batches=64, max_bytes=1 << 25):
        """An endless generator of the batches of `stream()`, in the same
        order, stacked into blocks of consecutive batches of one epoch
        (`[k, batch_size, ...]`, or a tuple of those with labels): at most
        `max_batches` batches and about `max_bytes` bytes per block.

        A `tf.data` pipeline that unbatches the blocks hands `fit()` the
        same batches as `stream()` with one Python call per block instead
        of one per batch (`keras_gan_stable.backend.tf_data.
        batches_dataset`). Like `stream()`, it starts at batch
        `self.batch_index` of epoch `self.epoch`, read at the first draw.
        """
        epoch, index = self.epoch, self.batch_index
        per_block = None
        while True:
            if index >= self.steps_per_epoch:
                epoch, index = epoch + 1, 0
                continue
            first = self.batch(epoch, index)
            parts = first if isinstance(first, tuple) else (first,)
            if per_block is None:
                size = sum(np.asarray(p).nbytes for p in parts)
                per_block = int(max(1, min(max_batches,
                                           max_bytes // max(size, 1))))
            stop = min(index + per_block, self.steps_per_epoch)
            rest = [self.batch(epoch, i) for i in range(index + 1, stop)]
            rest = [b if isinstance(b, tuple) else (b,) for b in rest]
            yield tuple(np.stack([p] + [b[j] for b in rest])
                        for j, p in enumerate(parts))
            index = stop

    def get_state(self, epoch=None, batch=0):
        """The position to resume from: the next batch `batch` of `epoch`."""
        state = {"epoch": int(self.epoch if epoch is None else epoch),
                 "seed": self.seed}
        if batch:
            state["batch"] = int(batch)
        return state

    def set_state(self, state):
        self.epoch = int(state["epoch"])
        self.batch_index = int(state.get("batch", 0))


class ResumableCheckpoint(keras.callbacks.BackupAndRestore):
    """Checkpoints a GAN run so it can resume exactly after any crash, and
    rolls back runs stuck on non-finite steps.

    The library's one checkpoint system, with the contract of
    `keras.callbacks.BackupAndRestore` (it is one): `backup_dir`,
    `save_freq` ("epoch" or every N train steps), `delete_checkpoint`; the
    newest complete checkpoint is restored when `fit()` starts and the
    epoch count continues from it. On top of Keras' weights it keeps both
    optimizers, the EMA generator, every RNG state, ADA's `p`, the data
    position (mid-epoch too), the state of every callback with
    `get_state()`/`set_state(dict)` (`ProgressiveGrowing`,
    `StabilityMonitor`) and the running epoch metrics; the last `keep`
    checkpoints are kept, written atomically and listed in `manifest.json`,
    and a damaged newest one is skipped with a warning.

    Resuming: `gan.fit(data.stream(), steps_per_epoch=data.steps_per_epoch,
    epochs=E, callbacks=[ResumableCheckpoint(dir, data=data)])` restores the
    newest complete checkpoint in `dir` (if any) before the first step and
    starts at the epoch it recorded; the training then continues bit for
    bit as if never interrupted when the data stream is a function of the
    epoch (`ResumableBatches`, or any object with `get_state()` /
    `set_state(dict)` passed as `data`). A checkpoint written mid-epoch
    (`save_freq=N`) records the batch; `keras_gan_stable.run.Run` finishes
    that epoch's remaining batches first, which keeps a resumed run exact
    (a plain `fit()` restarts the interrupted epoch at its first batch).

    Rollback (with `GAN.compile(skip_nonfinite=True)`): when the logged
    `nonfinite_skips` counter grows on `rollback_after` consecutive
    batches, the newest checkpoint written before the streak began is
    restored and both learning rates are multiplied by `lr_factor`. Every
    skip, rollback and damaged checkpoint is recorded in `events` and
    printed (`verbose`).

    Args:
        backup_dir: str. Folder of the checkpoints.
        data: object with `get_state()` / `set_state(dict)` or `None`: the
            data position saved with each checkpoint.
        save_freq: `"epoch"` or int. Save at every epoch end, or also every
            this many train steps. Defaults to `"epoch"`.
        keep: int. Checkpoints kept on disk. Defaults to `2`.
        delete_checkpoint: bool. Delete the checkpoints when training ends
            normally (Keras' default is `True`). Defaults to `False`.
        resume: bool. Restore the newest checkpoint when `fit()` starts.
            Defaults to `True`.
        rollback_after: int or `None`. Consecutive batches with skipped
            updates before a rollback. Defaults to `None` (never).
        lr_factor: float in (0, 1]. Learning-rate multiplier applied at each
            rollback. Defaults to `0.5`.
        max_rollbacks: int. Stop training after this many rollbacks.
            Defaults to `5`.
        verbose: int. Print events when > 0. Defaults to `1`.
        save_every_epochs, save_every_steps: int or `None`. Finer control
            than `save_freq` (epoch interval; step interval).
        strategy: a `tf.distribute` strategy or `None`. Multi-worker mode:
            every worker takes part in each save (reading replica-local
            variables is a collective) but only the chief's checkpoint
            remains; the others write to a temporary folder, deleted at once
            (`distribute.is_chief`, also from `TF_CONFIG` or the JAX process
            index). On one machine nothing changes.

    >>> data = ResumableBatches(images, batch_size=64)
    >>> gan.fit(data.stream(), steps_per_epoch=data.steps_per_epoch,
    ...         epochs=20, callbacks=[ResumableCheckpoint("ckpt", data=data)])
    """

    def __init__(self, backup_dir, data=None, save_freq="epoch", keep=2,
                 delete_checkpoint=False, resume=True, rollback_after=None,
                 lr_factor=0.5, max_rollbacks=5, verbose=1,
                 save_every_epochs=1, save_every_steps=None, strategy=None):
        # BackupAndRestore's own __init__ sets up its .h5 file paths, which
        # this format does not use.
        keras.callbacks.Callback.__init__(self)
        if save_freq != "epoch":
            if isinstance(save_freq, bool) or not isinstance(save_freq, int) \
                    or save_freq < 1:
                raise ValueError(
                    "`save_freq` should be 'epoch' or a positive integer (train "
                    f"steps). Received: `save_freq={save_freq!r}`"
                )
            save_every_steps = save_freq
        for name, value in (("save_every_epochs", save_every_epochs),
                            ("save_every_steps", save_every_steps),
                            ("rollback_after", rollback_after)):
            if value is not None and int(value) < 1:
                raise ValueError(
                    f"`{name}` should be a positive integer or None. "
                    f"Received: `{name}={value}`"
                )
        if not 0.0 < float(lr_factor) <= 1.0:
            raise ValueError(
                f"`lr_factor` should be in (0, 1]. Received: "
                f"`lr_factor={lr_factor}`"
            )
        if int(keep) < 1:
            raise ValueError(f"`keep` should be >= 1. Received: `keep={keep}`")
        if data is not None and not (hasattr(data, "get_state")
                                     and hasattr(data, "set_state")):
            raise ValueError(
                "`data` should have `get_state()` and `set_state(dict)` (for "
                f"example `ResumableBatches`). Received: `data={data!r}`"
            )
        if not backup_dir:
            raise ValueError(
                f"`backup_dir` should be a folder path. Received: "
                f"`backup_dir={backup_dir!r}`"
            )
        self.backup_dir = str(backup_dir)
        self.directory = self.backup_dir
        self.save_freq = save_freq
        self.double_checkpoint = False
        self.delete_checkpoint = bool(delete_checkpoint)
        self.data = data
        self.strategy = strategy
        self.save_every_epochs = save_every_epochs
        self.save_every_steps = save_every_steps
        self.keep = int(keep)
        self.resume = bool(resume)
        self.rollback_after = rollback_after
        self.lr_factor = float(lr_factor)
        self.max_rollbacks = int(max_rollbacks)
        self.verbose = int(verbose)
        self.events = []
        self.restored = None
        self.last_saved = None
        self._callbacks = []
        self._resumed_this_fit = False
        self._epoch = 0
        self._batch = 0
        self._batch_offset = 0
        self._epoch_cut = None
        self._metric_values = None
        self._last_skips = None
        self._streak = 0
        self._streak_start = None
        self.rollbacks = 0

    # -- events ----------------------------------------------------------
    def _event(self, kind, **info):
        event = {"event": kind, **info}
        self.events.append(event)
        if self.verbose:
            details = ", ".join(f"{k}={v}" for k, v in info.items())
            print(f"[ResumableCheckpoint] {kind}: {details}")
        return event

    # -- state of the other callbacks ------------------------------------
    def _stateful_callbacks(self):
        out = {}
        for i, cb in enumerate(self._callbacks):
            if cb is self or not (hasattr(cb, "get_state")
                                  and hasattr(cb, "set_state")):
                continue
            out[f"{i}:{type(cb).__name__}"] = cb
        return out

    def _restore(self, model, max_step=None):
        meta = restore_checkpoint(
            model, self.directory, max_step=max_step,
            on_skip=lambda p, r: self._event("damaged_checkpoint", path=p,
                                             reason=r))
        if meta is None:
            return None
        if self.data is not None and meta.get("data_state") is not None:
            self.data.set_state(meta["data_state"])
        states = meta.get("callback_states") or {}
        for key, cb in self._stateful_callbacks().items():
            if key in states:
                cb.set_state(states[key])
        return meta

    def restore(self, model, callbacks=()):
        """Restores the newest complete checkpoint into `model` now (with
        the data position and the states of `callbacks`); returns its meta
        or `None`. The next `fit()` does not restore again."""
        self._callbacks = list(callbacks)
        meta = self._restore(model)
        self.restored = meta
        self.resume = False
        if meta is not None:
            self._prepare_mid_epoch(model, meta)
            self._event("resumed", path=meta["path"], step=meta["step"],
                        epoch=meta["epoch"], batch=meta["batch"])
        return meta

    def _prepare_mid_epoch(self, model, meta):
        self._batch_offset = int(meta.get("batch") or 0)
        if self._batch_offset:
            # Keras resets the epoch's running metrics when an epoch
            # begins; the values at the checkpoint are put back then.
            self._metric_values = [np.array(ops.convert_to_numpy(v))
                                   for v in model.metrics_variables]

    def resume_training(self, model, callbacks):
        """Called by `GAN.fit` before training: restores the newest
        checkpoint and returns the epoch to start from (or `None`)."""
        if not self._callbacks or not self.resume:
            self._callbacks = list(callbacks)
        self._resumed_this_fit = True
        if not self.resume:
            return None
        meta = self._restore(model)
        self.restored = meta
        if meta is None:
            return None
        self._prepare_mid_epoch(model, meta)
        self._event("resumed", path=meta["path"], step=meta["step"],
                    epoch=meta["epoch"], batch=meta["batch"])
        return meta["epoch"]

    def save(self, epoch=None, batch=0):
        """Writes a checkpoint now; returns its path."""
        model = self.model  # syncs the JAX training state first
        states = {k: cb.get_state()
                  for k, cb in self._stateful_callbacks().items()}
        data_state = None
        if self.data is not None:
            try:
                data_state = self.data.get_state(epoch=epoch, batch=batch)
            except TypeError:  # get_state() without position arguments
                try:
                    data_state = self.data.get_state(epoch=epoch)
                except TypeError:
                    data_state = self.data.get_state()
        from keras_gan_stable.distribute import is_chief

        self.last_saved_position = (epoch, batch)
        if is_chief(self.strategy):
            self.last_saved = save_checkpoint(
                model, self.directory, epoch=epoch, data_state=data_state,
                callback_states=states, keep=self.keep, batch=batch)
            return self.last_saved
        import tempfile

        scratch = tempfile.mkdtemp(prefix="keras_gan_stable_worker_")
        try:
            save_checkpoint(model, scratch, epoch=epoch, data_state=data_state,
                            callback_states=states, keep=1, batch=batch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return None

    # -- Keras hooks -----------------------------------------------------
    def on_train_begin(self, logs=None):
        if not self._resumed_this_fit and self.resume:
            # Not started through GAN.fit: restore the state and, as
            # BackupAndRestore does, set the epoch to start from.
            self.restored = self._restore(self.model)
            if self.restored is not None and self.restored.get("epoch"):
                self.model._initial_epoch = int(self.restored["epoch"])
        self._resumed_this_fit = False
        self._last_skips = None
        self._streak = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._batch = self._batch_offset
        if self._metric_values is not None:
            model = self.model  # read first: syncs the JAX state
            for v, value in zip(model.metrics_variables, self._metric_values):
                v.assign(value)
            self._metric_values = None

    def on_epoch_end(self, epoch, logs=None):
        steps = (self.params or {}).get("steps")
        done = self._batch - self._batch_offset
        batch = self._batch
        self._batch_offset = 0
        self._batch = 0
        if steps and 0 < done < steps:
            # fit() stopped inside the epoch (`stop_training`, a time
            # budget): record the position, not a finished epoch.
            if self._streak == 0:
                self.save(epoch=epoch, batch=batch)
            self._epoch_cut = (epoch, batch)
            return
        due = (self.save_every_epochs
               and (epoch + 1) % self.save_every_epochs == 0)
        # fit() stopped on an epoch's last batch (a time budget): this is
        # where a resumed run starts, so it is saved whatever the interval.
        stopping = bool(getattr(self.model, "stop_training", False))
        if (due or stopping) and self._streak == 0:
            self.save(epoch=epoch + 1)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        model = self.model
        self._batch = self._batch_offset + batch + 1
        if self.rollback_after is not None or "nonfinite_skips" in logs:
            self._watch_nonfinite(model, logs)
        if self.save_every_steps and self._streak == 0:
            step = _step_of(model)
            if step % self.save_every_steps == 0:
                self.save(epoch=self._epoch, batch=self._batch)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.isdir(self.directory):
            shutil.rmtree(self.directory, ignore_errors=True)

    def _watch_nonfinite(self, model, logs):
        if "nonfinite_skips" not in logs:
            return
        skips = float(ops.convert_to_numpy(logs["nonfinite_skips"]))
        grew = self._last_skips is not None and skips > self._last_skips
        if self._last_skips is None and skips > 0:
            grew = True
        self._last_skips = skips
        if not grew:
            self._streak = 0
            self._streak_start = None
            return
        step = _step_of(model)
        if self._streak == 0:
            self._streak_start = step
        self._streak += 1
        self._event("nonfinite_skip", step=step, total_skips=skips,
                    consecutive=self._streak)
        if self.rollback_after is None or self._streak < self.rollback_after:
            return
        self._rollback(model)

    def _rollback(self, model):
        # A skipped G update does not advance the step, so the checkpoint
        # written at the streak's first step (before the streak: saving
        # pauses while it lasts) is the last good one.
        meta = self._restore(model, max_step=self._streak_start)
        self._streak = 0
        self._streak_start = None
        self._last_skips = float(ops.convert_to_numpy(model.nonfinite_skips))
        if meta is None:
            self._event("rollback_failed",
                        reason=f"no usable checkpoint in {self.directory}")
            return
        rates = {}
        optimizers = [("d", getattr(model, "d_optimizer", None)),
                      ("g", getattr(model, "g_optimizer", None))]
        for name, opt in optimizers:
            if opt is None:
                continue
            if isinstance(getattr(opt, "_learning_rate", None),
                          keras.Variable):
                opt.learning_rate = _lr_value(opt) * self.lr_factor
                rates[name] = _lr_value(opt)
            else:
                rates[name] = "schedule (unchanged)"
        self.rollbacks += 1
        self._event("rollback", path=meta["path"], step=meta["step"],
                    learning_rates=rates, rollbacks=self.rollbacks)
        if self.rollbacks >= self.max_rollbacks:
            model.stop_training = True
            self._event("stopped", reason=f"{self.rollbacks} rollbacks")
