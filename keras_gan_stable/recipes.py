"""Named training recipes: the papers' settings, sized to the data.

A recipe fills the `model` and `train` sections of a run configuration (see
`keras_gan_stable.utils.config`). `model.width = null` means "sized to the
data": 16 for small grey images, 64 for colour or larger images. Builders are
imported lazily, so a recipe whose architecture is not installed fails alone.

| recipe | networks | loss / penalty | optimizers (D; G) | n_critic |
| --- | --- | --- | --- | --- |
| dcgan | DCGAN, BatchNorm | non-saturating | Adam 2e-4, b=(0.5, 0.999) | 1 |
| wgan | DCGAN, BatchNorm | Wasserstein, clip 0.01 | RMSprop 5e-5 | 5 |
| wgan-gp | DCGAN, LayerNorm in D | Wasserstein + GP 10 | Adam 1e-4, b=(0, 0.9) | 5 |
| sngan | SN-CNN (SN in D) | hinge | Adam 2e-4, b=(0.5, 0.999) | 1 |
| sagan | SAGAN (SN in G and D, self-attention) | hinge | Adam 4e-4; 1e-4, b=(0, 0.9) | 1 |
| progan | ProGAN, progressive growing | WGAN-GP + drift 1e-3 | Adam 1e-3, b=(0, 0.99) | 1 |
| stylegan2 | StyleGAN2 (mapping 8, modulated convs, skip G, residual D) | non-saturating + lazy R1 10 (every 16) + path length 2 | Adam 2.5e-3, b=(0, 0.99) | 1 |
| stylegan2-ada | as stylegan2, + ADA (blit, geometric, colour; r_t 0.6) | as stylegan2 | as stylegan2 | 1 |
| stackgan | StackGAN stage I (CA, matching-aware D), 32 px | non-saturating + KL 2 + mismatch 0.5 | Adam 2e-4, b=(0.5, 0.999) | 1 |
| attngan | AttnGAN (word attention, 16 -> 32 px, 32 channels, sentence-conditioned BN) + frozen DAMSM; projection D | non-saturating + KL 1 + DAMSM 1 + mismatch 0.5 | Adam 2e-4, b=(0.5, 0.999) | 1 |
| dmgan | DM-GAN (dynamic memory, 16 -> 32 px, 32 channels, sentence-conditioned BN) + frozen DAMSM; projection D | non-saturating + KL 1 + DAMSM 1 + mismatch 0.5 | Adam 2e-4, b=(0.5, 0.999) | 1 |
| recommended | SN-CNN, conditional where labelled; on points: MLPs | hinge, EMA 0.999; points: non-saturating + R1 0.1 | Adam 1e-3, b=(0, 0.9); points: 5e-4, b=(0.5, 0.9) | 1 |
"""

import copy
import inspect

RECIPES = {
    "dcgan": {
        "doc": "Radford et al. 2016 (DCGAN)",
        "model": {"architecture": "dcgan", "latent_dim": 100,
                  "d_normalization": "batch"},
        "train": {"loss": "non_saturating", "penalty": None, "n_critic": 1,
                  "batch_size": 64,
                  "d_optimizer": {"name": "adam", "learning_rate": 2e-4,
                                  "beta_1": 0.5, "beta_2": 0.999},
                  "g_optimizer": {"name": "adam", "learning_rate": 2e-4,
                                  "beta_1": 0.5, "beta_2": 0.999}},
    },
    "wgan": {
        "doc": "Arjovsky et al. 2017 (WGAN): weight clipping, RMSprop",
        "model": {"architecture": "dcgan", "latent_dim": 100,
                  "d_normalization": "batch"},
        "train": {"loss": "wasserstein", "penalty": None, "n_critic": 5,
                  "weight_clip": 0.01, "batch_size": 64,
                  "d_optimizer": {"name": "rmsprop", "learning_rate": 5e-5},
                  "g_optimizer": {"name": "rmsprop", "learning_rate": 5e-5}},
    },
    "wgan-gp": {
        "doc": "Gulrajani et al. 2017 (WGAN-GP): lambda 10, no BatchNorm in D",
        "model": {"architecture": "dcgan", "latent_dim": 128,
                  "d_normalization": "layer"},
        "train": {"loss": "wasserstein", "penalty": "gp",
                  "penalty_weight": 10.0, "n_critic": 5, "batch_size": 64,
                  "d_optimizer": {"name": "adam", "learning_rate": 1e-4,
                                  "beta_1": 0.0, "beta_2": 0.9},
                  "g_optimizer": {"name": "adam", "learning_rate": 1e-4,
                                  "beta_1": 0.0, "beta_2": 0.9}},
    },
    "sngan": {
        "doc": "Miyato et al. 2018 (SNGAN): spectral norm in D, hinge loss",
        "model": {"architecture": "sngan_cnn", "latent_dim": 128},
        "train": {"loss": "hinge", "penalty": None, "n_critic": 1,
                  "batch_size": 64,
                  "d_optimizer": {"name": "adam", "learning_rate": 2e-4,
                                  "beta_1": 0.5, "beta_2": 0.999},
                  "g_optimizer": {"name": "adam", "learning_rate": 2e-4,
                                  "beta_1": 0.5, "beta_2": 0.999}},
    },
    "sagan": {
        "doc": "Zhang et al. 2019 (SAGAN): self-attention, SN in G and D, TTUR",
        "model": {"architecture": "sagan", "latent_dim": 128},
        "train": {"loss": "hinge", "penalty": None, "n_critic": 1,
                  "batch_size": 64,
                  "d_optimizer": {"name": "adam", "learning_rate": 4e-4,
                                  "beta_1": 0.0, "beta_2": 0.9},
                  "g_optimizer": {"name": "adam", "learning_rate": 1e-4,
                                  "beta_1": 0.0, "beta_2": 0.9}},
    },
    "progan": {
        "doc": "Karras et al. 2018 (ProGAN): progressive growing, WGAN-GP, drift",
        "model": {"architecture": "progan", "latent_dim": 128},
        "train": {"loss": "wasserstein", "penalty": "gp",
                  "penalty_weight": 10.0, "drift": 0.001, "n_critic": 1,
                  # EMA with StyleGAN2-ADA's ramp-up: without it the
                  # blocks of the last resolution, trained for the final
                  # few hundred steps of a CPU budget, stay mostly their
                  # initial weights in the EMA copy (MNIST, 5 CPU-min, the
                  # same training: classifier FID 68.1 with, 123.3 without).
                  # Batch 16, the paper's minibatch up to 128 px: MNIST
                  # FID 78.4 / 63.3 / 46.7 at 2 / 5 / 10 CPU-min against
                  # 97.8 / 73.6 / 94.3 with 64 and 71.0 / 88.2 / 72.1
                  # with 32, run side by side.
                  "batch_size": 16, "ema": 0.999, "ema_rampup": 0.05,
                  "d_optimizer": {"name": "adam", "learning_rate": 1e-3,
                                  "beta_1": 0.0, "beta_2": 0.99},
                  "g_optimizer": {"name": "adam", "learning_rate": 1e-3,
                                  "beta_1": 0.0, "beta_2": 0.99}},
    },
}

# The library's own default. Images: the SNGAN networks (spectral norm in D,
# hinge loss) with the faster optimizer of the robustness sweep (Adam 1e-3,
# betas (0, 0.9), n_critic 1: the lowest FIDs per step of the sweep), an EMA
# generator with StyleGAN2-ADA's ramp-up, and class conditioning (projection
# discriminator, conditional BatchNorm in G) wherever the data has labels.
# On the bundled digits, at 1,500 G steps: 10/10 classes, KL to uniform
# 0.011, classifier confidence 0.91 (real digits 0.97); unconditional with
# the same settings, 10/10 but KL 0.05-0.09 and confidence 0.73 (BENCHMARKS.md,
# "Main job"). Augmentation stays off: on 1,000 MNIST images ADA
# (`train.augment=auto`) scored classifier FID 2.21 / 2.85 after 2 / 5
# CPU-minutes against 2.26 / 2.09 without, and DiffAugment slowed learning on
# the digits (BENCHMARKS.md, "Augmentation for small data"). Points (the 2D mixtures) take their own settings, chosen on
# the mode-collapse benchmark (benchmarks/mixtures.py): the non-saturating
# loss with a small R1 penalty (Mescheder et al. 2018) and an EMA generator.
RECOMMENDED = "sngan"
RECIPES["recommended"] = {
    "doc": "the library's default: SNGAN networks, hinge, Adam 1e-3 (0, 0.9), "
           "EMA; class-conditional where the data has labels",
    "model": {"architecture": "sngan_cnn", "latent_dim": 128},
    "data": {"labels": "auto"},
    "train": {"loss": "hinge", "penalty": None, "n_critic": 1,
              "batch_size": 64, "epochs": None, "images": 96_000,
              "ema": 0.999, "ema_rampup": 0.05, "augment": None,
              "d_optimizer": {"name": "adam", "learning_rate": 1e-3,
                              "beta_1": 0.0, "beta_2": 0.9},
              "g_optimizer": {"name": "adam", "learning_rate": 1e-3,
                              "beta_1": 0.0, "beta_2": 0.9}},
    "points": {
        "train": {"loss": "non_saturating", "penalty": "r1",
                  "penalty_weight": 0.1, "n_critic": 1, "batch_size": 64,
                  "epochs": None, "images": 64 * 60_000,
                  "ema": 0.999, "ema_rampup": None, "augment": None,
                  "d_optimizer": {"name": "adam", "learning_rate": 5e-4,
                                  "beta_1": 0.5, "beta_2": 0.9},
                  "g_optimizer": {"name": "adam", "learning_rate": 5e-4,
                                  "beta_1": 0.5, "beta_2": 0.9}},
    },
}

# StyleGAN2 (config F) and StyleGAN2-ADA, with the papers' objective and
# optimizer and CPU-sized feature maps: channel_base 1024 and channel_max
# 64 give 64 maps up to 16x16 and 32 at 32x32 (the paper: 16384 / 512), a
# step of batch 32 at 32x32 in 0.35-0.4 s on 2 CPU cores (2048 / 128: 0.9-1.1
# s); set model.channel_base / model.channel_max to scale them up. The EMA decay
# 0.998 is a half-life of 346 steps, 11k images at batch 32 (the ADA
# code's 10 kimg), with its ramp-up 0.05.
_STYLEGAN2 = {
    "model": {"architecture": "stylegan2", "latent_dim": 512, "w_dim": 512,
              "mapping_layers": 8, "channel_base": 1024, "channel_max": 64},
    "train": {"loss": "non_saturating", "penalty": None,
              "penalty_weight": None, "n_critic": 1, "batch_size": 32,
              "epochs": None, "images": 96_000,
              "ema": 0.998, "ema_rampup": 0.05,
              "r1_gamma": 10.0, "r1_interval": 16, "pl_weight": 2.0,
              "pl_decay": 0.01, "pl_interval": 4, "pl_batch_shrink": 2,
              "style_mixing_prob": 0.9,
              "d_optimizer": {"name": "adam", "learning_rate": 0.0025,
                              "beta_1": 0.0, "beta_2": 0.99},
              "g_optimizer": {"name": "adam", "learning_rate": 0.0025,
                              "beta_1": 0.0, "beta_2": 0.99}},
}
RECIPES["stylegan2"] = {
    "doc": "Karras et al. 2020 (StyleGAN2): mapping + modulated convs, lazy "
           "R1 10, path length 2, mixing 0.9, EMA",
    **copy.deepcopy(_STYLEGAN2),
}
RECIPES["stylegan2-ada"] = {
    "doc": "Karras et al. 2020 (StyleGAN2-ADA): stylegan2 + adaptive "
           "augmentation (geometric + colour), r_t 0.6",
    **copy.deepcopy(_STYLEGAN2),
}
RECIPES["stylegan2-ada"]["train"].update(
    {"augment": "ada_geometric", "ada_target": 0.6, "ada_images": 100_000})

# Text-to-image (keras_gan_stable.text_run), CPU-sized: 32 px on
# captioned_shapes, a 32-d BiLSTM text encoder and DAMSM (pretrained 3,000
# steps at the start of the run, Adam 2e-3 as the AttnGAN code, then
# frozen), batch 32 (the papers: 64 / 10-14 on CUB). Losses and optimizers
# as the papers: the GAN-CLS matching-aware D, the conditioning
# augmentation's KL (StackGAN 2, AttnGAN / DM-GAN code 1), Adam 2e-4 with
# beta_1 0.5. The DAMSM loss in G's objective is weighted 1, not the
# paper's 5 on CUB: at 5 the generator fools the small DAMSM with a frame
# at the image border and draws the caption's colour on single-object
# captions 66% of the time; at 1 the frame is gone and colour reaches 91%,
# shape 51% (AttnGAN at its budget, BENCHMARKS.md "Text to image through
# the CLI"). AttnGAN and DM-GAN have 32-channel networks for 6,000 steps
# rather than 16 channels for 10,000 (the same training CPU; AttnGAN's
# shape 0.51 -> 0.69) and a projection term in D (`text.d_projection`;
# AttnGAN's R-precision 0.19 -> 0.33, shape 0.51 -> 0.58), and an EMA
# generator (decay 0.999, ramp-up 0.05) that samples, scores and exports
# (three runs against the same runs without: colour up in all three, 0.89-
# 0.90 -> 0.91-0.95, FID down in all three; BENCHMARKS.md "An EMA
# generator for AttnGAN and DM-GAN"). Their generators' batch
# normalisations take scale and shift from the sentence
# (`text.sentence_affine`; AttnGAN against the same recipe and seed
# without it: single-object shape 0.77 -> 0.85, position 0.77 -> 1.00,
# R-precision 0.41 -> 0.48, FID 0.49 -> 0.38; BENCHMARKS.md "The sentence
# in every batch normalisation"). StackGAN keeps 16 channels. One
# discriminator on the final image; the papers have one per stage (`--set
# text.stage_discriminators=true`; measured for AttnGAN: size, position and
# R-precision up, shape unchanged). Budgets: about 15-17 CPU-minutes of
# steps each, 20-30 CPU-minutes in all with the DAMSM pretraining and the
# metrics (measured on 2 cores, batch 32).
_TEXT_TRAIN = {"loss": "non_saturating", "penalty": None, "n_critic": 1,
               "batch_size": 32, "epochs": None, "images": 32 * 10_000,
               "ema": None, "augment": None,
               "d_optimizer": {"name": "adam", "learning_rate": 2e-4,
                               "beta_1": 0.5, "beta_2": 0.999},
               "g_optimizer": {"name": "adam", "learning_rate": 2e-4,
                               "beta_1": 0.5, "beta_2": 0.999}}
_TEXT_DATA = {"source": "captioned_shapes", "image_size": 32,
              "num_samples": 16384}
RECIPES["stackgan"] = {
    "doc": "Zhang et al. 2017 (StackGAN stage I): conditioning "
           "augmentation (KL 2), matching-aware D; text encoder of a DAMSM",
    "model": {"architecture": "stackgan", "latent_dim": 48},
    "data": dict(_TEXT_DATA),
    "train": {**copy.deepcopy(_TEXT_TRAIN), "images": 32 * 16_000},
    "text": {"kl_weight": 2.0, "refinement_stages": 0, "damsm_weight": 0.0,
             "holdout": 256},
}
# AttnGAN and DM-GAN share everything but the generator.
def _attentional_text_recipe(name, doc):
    return {"doc": doc,
            "model": {"architecture": name, "latent_dim": 48, "width": 32},
            "data": dict(_TEXT_DATA),
            "train": {**copy.deepcopy(_TEXT_TRAIN), "images": 32 * 6_000,
                      "ema": 0.999, "ema_rampup": 0.05},
            "text": {"kl_weight": 1.0, "refinement_stages": 1,
                     "damsm_weight": 1.0, "holdout": 256,
                     "d_projection": True, "sentence_affine": True}}


RECIPES["attngan"] = _attentional_text_recipe(
    "attngan", "Xu et al. 2018 (AttnGAN): word attention, DAMSM loss 1 in "
    "G, KL 1; 32 channels, sentence-conditioned BN, projection D, EMA")
RECIPES["dmgan"] = _attentional_text_recipe(
    "dmgan", "Zhu et al. 2019 (DM-GAN): dynamic memory (writing + response "
    "gates), DAMSM loss 1 in G, KL 1; 32 channels, sentence-conditioned "
    "BN, projection D, EMA")

DEFAULT_RECIPE = "recommended"


# Measured quality per recipe (`benchmarks/mnist_quality.py`, BENCHMARKS.md
# "MNIST quality per CPU-minute"): MNIST through the run API, classifier FID
# against held-out images at 2 / 5 / 10 CPU-minutes of one thread, and the
# classes covered at 10. `keras-gan-stable recipes` prints these.
MEASURED = {
    "recommended": "MNIST FID 1.56 / 1.50 / 1.37 at 2 / 5 / 10 CPU-min, "
                   "10/10 classes (class-conditional)",
    "dcgan": "MNIST FID 13.8 / 9.0 / 6.8 at 2 / 5 / 10 CPU-min, 10/10 "
             "classes",
    "sngan": "MNIST FID 87.9 / 12.1 / 8.8 at 2 / 5 / 10 CPU-min, 10/10 "
             "classes",
    "wgan-gp": "MNIST FID 50.3 / 22.6 / 13.2 at 2 / 5 / 10 CPU-min, 10/10 "
               "classes",
    "sagan": "MNIST FID 79.3 / 44.7 / 28.7 at 2 / 5 / 10 CPU-min, 10/10 "
             "classes",
    "wgan": "MNIST FID 169.6 / 147.3 / 103.2 at 2 / 5 / 10 CPU-min, 4/10 "
            "classes",
    "stackgan": "captioned_shapes at its budget: single-object colour / "
                "shape / position 0.56 / 0.23 / 0.38, R-precision 0.07",
    "attngan": "captioned_shapes at its budget: single-object colour / "
               "shape / position 0.98 / 0.85 / 1.00 (seen colour/shape "
               "pairs: colour 1.00, shape 0.93; over three seeds colour "
               "0.99-1.00, shape 0.85-0.93), R-precision 0.48",
    "dmgan": "captioned_shapes at its budget: single-object colour / "
             "shape / position 0.94 / 0.73 / 0.88, R-precision 0.40",
    "progan": "MNIST FID 78.4 / 63.3 / 46.7 at 2 / 5 / 10 CPU-min, 6 / 5 / "
              "8 of 10 classes (not all ten at these budgets)",
    "stylegan2": "MNIST FID 54.0 / 15.5 at 10 / 20 CPU-min, 10/10 classes "
                 "at 20; CIFAR-10 FID 6.97 / 1.74 (lowest of the recipes "
                 "at 20)",
}


def recipe_names():
    return sorted(RECIPES)


def get_recipe(name, points=False):
    """The recipe's `model`/`train` sections (a copy); `ValueError` if unknown.

    With `points=True` a recipe's settings for point data (its `points`
    section, where it has one) replace the image settings they name.
    """
    if name not in RECIPES:
        raise ValueError(
            f"Unknown recipe {name!r}. Use one of: {', '.join(recipe_names())}."
        )
    recipe = copy.deepcopy(RECIPES[name])
    recipe.pop("doc", None)
    point_settings = recipe.pop("points", {})
    if points:
        for section, values in point_settings.items():
            recipe.setdefault(section, {}).update(values)
    return recipe


def is_point_source(source):
    """Whether a built-in data source gives points rather than images."""
    return source in ("ring8", "grid25")


def recipe_config(name, points=False):
    """A full default configuration with the recipe applied.

    Args:
        name: the recipe.
        points: bool. The data are points (the 2D mixtures): apply the
            recipe's point-data settings where it has them.
    """
    from keras_gan_stable.utils.config import DEFAULT_CONFIG

    config = copy.deepcopy(DEFAULT_CONFIG)
    recipe = get_recipe(name, points=points)
    config["model"]["width"] = None  # sized to the data, unless the recipe
    config["model"].update(recipe.get("model", {}))  # sets it
    config["data"].update(recipe.get("data", {}))
    config["text"].update(recipe.get("text", {}))
    for key, value in recipe.get("train", {}).items():
        config["train"][key] = copy.deepcopy(value)  # optimizers replaced whole
    config["recipe"] = name
    config["name"] = name
    return config


def width_for(data_shape):
    """The network width "sized to the data"."""
    if len(data_shape) == 1:
        return 128
    h, _, c = data_shape
    # Small grey images (digits, MNIST) learn well at a quarter of the
    # colour width, and a step costs about 16x less.
    return 16 if (h <= 32 and c == 1) else 64


def _call(builder, **kwargs):
    """Calls `builder` with the keyword arguments it accepts."""
    params = inspect.signature(builder).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return builder(**kwargs)
    return builder(**{k: v for k, v in kwargs.items() if k in params})


def _import(module, *names):
    import importlib

    try:
        mod = importlib.import_module(module)
        return [getattr(mod, n) for n in names]
    except (ImportError, AttributeError) as e:
        raise ValueError(
            f"The architecture needs {module}.{'/'.join(names)}, which is not "
            f"available in this installation ({e}). Pick another recipe, e.g. "
            "--recipe dcgan."
        ) from None


def mlp_networks(latent_dim, dim, width=128, depth=3):
    """Small MLPs for 2D (or D-dimensional) point data."""
    import keras
    from keras import layers

    z = keras.Input((latent_dim,), name="z")
    x = z
    for _ in range(depth):
        x = layers.Dense(width, activation="relu")(x)
    g = keras.Model(z, layers.Dense(dim, dtype="float32")(x),
                    name="mlp_generator")
    p = keras.Input((dim,), name="points")
    x = p
    for _ in range(depth):
        x = layers.Dense(width)(x)
        x = layers.LeakyReLU(0.2)(x)
    d = keras.Model(p, layers.Dense(1, dtype="float32")(x),
                    name="mlp_discriminator")
    return g, d


def build_networks(config, data_shape, num_classes=None):
    """Builds `(generator, discriminator)` for the config and data shape.

    Args:
        config: a resolved run configuration.
        data_shape: `(H, W, C)` of the images or `(D,)` of points.
        num_classes: int or `None` for class-conditional networks.
    """
    model = config["model"]
    arch = model["architecture"]
    latent = model["latent_dim"]
    width = model["width"] or width_for(data_shape)
    data_shape = tuple(int(s) for s in data_shape)
    if arch == "stylegan2" and len(data_shape) != 3:
        raise ValueError(
            "model.architecture=stylegan2 needs image data; the data are "
            f"points of shape {data_shape}. Pick another recipe, e.g. "
            "--recipe recommended."
        )
    if len(data_shape) == 1:
        if num_classes:
            raise ValueError(
                "Class-conditional training needs image data; the data are "
                f"points of shape {data_shape}. Set data.labels=false."
            )
        return mlp_networks(latent, data_shape[0], width)
    if arch == "mlp":
        raise ValueError(
            f"model.architecture='mlp' is for point data; the data are images "
            f"of shape {data_shape}. Pick an image architecture."
        )
    common = dict(latent_dim=latent, image_shape=data_shape,
                  num_classes=num_classes)
    if arch == "dcgan":
        from keras_gan_stable.architectures.dcgan import (
            dcgan_discriminator, dcgan_generator)

        return (dcgan_generator(width=width, **common),
                dcgan_discriminator(image_shape=data_shape, width=width,
                                    normalization=model["d_normalization"],
                                    num_classes=num_classes))
    if arch in ("sngan_cnn", "sngan_resnet"):
        kind = arch.split("_")[1]
        g_fn, d_fn = _import("keras_gan_stable.architectures.sngan",
                             f"sngan_{kind}_generator",
                             f"sngan_{kind}_discriminator")
    elif arch == "sagan":
        g_fn, d_fn = _import("keras_gan_stable.architectures.sagan",
                             "sagan_generator", "sagan_discriminator")
    elif arch == "stylegan2":
        return stylegan2_networks(model, data_shape, num_classes)
    elif arch == "progan":
        if num_classes:
            raise ValueError(
                "The ProGAN networks are unconditional. Set data.labels=false."
            )
        g_fn, d_fn = _import("keras_gan_stable.architectures.progan",
                             "progan_generator", "progan_discriminator")
        filters = [min(8 * width, 512)] * 2 + [width * 2 ** max(0, 3 - i)
                                               for i in range(2, 8)]
        import math

        levels = int(math.log2(data_shape[0])) - 1
        filters = filters[:levels]
        return (_call(g_fn, latent_dim=latent, image_shape=data_shape,
                      filters=filters),
                _call(d_fn, image_shape=data_shape, filters=filters))
    else:
        raise ValueError(f"Unknown model.architecture {arch!r}.")
    kwargs = dict(common, width=width)
    return (_call(g_fn, **kwargs),
            _call(d_fn, **{k: v for k, v in kwargs.items()
                           if k != "latent_dim"}))


def stylegan2_networks(model, data_shape, num_classes=None):
    """The StyleGAN2 generator and discriminator of a config's `model`."""
    from keras_gan_stable.utils.config import STYLEGAN2_MODEL

    h, w, c = data_shape
    if h != w or h < 8 or h & (h - 1):
        raise ValueError(
            f"model.architecture=stylegan2 needs square images of a power-"
            f"of-two size >= 8; the data are {h}x{w}. Set data.image_size, "
            "e.g. data.image_size=32."
        )
    g_fn, d_fn = _import("keras_gan_stable.architectures.stylegan2",
                         "stylegan2_generator", "stylegan2_discriminator")
    opts = {key: default if model.get(key) is None else model[key]
            for key, default in STYLEGAN2_MODEL.items()}
    generator = g_fn(h, c, latent_dim=model["latent_dim"],
                     num_classes=num_classes, **opts)
    discriminator = d_fn(h, c, channel_base=opts["channel_base"],
                         channel_max=opts["channel_max"],
                         num_classes=num_classes)
    return generator, discriminator
