"""Loss and metric curves of a GAN run, as a PNG and a JSON history."""

import json
import math
import os
import time

import keras

_PANELS = (("losses", ("d_loss", "g_loss")),
           ("discriminator outputs", ("d_real", "d_fake")))


def plot_history(history, path, title=None):
    """Plots `{"epoch": [...], name: [...]}` to a PNG (written atomically).

    Panels: the two losses, D's mean outputs on real and fake data, then one
    panel per other logged value (penalties, metrics such as FID).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    epochs = history.get("epoch", [])
    panels = []
    used = {"epoch"}
    for name, keys in _PANELS:
        keys = [k for k in keys if k in history]
        if keys:
            panels.append((name, keys))
            used.update(keys)
    for key in sorted(history):
        if key not in used and not key.startswith("val_"):
            panels.append((key, [key]))
    n = max(1, len(panels))
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows),
                             dpi=100, squeeze=False)
    for ax, (name, keys) in zip(axes.ravel(), panels):
        for key in keys:
            values = history[key]
            xs = [e for e, v in zip(epochs, values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=key)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


class TrainingCurves(keras.callbacks.Callback):
    """Plots the logged losses and metrics after every epoch.

    Keeps the epoch-end logs (`d_loss`, `g_loss`, `d_real`, `d_fake`, the
    penalties and any metric another callback adds to the logs, such as a
    FID) and rewrites `history_path` (JSON, when given) after every epoch,
    and `path` (PNG) after every `every` epochs and at the end of training.

    Args:
        path: str. The PNG file.
        history_path: str or `None`. A JSON file of the values.
        every: int. Plot after every `every` epochs. Defaults to `1`.
        title: str or `None`. Figure title.
        max_share: float in (0, 1) or `None`. Skip a plot due before the
            end of training when plotting would take more than this share
            of the process's CPU time since the previous plot (the last
            plot's cost over the CPU seconds since it). The PNG is one file,
            rewritten: a skipped plot only leaves it older, and the one at
            the end of training is always drawn. Defaults to `None` (plot
            every `every` epochs).

    >>> gan.fit(data, epochs=20, callbacks=[TrainingCurves("runs/x/curves.png")])
    """

    def __init__(self, path, history_path=None, every=1, title=None,
                 max_share=None):
        super().__init__()
        if isinstance(every, bool) or int(every) < 1:
            raise ValueError(
                f"`every` should be a positive integer. Received: "
                f"`every={every!r}`"
            )
        if max_share is not None and (
                isinstance(max_share, bool)
                or not isinstance(max_share, (int, float))
                or not 0.0 < max_share < 1.0):
            raise ValueError(
                "`max_share` should be a number in (0, 1) or None. "
                f"Received: `max_share={max_share!r}`"
            )
        self.max_share = max_share
        self._last_plot = None  # (CPU time when it ended, its CPU cost)
        self.path = path
        self.history_path = history_path
        self.every = int(every)
        self.title = title
        self.history = {"epoch": []}

    def on_epoch_end(self, epoch, logs=None):
        n = len(self.history["epoch"])
        self.history["epoch"].append(epoch + 1)
        for key, value in (logs or {}).items():
            try:
                value = float(keras.ops.convert_to_numpy(value))
            except (TypeError, ValueError):
                continue
            self.history.setdefault(key, [None] * n).append(value)
        for key, values in self.history.items():
            if len(values) < n + 1:
                values.append(None)
        # The JSON every epoch (cheap; a resumed run continues it), the
        # plot every `every` epochs (within the CPU share).
        self.write(plot=(epoch + 1) % self.every == 0
                   and self._within_share())

    def _within_share(self):
        if self.max_share is None or self._last_plot is None:
            return True
        ended, cost = self._last_plot
        return cost <= self.max_share * (time.process_time() - ended)

    def on_train_end(self, logs=None):
        if self.history["epoch"]:
            self.write()

    def write(self, plot=True):
        if plot:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                        exist_ok=True)
            start = time.process_time()
            plot_history(self.history, self.path, title=self.title)
            end = time.process_time()
            self._last_plot = (end, end - start)
        if self.history_path:
            tmp = self.history_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(self.history, f, indent=1)
            os.replace(tmp, self.history_path)


# ---------------------------------------------------------------------- #
# TensorBoard event files with TensorFlow core ops only (no `tensorboard`
# package needed to write them; TensorBoard reads them as scalars/images).
# ---------------------------------------------------------------------- #
_WRITERS = {}


def _writer(logdir):
    import tensorflow as tf

    if logdir not in _WRITERS:
        _WRITERS[logdir] = tf.summary.create_file_writer(logdir)
    return _WRITERS[logdir]


def close_writer(logdir):
    writer = _WRITERS.pop(logdir, None)
    if writer is not None:
        writer.close()


def _metadata(plugin, data_class):
    from tensorflow.core.framework import summary_pb2

    md = summary_pb2.SummaryMetadata()
    md.plugin_data.plugin_name = plugin
    md.data_class = data_class
    return md


def write_scalars(logdir, values, step):
    """Logs `{tag: float}` as TensorBoard scalars at `step`."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    md = _metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
    writer = _writer(logdir)
    with writer.as_default():
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(float(value), tf.float32),
                             step=int(step), metadata=md)
    writer.flush()


def write_image(logdir, tag, image, step):
    """Logs one uint8 image `[H, W, C]` as a TensorBoard image at `step`."""
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    image = tf.convert_to_tensor(image, tf.uint8)
    png = tf.io.encode_png(image)
    h, w = int(image.shape[0]), int(image.shape[1])
    tensor = tf.stack([tf.constant(str(w)), tf.constant(str(h)), png])
    md = _metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)
    writer = _writer(logdir)
    with writer.as_default():
        tf.summary.write(tag, tensor, step=int(step), metadata=md)
    writer.flush()


class TensorBoardScalars(keras.callbacks.Callback):
    """Logs every epoch-end value (losses, penalties, metrics) to TensorBoard.

    Writes with TensorFlow's core summary ops, so it needs TensorFlow but not
    the `tensorboard` package (install that to view the logs:
    `tensorboard --logdir <logdir>`).

    Args:
        logdir: str. Folder of the event files.
    """

    def __init__(self, logdir):
        super().__init__()
        self.logdir = logdir

    def on_epoch_end(self, epoch, logs=None):
        values = {}
        for key, value in (logs or {}).items():
            try:
                values[key] = float(keras.ops.convert_to_numpy(value))
            except (TypeError, ValueError):
                continue
        write_scalars(self.logdir, values, epoch + 1)

    def on_train_end(self, logs=None):
        close_writer(self.logdir)
