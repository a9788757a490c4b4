"""Loading, exporting and applying an image-to-image run (`train --task`):
what `keras-gan-stable apply` and `export` run for one.

The paths and the run folder are checked before Keras is imported, so those
errors come back at once.
"""

import os

from keras_gan_stable import run as runs
from keras_gan_stable.utils import config as cfg
from keras_gan_stable.utils.config import ConfigError


def load_task_run(source):
    """`(ImageToImageGAN, config)` of an image-to-image run folder (its
    newest checkpoint); `ConfigError` with one line otherwise."""
    config_path = os.path.join(source, "config.yaml")
    if not os.path.isdir(source) or not os.path.exists(config_path):
        raise ConfigError(
            f"{source}: not a run folder (no config.yaml). Pass the folder of "
            "a run written by `keras-gan-stable train --task ...`.")
    config = runs._as_dict(cfg.load_config_file(config_path))
    if not config["task"]["name"]:
        raise ConfigError(
            f"{source} is not an image-to-image run (its config has no "
            "task.name). Train one with `keras-gan-stable train --task "
            "sr4|sr2|inpaint|denoise`.")
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints

    ckpt_dir = os.path.join(source, runs.CHECKPOINT_DIR)
    state_path = os.path.join(source, runs.STATE_NAME)
    if not (os.path.exists(state_path) and list_checkpoints(ckpt_dir)):
        raise ConfigError(
            f"{source}: no checkpoint there yet. Train the run first "
            "(or --resume it).")
    state = runs._read_json(state_path, "run state")
    try:
        shape = tuple(int(s) for s in state["data_shape"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(
            f"{state_path}: the run state lacks a valid data_shape. Restore "
            "the file or re-run the training.") from None
    from keras_gan_stable.task_run import build_task_gan

    gan = build_task_gan(config, shape)
    runs.restore_run_checkpoint(gan, ckpt_dir, source)
    return gan, config


def export_task_run(source, out, version=1, overwrite=False,
                    format="saved_model"):
    """`export_translator` of an image-to-image run folder (what
    `keras-gan-stable export` runs for one); returns the version folder."""
    from keras_gan_stable.export_image import export_translator

    if format != "saved_model":
        raise ConfigError(
            f"--format {format}: an image-to-image run exports only "
            "saved_model (uint8 images in and out). Pass --format "
            "saved_model.")
    gan, _ = load_task_run(source)
    return export_translator(gan, out, version=version, overwrite=overwrite)


def apply_run(source, inputs, out, seed=0):
    """Applies the image-to-image run in `source` to `inputs` (one image or
    a folder of PNG/JPEGs) and writes PNGs of the same names under `out`
    (a folder, or a `.png` path for one image). Inpainting runs read
    `NAME_mask.png` beside each image (nonzero = hole) or draw the task's
    masks with `seed`. Every input is checked before anything is written;
    returns the written paths."""
    if not os.path.exists(inputs):
        raise ConfigError(
            f"INPUT {inputs} does not exist. Pass an image file or a folder "
            "of PNG/JPEG images.")
    if os.path.isdir(inputs) and os.path.exists(out) and not os.path.isdir(
            out):
        raise ConfigError(
            f"--out {out} is a file but INPUT {inputs} is a folder. Pass a "
            "folder for the outputs.")
    one_file = not os.path.isdir(inputs) and out.lower().endswith(".png") \
        and not os.path.isdir(out)
    runs._check_writable(os.path.dirname(os.path.abspath(out)) if one_file
                         else out, "--out")
    gan, config = load_task_run(source)
    from keras_gan_stable.apply_images import apply_images
    from keras_gan_stable.task_run import pair_maker

    masks = (pair_maker(config, seed) if config["task"]["name"] == "inpaint"
             else None)
    return apply_images(gan, inputs, out, masks=masks)
