"""Run configurations: a nested dict with a fixed schema, YAML/JSON files, overrides.

A configuration has five sections (see `DEFAULT_CONFIG`); recipes in
`keras_gan_stable.recipes` fill them with a paper's settings, config files and
`--set section.key=value` overrides change them, and `validate_config`
checks every value before anything is built. Files are read with
`yaml.safe_load` / `json.load` only: a configuration never runs code.
"""

import copy
import json
import math
import os
import re

# YAML 1.1 (PyYAML) reads "1e-4" as a string; these are numbers here.
_EXP_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")

DEFAULT_CONFIG = {
    "name": None,
    "recipe": None,
    "data": {
        "source": "digits",
        "image_size": None,
        "channels": None,
        "labels": False,
        "max_samples": None,
        "value_range": None,
        "num_samples": 10000,
        "num_classes": None,
        # Passed to the loaders only when set (null: the loader's default).
        "split": None,
        "download": None,
        # Image folders: "auto" streams those above 128 MiB decoded (uint8).
        "stream": "auto",
    },
    "model": {
        "architecture": "dcgan",
        "latent_dim": 128,
        "width": None,
        "d_normalization": "batch",
        # StyleGAN2 only (model.architecture=stylegan2); null: its default.
        "w_dim": None,
        "mapping_layers": None,
        "channel_base": None,
        "channel_max": None,
    },
    "train": {
        "loss": "non_saturating",
        "penalty": None,
        "penalty_weight": None,
        "n_critic": 1,
        "weight_clip": None,
        "drift": 0.0,
        "label_smoothing": 0.0,
        "batch_size": 64,
        "epochs": 15,
        "images": None,
        "d_optimizer": {"name": "adam", "learning_rate": 2e-4,
                        "beta_1": 0.5, "beta_2": 0.999},
        "g_optimizer": {"name": "adam", "learning_rate": 2e-4,
                        "beta_1": 0.5, "beta_2": 0.999},
        "ema": None,
        "ema_rampup": None,
        "augment": None,
        "augment_policy": "color,translation,cutout",
        "ada_target": 0.6,
        "ada_images": None,
        # StyleGAN2 only (model.architecture=stylegan2); null: its default.
        "r1_gamma": None,
        "r1_interval": None,
        "pl_weight": None,
        "pl_decay": None,
        "pl_interval": None,
        "pl_batch_shrink": None,
        "style_mixing_prob": None,
        "skip_nonfinite": False,
        "rollback_after": None,
        "precision": "float32",
        "minutes": None,
        "clock": "wall",
        "seed": 0,
    },
    "output": {
        "dir": None,
        "samples": 64,
        "tensorboard": True,
        "plots": True,
        "export": True,
        "fid_samples": 1000,
        "metrics": ["fid", "kid", "pr"],
        "extractor": "classifier",
        "keep_checkpoints": 3,
        "checkpoint_steps": None,
    },
    "export": {
        "formats": ["saved_model"],
    },
    # Image-to-image runs (docs/image_to_image.md): `name` null trains a
    # GAN on latent vectors; sr2/sr4/inpaint/denoise train an
    # ImageToImageGAN on pairs made on the fly from the data.
    "task": {
        "name": None,
        "mask": "box",
        "hole_size": None,
        "noise": "gaussian",
        "sigma": 0.1,
        "reconstruction_weight": 100.0,
        "adversarial_weight": 1.0,
        "holdout": 64,
    },
    # Text-to-image runs (model.architecture stackgan / attngan / dmgan;
    # keras_gan_stable.text_run): tokenizer, text encoder and DAMSM sizes,
    # the DAMSM pretraining, the objective's text terms, the evaluation.
    "text": {
        "max_length": 24,
        "embedding_dim": 16,
        "feature_dim": 32,
        "condition_dim": 16,
        "refinement_stages": 1,
        "stage_discriminators": False,
        "d_projection": False,
        "sentence_affine": False,
        "residual_blocks": 1,
        "damsm": None,
        "damsm_steps": 3000,
        "damsm_batch_size": 32,
        "damsm_pooling": "flatten",
        "damsm_learning_rate": 2e-3,
        "damsm_weight": 5.0,
        "kl_weight": 2.0,
        "mismatch_weight": 0.5,
        "holdout": 64,
        "grid_captions": None,
        "grid_seeds": 8,
        "text_folder": None,
        "classifier_images": 1500,
        "classifier_epochs": 10,
        "eval_damsm_steps": 3000,
    },
}

TEXT_ARCHITECTURES = ("stackgan", "attngan", "dmgan")
ARCHITECTURES = ("dcgan", "sngan_cnn", "sngan_resnet", "sagan", "progan",
                 "stylegan2", "mlp") + TEXT_ARCHITECTURES
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
OPTIMIZER_KEYS = ("name", "learning_rate", "beta_1", "beta_2", "rho",
                  "momentum", "weight_decay", "clipnorm", "schedule",
                  "decay_steps")
SCHEDULES = ("constant", "cosine", "linear")
AUGMENTS = ("diffaugment", "ada", "ada_geometric")
# Settings read by the StyleGAN2 model only, and the defaults `null` means.
STYLEGAN2_MODEL = {"w_dim": 512, "mapping_layers": 8,
                   "channel_base": 16384, "channel_max": 512}
STYLEGAN2_TRAIN = {"r1_gamma": 10.0, "r1_interval": 16, "pl_weight": 2.0,
                   "pl_decay": 0.01, "pl_interval": 4, "pl_batch_shrink": 2,
                   "style_mixing_prob": 0.9}
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
CLOCKS = ("wall", "cpu")
METRICS = ("fid", "kid", "pr", "is")
EXTRACTORS = ("classifier", "inception")
EXPORT_FORMATS = ("saved_model", "onnx", "litert")
LOSSES = ("minimax", "non_saturating", "wasserstein", "hinge",
          "least_squares")
PENALTIES = ("gp", "gp_one_sided", "r1", "r2")


class ConfigError(ValueError):
    """An invalid configuration value, with a one-line explanation."""


def flatten(config, prefix=""):
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (optimizer dicts are leaves' parents)."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def valid_keys():
    keys = set(flatten(DEFAULT_CONFIG))
    for which in ("d_optimizer", "g_optimizer"):
        keys.update(f"train.{which}.{k}" for k in OPTIMIZER_KEYS)
    return sorted(keys)


def merge(base, update, where="config", prefix=""):
    """Deep-merges `update` into a copy of `base`; unknown keys are errors."""
    out = copy.deepcopy(base)
    if not isinstance(update, dict):
        raise ConfigError(
            f"{where}: expected a mapping for {prefix or 'the config'!r}, "
            f"found {type(update).__name__}. Write `section: {{key: value}}`."
        )
    for key, value in update.items():
        if key not in out:
            raise ConfigError(
                f"{where}: unknown setting {prefix + str(key)!r}. Valid "
                f"settings: {', '.join(valid_keys())}."
            )
        if isinstance(out[key], dict) and not prefix.startswith("train.") \
                and key not in ("d_optimizer", "g_optimizer"):
            out[key] = merge(out[key], value, where, prefix + key + ".")
        elif isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where}: {prefix + key!r} should be a mapping, found "
                    f"{value!r}."
                )
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _coerce_numbers(value):
    if isinstance(value, str) and _EXP_NUMBER.match(value.strip()):
        return float(value)
    if isinstance(value, dict):
        return {k: _coerce_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_coerce_numbers(v) for v in value]
    return value


def load_config_file(path):
    """Reads a YAML or JSON file into a dict (safely: no code execution)."""
    if not os.path.exists(path):
        raise ConfigError(f"Config file {path} does not exist. Check the path.")
    with open(path) as f:
        text = f.read()
    try:
        if path.lower().endswith(".json"):
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as e:  # yaml.YAMLError, json.JSONDecodeError
        msg = " ".join(str(e).split())
        raise ConfigError(
            f"Config file {path} is not valid YAML/JSON: {msg}. Fix the "
            "syntax (tags such as !!python are refused)."
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Config file {path}: expected a mapping of settings, found "
            f"{type(data).__name__}."
        )
    return _coerce_numbers(data)


def parse_override(text):
    """`"train.n_critic=5"` -> `("train.n_critic", 5)` (value read as YAML)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(
            f"--set expects key=value, e.g. --set train.n_critic=5. "
            f"Received: {text!r}."
        )
    import yaml

    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return key, _coerce_numbers(value)


def apply_override(config, key, value):
    """Sets the dotted `key` in a copy of `config`; unknown keys are errors."""
    out = copy.deepcopy(config)
    node = out
    parts = key.split(".")
    for i, part in enumerate(parts):
        optimizer_key = (i == 2 and parts[0] == "train" and parts[1] in (
            "d_optimizer", "g_optimizer") and part in OPTIMIZER_KEYS)
        if not isinstance(node, dict) or (part not in node
                                          and not optimizer_key):
            raise ConfigError(
                f"--set {key}: unknown setting. Valid settings: "
                f"{', '.join(valid_keys())}."
            )
        if i == len(parts) - 1:
            if isinstance(node.get(part), dict) and not isinstance(value,
                                                                   dict):
                raise ConfigError(
                    f"--set {key}: this is a section; set one of its keys, "
                    f"e.g. {key}.{next(iter(node[part]))}=..."
                )
            node[part] = value
        else:
            node = node[part]
    return out


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    """A finite int or float (NaN and infinities are refused)."""
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))


def _fail(key, value, expected):
    raise ConfigError(
        f"Invalid config value {key}={value!r}: expected {expected}. Fix it "
        f"in the config file or with --set {key}=..."
    )


def validate_config(config):
    """Checks types and ranges of every setting; raises `ConfigError`."""
    flat = flatten(config)
    unknown = sorted(set(flat) - set(valid_keys()))
    if unknown:
        raise ConfigError(
            f"Unknown setting {unknown[0]!r}. Valid settings: "
            f"{', '.join(valid_keys())}."
        )
    for key in ("name", "recipe"):
        v = flat.get(key)
        if v is not None and (not isinstance(v, str) or not v or "/" in v):
            _fail(key, v, "a non-empty string without '/'")
    src = flat["data.source"]
    if not isinstance(src, str) or not src:
        _fail("data.source", src, "a data source string")
    size = flat["data.image_size"]
    if size is not None and not (
            (_is_int(size) and size > 0) or (
                isinstance(size, (list, tuple)) and len(size) == 2 and all(
                    _is_int(s) and s > 0 for s in size))):
        _fail("data.image_size", size, "a positive int or [height, width]")
    if flat["data.channels"] not in (None, 1, 3) or isinstance(
            flat["data.channels"], bool):
        _fail("data.channels", flat["data.channels"], "1, 3 or null")
    if not (isinstance(flat["data.labels"], bool)
            or flat["data.labels"] == "auto"):
        _fail("data.labels", flat["data.labels"],
              "true, false or 'auto' (labels where the data has them)")
    for key in ("data.max_samples",):
        v = flat[key]
        if v is not None and not (_is_int(v) and v > 0):
            _fail(key, v, "a positive integer or null")
    if not (_is_int(flat["data.num_samples"]) and flat["data.num_samples"] > 0):
        _fail("data.num_samples", flat["data.num_samples"],
              "a positive integer")
    vr = flat["data.value_range"]
    if vr is not None and not (isinstance(vr, (list, tuple)) and len(vr) == 2
                               and all(_is_num(v) for v in vr)
                               and vr[1] > vr[0]):
        _fail("data.value_range", vr, "[low, high] with low < high, or null")
    if flat["model.architecture"] not in ARCHITECTURES:
        _fail("model.architecture", flat["model.architecture"],
              f"one of {list(ARCHITECTURES)}")
    if flat["model.width"] is not None and not (
            _is_int(flat["model.width"]) and flat["model.width"] > 0):
        _fail("model.width", flat["model.width"],
              "a positive integer, or null (sized to the data)")
    for key in ("model.latent_dim", "train.batch_size",
                "train.n_critic", "output.samples"):
        v = flat[key]
        if not (_is_int(v) and v > 0):
            _fail(key, v, "a positive integer")
    if flat["model.d_normalization"] not in ("batch", "layer", "none"):
        _fail("model.d_normalization", flat["model.d_normalization"],
              "'batch', 'layer' or 'none'")
    if flat["train.loss"] not in LOSSES:
        _fail("train.loss", flat["train.loss"], f"one of {list(LOSSES)}")
    pen = flat["train.penalty"]
    pens = pen if isinstance(pen, list) else [pen]
    if pen is not None and not all(p in PENALTIES for p in pens):
        _fail("train.penalty", pen, f"null, one of {list(PENALTIES)} or a list")
    for key in ("train.penalty_weight", "train.weight_clip", "train.ema"):
        v = flat[key]
        if v is not None and not (_is_num(v) and v >= 0):
            _fail(key, v, "a number >= 0 or null")
    if flat["train.weight_clip"] is not None and not flat[
            "train.weight_clip"] > 0:
        _fail("train.weight_clip", flat["train.weight_clip"],
              "a positive number or null")
    if flat["train.ema"] is not None and not 0 <= flat["train.ema"] < 1:
        _fail("train.ema", flat["train.ema"], "a decay in [0, 1) or null")
    v = flat["train.ema_rampup"]
    if v is not None and not (_is_num(v) and v > 0):
        _fail("train.ema_rampup", v, "a number > 0 (0.05 in StyleGAN2-ADA) "
              "or null")
    for key in ("train.drift", "train.label_smoothing"):
        v = flat[key]
        if not (_is_num(v) and 0 <= v < 1):
            _fail(key, v, "a number in [0, 1)")
    for key in ("train.epochs", "train.images"):
        v = flat[key]
        if v is not None and not (_is_int(v) and v > 0):
            _fail(key, v, "a positive integer or null")
    if flat["train.epochs"] is None and flat["train.images"] is None:
        _fail("train.epochs", None, "a budget: set train.epochs or train.images")
    if not _is_int(flat["train.seed"]):
        _fail("train.seed", flat["train.seed"], "an integer")
    for which in ("d_optimizer", "g_optimizer"):
        opt = config["train"][which]
        if not isinstance(opt, dict):
            _fail(f"train.{which}", opt, "a mapping {name, learning_rate, ...}")
        extra = set(opt) - set(OPTIMIZER_KEYS)
        if extra:
            _fail(f"train.{which}.{sorted(extra)[0]}", opt[sorted(extra)[0]],
                  f"one of {', '.join(OPTIMIZER_KEYS)}")
        if opt.get("name") not in OPTIMIZERS:
            _fail(f"train.{which}.name", opt.get("name"),
                  f"one of {list(OPTIMIZERS)}")
        lr = opt.get("learning_rate")
        if not (_is_num(lr) and lr > 0):
            _fail(f"train.{which}.learning_rate", lr,
                  "a finite number > 0, e.g. 2e-4")
        for b in ("beta_1", "beta_2", "rho", "momentum"):
            if b in opt and opt[b] is not None and not (
                    _is_num(opt[b]) and 0 <= opt[b] < 1):
                _fail(f"train.{which}.{b}", opt[b], "a number in [0, 1)")
        for key in ("weight_decay", "clipnorm"):
            v = opt.get(key)
            if v is not None and not (_is_num(v) and v >= 0):
                _fail(f"train.{which}.{key}", v, "a finite number >= 0 or null")
        if opt.get("schedule") not in (None,) + SCHEDULES:
            _fail(f"train.{which}.schedule", opt.get("schedule"),
                  f"null or one of {list(SCHEDULES)}")
        v = opt.get("decay_steps")
        if v is not None and not (_is_int(v) and v > 0):
            _fail(f"train.{which}.decay_steps", v,
                  "a positive integer, or null (the run's length)")
    if flat["train.augment"] not in (None, "auto") + AUGMENTS:
        _fail("train.augment", flat["train.augment"],
              f"null, 'auto' (ADA for small image sets) or one of "
              f"{list(AUGMENTS)}")
    if not isinstance(flat["train.augment_policy"], str) or not flat[
            "train.augment_policy"]:
        _fail("train.augment_policy", flat["train.augment_policy"],
              "a comma-separated list such as 'color,translation,cutout'")
    if not (_is_num(flat["train.ada_target"])
            and 0 < flat["train.ada_target"] < 1):
        _fail("train.ada_target", flat["train.ada_target"], "a number in (0, 1)")
    if not isinstance(flat["train.skip_nonfinite"], bool):
        _fail("train.skip_nonfinite", flat["train.skip_nonfinite"],
              "true or false")
    v = flat["train.ada_images"]
    if v is not None and not (_is_num(v) and v > 0):
        _fail("train.ada_images", v, "a number of images > 0 (p moves by 1 "
              "in that many real images; 500000 in the paper), or null")
    _validate_stylegan2(flat)
    v = flat["train.rollback_after"]
    if v is not None and not (_is_int(v) and v > 0):
        _fail("train.rollback_after", v, "a positive integer or null")
    if v is not None and not flat["train.skip_nonfinite"]:
        _fail("train.rollback_after", v,
              "null unless train.skip_nonfinite=true (rollback acts on "
              "skipped steps)")
    if flat["train.precision"] not in PRECISIONS:
        _fail("train.precision", flat["train.precision"],
              f"one of {list(PRECISIONS)}")
    v = flat["train.minutes"]
    if v is not None and not (_is_num(v) and v > 0):
        _fail("train.minutes", v, "a budget in minutes > 0, or null")
    if flat["train.clock"] not in CLOCKS:
        _fail("train.clock", flat["train.clock"],
              f"one of {list(CLOCKS)} (what train.minutes counts)")
    v = flat["data.num_classes"]
    if v is not None and not (_is_int(v) and v >= 2):
        _fail("data.num_classes", v,
              "an integer >= 2, or null (taken from the data)")
    if flat["data.split"] is not None and not isinstance(flat["data.split"],
                                                         str):
        _fail("data.split", flat["data.split"], "a split name or null")
    if not (isinstance(flat["data.stream"], bool)
            or flat["data.stream"] == "auto"):
        _fail("data.stream", flat["data.stream"],
              "true, false or 'auto' (stream image folders larger than "
              "128 MiB decoded)")
    if flat["data.download"] not in (None, True, False):
        _fail("data.download", flat["data.download"], "true, false or null")
    mets = flat["output.metrics"]
    if not (isinstance(mets, list) and all(m in METRICS for m in mets)):
        _fail("output.metrics", mets, f"a list among {list(METRICS)}")
    if flat["output.extractor"] not in EXTRACTORS:
        _fail("output.extractor", flat["output.extractor"],
              f"one of {list(EXTRACTORS)}")
    v = flat["output.keep_checkpoints"]
    if not (_is_int(v) and v >= 1):
        _fail("output.keep_checkpoints", v, "a positive integer")
    v = flat["output.checkpoint_steps"]
    if v is not None and not (_is_int(v) and v > 0):
        _fail("output.checkpoint_steps", v,
              "a positive integer, or null (epoch ends only)")
    fmts = flat["export.formats"]
    if not (isinstance(fmts, list) and fmts
            and all(f in EXPORT_FORMATS for f in fmts)):
        _fail("export.formats", fmts, "a non-empty list among "
              f"{list(EXPORT_FORMATS)}, e.g. [saved_model]")
    out_dir = flat["output.dir"]
    if out_dir is not None and not isinstance(out_dir, str):
        _fail("output.dir", out_dir, "a folder path or null")
    for key in ("output.tensorboard", "output.plots", "output.export"):
        if not isinstance(flat[key], bool):
            _fail(key, flat[key], "true or false")
    if not (_is_int(flat["output.fid_samples"]) and flat[
            "output.fid_samples"] >= 0):
        _fail("output.fid_samples", flat["output.fid_samples"],
              "an integer >= 0 (0 turns the final metric off)")
    validate_task(config)
    validate_text(config)
    return config


TASKS = ("sr2", "sr4", "inpaint", "denoise")


def validate_task(config):
    """Checks the `task` section (and what an image-to-image run forbids)."""
    task = config.get("task") or {}
    name = task.get("name")
    if name not in (None,) + TASKS:
        _fail("task.name", name, f"null or one of {list(TASKS)} (--task)")
    if task.get("mask") not in ("box", "free_form"):
        _fail("task.mask", task.get("mask"), "'box' or 'free_form'")
    hole = task.get("hole_size")
    if hole is not None and not ((_is_int(hole) and hole > 0) or (
            isinstance(hole, (list, tuple)) and len(hole) == 2
            and all(_is_int(v) and v > 0 for v in hole))):
        _fail("task.hole_size", hole,
              "a positive int, [height, width] or null (half the image)")
    noise = task.get("noise")
    if noise not in ("gaussian", "poisson", "salt_pepper"):
        _fail("task.noise", noise, "'gaussian', 'poisson' or 'salt_pepper'")
    sigma = task.get("sigma")
    if not (_is_num(sigma) and sigma > 0) or (
            noise == "salt_pepper" and sigma > 1):
        _fail("task.sigma", sigma, "a number > 0 on the [0, 1] scale (<= 1 "
              "for salt_pepper)")
    for key in ("reconstruction_weight", "adversarial_weight"):
        v = task.get(key)
        if not (_is_num(v) and v >= 0):
            _fail(f"task.{key}", v, "a number >= 0")
    v = task.get("holdout")
    if not (_is_int(v) and v >= 0):
        _fail("task.holdout", v, "an integer >= 0 (held-out images for the "
              "final PSNR/SSIM)")
    if name is None:
        return config
    if config["train"]["augment"] not in (None, "auto"):
        _fail("train.augment", config["train"]["augment"],
              f"null for an image-to-image run (task.name={name})")
    if config["data"]["labels"] is True:
        _fail("data.labels", True, f"false or 'auto' for an image-to-image "
              f"run (task.name={name}): pairs carry no labels")
    formats = config["export"]["formats"]
    if formats != ["saved_model"]:
        _fail("export.formats", formats, "[saved_model] for an "
              f"image-to-image run (task.name={name})")
    return config


def validate_text(config):
    """Checks the `text` section (and what a text-to-image run forbids)."""
    text = config.get("text") or {}
    for key in ("max_length", "embedding_dim", "condition_dim",
                "damsm_batch_size", "holdout", "grid_seeds",
                "classifier_images", "classifier_epochs", "residual_blocks"):
        v = text.get(key)
        if not (_is_int(v) and v > 0):
            _fail(f"text.{key}", v, "a positive integer")
    v = text.get("feature_dim")
    if not (_is_int(v) and v > 0 and v % 2 == 0):
        _fail("text.feature_dim", v, "a positive even integer (half per "
              "LSTM direction)")
    for key in ("refinement_stages", "damsm_steps", "eval_damsm_steps"):
        v = text.get(key)
        if not (_is_int(v) and v >= 0):
            _fail(f"text.{key}", v, "an integer >= 0")
    for key in ("damsm_weight", "kl_weight"):
        v = text.get(key)
        if not (_is_num(v) and v >= 0):
            _fail(f"text.{key}", v, "a number >= 0")
    v = text.get("damsm_learning_rate")
    if not (_is_num(v) and v > 0):
        _fail("text.damsm_learning_rate", v, "a number > 0, e.g. 2e-3")
    if text.get("damsm_pooling") not in ("flatten", "average"):
        _fail("text.damsm_pooling", text.get("damsm_pooling"),
              "flatten (the DAMSM's global image feature keeps where things "
              "are) or average (AttnGAN's pooled feature)")
    if not isinstance(text.get("stage_discriminators"), bool):
        _fail("text.stage_discriminators", text.get("stage_discriminators"),
              "true (a discriminator per stage, AttnGAN / DM-GAN) or false")
    if not isinstance(text.get("d_projection"), bool):
        _fail("text.d_projection", text.get("d_projection"),
              "true (add a projection term to the discriminator) or false")
    if not isinstance(text.get("sentence_affine"), bool):
        _fail("text.sentence_affine", text.get("sentence_affine"),
              "true (the generator's batch normalisations take their scale "
              "and shift from the sentence) or false")
    v = text.get("mismatch_weight")
    if not (_is_num(v) and 0 <= v <= 1):
        _fail("text.mismatch_weight", v, "a number in [0, 1]")
    for key in ("damsm", "text_folder"):
        v = text.get(key)
        if v is not None and not (isinstance(v, str) and v):
            _fail(f"text.{key}", v, "a folder path or null")
    caps = text.get("grid_captions")
    if caps is not None and not (
            isinstance(caps, list) and caps
            and all(isinstance(c, str) and c.strip() for c in caps)):
        _fail("text.grid_captions", caps, "a non-empty list of non-empty "
              "captions, or null (the run's own)")
    arch = config["model"]["architecture"]
    source = config["data"]["source"]
    if arch not in TEXT_ARCHITECTURES:
        if source == "captioned_shapes":
            _fail("model.architecture", arch, "stackgan, attngan or dmgan "
                  "for the captioned data captioned_shapes (--recipe "
                  "stackgan, attngan or dmgan)")
        return config
    if config["task"]["name"] is not None:
        _fail("task.name", config["task"]["name"], "null for a "
              f"text-to-image run (model.architecture={arch})")
    if config["train"]["augment"] not in (None, "auto"):
        _fail("train.augment", config["train"]["augment"],
              f"null for a text-to-image run (model.architecture={arch})")
    if config["data"]["labels"] is True:
        _fail("data.labels", True, "false or 'auto' for a text-to-image run "
              f"(model.architecture={arch}): the captions condition it")
    if config["export"]["formats"] != ["saved_model"]:
        _fail("export.formats", config["export"]["formats"], "[saved_model] "
              f"for a text-to-image run (model.architecture={arch})")
    if arch != "stackgan" and text.get("refinement_stages", 1) < 1:
        _fail("text.refinement_stages", text.get("refinement_stages"),
              f"an integer >= 1 for model.architecture={arch}")
    if arch == "stackgan" and text.get("sentence_affine"):
        _fail("text.sentence_affine", True, "false for model.architecture="
              "stackgan (it conditions the AttnGAN / DM-GAN generator's "
              "batch normalisations; use --recipe attngan or dmgan)")
    return config


def _validate_stylegan2(flat):
    """The StyleGAN2 settings, and the settings StyleGAN2 sets itself."""
    keys = [f"model.{k}" for k in STYLEGAN2_MODEL] + [
        f"train.{k}" for k in STYLEGAN2_TRAIN]
    if flat["model.architecture"] != "stylegan2":
        for key in keys:
            if flat[key] is not None:
                _fail(key, flat[key], "null: it applies to "
                      "model.architecture=stylegan2 only (--recipe stylegan2)")
        return
    for key in ("model.w_dim", "model.mapping_layers", "model.channel_base",
                "model.channel_max", "train.r1_interval", "train.pl_interval",
                "train.pl_batch_shrink"):
        v = flat[key]
        if v is not None and not (_is_int(v) and v > 0):
            _fail(key, v, "a positive integer, or null (StyleGAN2's "
                  f"{_stylegan2_default(key)})")
    for key in ("train.r1_gamma", "train.pl_weight"):
        v = flat[key]
        if v is not None and not (_is_num(v) and v >= 0):
            _fail(key, v, "a number >= 0 (0 turns it off), or null "
                  f"(StyleGAN2's {_stylegan2_default(key)})")
    v = flat["train.pl_decay"]
    if v is not None and not (_is_num(v) and 0 < v <= 1):
        _fail("train.pl_decay", v, "a number in (0, 1], or null (0.01)")
    v = flat["train.style_mixing_prob"]
    if v is not None and not (_is_num(v) and 0 <= v <= 1):
        _fail("train.style_mixing_prob", v,
              "a probability in [0, 1], or null (0.9)")
    if flat["model.width"] is not None:
        _fail("model.width", flat["model.width"], "null for "
              "model.architecture=stylegan2 (size it with model.channel_base "
              "and model.channel_max)")
    if flat["train.loss"] != "non_saturating":
        _fail("train.loss", flat["train.loss"], "non_saturating for "
              "model.architecture=stylegan2 (its logistic loss)")
    if flat["train.penalty"] is not None or flat[
            "train.penalty_weight"] is not None:
        key = ("train.penalty" if flat["train.penalty"] is not None
               else "train.penalty_weight")
        _fail(key, flat[key], "null for model.architecture=stylegan2 (its "
              "lazy R1 is train.r1_gamma / train.r1_interval)")
    if flat["train.n_critic"] != 1:
        _fail("train.n_critic", flat["train.n_critic"],
              "1 for model.architecture=stylegan2 (one D update per G update)")
    if flat["train.weight_clip"] is not None:
        _fail("train.weight_clip", flat["train.weight_clip"],
              "null for model.architecture=stylegan2")


def _stylegan2_default(key):
    section, name = key.split(".")
    return (STYLEGAN2_MODEL if section == "model" else STYLEGAN2_TRAIN)[name]


def make_optimizer(spec, total_steps=None):
    """A Keras optimizer from `{name, learning_rate, beta_1, ...}`.

    `schedule` ("cosine" or "linear") decays the learning rate to 0 over
    `decay_steps` optimizer steps (default `total_steps`); `clipnorm` and
    `weight_decay` are passed to the optimizer.
    """
    import keras

    spec = {k: v for k, v in dict(spec).items() if v is not None}
    name = spec.pop("name")
    schedule = spec.pop("schedule", "constant")
    decay_steps = spec.pop("decay_steps", None) or total_steps
    if schedule != "constant" and decay_steps:
        lr = spec["learning_rate"]
        if schedule == "cosine":
            spec["learning_rate"] = keras.optimizers.schedules.CosineDecay(
                lr, decay_steps=int(decay_steps))
        else:
            spec["learning_rate"] = (
                keras.optimizers.schedules.PolynomialDecay(
                    lr, decay_steps=int(decay_steps), end_learning_rate=0.0))
    common = {k: spec[k] for k in ("learning_rate", "clipnorm",
                                   "weight_decay") if k in spec}
    if name in ("adam", "adamw"):
        cls = keras.optimizers.AdamW if name == "adamw" else keras.optimizers.Adam
        return cls(**common, **{k: spec[k] for k in ("beta_1", "beta_2")
                                if k in spec})
    if name == "rmsprop":
        return keras.optimizers.RMSprop(**common, **{
            k: spec[k] for k in ("rho", "momentum") if k in spec})
    return keras.optimizers.SGD(**common, **{k: spec[k] for k in ("momentum",)
                                            if k in spec})


def save_config(config, path):
    """Writes the resolved config as YAML (or JSON for `.json`) atomically."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        if path.lower().endswith(".json"):
            json.dump(config, f, indent=2)
            f.write("\n")
        else:
            import yaml

            yaml.safe_dump(config, f, sort_keys=False, default_flow_style=None)
    os.replace(tmp, path)
    return path
