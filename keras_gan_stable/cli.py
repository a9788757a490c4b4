"""The `keras-gan-stable` command: train, sample, evaluate, export.

    keras-gan-stable train                      # the main job: SNGAN on digits
    keras-gan-stable train --recipe wgan-gp --data mnist --epochs 5
    keras-gan-stable train --config run.yaml --set train.n_critic=2
    keras-gan-stable sample runs/sngan --out grid.png
    keras-gan-stable evaluate runs/sngan
    keras-gan-stable export runs/sngan --out serving/digits

Usage errors (bad arguments, unknown recipe, invalid config values, unusable
data) print one line and exit with status 2 before anything is built or
written. See docs/cli.md.
"""

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
PROG = "keras-gan-stable"


class UsageError(Exception):
    """A command-line usage error: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _build_parser():
    p = _Parser(prog=PROG, description="Stable GAN training with Keras 3.")
    p.add_argument("--backend", choices=BACKENDS,
                   help="Keras backend (sets KERAS_BACKEND).")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN from a recipe")
    t.add_argument("--recipe", help="named recipe (default: sngan); see "
                   "`keras-gan-stable recipes`")
    t.add_argument("--config", help="YAML or JSON config file")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   dest="overrides", help="override a setting, e.g. "
                   "train.n_critic=5 (repeatable)")
    t.add_argument("--data", help="data source (default: digits)")
    t.add_argument("--out", help="output folder (default: runs/<name>)")
    t.add_argument("--name", help="run name (default: the recipe's)")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, help="training epochs")
    budget.add_argument("--images", type=int,
                        help="real images shown to the discriminator")
    t.add_argument("--resume", nargs="?", const=True, default=None,
                   metavar="RUN_DIR", help="continue the run in RUN_DIR "
                   "(default: the --out folder)")
    t.add_argument("--backend", choices=BACKENDS, dest="sub_backend",
                   help=argparse.SUPPRESS)
    t.add_argument("--quiet", action="store_true",
                   help="no progress bar")

    s = sub.add_parser("sample", help="write samples from a checkpoint or "
                       "an export")
    s.add_argument("source", help="run folder, .keras file or SavedModel")
    s.add_argument("--out", required=True,
                   help="output .png (grid) or .npy (array)")
    s.add_argument("-n", "--num", type=int, default=64, dest="num")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--backend", choices=BACKENDS, dest="sub_backend",
                   help=argparse.SUPPRESS)

    e = sub.add_parser("evaluate", help="metrics of a checkpoint")
    e.add_argument("source", help="run folder or .keras file")
    e.add_argument("--data", help="real data (default: the run's)")
    e.add_argument("-n", "--num", type=int, default=1000, dest="num",
                   help="generated samples")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--backend", choices=BACKENDS, dest="sub_backend",
                   help=argparse.SUPPRESS)

    x = sub.add_parser("export", help="export the generator as a SavedModel")
    x.add_argument("source", help="run folder or .keras file")
    x.add_argument("--out", required=True, help="model base folder")
    x.add_argument("--version", type=int, default=1)
    x.add_argument("--overwrite", action="store_true")
    x.add_argument("--backend", choices=BACKENDS, dest="sub_backend",
                   help=argparse.SUPPRESS)

    sub.add_parser("recipes", help="list the named recipes")
    return p


# ---------------------------------------------------------------------- #
# Entry point
# ---------------------------------------------------------------------- #
def main(argv=None):
    """Runs the command line; returns the exit status (or raises SystemExit)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        backend = getattr(args, "sub_backend", None) or args.backend
        if backend:
            rc = _switch_backend(backend, argv)
            if rc is not None:
                raise SystemExit(rc)
        command = args.command or "train"
        if args.command is None:
            args = parser.parse_args(["train"] + argv)
        handler = {"train": cmd_train, "sample": cmd_sample,
                   "evaluate": cmd_evaluate, "export": cmd_export,
                   "recipes": cmd_recipes}[command]
        rc = handler(args)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(rc or 0)


def _switch_backend(backend, argv):
    """Sets KERAS_BACKEND, or re-runs the command when keras is loaded."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend
        return None
    import keras

    if keras.backend.backend() == backend:
        return None
    env = dict(os.environ, KERAS_BACKEND=backend)
    return subprocess.call([sys.executable, "-m", "keras_gan_stable", *argv],
                           env=env)


def _usage(fn, *args, **kwargs):
    """Runs `fn`; configuration and data errors become `UsageError`."""
    from keras_gan_stable.data.loaders import DataError
    from keras_gan_stable.utils.config import ConfigError

    try:
        return fn(*args, **kwargs)
    except (DataError, ConfigError, FileNotFoundError) as e:
        raise UsageError(" ".join(str(e).split())) from None
    except ValueError as e:
        raise UsageError(" ".join(str(e).split())) from None


# ---------------------------------------------------------------------- #
# Configuration
# ---------------------------------------------------------------------- #
def resolve_config(recipe=None, config_file=None, overrides=(), data=None,
                   epochs=None, images=None, out=None, name=None):
    """Recipe, then config file, then flags and `--set`; validated."""
    from keras_gan_stable import presets
    from keras_gan_stable.utils import config as cfg

    file_config = {}
    if config_file:
        file_config = cfg.load_config_file(config_file)
    recipe = recipe or file_config.get("recipe") or presets.DEFAULT_RECIPE
    if recipe not in presets.RECIPES:
        raise cfg.ConfigError(
            f"Unknown recipe {recipe!r}. Use one of: "
            f"{', '.join(presets.recipe_names())}."
        )
    # The data source decides between a recipe's image and point settings;
    # it may come from the flag, a --set override or the config file.
    data_section = file_config.get("data")
    source = (data_section.get("source") if isinstance(data_section, dict)
              else None)
    parsed = [cfg.parse_override(text) for text in overrides]
    for key, value in parsed:
        if key == "data.source":
            source = value
    if data is not None:
        source = data
    config = presets.recipe_config(recipe,
                                   points=presets.is_point_source(source))
    if file_config:
        config = cfg.merge(config, file_config, where=f"Config file {config_file}")
        config["recipe"] = recipe
    if data is not None:
        config["data"]["source"] = data
    if epochs is not None:
        config["train"]["epochs"] = epochs
        config["train"]["images"] = None
    if images is not None:
        config["train"]["images"] = images
    if out is not None:
        config["output"]["dir"] = out
    if name is not None:
        config["name"] = name
    for key, value in parsed:
        config = cfg.apply_override(config, key, value)
    if config["name"] is None:
        config["name"] = recipe
    return cfg.validate_config(config)


def _unique_dir(path):
    if not os.path.exists(path) or not os.listdir(path):
        return path
    i = 2
    while os.path.exists(f"{path}-{i}") and os.listdir(f"{path}-{i}"):
        i += 1
    return f"{path}-{i}"


# ---------------------------------------------------------------------- #
# train
# ---------------------------------------------------------------------- #
def cmd_train(args):
    from keras_gan_stable.export import STATE_NAME

    resume_dir = None
    if args.resume is not None:
        resume_dir = args.out if args.resume is True else args.resume
        if not resume_dir:
            raise UsageError(
                "--resume needs the run folder: --resume runs/<name> (or "
                "--out runs/<name> --resume)."
            )
        if not os.path.exists(os.path.join(resume_dir, "config.yaml")):
            raise UsageError(
                f"--resume {resume_dir}: no config.yaml there; pass the "
                "folder of a run written by `keras-gan-stable train`."
            )
    if resume_dir:
        config = _usage(_resume_config, resume_dir, args)
        out_dir = resume_dir
        state_path = os.path.join(resume_dir, STATE_NAME)
        state = {}
        if os.path.exists(state_path):
            with open(state_path) as f:
                state = json.load(f)
    else:
        config = _usage(resolve_config, recipe=args.recipe,
                        config_file=args.config, overrides=args.overrides,
                        data=args.data, epochs=args.epochs,
                        images=args.images, out=args.out, name=args.name)
        out_dir = config["output"]["dir"] or os.path.join("runs",
                                                          config["name"])
        if not config["output"]["dir"]:
            out_dir = _unique_dir(out_dir)
        elif os.path.isdir(out_dir) and os.listdir(out_dir):
            raise UsageError(
                f"--out {out_dir} already holds files. Pass an empty or new "
                "folder, or --resume to continue that run."
            )
        state = {}
    return train(config, out_dir, resume=bool(resume_dir), state=state,
                 verbose=0 if args.quiet else "auto")


def _resume_config(run_dir, args):
    from keras_gan_stable.utils import config as cfg

    config = cfg.load_config_file(os.path.join(run_dir, "config.yaml"))
    if args.epochs is not None:
        config["train"]["epochs"] = args.epochs
        config["train"]["images"] = None
    if args.images is not None:
        config["train"]["images"] = args.images
    for text in args.overrides:
        key, value = cfg.parse_override(text)
        config = cfg.apply_override(config, key, value)
    return cfg.validate_config(config)


def _load_training_data(config):
    """(data for fit, data shape, num_classes, fit kwargs, steps per epoch)."""
    from keras_gan_stable.data import loaders

    d, t = config["data"], config["train"]
    per_step = t["n_critic"] * t["batch_size"]
    kwargs = dict(image_size=d["image_size"], channels=d["channels"],
                  labels=d["labels"], max_samples=d["max_samples"],
                  value_range=d["value_range"], num_samples=d["num_samples"],
                  seed=t["seed"])
    try:
        import tensorflow  # noqa: F401
        have_tf = True
    except ImportError:
        have_tf = False
    if have_tf:
        ds = loaders.load_dataset(d["source"], batch_size=per_step,
                                  shuffle=True, drop_remainder=True, **kwargs)
        spec = ds.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        shape = tuple(spec.shape[1:])
        steps = int(ds.cardinality())
        num_classes = None
        if d["labels"]:
            num_classes = _num_classes(d["source"], ds)
        return ds, shape, num_classes, {"shuffle": False}, steps
    x = loaders.load_arrays(d["source"], **kwargs)
    y = None
    if d["labels"]:
        x, y = x
    n = x.shape[0]
    if n < per_step:
        raise loaders.DataError(
            f"{d['source']}: found {n} samples, fewer than one step of "
            f"{per_step} (n_critic x batch_size). Lower train.batch_size."
        )
    n = n - n % per_step
    data = x[:n] if y is None else (x[:n], y[:n])
    num_classes = None if y is None else int(y.max()) + 1
    return data, tuple(x.shape[1:]), num_classes, {
        "batch_size": per_step, "shuffle": True}, n // per_step


def _num_classes(source, ds):
    import numpy as np

    if source.startswith("tfds:"):
        from keras_gan_stable.data.loaders import parse_tfds_source, tfds_load

        name, _ = parse_tfds_source(source)
        _, info = tfds_load(name, split="train", with_info=True)
        return int(info.features["label"].num_classes)
    top = 0
    for _, y in ds.unbatch().batch(4096):
        top = max(top, int(np.max(y.numpy())))
    return top + 1


def _fitting_size(config, shape):
    """A power-of-two size for architectures that need one (28 -> 32)."""
    arch = config["model"]["architecture"]
    if (len(shape) != 3 or config["data"]["image_size"] is not None
            or arch in ("dcgan", "mlp") or shape[0] != shape[1]):
        return None
    h = int(shape[0])
    if h & (h - 1) == 0:
        return None
    return 1 << h.bit_length()


def build_gan(config, data_shape, num_classes=None):
    """Builds and compiles the GAN a configuration describes."""
    import inspect

    from keras_gan_stable import presets
    from keras_gan_stable.models.gan import GAN
    from keras_gan_stable.utils.config import make_optimizer

    t = config["train"]
    generator, discriminator = presets.build_networks(config, data_shape,
                                                      num_classes)
    kwargs = dict(latent_dim=config["model"]["latent_dim"],
                  num_classes=num_classes, seed=t["seed"])
    if t["ema"] is not None:
        if "ema_decay" not in inspect.signature(GAN.__init__).parameters:
            raise ValueError(
                "train.ema needs a GAN with an EMA generator (`ema_decay`), "
                "which this installation lacks. Set train.ema=null."
            )
        kwargs["ema_decay"] = t["ema"]
    model_class = GAN
    if config["model"]["architecture"] == "progan":
        from keras_gan_stable.models.progan import ProGAN as model_class
    gan = model_class(generator, discriminator, **kwargs)
    gan.compile(d_optimizer=make_optimizer(t["d_optimizer"]),
                g_optimizer=make_optimizer(t["g_optimizer"]),
                loss=t["loss"], penalty=t["penalty"],
                penalty_weight=t["penalty_weight"], n_critic=t["n_critic"],
                weight_clip=t["weight_clip"], drift=t["drift"],
                label_smoothing=t["label_smoothing"])
    return gan


def _extra_callbacks(config, gan, total_images):
    """Callbacks a recipe needs: progressive growing for ProGAN."""
    if config["model"]["architecture"] != "progan":
        return []
    from keras_gan_stable.callbacks.progressive_growing import (
        ProgressiveGrowing)

    # 4x4 stable, then a fade-in and a stable phase per doubling, sharing
    # the image budget equally (the paper: 800k images per phase).
    phases = 2 * (int(math.log2(gan.image_shape[0])) - 2) + 1
    per_phase = max(1, total_images // phases)
    return [ProgressiveGrowing(fade_images=per_phase, stable_images=per_phase,
                               batch_size=config["train"]["batch_size"],
                               stop_at_end=False)]


class _CheckpointEvery:
    """Builds the epoch-end checkpoint callback (lazy keras import)."""

    @staticmethod
    def make(out_dir, every, start_epoch):
        import keras

        from keras_gan_stable.export import save_checkpoint

        class Checkpoint(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if (epoch + 1) % every == 0:
                    save_checkpoint(self.model, out_dir, {"epoch": epoch + 1})

        return Checkpoint()


def train(config, out_dir, resume=False, state=None, verbose="auto"):
    """Runs one training job and writes every output under `out_dir`.

    Outputs: `config.yaml` (the resolved configuration), `samples/epoch_*.png`
    (fixed-noise grids), `curves.png` and `history.json`, `tensorboard/`,
    `checkpoint.keras` + `train_state.json`, `saved_model/1/` and
    `summary.json`. Returns 0.
    """
    import keras

    from keras_gan_stable.callbacks.plots import TrainingCurves
    from keras_gan_stable.callbacks.sample_grid import SampleGrid
    from keras_gan_stable.export import (export_generator, load_checkpoint,
                                         save_checkpoint, write_json_atomic)
    from keras_gan_stable.utils.config import save_config

    t0 = time.time()
    t = config["train"]
    keras.utils.set_random_seed(t["seed"])
    # Everything that can fail on bad input runs before the folder exists.
    data, shape, num_classes, fit_kwargs, steps_per_epoch = _usage(
        _load_training_data, config)
    size = _fitting_size(config, shape)
    if size is not None:
        print(f"Resizing the {shape[0]}x{shape[1]} images to {size}x{size} "
              f"for model.architecture={config['model']['architecture']} "
              f"(set data.image_size to choose).")
        config["data"]["image_size"] = size
        data, shape, num_classes, fit_kwargs, steps_per_epoch = _usage(
            _load_training_data, config)
    if resume:
        gan, _ = load_checkpoint(out_dir)
    else:
        gan = _usage(build_gan, config, shape, num_classes)
    per_step = t["n_critic"] * t["batch_size"]
    if t["images"] is not None:
        total_steps = max(1, math.ceil(t["images"] / per_step))
        steps = min(steps_per_epoch, total_steps)
        epochs = math.ceil(total_steps / steps)
        if steps < steps_per_epoch:
            if fit_kwargs:  # arrays: one shorter epoch
                fit_kwargs["steps_per_epoch"] = steps
            else:
                data = data.repeat()
                fit_kwargs["steps_per_epoch"] = steps
    else:
        epochs = t["epochs"]
    initial_epoch = int((state or {}).get("epoch", 0)) if resume else 0
    if resume and initial_epoch >= epochs:
        raise UsageError(
            f"--resume {out_dir}: the run already trained {initial_epoch} "
            f"epochs of {epochs}. Pass a larger --epochs to continue."
        )

    os.makedirs(out_dir, exist_ok=True)
    save_config(config, os.path.join(out_dir, "config.yaml"))
    tb_dir = os.path.join(out_dir, "tensorboard")
    grid = SampleGrid(os.path.join(out_dir, "samples"),
                      num_samples=config["output"]["samples"], seed=t["seed"],
                      tensorboard_dir=(os.path.join(tb_dir, "train")
                                       if config["output"]["tensorboard"]
                                       else None))
    if resume:
        grid.paths.append("resumed")  # keep the epoch-0 grid of the first run
    if len(shape) == 1:
        from keras_gan_stable.data.loaders import load_arrays

        grid.reference = load_arrays(config["data"]["source"],
                                     num_samples=2000, seed=t["seed"] + 1)
    callbacks = [grid]
    if config["output"]["plots"]:
        callbacks.append(TrainingCurves(
            os.path.join(out_dir, "curves.png"),
            history_path=os.path.join(out_dir, "history.json"),
            title=f"{config['name']} ({config['recipe']})"))
    if config["output"]["tensorboard"]:
        try:
            import tensorflow  # noqa: F401

            from keras_gan_stable.callbacks.plots import TensorBoardScalars

            callbacks.append(TensorBoardScalars(os.path.join(tb_dir, "train")))
        except ImportError:
            pass
    every = max(1, epochs // 10)
    callbacks.append(_CheckpointEvery.make(out_dir, every, initial_epoch))
    total_images = epochs * per_step * (fit_kwargs.get("steps_per_epoch")
                                        or steps_per_epoch)
    # Schedules go first, so the logs they write reach the plots.
    callbacks[:0] = _extra_callbacks(config, gan, total_images)

    history = gan.fit(data, epochs=epochs, initial_epoch=initial_epoch,
                      callbacks=callbacks, verbose=verbose, **fit_kwargs)
    train_seconds = time.time() - t0
    ckpt = save_checkpoint(gan, out_dir, {"epoch": epochs})
    files = {"config": os.path.join(out_dir, "config.yaml"),
             "checkpoint": ckpt,
             "samples": os.path.join(out_dir, "samples"),
             "last_grid": grid.paths[-1]}
    if config["output"]["plots"]:
        files["curves"] = os.path.join(out_dir, "curves.png")
        files["history"] = os.path.join(out_dir, "history.json")
    if config["output"]["tensorboard"]:
        files["tensorboard"] = tb_dir
    if config["output"]["export"] and len(shape) == 3:
        try:
            files["saved_model"] = export_generator(
                gan, os.path.join(out_dir, "saved_model"), overwrite=True)
        except ImportError as e:  # no TensorFlow: train and save only
            print(f"Skipping the SavedModel export: {e}")
    final = {k: float(v[-1]) for k, v in history.history.items() if v}
    metrics = {}
    if config["output"]["fid_samples"]:
        metrics = final_metrics(gan, config, out_dir)
    summary = {"name": config["name"], "recipe": config["recipe"],
               "backend": keras.backend.backend(), "epochs": epochs,
               "seconds": round(time.time() - t0, 1),
               "train_seconds": round(train_seconds, 1),
               "final_logs": final, "metrics": metrics, "files": files}
    write_json_atomic(os.path.join(out_dir, "summary.json"), summary)
    _print_summary(summary, out_dir)
    return 0


def _print_summary(summary, out_dir):
    lines = [f"\nTrained {summary['name']} ({summary['recipe']}) for "
             f"{summary['epochs']} epochs in {summary['seconds']:.0f} s "
             f"on {summary['backend']}. Outputs in {out_dir}/:"]
    for key, path in summary["files"].items():
        lines.append(f"  {key:12s} {path}")
    logs = ", ".join(f"{k}={v:.4g}" for k, v in summary["final_logs"].items())
    lines.append(f"  final logs   {logs}")
    for key, value in summary["metrics"].items():
        lines.append(f"  {key:12s} {value:.4g}" if isinstance(
            value, float) else f"  {key:12s} {value}")
    print("\n".join(lines))


# ---------------------------------------------------------------------- #
# Metrics
# ---------------------------------------------------------------------- #
def final_metrics(gan, config, out_dir=None, num=None, seed=0, data=None):
    """Metrics of the generator against the real data (dict of floats).

    Images: a Frechet distance in the features of a small classifier trained
    on the labelled real data (`metrics.train_feature_classifier`), when the
    data have labels. Points: mode coverage against the mixture's modes.
    """
    import numpy as np

    from keras_gan_stable.data import loaders

    d = config["data"]
    num = num or config["output"]["fid_samples"]
    source = data or d["source"]
    generator = getattr(gan, "ema_generator", None) or gan.generator
    fake = gan.generate(num, seed=seed, generator=generator)
    if fake.ndim == 2:
        from keras_gan_stable.data.mixtures import mixture_modes

        if source not in ("ring8", "grid25"):
            return {}
        centres, std = mixture_modes(source)
        dist = np.linalg.norm(fake[:, None, :] - centres[None], axis=-1)
        nearest = dist.argmin(axis=1)
        good = dist.min(axis=1) <= 3 * std
        return {"modes": int(len(np.unique(nearest[good]))),
                "high_quality": float(good.mean())}
    try:
        from keras_gan_stable.metrics import frechet_distance_from_features
    except ImportError:
        return {}
    try:
        real, labels = loaders.load_arrays(
            source, image_size=d["image_size"] or tuple(fake.shape[1:3]),
            channels=fake.shape[-1], labels=True,
            max_samples=d["max_samples"], value_range=d["value_range"])
    except loaders.DataError:
        return {}
    if len(np.unique(labels)) < 2:  # a classifier needs classes
        return {}
    clf = _feature_classifier(real, labels, source, out_dir)
    note = f"feature classifier trained on {source}"
    try:
        from keras_gan_stable.metrics.evaluate import evaluate
    except ImportError:
        evaluate = None
    if evaluate is not None:
        result = evaluate(gan, (real, labels), metrics=["fid", "kid", "pr"],
                          extractor=clf, num_samples=num, seed=seed)
        out = {k: float(v) for k, v in result.items()
               if isinstance(v, (int, float, np.floating, np.integer))}
        return {**out, "samples": int(num), "features": note}
    import keras

    features = keras.Model(clf.inputs, clf.get_layer("features").output)
    f_real = features.predict(real, verbose=0, batch_size=256)
    f_fake = features.predict(fake, verbose=0, batch_size=256)
    return {"fid": float(frechet_distance_from_features(f_real, f_fake)),
            "samples": int(num), "features": note}


def _feature_classifier(real, labels, source, out_dir):
    """Trains (or re-loads from `out_dir`) the metric's feature classifier."""
    import keras

    from keras_gan_stable.metrics import train_feature_classifier

    path = os.path.join(out_dir, "feature_classifier.keras") if out_dir else None
    if path and os.path.exists(path):
        return keras.saving.load_model(path)
    tmp = None if path is None else os.path.join(out_dir,
                                                 ".feature_classifier.tmp.keras")
    clf = train_feature_classifier(real, labels, epochs=8, save_path=tmp)
    if tmp:
        os.replace(tmp, path)
    return clf


# ---------------------------------------------------------------------- #
# sample / evaluate / export
# ---------------------------------------------------------------------- #
def _is_saved_model(path):
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    if os.path.isdir(path):
        versions = sorted((int(v) for v in os.listdir(path) if v.isdigit()
                           and os.path.exists(os.path.join(
                               path, v, "saved_model.pb"))))
        if versions:
            return os.path.join(path, str(versions[-1]))
    return None


def _load_gan(source):
    from keras_gan_stable.export import CHECKPOINT_NAME, load_checkpoint

    path = source
    if os.path.isdir(source) and not os.path.exists(
            os.path.join(source, CHECKPOINT_NAME)):
        raise UsageError(
            f"{source}: no {CHECKPOINT_NAME} or SavedModel there. Pass a run "
            "folder, a .keras file or a SavedModel folder."
        )
    if not os.path.exists(path):
        raise UsageError(f"{source} does not exist. Check the path.")
    if not os.path.isdir(path) and not path.endswith(".keras"):
        raise UsageError(
            f"{source}: expected a run folder, a .keras file or a SavedModel "
            "folder."
        )
    gan, state = load_checkpoint(path)
    return gan, state


def cmd_sample(args):
    import numpy as np

    from keras_gan_stable.utils.images import save_image_grid

    if args.num < 1:
        raise UsageError(f"-n should be >= 1. Received: -n {args.num}.")
    if not args.out.lower().endswith((".png", ".npy")):
        raise UsageError(
            f"--out {args.out}: expected a .png (grid) or .npy (array) file."
        )
    sm = _is_saved_model(args.source) if os.path.isdir(args.source) else None
    if sm:
        import tensorflow as tf

        model = tf.saved_model.load(sm)
        images = model.sample(tf.constant(args.num, tf.int32),
                              tf.constant(args.seed, tf.int32)).numpy()
        floats = images.astype("float32") / 127.5 - 1.0
    else:
        gan, _ = _load_gan(args.source)
        floats = gan.generate(args.num, seed=args.seed,
                              generator=getattr(gan, "ema_generator", None))
        images = floats
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    if args.out.lower().endswith(".npy"):
        tmp = args.out + ".tmp.npy"
        np.save(tmp, images)
        os.replace(tmp, args.out)
    else:
        save_image_grid(floats, args.out)
    print(f"Wrote {args.num} samples to {args.out}")
    return 0


def cmd_evaluate(args):
    from keras_gan_stable.utils import config as cfg

    gan, _ = _load_gan(args.source)
    run_dir = args.source if os.path.isdir(args.source) else os.path.dirname(
        args.source)
    cpath = os.path.join(run_dir, "config.yaml")
    config = cfg.load_config_file(cpath) if os.path.exists(cpath) else (
        copy.deepcopy(cfg.DEFAULT_CONFIG))
    if args.data:
        config["data"]["source"] = args.data
    metrics = _usage(final_metrics, gan, config, run_dir, num=args.num,
                     seed=args.seed)
    if not metrics:
        raise UsageError(
            f"No metric applies to {config['data']['source']!r}: the image "
            "metric needs labelled data (digits, mnist, cifar10, a folder of "
            "class sub-folders) and the point metric a 2D mixture."
        )
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_export(args):
    from keras_gan_stable.export import export_generator

    gan, _ = _load_gan(args.source)
    path = _usage(export_generator, gan, args.out, version=args.version,
                  overwrite=args.overwrite)
    print(f"Exported the generator to {path} (signatures: serve, sample)")
    return 0


def cmd_recipes(args):
    from keras_gan_stable import presets

    for name in presets.recipe_names():
        print(f"{name:12s} {presets.RECIPES[name]['doc']}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
