"""A run: a typed, validated configuration and the class that builds and trains it.

The `keras-gan-stable` command only parses its arguments and calls this
module, so a Python user can do everything the command does:

>>> from keras_gan_stable.run import RunConfig, run
>>> config = RunConfig.from_recipe("sngan", overrides=["train.epochs=20"])
>>> summary = run(config, out_dir="runs/quick")      # trains, exports, measures
>>> summary = run(config, out_dir="runs/quick", resume=True)   # after a crash

`RunConfig` has the keys of a config file and of `--set` (sections `data`,
`model`, `train`, `output`, `export`; see `keras_gan_stable.utils.config`),
round-trips through YAML/JSON (`save`, `from_file`) and is validated when
built. `Run` checks everything that can be wrong with the input (config,
data, labels, the output folder, the checkpoint to resume) before it writes
anything; those problems raise `ConfigError` or `DataError` (`ValueError`s
with a one-line message).
"""

import copy
import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from typing import List, Optional, Union

from keras_gan_stable.utils import config as cfg
from keras_gan_stable.utils.config import ConfigError

CHECKPOINT_DIR = "checkpoints"
STATE_NAME = "run_state.json"
MAX_SAMPLES = 100_000
# Grids, curve plots and checkpoints are written at most once per this many
# steps (every epoch when epochs are longer), and at most this many times in
# a run (plus after the last epoch). A curve plot and a sample plot cost
# about 1 CPU-second together: on a 2D mixture (60,000 steps of ~3 ms) 50 of
# them were a sixth of the training CPU time, 20 under a tenth.
MIN_STEPS_BETWEEN_WRITES = 100
MAX_WRITES = 20

# `train.augment: auto` turns ADA on for image sets smaller than this, as
# StyleGAN2-ADA advises for small data; ADA's strength starts at 0 and rises
# only while D is too sure of the real images. Not a recipe's default: at
# CPU budgets it did not help (BENCHMARKS.md, "Augmentation for small data").
SMALL_DATA_IMAGES = 10_000

# Data sources whose classes are known (labels are checked against them).
KNOWN_CLASSES = {"digits": 10, "mnist": 10, "cifar10": 10}


def recipes_is_points(source):
    from keras_gan_stable import recipes

    return recipes.is_point_source(source)


def _section(name):
    return lambda: copy.deepcopy(cfg.DEFAULT_CONFIG[name])


@dataclasses.dataclass
class DataConfig:
    source: str = "digits"
    image_size: Optional[Union[int, List[int]]] = None
    channels: Optional[int] = None
    labels: Union[bool, str] = False
    max_samples: Optional[int] = None
    value_range: Optional[List[float]] = None
    num_samples: int = 10000
    num_classes: Optional[int] = None
    split: Optional[str] = None
    download: Optional[bool] = None
    stream: Union[bool, str] = "auto"


@dataclasses.dataclass
class ModelConfig:
    architecture: str = "dcgan"
    latent_dim: int = 128
    width: Optional[int] = None
    d_normalization: str = "batch"
    w_dim: Optional[int] = None
    mapping_layers: Optional[int] = None
    channel_base: Optional[int] = None
    channel_max: Optional[int] = None


def _opt():
    return copy.deepcopy(cfg.DEFAULT_CONFIG["train"]["d_optimizer"])


@dataclasses.dataclass
class TrainConfig:
    loss: str = "non_saturating"
    penalty: Optional[Union[str, List[str]]] = None
    penalty_weight: Optional[float] = None
    n_critic: int = 1
    weight_clip: Optional[float] = None
    drift: float = 0.0
    label_smoothing: float = 0.0
    batch_size: int = 64
    epochs: Optional[int] = 15
    images: Optional[int] = None
    d_optimizer: dict = dataclasses.field(default_factory=_opt)
    g_optimizer: dict = dataclasses.field(default_factory=_opt)
    ema: Optional[float] = None
    ema_rampup: Optional[float] = None
    augment: Optional[str] = None
    augment_policy: str = "color,translation,cutout"
    ada_target: float = 0.6
    ada_images: Optional[float] = None
    r1_gamma: Optional[float] = None
    r1_interval: Optional[int] = None
    pl_weight: Optional[float] = None
    pl_decay: Optional[float] = None
    pl_interval: Optional[int] = None
    pl_batch_shrink: Optional[int] = None
    style_mixing_prob: Optional[float] = None
    skip_nonfinite: bool = False
    rollback_after: Optional[int] = None
    precision: str = "float32"
    minutes: Optional[float] = None
    clock: str = "wall"
    seed: int = 0


@dataclasses.dataclass
class OutputConfig:
    dir: Optional[str] = None
    samples: int = 64
    tensorboard: bool = True
    plots: bool = True
    export: bool = True
    fid_samples: int = 1000
    metrics: List[str] = dataclasses.field(
        default_factory=lambda: ["fid", "kid", "pr"])
    extractor: str = "classifier"
    keep_checkpoints: int = 3
    checkpoint_steps: Optional[int] = None


@dataclasses.dataclass
class ExportConfig:
    formats: List[str] = dataclasses.field(
        default_factory=lambda: ["saved_model"])


@dataclasses.dataclass
class TaskConfig:
    """Image-to-image runs (`keras_gan_stable.task_run`); `name=None` trains
    a GAN on latent vectors."""
    name: Optional[str] = None
    mask: str = "box"
    hole_size: Optional[Union[int, List[int]]] = None
    noise: str = "gaussian"
    sigma: float = 0.1
    reconstruction_weight: float = 100.0
    adversarial_weight: float = 1.0
    holdout: int = 64


@dataclasses.dataclass
class TextConfig:
    """Text-to-image runs (`keras_gan_stable.text_run`; model.architecture
    stackgan, attngan or dmgan); the defaults are in `utils.config`."""
    max_length: int = 24
    embedding_dim: int = 16
    feature_dim: int = 32
    condition_dim: int = 16
    refinement_stages: int = 1
    stage_discriminators: bool = False
    d_projection: bool = False
    sentence_affine: bool = False
    residual_blocks: int = 1
    damsm: Optional[str] = None
    damsm_steps: int = 3000
    damsm_batch_size: int = 32
    damsm_pooling: str = "flatten"
    damsm_learning_rate: float = 2e-3
    damsm_weight: float = 5.0
    kl_weight: float = 2.0
    mismatch_weight: float = 0.5
    holdout: int = 64
    grid_captions: Optional[List[str]] = None
    grid_seeds: int = 8
    text_folder: Optional[str] = None
    classifier_images: int = 1500
    classifier_epochs: int = 10
    eval_damsm_steps: int = 3000


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig,
             "output": OutputConfig, "export": ExportConfig,
             "task": TaskConfig, "text": TextConfig}


@dataclasses.dataclass
class RunConfig:
    """A run's full configuration, validated when built.

    The fields are the sections of a config file (`data`, `model`,
    `train`, `output`, `export`) plus `name` and `recipe`; a dict may be
    given for a section. Invalid values raise `ConfigError` naming the key.

    >>> config = RunConfig.from_recipe("wgan-gp", data="mnist",
    ...                                overrides=["train.n_critic=2"])
    >>> config.train.n_critic
    2
    >>> config.save("run.yaml"); RunConfig.from_file("run.yaml") == config
    True
    """

    name: Optional[str] = None
    recipe: Optional[str] = None
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    text: TextConfig = dataclasses.field(default_factory=TextConfig)

    def __post_init__(self):
        for key, cls in _SECTIONS.items():
            value = getattr(self, key)
            if isinstance(value, dict):
                full = cfg.merge(cfg.DEFAULT_CONFIG[key], value,
                                 where="RunConfig", prefix=key + ".")
                setattr(self, key, cls(**full))
        cfg.validate_config(self.to_dict())

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, config, where="config"):
        full = cfg.merge(cfg.DEFAULT_CONFIG, config, where=where)
        return cls(**full)

    @classmethod
    def from_file(cls, path):
        return cls.from_dict(cfg.load_config_file(path),
                             where=f"Config file {path}")

    @classmethod
    def from_recipe(cls, recipe=None, config_file=None, overrides=(),
                    **flags):
        """Recipe, then config file, then `flags` and `overrides`."""
        return cls.from_dict(resolve_config(recipe, config_file, overrides,
                                            **flags))

    def save(self, path):
        """Writes the configuration as YAML (JSON for `.json`)."""
        return cfg.save_config(self.to_dict(), path)


def resolve_config(recipe=None, config_file=None, overrides=(), data=None,
                   epochs=None, images=None, out=None, name=None):
    """A validated config dict: recipe, then config file, then flags and
    `--set` overrides (`"section.key=value"`)."""
    from keras_gan_stable import recipes

    file_config = {}
    if config_file:
        if os.path.isdir(config_file):
            raise ConfigError(
                f"--config {config_file} is a folder; pass a YAML or JSON "
                "file (e.g. the config.yaml of a run)."
            )
        file_config = cfg.load_config_file(config_file)
    recipe = recipe or file_config.get("recipe") or recipes.DEFAULT_RECIPE
    if recipe not in recipes.RECIPES:
        raise ConfigError(
            f"Unknown recipe {recipe!r} (--recipe, or `recipe` in the config "
            f"file). Use one of: {', '.join(recipes.recipe_names())}."
        )
    data_section = file_config.get("data")
    source = (data_section.get("source") if isinstance(data_section, dict)
              else None)
    parsed = [cfg.parse_override(text) for text in overrides]
    for key, value in parsed:
        if key == "data.source":
            source = value
    if data is not None:
        source = data
    config = recipes.recipe_config(recipe,
                                   points=recipes.is_point_source(source))
    if file_config:
        config = cfg.merge(config, file_config,
                           where=f"Config file {config_file}")
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


def _as_dict(config):
    if isinstance(config, RunConfig):
        return config.to_dict()
    return RunConfig.from_dict(config).to_dict()


def unique_dir(path):
    """`path`, or `path-2`, `path-3`... : the first that is absent or empty."""
    if not os.path.exists(path) or not os.listdir(path):
        return path
    i = 2
    while os.path.exists(f"{path}-{i}") and os.listdir(f"{path}-{i}"):
        i += 1
    return f"{path}-{i}"


def _check_writable(path, flag="--out"):
    """A one-line `ConfigError` unless `path` can be created as a folder."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(
            f"{flag} {path} is a file; pass a folder path (new or empty)."
        )
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ConfigError(
            f"{flag} {path}: {probe} is a file, so the folder cannot be "
            "created. Pass another path."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{flag} {path}: {probe} is not writable. Pass a folder you can "
            "write to."
        )


def fitting_size(config, shape):
    """A power-of-two size for architectures that need one (28 -> 32)."""
    arch = config["model"]["architecture"]
    if (len(shape) != 3 or config["data"]["image_size"] is not None
            or arch in ("dcgan", "mlp") or shape[0] != shape[1]):
        return None
    h = int(shape[0])
    if h & (h - 1) == 0:
        return None
    return 1 << h.bit_length()


def build_gan(config, data_shape, num_classes=None, total_steps=None):
    """Builds and compiles the GAN a configuration describes.

    Args:
        config: `RunConfig` or config dict.
        data_shape: `(H, W, C)` or `(D,)`.
        num_classes: int or `None`.
        total_steps: int or `None`. Generator steps of the run (the length
            of learning-rate schedules).
    """
    from keras_gan_stable import recipes
    from keras_gan_stable.models.gan import GAN

    config = _as_dict(config)
    t = config["train"]
    if t["augment"] == "auto":
        raise ValueError(
            "train.augment='auto' is decided by a run from its data's size "
            f"(ADA for fewer than {SMALL_DATA_IMAGES:,} images); received it "
            "in build_gan. Train through keras_gan_stable.run.Run, decide it "
            "first with run.resolve_augment(config, num_images, data_shape), "
            "or set train.augment to 'ada' or null.")
    generator, discriminator = recipes.build_networks(config, data_shape,
                                                      num_classes)
    kwargs = dict(latent_dim=config["model"]["latent_dim"],
                  num_classes=num_classes, seed=t["seed"])
    arch = config["model"]["architecture"]
    if t["ema"] is not None or arch == "stylegan2":
        kwargs["ema_decay"] = t["ema"]  # StyleGAN2: null means no EMA
        kwargs["ema_rampup"] = (None if t["ema"] is None
                                else t.get("ema_rampup"))
    model_class = GAN
    if arch == "progan":
        from keras_gan_stable.models.progan import ProGAN as model_class
    elif arch == "stylegan2":
        from keras_gan_stable.models.stylegan2 import StyleGAN2 as model_class
    gan = model_class(generator, discriminator, **kwargs)
    augment = None
    if t["augment"] == "diffaugment":
        from keras_gan_stable.augment import DiffAugment

        augment = DiffAugment(policy=t["augment_policy"], seed=t["seed"])
    elif t["augment"] in ("ada", "ada_geometric"):
        from keras_gan_stable.augment import AdaptiveAugment
        from keras_gan_stable.augment_geometric import (
            GeometricAdaptiveAugment)

        ada = dict(target=t["ada_target"], seed=t["seed"])
        if t["ada_images"] is not None:
            ada["adjustment_images"] = t["ada_images"]
        augment = (AdaptiveAugment if t["augment"] == "ada"
                   else GeometricAdaptiveAugment)(**ada)
    d_steps = None if total_steps is None else total_steps * t["n_critic"]
    if arch == "stylegan2":
        # StyleGAN2 sets its loss (non-saturating), lazy R1 and n_critic 1.
        options = {key: default if t[key] is None else t[key]
                   for key, default in cfg.STYLEGAN2_TRAIN.items()}
        gan.compile(d_optimizer=cfg.make_optimizer(t["d_optimizer"], d_steps),
                    g_optimizer=cfg.make_optimizer(t["g_optimizer"],
                                                   total_steps),
                    augment=augment, drift=t["drift"],
                    label_smoothing=t["label_smoothing"],
                    skip_nonfinite=t["skip_nonfinite"], **options)
        return gan
    return compile_from_train(gan, t, total_steps, augment=augment)


def compile_from_train(gan, t, total_steps, **kwargs):
    """Compiles `gan` with the loss, penalty and optimisers of the `train`
    section `t` (a dict); `total_steps`: G steps of the run, for learning-
    rate schedules (`None`: no schedule). `kwargs` go to `compile` too."""
    d_steps = None if total_steps is None else total_steps * t["n_critic"]
    gan.compile(d_optimizer=cfg.make_optimizer(t["d_optimizer"], d_steps),
                g_optimizer=cfg.make_optimizer(t["g_optimizer"], total_steps),
                loss=t["loss"], penalty=t["penalty"],
                penalty_weight=t["penalty_weight"], n_critic=t["n_critic"],
                weight_clip=t["weight_clip"], drift=t["drift"],
                label_smoothing=t["label_smoothing"],
                skip_nonfinite=t["skip_nonfinite"], **kwargs)
    return gan


def resolve_augment(config, num_images, data_shape):
    """Decides `train.augment: auto` in `config` (a dict, changed in place
    and returned): `ada` for fewer than `SMALL_DATA_IMAGES` images, `null`
    for larger sets, points (`data_shape` of rank 1) and image-to-image
    runs. Other values are left as they are."""
    t = config["train"]
    if t["augment"] == "auto":
        small = (len(data_shape) == 3 and num_images < SMALL_DATA_IMAGES
                 and _task_name(config) is None)
        t["augment"] = "ada" if small else None
    return config


def _task_name(config):
    """The image-to-image task of a config (`task.name`), or `None`."""
    if isinstance(config, RunConfig):
        return config.task.name
    task = config.get("task") if isinstance(config, dict) else None
    return task.get("name") if isinstance(task, dict) else None


def _is_text(config):
    """Whether a config is a text-to-image run's (its architecture)."""
    if isinstance(config, RunConfig):
        arch = config.model.architecture
    else:
        model = config.get("model") if isinstance(config, dict) else None
        arch = model.get("architecture") if isinstance(model, dict) else None
    return arch in cfg.TEXT_ARCHITECTURES


def _run_is_text(source):
    """Whether the run folder `source` is a text-to-image run."""
    path = os.path.join(source, "config.yaml")
    if not os.path.isfile(path):
        return False
    try:
        return _is_text(cfg.load_config_file(path))
    except ConfigError:
        return False


def _run_task(source):
    """The task of the run folder `source` (from its config.yaml), or None."""
    path = os.path.join(source, "config.yaml")
    if not os.path.isfile(path):
        return None
    try:
        return _task_name(cfg.load_config_file(path))
    except ConfigError:
        return None


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"{path}: the {what} is unreadable ({' '.join(str(e).split())}). "
            "Restore it from a backup or start a new run."
        ) from None


def _labels_classes(y, source, num_classes):
    """Checks the labels' range; returns the number of classes."""
    import numpy as np

    from keras_gan_stable.data.loaders import DataError

    y = np.asarray(y)
    low, high = int(y.min()), int(y.max())
    n = num_classes or KNOWN_CLASSES.get(source)
    if n is None:
        distinct = len(np.unique(y))
        if low < 0 or high + 1 != distinct:
            raise DataError(
                f"{source}: the labels hold {distinct} distinct values from "
                f"{low} to {high}; expected 0..K-1. Relabel them to 0..K-1 "
                "or set data.num_classes=K."
            )
        n = high + 1
    if low < 0 or high >= n:
        raise DataError(
            f"{source}: found labels from {low} to {high}, outside [0, "
            f"{n - 1}] for {n} classes. Fix the labels or set "
            "data.num_classes."
        )
    if n < 2:
        raise DataError(
            f"{source}: the labels hold one class; a class-conditional GAN "
            "needs at least 2. Set data.labels=false."
        )
    return int(n)


class Run:
    """Builds a run from a configuration and trains it.

    Everything that can be wrong with the input is checked by the
    constructor (config, data and labels, the output folder, the
    checkpoint to resume), which writes nothing; `fit()` then writes every
    output under `out_dir`: `config.yaml`, `samples/epoch_*.png`,
    `curves.png` + `history.json`, `tensorboard/`, `checkpoints/`
    (`ResumableCheckpoint`), `saved_model/1/`, `summary.json`.

    An image folder above 128 MiB decoded (`data.stream: auto`, or always
    with `true`) is streamed: a `FolderImages` view decodes each batch on
    demand, with the same values and the same `(seed, epoch, batch)` order
    as in memory, so training and resuming stay exact.

    Args:
        config: `RunConfig` or config dict.
        out_dir: str or `None`. Defaults to `output.dir`, else a new
            `runs/<name>` (never one that holds files).
        resume: bool. Continue the run in `out_dir` from its newest
            complete checkpoint, exactly; a finished run whose export or
            summary was cut short is completed.
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
    """

    def __new__(cls, config=None, *args, **kwargs):
        # A config with a `task` builds the image-to-image run.
        if cls is Run and config is not None and _task_name(config):
            from keras_gan_stable.task_run import TaskRun

            cls = TaskRun
        elif cls is Run and config is not None and _is_text(config):
            from keras_gan_stable.text_run import TextRun

            cls = TextRun
        return super().__new__(cls)

    def __init__(self, config, out_dir=None, resume=False, verbose="auto"):
        self.config = _as_dict(config)
        self.verbose = verbose
        self.resume = bool(resume)
        out = self.config["output"]
        if out_dir is None:
            out_dir = out["dir"]
        if out_dir is None:
            if resume:
                raise ConfigError("Resuming needs the run folder (out_dir).")
            out_dir = unique_dir(os.path.join("runs", self.config["name"]))
        self.out_dir = os.fspath(out_dir)
        _check_writable(self.out_dir, "--resume" if resume else "--out")
        if not resume and os.path.isdir(self.out_dir) and os.listdir(
                self.out_dir):
            raise ConfigError(
                f"--out {self.out_dir} already holds files. Pass an empty or "
                "new folder, or --resume to continue that run."
            )
        self.ckpt_dir = os.path.join(self.out_dir, CHECKPOINT_DIR)
        self._check_export_formats()
        self._prepare()

    def _check_export_formats(self):
        import inspect

        from keras_gan_stable.export import export_generator

        others = [f for f in self.config["export"]["formats"]
                  if f != "saved_model"]
        if others and self.config["output"]["export"] and (
                "format" not in inspect.signature(export_generator).parameters):
            raise ConfigError(
                f"Invalid config value export.formats="
                f"{self.config['export']['formats']!r}: this installation "
                "exports only saved_model. Set export.formats=[saved_model]."
            )

    @classmethod
    def resume_from(cls, run_dir, epochs=None, images=None, overrides=(),
                    verbose="auto"):
        """The run in `run_dir`, to continue (budget and `--set` changes)."""
        path = os.path.join(run_dir, "config.yaml")
        if not os.path.isdir(run_dir):
            raise ConfigError(
                f"--resume {run_dir}: no such folder. Pass the folder of a run "
                "written by `keras-gan-stable train`."
            )
        if not os.path.exists(path):
            raise ConfigError(
                f"--resume {run_dir}: no config.yaml there; pass the folder of "
                "a run written by `keras-gan-stable train`."
            )
        config = cfg.load_config_file(path)
        state_path = os.path.join(run_dir, STATE_NAME)
        state = (_read_json(state_path, "run state")
                 if os.path.exists(state_path) else {})
        target = epochs if epochs is not None else (
            config.get("train", {}).get("epochs") if images is None
            and config.get("train", {}).get("images") is None else None)
        if state.get("finished") and state.get("exported") and isinstance(
                target, int) and target <= state.get("epochs", 0):
            raise ConfigError(
                f"--resume {run_dir}: the run already trained "
                f"{state['epochs']} epochs of {target}. Pass a larger "
                "--epochs to continue."
            )
        if epochs is not None:
            config["train"]["epochs"], config["train"]["images"] = epochs, None
        if images is not None:
            config["train"]["images"] = images
        for text in overrides:
            config = cfg.apply_override(config, *cfg.parse_override(text))
        return cls(config, out_dir=run_dir, resume=True, verbose=verbose)

    # ------------------------------------------------------------------ #
    def _folder_view(self):
        """The data as a `FolderImages` view when `data.stream` streams it
        (see `should_stream`), else `None` (loaded into memory)."""
        from keras_gan_stable.data import loaders
        from keras_gan_stable.data.folder_array import (FolderImages,
                                                        should_stream)

        d = self.config["data"]
        source = d["source"]
        if d["stream"] is True and not os.path.isdir(source) and (
                os.path.exists(source) or source in loaders.BUILTIN_SOURCES
                or source.startswith("tfds:")):
            # (A missing path gets the loaders' "does not exist" error.)
            raise loaders.DataError(
                f"data.stream=true streams image folders only, and {source!r} "
                "is not a folder (it is loaded into memory). Set "
                "data.stream=auto or false."
            )
        if d["split"] not in (None, "train", "all") or not should_stream(
                source, d["stream"], image_size=d["image_size"],
                channels=d["channels"], max_samples=d["max_samples"]):
            return None  # (a bad split gets the loaders' own error)
        view = FolderImages(source, image_size=d["image_size"],
                            channels=d["channels"],
                            max_samples=d["max_samples"],
                            value_range=d["value_range"])
        if self.verbose:
            print(f"Streaming the {len(view)} images of {source} "
                  f"(data.stream={d['stream']}; in memory they would take "
                  f"{4 * view.decoded_bytes / 2**20:,.0f} MiB as float32).")
        return view

    def _load_data(self):
        from keras_gan_stable.data import loaders

        d, t = self.config["data"], self.config["train"]
        view = self._folder_view()
        if view is not None:
            # A folder always has labels (its sub-folders), as in memory.
            return view, (view.labels if d["labels"] else None)
        kwargs = dict(image_size=d["image_size"], channels=d["channels"],
                      labels=bool(d["labels"]), max_samples=d["max_samples"],
                      value_range=d["value_range"],
                      num_samples=d["num_samples"], seed=t["seed"])
        for key in ("split", "download"):  # only when the user set them
            if d[key] is not None:
                kwargs[key] = d[key]
        if d["labels"] == "auto":
            # Labels where the source has them (class sub-folders, a `y`
            # array, the built-in labelled sets), none for the rest.
            if d["source"] in KNOWN_CLASSES:
                return loaders.load_arrays(d["source"], **kwargs)
            if recipes_is_points(d["source"]):
                return loaders.load_arrays(d["source"], **{
                    **kwargs, "labels": False}), None
            try:
                return loaders.load_arrays(d["source"], **kwargs)
            except loaders.DataError:
                return loaders.load_arrays(d["source"], **{
                    **kwargs, "labels": False}), None
        x = loaders.load_arrays(d["source"], **kwargs)
        return x if d["labels"] else (x, None)

    def _prepare(self):
        from keras_gan_stable.data.folder_array import FolderImages
        from keras_gan_stable.data.loaders import DataError

        config, t = self.config, self.config["train"]
        x, y = self._load_data()
        size = self._fitting_size(x.shape[1:])
        if size is not None:
            print(f"Resizing the {x.shape[1]}x{x.shape[2]} images to "
                  f"{size}x{size} for model.architecture="
                  f"{config['model']['architecture']} (set data.image_size "
                  "to choose).")
            config["data"]["image_size"] = size
            if isinstance(x, FolderImages):  # streamed: no re-scan
                x = x.with_image_size(size)
            else:
                x, y = self._load_data()
        self.num_classes = None
        if y is not None:
            self.num_classes = _labels_classes(
                y, config["data"]["source"], config["data"]["num_classes"])
        per_step = t["n_critic"] * t["batch_size"]
        if len(x) < per_step:
            raise DataError(
                f"{config['data']['source']}: found {len(x)} samples, fewer "
                f"than one step of {per_step} (train.n_critic x "
                "train.batch_size). Lower train.batch_size, e.g. --set "
                f"train.batch_size={max(1, len(x) // t['n_critic'])}."
            )
        self.data_shape = tuple(int(s) for s in x.shape[1:])
        self._resolve_augment(len(x))
        full = len(x) // per_step
        if t["images"] is not None:
            total = max(1, math.ceil(t["images"] / per_step))
            steps = min(full, total)
            self.epochs = math.ceil(total / steps)
        else:
            steps, self.epochs = full, t["epochs"]
        self.batches = self._batches(x, y, per_step, steps)
        self.steps_per_epoch = steps
        self.total_steps = self.epochs * steps
        self.real_points = x[:2000] if x.ndim == 2 else None
        self._set_precision()
        import keras

        keras.utils.set_random_seed(t["seed"])
        self.gan = self._build_model()
        self.callbacks = self._callbacks()
        self.start_epoch, self.start_batch, self.state = 0, 0, {}
        if self.resume:
            self._restore()

    def _resolve_augment(self, n):
        """`train.augment: auto` decided from the data (`resolve_augment`);
        the run's config.yaml keeps the choice, so a resumed run makes the
        same one."""
        if self.config["train"]["augment"] != "auto":
            return
        resolve_augment(self.config, n, self.data_shape)
        if self.config["train"]["augment"] is not None:
            print(f"train.augment=auto: adaptive augmentation (ADA) on, for "
                  f"{n:,} images (fewer than {SMALL_DATA_IMAGES:,}); "
                  "--set train.augment=null turns it off.")

    # Hooks of `_prepare` and `fit` (the image-to-image run overrides them).
    def _fitting_size(self, shape):
        return fitting_size(self.config, shape)

    def _batches(self, x, y, per_step, steps):
        from keras_gan_stable.callbacks.checkpoint import ResumableBatches

        return ResumableBatches(x, per_step, y=y, seed=self.config["train"][
            "seed"], steps_per_epoch=steps)

    def _build_model(self):
        return build_gan(self.config, self.data_shape, self.num_classes,
                         total_steps=self.total_steps)

    def _final_metrics(self, gan):
        return final_metrics(gan, self.config, self.out_dir)

    def _set_precision(self):
        import keras

        keras.mixed_precision.set_global_policy(
            self.config["train"]["precision"])

    def _callbacks(self):
        from keras_gan_stable.callbacks.checkpoint import ResumableCheckpoint
        from keras_gan_stable.callbacks.sample_grid import SampleGrid

        c, out, t = self.config, self.config["output"], self.config["train"]
        tb_dir = os.path.join(self.out_dir, "tensorboard", "train")
        cbs = []
        if c["model"]["architecture"] == "progan":
            from keras_gan_stable.callbacks.progressive_growing import (
                ProgressiveGrowing)

            # 4x4 stable, then a fade-in and a stable phase per doubling,
            # sharing the image budget equally (the paper: 800k per phase).
            phases = 2 * (int(math.log2(self.gan.image_shape[0])) - 2) + 1
            per_phase = max(1, self.total_steps * t["n_critic"]
                            * t["batch_size"] // phases)
            cbs.append(ProgressiveGrowing(
                fade_images=per_phase, stable_images=per_phase,
                batch_size=t["batch_size"], stop_at_end=False))
        # Small data has tiny epochs (the digits: 28 steps), points many
        # (the mixtures: 385): writing grids, curves and checkpoints after
        # each would cost more than the training between them, so they come
        # every `every` epochs (and after the last one).
        every = max(1, math.ceil(MIN_STEPS_BETWEEN_WRITES
                                 / max(self.steps_per_epoch, 1)),
                    math.ceil(self.epochs / MAX_WRITES))
        self.grid = SampleGrid(os.path.join(self.out_dir, "samples"),
                               num_samples=out["samples"], seed=t["seed"],
                               every=every,
                               tensorboard_dir=tb_dir if out["tensorboard"]
                               else None, reference=self.real_points)
        cbs.append(self.grid)
        self.curves = None
        if out["plots"]:
            from keras_gan_stable.callbacks.plots import TrainingCurves

            self.curves = TrainingCurves(
                os.path.join(self.out_dir, "curves.png"), every=every,
                history_path=os.path.join(self.out_dir, "history.json"),
                title=f"{c['name']} ({c['recipe']})", max_share=0.03)
            cbs.append(self.curves)
        if out["tensorboard"]:
            try:
                import tensorflow  # noqa: F401

                from keras_gan_stable.callbacks.plots import TensorBoardScalars

                cbs.append(TensorBoardScalars(tb_dir))
            except ImportError:
                pass
        self.budget = None
        if t["minutes"] is not None:
            from keras_gan_stable.callbacks.time_budget import TimeBudget

            self.budget = TimeBudget(t["minutes"], clock=t["clock"])
            cbs.append(self.budget)
        self.checkpoint = ResumableCheckpoint(
            self.ckpt_dir, data=self.batches, keep=out["keep_checkpoints"],
            save_every_steps=out["checkpoint_steps"],
            save_every_epochs=every if out["checkpoint_steps"] is None else 1,
            rollback_after=t["rollback_after"], verbose=0)
        cbs.append(self.checkpoint)
        return cbs

    def _restore(self):
        from keras_gan_stable.callbacks.checkpoint import list_checkpoints

        state_path = os.path.join(self.out_dir, STATE_NAME)
        if os.path.exists(state_path):
            self.state = _read_json(state_path, "run state")
        if not list_checkpoints(self.ckpt_dir):
            warnings.warn(f"--resume {self.out_dir}: no checkpoint yet; "
                          "training starts from the beginning.")
            return
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                meta = self.checkpoint.restore(self.gan, self.callbacks)
        except ValueError as e:
            raise ConfigError(
                f"--resume {self.out_dir}: {' '.join(str(e).split())}"
            ) from None
        if meta is not None:  # a damaged newest one was skipped: say so
            for w in caught:
                warnings.warn(str(w.message), stacklevel=2)
        if meta is None:
            raise ConfigError(
                f"--resume {self.out_dir}: every checkpoint in {self.ckpt_dir}"
                " is damaged. Start a new run with another --out."
            )
        self.start_epoch, self.start_batch = meta["epoch"], meta["batch"]
        if self.start_batch >= self.steps_per_epoch:
            self.start_epoch, self.start_batch = self.start_epoch + 1, 0
            self.batches.set_state({"epoch": self.start_epoch})
        finished = self.state.get("finished") and self.state.get("exported")
        if self.start_epoch >= self.epochs and finished:
            raise ConfigError(
                f"--resume {self.out_dir}: the run already trained "
                f"{self.start_epoch} epochs of {self.epochs}. Pass a larger "
                "--epochs to continue."
            )

    # ------------------------------------------------------------------ #
    def _clean(self):
        from keras_gan_stable.callbacks.checkpoint import (
            clean_temporary_files)

        for folder in (self.out_dir, self.ckpt_dir,
                       os.path.join(self.out_dir, "saved_model")):
            clean_temporary_files(folder)
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.endswith(".tmp") or ".tmp." in name:
                        path = os.path.join(folder, name)
                        if os.path.isdir(path):
                            shutil.rmtree(path, ignore_errors=True)
                        else:
                            os.remove(path)

    def _write_state(self, **changes):
        from keras_gan_stable.callbacks.checkpoint import _write_json_atomic

        self.state.update(changes)
        _write_json_atomic(os.path.join(self.out_dir, STATE_NAME), self.state)

    def _load_history(self):
        path = os.path.join(self.out_dir, "history.json")
        if self.curves is None or not os.path.exists(path):
            return
        try:
            with open(path) as f:
                history = json.load(f)
        except (OSError, ValueError):
            return
        keep = sum(1 for e in history.get("epoch", [])
                   if e <= self.start_epoch)
        self.curves.history = {k: list(v[:keep]) for k, v in history.items()}

    def _training_data(self):
        """What `fit()` reads: the batches' stream; for points (2D
        mixtures, whose MLP step takes a few milliseconds) on TensorFlow, a
        `tf.data` pipeline of blocks of batches (the same batches in the
        same order, with one call into Python per block, not per batch).
        Image steps are long enough that the per-batch call does not show
        (and the block feed was not measured faster on the digits)."""
        import keras

        data = self.batches
        if keras.backend.backend() == "tensorflow" and hasattr(
                data, "blocks") and len(self.data_shape) == 1:
            from keras_gan_stable.backend import tf_data

            return tf_data.batches_dataset(data)
        return data.stream()

    def fit(self):
        """Trains (or finishes) the run; returns the summary dict."""
        import keras

        t0, cpu0 = time.time(), time.process_time()
        self._clean()
        os.makedirs(self.out_dir, exist_ok=True)
        cfg.save_config(self.config, os.path.join(self.out_dir,
                                                  "config.yaml"))
        will_train = self.start_epoch < self.epochs or bool(self.start_batch)
        self._write_state(epochs=self.epochs, data_shape=list(self.data_shape),
                          num_classes=self.num_classes,
                          finished=not will_train, exported=False)
        if self.resume:
            self._load_history()
            self.grid.paths.append("resumed")  # keep the first run's grids
        fit = dict(verbose=self.verbose, callbacks=self.callbacks, shuffle=False)
        gan, data = self.gan, self.batches
        logs = {}
        if self.start_batch:  # finish the interrupted epoch first
            logs = gan.fit(self._training_data(), epochs=self.start_epoch + 1,
                    initial_epoch=self.start_epoch,
                    steps_per_epoch=self.steps_per_epoch - self.start_batch,
                    **fit).history
            self.start_epoch += 1
            data.set_state({"epoch": self.start_epoch})
        stopped = self.budget is not None and self.budget.stopped
        if self.start_epoch < self.epochs and not stopped:
            logs = gan.fit(self._training_data(), epochs=self.epochs,
                           initial_epoch=self.start_epoch,
                           steps_per_epoch=self.steps_per_epoch,
                           **fit).history
        stopped = self.budget is not None and self.budget.stopped
        ckpt = self.checkpoint
        if ckpt.model is not None and not stopped and getattr(
                ckpt, "last_saved_position", None) != (self.epochs, 0):
            ckpt.save(epoch=self.epochs)  # the end, when `every` skipped it
        train_seconds = time.time() - t0
        train_cpu_seconds = time.process_time() - cpu0
        files = {"config": os.path.join(self.out_dir, "config.yaml"),
                 "checkpoints": self.ckpt_dir,
                 "samples": os.path.join(self.out_dir, "samples")}
        grids = [p for p in self.grid.paths if p != "resumed"]
        if grids:
            files["last_grid"] = grids[-1]
        out = self.config["output"]
        if out["plots"]:
            files["curves"] = os.path.join(self.out_dir, "curves.png")
            files["history"] = os.path.join(self.out_dir, "history.json")
        if out["tensorboard"]:
            files["tensorboard"] = os.path.join(self.out_dir, "tensorboard")
        self._write_state(finished=not stopped)
        files.update(self._export())
        self._write_state(exported=True)
        final = {k: float(v[-1]) for k, v in logs.items() if v}
        metrics = {}
        if out["fid_samples"] and not stopped:
            metrics = self._final_metrics(gan)
        summary = {"name": self.config["name"],
                   "recipe": self.config["recipe"],
                   "backend": keras.backend.backend(), "epochs": self.epochs,
                   "stopped_by_time_budget": bool(stopped),
                   "seconds": round(time.time() - t0, 1),
                   "train_seconds": round(train_seconds, 1),
                   "train_cpu_seconds": round(train_cpu_seconds, 1),
                   "final_logs": final, "metrics": metrics, "files": files}
        from keras_gan_stable.callbacks.checkpoint import _write_json_atomic

        _write_json_atomic(os.path.join(self.out_dir, "summary.json"),
                           summary)
        return summary

    def _export(self):
        if not self.config["output"]["export"] or len(self.data_shape) != 3:
            return {}
        from keras_gan_stable.export import export_generator

        files = {}
        for fmt in self.config["export"]["formats"]:
            folder = {"saved_model": "saved_model", "onnx": "generator.onnx",
                      "litert": "generator.tflite"}[fmt]
            kwargs = {} if fmt == "saved_model" else {"format": fmt}
            try:
                files[folder] = export_generator(
                    self.gan, os.path.join(self.out_dir, folder),
                    overwrite=True, **kwargs)
            except ImportError as e:  # no TensorFlow: train and save only
                print(f"Skipping the {fmt} export: {e}")
        return files


def run(config, out_dir=None, resume=False, verbose="auto"):
    """Builds and trains a run (see `Run`); returns its summary dict."""
    return Run(config, out_dir=out_dir, resume=resume, verbose=verbose).fit()


def train(config, out_dir, resume=False, state=None, verbose="auto"):
    """Former entry point of the command (`cli.train`); returns 0."""
    del state
    Run(config, out_dir=out_dir, resume=resume, verbose=verbose).fit()
    return 0


# ---------------------------------------------------------------------- #
# Loading a trained run: sample / evaluate / export
# ---------------------------------------------------------------------- #
def restore_run_checkpoint(model, ckpt_dir, source):
    """Restores the newest complete checkpoint of the run folder `source`
    into `model`; `ConfigError` with one line when none can be read. A
    damaged newest one that was skipped is reported as a warning."""
    from keras_gan_stable.callbacks.checkpoint import restore_checkpoint

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            meta = restore_checkpoint(model, ckpt_dir)
        except ValueError as e:
            raise ConfigError(f"{source}: {' '.join(str(e).split())}")
    if meta is None:
        raise ConfigError(
            f"{source}: every checkpoint in {ckpt_dir} is damaged "
            "(truncated or corrupted). Re-run the training."
        )
    for w in caught:  # a damaged newest one was skipped: say so
        warnings.warn(str(w.message), stacklevel=3)
    return meta


def load_gan(source):
    """The GAN of a run folder (its config and newest checkpoint) or of a
    `.keras` file; `ConfigError` with one line when it cannot be loaded."""
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints

    if not os.path.exists(source):
        raise ConfigError(f"{source} does not exist. Check the path.")
    if os.path.isdir(source):
        ckpt_dir = os.path.join(source, CHECKPOINT_DIR)
        config_path = os.path.join(source, "config.yaml")
        state_path = os.path.join(source, STATE_NAME)
        if not (os.path.exists(config_path) and os.path.exists(state_path)
                and list_checkpoints(ckpt_dir)):
            raise ConfigError(
                f"{source}: no checkpoint or SavedModel there. Pass a run "
                "folder written by `keras-gan-stable train`, a .keras file "
                "or a SavedModel folder."
            )
        config = _as_dict(cfg.load_config_file(config_path))
        if _is_text(config):
            from keras_gan_stable.text_run import load_text_run

            gan, tokenizer, config = load_text_run(source)
            gan.tokenizer = tokenizer  # what `generate(captions=...)` reads
            return gan, config
        if _task_name(config):
            raise ConfigError(
                f"{source} is an image-to-image run (task "
                f"{_task_name(config)}): use `keras-gan-stable apply "
                f"{source} INPUT --out OUTPUT` or `export`.")
        state = _read_json(state_path, "run state")
        try:
            shape = tuple(int(s) for s in state["data_shape"])
            num_classes = state.get("num_classes")
        except (KeyError, TypeError, ValueError):
            raise ConfigError(
                f"{state_path}: the run state lacks a valid data_shape. "
                "Restore the file or re-run the training."
            ) from None
        gan = build_gan(config, shape, num_classes)
        restore_run_checkpoint(gan, ckpt_dir, source)
        return gan, config
    if not source.endswith(".keras"):
        raise ConfigError(
            f"{source}: expected a run folder, a .keras file or a SavedModel "
            "folder."
        )
    return load_keras_file(source), None


def load_keras_file(path):
    """`keras.saving.load_model` in safe mode, with one-line errors."""
    import zipfile

    import keras

    import keras_gan_stable

    keras_gan_stable.register_all()
    if not zipfile.is_zipfile(path):
        raise ConfigError(
            f"{path} is not a .keras archive (truncated or not a Keras "
            "file). Pass a file written by model.save()."
        )
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - Keras raises many types here
        msg = " ".join(str(e).split())
        if "safe_mode" in msg or "Lambda" in msg:
            raise ConfigError(
                f"{path} was refused by Keras safe mode: it holds a Lambda "
                "layer (arbitrary code). Load only files you trust, in "
                "Python: keras.saving.load_model(path, safe_mode=False)."
            ) from None
        raise ConfigError(
            f"{path} could not be loaded as a Keras model ({msg[:200]}). "
            "Pass a file written by model.save() from this library."
        ) from None
    if not hasattr(model, "generate"):
        raise ConfigError(
            f"{path} holds a {type(model).__name__}, not a GAN. Pass a GAN "
            "saved with gan.save()."
        )
    return model


def format_summary(summary, out_dir):
    """The summary `Run.fit` returns, as the lines the command prints."""
    lines = [f"\nTrained {summary['name']} ({summary['recipe']}) for "
             f"{summary['epochs']} epochs in {summary['seconds']:.0f} s "
             f"on {summary['backend']}. Outputs in {out_dir}/:"]
    if summary.get("stopped_by_time_budget"):
        lines[0] += " (stopped by train.minutes; --resume to continue)"
    lines += [f"  {key:12s} {path}" for key, path in summary["files"].items()]
    logs = ", ".join(f"{k}={v:.4g}" for k, v in summary["final_logs"].items())
    lines.append(f"  final logs   {logs}")
    for key, value in summary["metrics"].items():
        lines.append(f"  {key:12s} {value:.4g}" if isinstance(
            value, float) else f"  {key:12s} {value}")
    return "\n".join(lines)


def _saved_model_dir(path):
    if not os.path.isdir(path):
        return None
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted(int(v) for v in os.listdir(path) if v.isdigit() and
                      os.path.exists(os.path.join(path, v, "saved_model.pb")))
    return os.path.join(path, str(versions[-1])) if versions else None


def check_truncation_psi(psi):
    """`None` or a number in [0, 1] (1: no truncation); `ConfigError` else."""
    if psi is None:
        return None
    if not (isinstance(psi, (int, float)) and not isinstance(psi, bool)
            and 0.0 <= psi <= 1.0):
        raise ConfigError(
            f"--truncation-psi should be in [0, 1] (1: no truncation, 0: "
            f"every sample the average image). Received: --truncation-psi "
            f"{psi}."
        )
    return float(psi)


def _not_stylegan2(source, what, option="--truncation-psi"):
    return ConfigError(
        f"{option} applies to StyleGAN2 only; {source} holds {what}. "
        "Drop it, or sample a run trained with --recipe stylegan2."
    )


def _write_style_figure(source, out, num, seed, psi, style_mixing):
    from keras_gan_stable.utils import style_figures

    gan, _ = load_gan(source)
    if not hasattr(gan, "style_mixing_grid"):
        raise _not_stylegan2(source, f"a {type(gan).__name__}",
                             "a .gif or --style-mixing")
    psi = 1.0 if psi is None else psi
    seeds = [seed + i for i in range(num)]
    side = int(gan.generator.image_shape[0])
    scale = max(1, 64 // side)  # small images enlarged to 64 px
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if style_mixing is None:
        style_figures.save_interpolation_gif(
            gan, out, seeds + [seed], steps=16, truncation_psi=psi,
            scale=scale)
    else:
        style_figures.save_style_mixing_grid(
            gan, out, seeds, [seed + num + i for i in range(num)],
            col_styles=style_mixing, truncation_psi=psi, scale=scale)
    return out


MAX_FIGURE_SEEDS = 16
MIXING_STYLES = ("coarse", "middle", "fine")


def write_samples(source, out, num=64, seed=0, truncation_psi=None,
                  style_mixing=None):
    """Writes `num` samples of a run, `.keras` file or SavedModel to `out`
    (`.png` grid, or `.npy` array of uint8 images: the same array from a run
    folder and from its SavedModel for the same seed); returns `out`.

    StyleGAN2 only: `truncation_psi`, a number in [0, 1] that pulls `w`
    toward `w_avg` (1 or `None`: no truncation); a `.gif` `out`, a w-space
    walk through the `num` seeds `seed, seed + 1, ...` and back to the
    first (16 frames a segment); `style_mixing` (`"coarse"`, `"middle"` or
    `"fine"`) with a `.png`, the style-mixing grid of `num` row seeds from
    `seed` and `num` column seeds from `seed + num`."""
    import numpy as np

    kind = str(out).lower().rsplit(".", 1)[-1]
    if kind not in ("png", "npy", "gif") or os.path.isdir(out):
        raise ConfigError(f"--out {out}: expected a .png (grid), .npy "
                          "(array) or .gif (StyleGAN2 w-space walk) file.")
    if not (isinstance(num, int) and 1 <= num <= MAX_SAMPLES):
        raise ConfigError(f"-n should be in [1, {MAX_SAMPLES}]. Received: "
                          f"-n {num}.")
    psi = check_truncation_psi(truncation_psi)
    if style_mixing is not None and (style_mixing not in MIXING_STYLES
                                     or kind != "png"):
        raise ConfigError(
            f"--style-mixing should be one of {', '.join(MIXING_STYLES)} "
            f"with a .png --out. Received: --style-mixing {style_mixing} "
            f"--out {out}."
        )
    figure = kind == "gif" or style_mixing is not None
    low = 2 if kind == "gif" else 1
    if figure and not low <= num <= MAX_FIGURE_SEEDS:
        raise ConfigError(
            f"-n should be in [{low}, {MAX_FIGURE_SEEDS}] for a "
            f"{'.gif walk' if kind == 'gif' else 'style-mixing grid'} "
            f"(--out {out}; -n is the number of seeds). Received: -n {num}."
        )
    parent = os.path.dirname(os.path.abspath(out))
    _check_writable(parent, "--out")
    if os.path.isdir(source) and _run_is_text(source):
        raise ConfigError(
            f"{source} is a text-to-image run: pass the captions, e.g. "
            f"`keras-gan-stable sample {source} --caption \"a small red "
            f"circle on the left\" --out {out}`.")
    sm = _saved_model_dir(source)
    if figure:
        if sm:
            raise ConfigError(
                f"A .gif --out or --style-mixing needs the StyleGAN2 run "
                f"folder or .keras file; {source} is a SavedModel. Pass the "
                "run folder."
            )
        return _write_style_figure(source, out, num, seed, psi, style_mixing)
    if sm:
        import tensorflow as tf

        model = tf.saved_model.load(sm)
        args = [tf.constant(num, tf.int32), tf.constant(seed, tf.int32)]
        inputs = model.signatures["sample"].structured_input_signature[1]
        if "truncation_psi" in inputs:
            args.append(tf.constant(1.0 if psi is None else psi, tf.float32))
        elif psi is not None:
            raise _not_stylegan2(source, "a SavedModel without a "
                                 "truncation_psi input")
        images = model.sample(*args).numpy()
        floats = images.astype("float32") / 127.5 - 1.0
    else:
        from keras_gan_stable.utils.images import to_uint8

        gan, _ = load_gan(source)
        kwargs = {}
        if hasattr(gan, "mapped"):  # StyleGAN2
            kwargs["truncation_psi"] = 1.0 if psi is None else psi
        elif psi is not None:
            raise _not_stylegan2(source, f"a {type(gan).__name__}")
        floats = gan.generate(
            num, seed=seed, generator=getattr(gan, "ema_generator", None),
            **kwargs)
        # uint8 as from the SavedModel: one seed, one array, either source.
        images = to_uint8(floats)
    from keras_gan_stable.utils.images import save_image_grid

    os.makedirs(parent, exist_ok=True)
    if str(out).lower().endswith(".npy"):
        np.save(out + ".tmp.npy", images)
        os.replace(out + ".tmp.npy", out)
    else:
        save_image_grid(floats, out)
    return out


def evaluate_run(source, data=None, num=1000, seed=0):
    """Metrics (dict) of a run folder or `.keras` GAN; see `final_metrics`."""
    if not (isinstance(num, int) and 1 <= num <= MAX_SAMPLES):
        raise ConfigError(f"-n should be in [1, {MAX_SAMPLES}]. Received: "
                          f"-n {num}.")
    if os.path.isdir(source) and _run_is_text(source):
        from keras_gan_stable.text_run import evaluate_text_run

        return evaluate_text_run(source, data=data)
    gan, config = load_gan(source)
    config = config or copy.deepcopy(cfg.DEFAULT_CONFIG)
    if data:
        config["data"]["source"] = data
    run_dir = source if os.path.isdir(source) else None
    metrics = final_metrics(gan, config, run_dir, num=num, seed=seed)
    if not metrics:
        raise ConfigError(
            f"No metric applies to {config['data']['source']!r}: the image "
            "metric needs labelled data (digits, mnist, cifar10, a folder of "
            "class sub-folders) and the point metric a 2D mixture.")
    return metrics


def export_run(source, out, version=1, overwrite=False,
               format="saved_model"):
    """Exports the generator of a run folder or `.keras` GAN."""
    from keras_gan_stable.export import export_generator

    if version < 0:
        raise ConfigError(f"--version should be >= 0. Received: --version "
                          f"{version}.")
    _check_writable(out, "--out")
    if os.path.isdir(source) and _run_is_text(source):
        from keras_gan_stable.text_run import export_text_run

        return export_text_run(source, out, version=version,
                               overwrite=overwrite, format=format)
    if _run_task(source):
        from keras_gan_stable.task_apply import export_task_run

        return export_task_run(source, out, version=version,
                               overwrite=overwrite, format=format)
    gan, _ = load_gan(source)
    return export_generator(gan, out, version=version, overwrite=overwrite,
                            format=format)


def final_metrics(gan, config, out_dir=None, num=None, seed=0, data=None):
    """Metrics of the generator against the real data (dict of floats).

    Images: `output.metrics` in the features of `output.extractor` (a
    classifier trained on the labelled real data, or InceptionV3). Points:
    mode coverage against the mixture's modes.
    """
    import numpy as np

    from keras_gan_stable.data import loaders

    config = _as_dict(config)
    d, out = config["data"], config["output"]
    num = num or out["fid_samples"]
    source = data or d["source"]
    generator = getattr(gan, "ema_generator", None) or gan.generator
    fake = gan.generate(num, seed=seed, generator=generator)
    if fake.ndim == 2:
        from keras_gan_stable.data.mixtures import mixture_modes

        if source not in ("ring8", "grid25"):
            return {}
        from keras_gan_stable.metrics.mode_coverage import mixture_scores

        centres, std = mixture_modes(source)
        scores = mixture_scores(fake, centres, std)
        return {key: scores[key]
                for key in ("modes", "high_quality", "reverse_kl")}
    from keras_gan_stable.metrics.evaluate import evaluate

    try:
        real, labels = _real_images(source, d, fake.shape, num, seed)
    except loaders.DataError:
        return {}
    if out["extractor"] == "inception":
        result = evaluate(gan, real, metrics=out["metrics"],
                          extractor="inception", num_samples=num, seed=seed)
        note = "InceptionV3"
    else:
        if len(np.unique(labels)) < 2:  # a classifier needs classes
            return {}
        clf = _feature_classifier(real, labels, out_dir)
        result = evaluate(gan, (real, labels), metrics=out["metrics"],
                          extractor=clf, num_samples=num, seed=seed)
        note = f"feature classifier trained on {source}"
        result.update(_class_coverage(clf, fake, real))
    metrics = {k: float(v) for k, v in result.items()
               if isinstance(v, (int, float, np.floating, np.integer))}
    return {**metrics, "samples": int(num), "features": note}


def _real_images(source, d, fake_shape, num, seed):
    """The real images and labels the metrics compare with: the whole source
    in memory, or, for a folder `data.stream` streams, a random subset of
    `num` images (seeded by `seed`) decoded from it, never the whole folder.
    """
    import numpy as np

    from keras_gan_stable.data import loaders
    from keras_gan_stable.data.folder_array import FolderImages, should_stream

    image_size = d["image_size"] or tuple(fake_shape[1:3])
    channels = fake_shape[-1]
    if should_stream(source, d.get("stream", "auto"), image_size=image_size,
                     channels=channels, max_samples=d["max_samples"]):
        view = FolderImages(source, image_size=image_size, channels=channels,
                            max_samples=d["max_samples"],
                            value_range=d["value_range"])
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(view), size=min(len(view), int(num)),
                                 replace=False))
        return view[idx], view.labels[idx]
    return loaders.load_arrays(
        source, image_size=image_size, channels=channels, labels=True,
        max_samples=d["max_samples"], value_range=d["value_range"])


def _class_coverage(classifier, fake, real):
    """Which classes the metric's classifier sees among the samples: the
    number holding >= 3% of them, their KL to uniform, the mean confidence
    (and the same confidence on real images, for scale)."""
    from keras_gan_stable.metrics import class_coverage

    def probs(x):
        p = classifier.predict(x, batch_size=256, verbose=0)
        return p[0] if isinstance(p, (list, tuple)) else p

    cov = class_coverage(probs(fake))
    real_conf = class_coverage(probs(real[:len(fake)]))["confidence"]
    return {"classes": int(cov["classes"]), "class_kl": cov["kl"],
            "confidence": cov["confidence"], "real_confidence": real_conf}


def _feature_classifier(real, labels, out_dir):
    """Trains (or re-loads from `out_dir`) the metric's feature classifier."""
    import keras

    from keras_gan_stable.metrics import train_feature_classifier

    path = os.path.join(out_dir, "feature_classifier.keras") if out_dir else None
    if path and os.path.exists(path):
        return keras.saving.load_model(path)
    tmp = None if path is None else os.path.join(
        out_dir, ".feature_classifier.tmp.keras")
    clf = train_feature_classifier(real, labels, epochs=8, save_path=tmp)
    if tmp:
        os.replace(tmp, path)
    return clf
