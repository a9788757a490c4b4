"""Sample grids from fixed noise, written as PNG files and to TensorBoard."""

import os
import sys

import keras
import numpy as np

from keras_gan_stable.utils.images import image_grid
from keras_gan_stable.utils.images import save_image_grid


def save_scatter(points, path, reference=None, title=None):
    """Writes a scatter plot of 2D points (and reference points) to a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7",
                   label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="C3", label="generated")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    tmp = path + ".tmp"
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
    return path


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from fixed noise after every `every` epochs.

    The latent vectors (and labels) are drawn once, from `seed`, so the
    grids of successive epochs show how the same samples evolve. The EMA
    generator (`model.ema_generator`) is used when the model has one. For
    point data (a generator output `[N, D]`) the callback draws a scatter
    plot of the first two coordinates instead. Files are written to a
    temporary name and renamed.

    Args:
        directory: str. Folder of the PNG files.
        num_samples: int. Images in the grid. Defaults to `64`.
        seed: int. Seed of the fixed noise. Defaults to `0`.
        every: int. Write after every `every` epochs, and after the last
            epoch. Defaults to `1`.
        filename: str. Format of the file name with `{epoch}`. Defaults to
            `"epoch_{epoch:04d}.png"`; epoch 0 is the untrained generator.
        tensorboard_dir: str or `None`. Also log the grid as a
            `tf.summary.image` ("samples") there (needs TensorFlow).
        use_ema: bool. Prefer the EMA generator. Defaults to `True`.
        reference: array `[M, 2]` or `None`. Real points drawn under a
            scatter plot.

    >>> gan.fit(data, epochs=20, callbacks=[SampleGrid("runs/x/samples")])
    """

    def __init__(self, directory, num_samples=64, seed=0, every=1,
                 filename="epoch_{epoch:04d}.png", tensorboard_dir=None,
                 use_ema=True, reference=None):
        super().__init__()
        if isinstance(num_samples, bool) or int(num_samples) < 1:
            raise ValueError(
                "`num_samples` should be a positive integer. Received: "
                f"`num_samples={num_samples!r}`"
            )
        if isinstance(every, bool) or int(every) < 1:
            raise ValueError(
                f"`every` should be a positive integer. Received: "
                f"`every={every!r}`"
            )
        self.directory = directory
        self.num_samples = int(num_samples)
        self.seed = seed
        self.every = int(every)
        self.filename = filename
        self.tensorboard_dir = tensorboard_dir
        self.use_ema = use_ema
        self.reference = reference
        self.paths = []
        self._z = None

    def _generator(self):
        ema = getattr(self.model, "ema_generator", None)
        return ema if (self.use_ema and ema is not None) else (
            self.model.generator)

    def samples(self):
        """The current samples from the fixed noise, as NumPy."""
        if self._z is None:
            self._z = self.model.sample_latents(self.num_samples,
                                                seed=self.seed)
        z, labels = self._z
        net = self._generator()
        if labels is not None:
            out = net([z, labels], training=False)
        else:
            out = net(z, training=False)
        return keras.ops.convert_to_numpy(out)

    def write(self, epoch):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, self.filename.format(epoch=epoch))
        images = self.samples()
        if images.ndim == 2:
            save_scatter(images, path, reference=self.reference,
                         title=f"epoch {epoch}")
        else:
            save_image_grid(images, path)
            self._log_image(images, epoch)
        self.paths.append(path)
        return path

    def _log_image(self, images, epoch):
        if not self.tensorboard_dir:
            return
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            return
        from keras_gan_stable.callbacks.plots import write_image

        write_image(self.tensorboard_dir, "samples", image_grid(images), epoch)

    def on_train_begin(self, logs=None):
        if not self.paths:
            self.write(0)

    def on_epoch_end(self, epoch, logs=None):
        self._last_epoch = epoch + 1
        if (epoch + 1) % self.every == 0:
            self.write(epoch + 1)

    def on_train_end(self, logs=None):
        # The last epoch's grid, when `every` skipped it.
        last = getattr(self, "_last_epoch", None)
        if last is not None and last % self.every != 0:
            self.write(last)
        if self.tensorboard_dir and "tensorflow" in sys.modules:
            from keras_gan_stable.callbacks.plots import close_writer

            close_writer(self.tensorboard_dir)
