"""Run configurations: a nested dict with a fixed schema, YAML/JSON files, overrides.

A configuration has four sections (see `DEFAULT_CONFIG`); recipes in
`keras_gan_stable.presets` fill them with a paper's settings, config files and
`--set section.key=value` overrides change them, and `validate_config`
checks every value before anything is built. Files are read with
`yaml.safe_load` / `json.load` only: a configuration never runs code.
"""

import copy
import json
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
    },
    "model": {
        "architecture": "dcgan",
        "latent_dim": 128,
        "width": None,
        "d_normalization": "batch",
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
        "seed": 0,
    },
    "output": {
        "dir": None,
        "samples": 64,
        "tensorboard": True,
        "plots": True,
        "export": True,
        "fid_samples": 1000,
    },
}

ARCHITECTURES = ("dcgan", "sngan_cnn", "sngan_resnet", "sagan", "progan",
                 "mlp")
OPTIMIZERS = ("adam", "rmsprop", "sgd")
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
    return sorted(flatten(DEFAULT_CONFIG))


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
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(
                f"--set {key}: unknown setting. Valid settings: "
                f"{', '.join(valid_keys())}."
            )
        if i == len(parts) - 1:
            if isinstance(node[part], dict) and not isinstance(value, dict):
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
    return isinstance(v, (int, float)) and not isinstance(v, bool)


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
    if not isinstance(flat["data.labels"], bool):
        _fail("data.labels", flat["data.labels"], "true or false")
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
        extra = set(opt) - {"name", "learning_rate", "beta_1", "beta_2",
                            "rho", "momentum"}
        if extra:
            _fail(f"train.{which}.{sorted(extra)[0]}", opt[sorted(extra)[0]],
                  "one of name, learning_rate, beta_1, beta_2, rho, momentum")
        if opt.get("name") not in OPTIMIZERS:
            _fail(f"train.{which}.name", opt.get("name"),
                  f"one of {list(OPTIMIZERS)}")
        lr = opt.get("learning_rate")
        if not (_is_num(lr) and lr > 0):
            _fail(f"train.{which}.learning_rate", lr, "a positive number")
        for b in ("beta_1", "beta_2", "rho", "momentum"):
            if b in opt and opt[b] is not None and not (
                    _is_num(opt[b]) and 0 <= opt[b] < 1):
                _fail(f"train.{which}.{b}", opt[b], "a number in [0, 1)")
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
    return config


def make_optimizer(spec):
    """A Keras optimizer from `{name, learning_rate, beta_1, ...}`."""
    import keras

    spec = dict(spec)
    name = spec.pop("name")
    spec = {k: v for k, v in spec.items() if v is not None}
    if name == "adam":
        return keras.optimizers.Adam(**spec)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(**{k: v for k, v in spec.items()
                                           if k in ("learning_rate", "rho",
                                                    "momentum")})
    return keras.optimizers.SGD(**{k: v for k, v in spec.items()
                                   if k in ("learning_rate", "momentum")})


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
