"""Image-to-image runs: `train --task sr2|sr4|inpaint|denoise` and `apply`.

A run whose config has a `task` section (`task.name`, see
`keras_gan_stable.utils.config`) trains an `ImageToImageGAN` through the
ordinary `Run` machinery (callbacks, checkpoints, exact `--resume`, export):
`Run(config)` builds a `TaskRun` when `task.name` is set. What differs:

- the data are clean images; each batch is degraded on the fly by the
  task's pair maker (`keras_gan_stable.data.degradations`), with a seed that
  is a function of `(train.seed, epoch, batch)`, so any batch can be
  remade exactly after a resume;
- the last `task.holdout` images are split off before training and never
  trained on: the final PSNR/SSIM (and the classical baseline's: bicubic
  upsampling, biharmonic inpainting, non-local means) are measured on them;
- the sample grids show rows of input | output | target;
- the export is `export_translator`'s uint8 image-in, image-out SavedModel.

`keras_gan_stable.task_apply.apply_run(run_dir, input, out)` is what
`keras-gan-stable apply` runs.

>>> from keras_gan_stable.run import RunConfig, run
>>> config = RunConfig.from_recipe(data="cifar10", epochs=5,
...                                overrides=["task.name=sr4"])
>>> summary = run(config, out_dir="runs/sr4")
>>> summary["metrics"]["psnr"], summary["metrics"]["baseline_psnr"]
"""

import math
import os

import numpy as np

from keras_gan_stable import run as runs
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.sample_grid import SampleGrid

# Offsets of the seeds of the sample-grid pairs and of the held-out pairs,
# apart from the training batches' `[seed, epoch, batch]`.
GRID_SEED = 7_919
EVAL_SEED = 104_729
SCALES = {"sr2": 2, "sr4": 4}
BASELINES = {"sr2": "bicubic", "sr4": "bicubic",
             "inpaint": "skimage inpaint_biharmonic",
             "denoise": "skimage denoise_nl_means (h = 0.8 task.sigma)"}


def pair_maker(config, seed):
    """The task's pair maker (`degradations.get`) seeded with `seed`."""
    from keras_gan_stable.data import degradations

    task = config["task"]
    kwargs = {}
    if task["name"] == "inpaint":
        kwargs = dict(mask=task["mask"], hole_size=task["hole_size"],
                      position="random")
    elif task["name"] == "denoise":
        kwargs = dict(noise=task["noise"], sigma=task["sigma"])
    return degradations.get(task["name"], seed=seed, **kwargs)


def check_image_shape(config, shape, where):
    """One-line `DataError` for clean images a task cannot use."""
    from keras_gan_stable.data.loaders import DataError

    name = config["task"]["name"]
    if len(shape) != 3:
        raise DataError(
            f"{where}: task {name} needs images, the data are points of shape "
            f"{tuple(shape)}. Pass an image source (--data).")
    h, w = int(shape[0]), int(shape[1])
    s = SCALES.get(name, 4 if name == "inpaint" else 1)
    if h % s or w % s:
        what = ("the scale" if name in SCALES else
                "4 (the inpainting network halves the size twice)")
        raise DataError(
            f"{where}: task {name} needs an image size that is a multiple of "
            f"{what}; the images are {h}x{w}. Set data.image_size to a "
            f"multiple of {s} (e.g. --set data.image_size="
            f"{max(s, h - h % s)}).")
    if min(h, w) // SCALES.get(name, 1) < 2 or min(h, w) < 4:
        raise DataError(
            f"{where}: the images ({h}x{w}) are too small for task {name}. "
            "Set data.image_size to 8 or more.")


def build_task_gan(config, image_shape, total_steps=None):
    """The compiled `ImageToImageGAN` of an image-to-image config for clean
    images of `image_shape` `(H, W, C)`.

    Networks (CPU-sized; `model.width` channels, default 16): sr2/sr4 and
    denoise an ESRGAN RRDB generator (two blocks), inpaint a DeepFill-style
    gated-convolution generator; D a spectrally normalised PatchGAN that
    sees `[input, output]`. Loss, penalty, optimizers, `n_critic` and EMA
    come from the `train` section, as for any run.
    """
    from keras_gan_stable.architectures.deepfill import deepfill_generator
    from keras_gan_stable.architectures.patchgan import patchgan_discriminator
    from keras_gan_stable.architectures.rrdb import rrdb_generator
    from keras_gan_stable.models.image_to_image import ImageToImageGAN

    config = runs._as_dict(config)
    task, t = config["task"], config["train"]
    h, w, c = (int(s) for s in image_shape)
    f = config["model"]["width"] or 16
    name = task["name"]
    if name == "inpaint":
        g = deepfill_generator((h, w, c + 1), filters=f)
        c_in = c + 1
    else:
        s = SCALES.get(name, 1)
        g = rrdb_generator((h // s, w // s, c), s, filters=f, num_blocks=2,
                           growth=max(f // 2, 4))
        c_in = c
    layers = max(1, min(3, int(math.log2(min(h, w))) - 1))
    d = patchgan_discriminator((h, w, c_in + c), filters=f, num_layers=layers,
                               normalization=None, spectral_norm=True)
    kwargs = {}
    if t["ema"] is not None:
        kwargs = dict(ema_decay=t["ema"], ema_rampup=t["ema_rampup"])
    gan = ImageToImageGAN(
        g, d, reconstruction_weight=task["reconstruction_weight"],
        adversarial_weight=task["adversarial_weight"], seed=t["seed"],
        **kwargs)
    return runs.compile_from_train(gan, t, total_steps)


class TaskBatches(ResumableBatches):
    """`ResumableBatches` of clean images whose batches are `(inputs,
    targets)` pairs: batch `i` of epoch `e` is degraded with the seed
    `[seed, e, i]`, so the stream from any position is reproducible."""

    def __init__(self, x, batch_size, make_pairs, seed=0,
                 steps_per_epoch=None):
        super().__init__(x, batch_size, seed=seed,
                         steps_per_epoch=steps_per_epoch)
        self.make_pairs = make_pairs

    def batch(self, epoch, index):
        clean = super().batch(epoch, index)
        return tuple(self.make_pairs([self.seed, epoch, index])(clean))


def _show_inputs(inputs, shape):
    """Inputs as images of the targets' shape: the mask channel dropped,
    low-resolution inputs repeated up (nearest neighbour)."""
    x = np.asarray(inputs)[..., :shape[-1]]
    ry, rx = shape[1] // x.shape[1], shape[2] // x.shape[2]
    return x.repeat(ry, axis=1).repeat(rx, axis=2)


class TaskGrid(SampleGrid):
    """`SampleGrid` for image-to-image models: one row per fixed pair,
    input | output | target (the EMA generator's output when kept)."""

    def __init__(self, directory, inputs, targets, **kwargs):
        super().__init__(directory, num_samples=len(inputs), **kwargs)
        self.inputs = np.asarray(inputs, "float32")
        self.targets = np.asarray(targets, "float32")

    def samples(self):
        import keras

        out = keras.ops.convert_to_numpy(
            self._generator()(self.inputs, training=False))
        rows = np.stack([_show_inputs(self.inputs, self.targets.shape),
                         out.astype("float32"), self.targets], axis=1)
        return rows.reshape((-1,) + self.targets.shape[1:])   # [3N, H, W, C]

    def write(self, epoch):
        from keras_gan_stable.utils.images import save_image_grid

        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, self.filename.format(epoch=epoch))
        images = self.samples()
        save_image_grid(images, path, nrow=3)
        self._log_image(images, epoch)
        self.paths.append(path)
        return path


class TaskRun(runs.Run):
    """A `Run` that trains an `ImageToImageGAN` on the pairs of `task.name`
    (see the module docstring); built by `Run(config)` when the config has a
    task."""

    def _load_data(self):
        from keras_gan_stable.data import loaders

        d, t = self.config["data"], self.config["train"]
        kwargs = dict(image_size=d["image_size"], channels=d["channels"],
                      labels=False, max_samples=d["max_samples"],
                      value_range=d["value_range"],
                      num_samples=d["num_samples"], seed=t["seed"])
        for key in ("split", "download"):
            if d[key] is not None:
                kwargs[key] = d[key]
        x = loaders.load_arrays(d["source"], **kwargs)
        check_image_shape(self.config, x.shape[1:], d["source"])
        k = self.config["task"]["holdout"]
        if len(x) <= k:
            raise loaders.DataError(
                f"{d['source']}: found {len(x)} images, not more than the "
                f"{k} held out for the final metrics (task.holdout). Lower "
                f"it, e.g. --set task.holdout={len(x) // 4}.")
        self.holdout = x[len(x) - k:]
        return x[:len(x) - k], None

    def _fitting_size(self, shape):
        return None  # the task networks take any size the task allows

    def _batches(self, x, y, per_step, steps):
        config = self.config
        return TaskBatches(x, per_step, lambda s: pair_maker(config, s),
                           seed=config["train"]["seed"],
                           steps_per_epoch=steps)

    def _build_model(self):
        return build_task_gan(self.config, self.data_shape,
                              total_steps=self.total_steps)

    def _callbacks(self):
        cbs = super()._callbacks()
        t = self.config["train"]
        source = self.holdout if len(self.holdout) else self.batches.x
        n = min(self.config["output"]["samples"], 8, len(source))
        inputs, targets = pair_maker(self.config, [t["seed"], GRID_SEED])(
            source[:n])
        old = self.grid
        self.grid = TaskGrid(old.directory, inputs, targets, seed=t["seed"],
                             every=old.every,
                             tensorboard_dir=old.tensorboard_dir)
        cbs[cbs.index(old)] = self.grid
        return cbs

    def _final_metrics(self, gan):
        if not len(self.holdout):
            return {}
        return task_metrics(gan, self.holdout, self.config)

    def _export(self):
        if not self.config["output"]["export"]:
            return {}
        from keras_gan_stable.export_image import export_translator

        try:
            path = export_translator(
                self.gan, os.path.join(self.out_dir, "saved_model"),
                overwrite=True)
        except (ImportError, ValueError) as e:  # no TF, or torch backend
            print(f"Skipping the saved_model export: "
                  f"{' '.join(str(e).split())}")
            return {}
        return {"saved_model": path}


# ---------------------------------------------------------------------- #
# Metrics
# ---------------------------------------------------------------------- #
def _scores(pred, target, hole=None):
    import keras

    from keras_gan_stable.metrics.image_quality import psnr, ssim

    p = np.clip((np.asarray(pred, "float32") + 1) / 2, 0, 1)
    t = np.clip((np.asarray(target, "float32") + 1) / 2, 0, 1)
    out = {"psnr": float(np.mean(keras.ops.convert_to_numpy(psnr(p, t, 1.0))))}
    if min(t.shape[1:3]) >= 7:  # SSIM's 7x7 window
        out["ssim"] = float(np.mean(keras.ops.convert_to_numpy(
            ssim(p, t, 1.0))))
    if hole is not None:
        m = np.broadcast_to(hole, p.shape).reshape(len(p), -1)
        se = ((p - t) ** 2).reshape(len(p), -1)
        mse = (se * m).sum(1) / np.maximum(m.sum(1), 1)
        out["psnr_hole"] = float(np.mean(10 * np.log10(
            1.0 / np.maximum(mse, 1e-10))))
    return out


def baseline(name, inputs, shape, sigma=0.1):
    """The classical answer to a task's inputs, in [-1, 1] `shape`."""
    x = np.asarray(inputs, "float32")
    if name in SCALES:
        from keras_gan_stable.data.degradations import resize_matrix

        rh = resize_matrix(x.shape[1], shape[1])
        rw = resize_matrix(x.shape[2], shape[2])
        return np.einsum("ah,nhwc,bw->nabc", rh, x, rw).astype("float32")
    if name == "inpaint":
        from skimage.restoration import inpaint_biharmonic

        out = [inpaint_biharmonic(im[..., :-1], im[..., -1], channel_axis=-1)
               for im in x]
        return np.stack(out).reshape(shape).astype("float32")
    from skimage.restoration import denoise_nl_means

    # The noise level is known (task.sigma, on [0, 1]); h = 0.8 sigma is
    # scikit-image's suggested filter strength for fast_mode.
    out = [denoise_nl_means(im, h=0.8 * sigma, sigma=sigma, patch_size=3,
                            patch_distance=5, fast_mode=True,
                            channel_axis=-1) for im in (x + 1) / 2]
    return (np.stack(out).reshape(x.shape) * 2 - 1).astype("float32")


def task_metrics(gan, clean, config):
    """PSNR/SSIM (dB, on [0, 1]) of the model and of the classical baseline
    on `clean` held-out images degraded with a fixed seed; for inpainting
    also the PSNR inside the hole."""
    config = runs._as_dict(config)
    name = config["task"]["name"]
    inputs, targets = pair_maker(
        config, [config["train"]["seed"], EVAL_SEED])(clean)
    hole = inputs[..., -1:] if name == "inpaint" else None
    metrics = _scores(gan.translate(inputs), targets, hole)
    try:
        base = baseline(name, inputs, targets.shape,
                        sigma=config["task"]["sigma"])
    except ImportError:
        metrics["baseline"] = (f"{BASELINES[name]}: not installed (pip "
                               "install scikit-image)")
    else:
        metrics.update({f"baseline_{k}": v
                        for k, v in _scores(base, targets, hole).items()})
        metrics["baseline"] = BASELINES[name]
    metrics["holdout_images"] = int(len(clean))
    return metrics
