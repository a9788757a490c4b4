"""Text-to-image runs: `train --recipe stackgan|attngan|dmgan` and
`sample RUN --caption ...`.

A run whose `model.architecture` is `stackgan`, `attngan` or `dmgan`
trains a `StackGAN` / `AttnGAN` / `DMGAN` through the ordinary `Run`
machinery (callbacks, checkpoints, exact `--resume`, export): `Run(config)`
builds a `TextRun`. What differs:

- the data are captioned images: `captioned_shapes` (`--data
  captioned_shapes`, drawn with `data.num_samples` scenes at
  `data.image_size` 32 or 64 under `train.seed`) or a caption folder (an
  image folder with one `.txt` of captions per image, beside it or under
  `text.text_folder`);
- a `CaptionTokenizer` (`text.max_length` ids) is adapted to the training
  captions, and a DAMSM (`BiLSTMTextEncoder` + `damsm_image_encoder`) is
  pretrained for `text.damsm_steps` steps at the start of the run, then
  frozen; or both are read from `text.damsm`, the `text/` folder of an
  earlier text run. StackGAN uses the DAMSM's text encoder only (its
  sentence feature), AttnGAN and DM-GAN also its loss (`text.damsm_weight`).
  Both are written to `RUN/text/` (`tokenizer.json`, `damsm.keras`) before
  training, so `--resume`, `load_text_run` and `sample` use exactly them;
- batch `i` of epoch `e` is `{"images", "captions"}`: the images of the
  epoch's permutation (as any run) and, per image, one of its captions
  drawn with the seed `[train.seed, e, i]`, so any batch is remade exactly
  after a resume;
- the sample grids have one row per fixed caption (`text.grid_captions`,
  or the run's own) and one column per seed (`text.grid_seeds`), and
  `samples/captions.txt` lists the rows' captions;
- the final metrics are measured on held-out captions (`text.holdout`
  new scenes, never trained on, plus held-out attribute combinations for
  `captioned_shapes`): attribute accuracy read by a classifier trained on
  real scenes of every combination (`captioned_shapes` only), and
  R-precision by a second DAMSM trained for `text.eval_damsm_steps` steps
  on other real scenes (0: none);
- the export is `export_text_to_image`'s SavedModel (strings + seed ->
  uint8 images).

>>> from keras_gan_stable.run import RunConfig, run
>>> config = RunConfig.from_recipe("attngan", overrides=["train.images=6400"])
>>> summary = run(config, out_dir="runs/attngan")
>>> from keras_gan_stable.text_run import write_caption_samples
>>> write_caption_samples("runs/attngan", ["a small red circle on the left"],
...                       "x.png", num=4)
"""

import os
import warnings

import numpy as np

from keras_gan_stable import run as runs
from keras_gan_stable.callbacks.checkpoint import ResumableBatches
from keras_gan_stable.callbacks.sample_grid import SampleGrid
from keras_gan_stable.utils import config as cfg
from keras_gan_stable.utils.config import ConfigError

TEXT_DIR = "text"
TOKENIZER_FILE = "tokenizer.json"
DAMSM_FILE = "damsm.keras"
# Seed offsets of the held-out scenes, the DAMSM pretraining batches and the
# evaluation DAMSM, apart from the training batches' `[seed, epoch, batch]`.
EVAL_SEED = 104_729
DAMSM_SEED = 7_919
EVAL_DAMSM_SEED = 15_485
CLASSIFIER_SEED = 32_452
# The R-precision / FID DAMSM's image-encoder width: fixed, so that runs of
# any model.width are judged by the same kind of network.
EVAL_DAMSM_WIDTH = 16
# The grid's rows on captioned_shapes: one caption per colour, the third a
# held-out combination (green triangles never appear in training).
GRID_CAPTIONS = (
    "a small red circle on the left",
    "a large blue square in the centre",
    "a green triangle at the top",
    "a big yellow triangle at the bottom",
    "a white box on the right",
    "a large purple square in the middle",
)
KINDS = {"stackgan": "StackGAN", "attngan": "AttnGAN", "dmgan": "DMGAN"}


def text_dir(run_dir):
    return os.path.join(run_dir, TEXT_DIR)


# ---------------------------------------------------------------------- #
# Data
# ---------------------------------------------------------------------- #
def _image_size(config):
    size = config["data"]["image_size"]
    if isinstance(size, (list, tuple)):
        if size[0] != size[1]:
            raise runs.ConfigError(
                f"Invalid config value data.image_size={list(size)}: a "
                "text-to-image run needs square images. Set "
                "data.image_size to 32 or 64.")
        size = size[0]
    return 32 if size is None else int(size)


def load_captioned(config):
    """`(images, captions, test)` of a text run's data: training images
    `[N, S, S, C]`, their captions (a list of N lists of strings) and the
    held-out test set `(images, captions, attributes or None)`."""
    from keras_gan_stable.data.loaders import DataError

    d, t, text = config["data"], config["train"], config["text"]
    source, seed = d["source"], int(t["seed"])
    size = _image_size(config)
    if source == "captioned_shapes":
        from keras_gan_stable.data.captioned_shapes import captioned_shapes

        if size not in (32, 64):
            raise DataError(
                f"captioned_shapes draws 32 or 64 px scenes; received "
                f"data.image_size={size}. Set data.image_size to 32 or 64.")
        n = d["num_samples"] if d["max_samples"] is None else min(
            d["num_samples"], d["max_samples"])
        images, captions, _ = captioned_shapes(n, size, seed=seed)
        k = text["holdout"]
        xa, ca, aa = captioned_shapes(k, size, seed=seed + EVAL_SEED)
        xb, cb, ab = captioned_shapes(max(1, k // 4), size,
                                      seed=seed + EVAL_SEED, split="heldout")
        test = (np.concatenate([xa, xb]), ca + cb,
                {key: np.concatenate([aa[key], ab[key]]) for key in aa})
        return images, [[c] for c in captions], test
    if not os.path.isdir(source):
        raise DataError(
            f"{source}: a text-to-image run (model.architecture="
            f"{config['model']['architecture']}) reads captioned_shapes or "
            "a caption folder (images with one .txt of captions each). Pass "
            "--data captioned_shapes or such a folder.")
    from keras_gan_stable.data.caption_folder import load_caption_folder

    images, captions = load_caption_folder(
        source, image_size=size, text_folder=text["text_folder"],
        channels=d["channels"] or 3, max_samples=d["max_samples"])
    k = text["holdout"]
    if len(images) <= k:
        raise DataError(
            f"{source}: found {len(images)} captioned images, not more than "
            f"the {k} held out for the final metrics (text.holdout). Lower "
            f"it, e.g. --set text.holdout={len(images) // 4}.")
    test = (images[-k:], [c[0] for c in captions[-k:]], None)
    return images[:-k], captions[:-k], test


def tokenize_all(tokenizer, captions):
    """Token ids `[N, K, T]` of N lists of captions (padded with each
    image's first caption) and the captions per image `[N]`."""
    counts = np.array([len(c) for c in captions], "int32")
    flat = [c for group in captions for c in group]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # over-long training captions: cut
        ids = tokenizer(flat)
    out = np.zeros((len(captions), int(counts.max()), ids.shape[1]), "int32")
    at = 0
    for i, c in enumerate(counts):
        out[i, :c] = ids[at:at + c]
        out[i, c:] = ids[at]
        at += c
    return out, counts


class CaptionBatches(ResumableBatches):
    """`ResumableBatches` of captioned images: batch `i` of epoch `e` is
    `{"images", "captions"}`, the images of the epoch's permutation and one
    caption per image drawn with the seed `[seed, e, i]`, so the stream
    from any position is reproducible."""

    def __init__(self, x, ids, counts, batch_size, seed=0,
                 steps_per_epoch=None):
        super().__init__(x, batch_size, seed=seed,
                         steps_per_epoch=steps_per_epoch)
        self.ids = np.asarray(ids, "int32")
        self.counts = np.asarray(counts, "int32")

    def batch(self, epoch, index):
        idx = self._permutation(epoch)[index * self.batch_size:
                                       (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, epoch, index])
        pick = rng.integers(self.counts[idx])
        return {"images": self.x[idx], "captions": self.ids[idx, pick]}


# ---------------------------------------------------------------------- #
# Tokenizer, DAMSM, model
# ---------------------------------------------------------------------- #
def save_tokenizer(tokenizer, path):
    from keras_gan_stable.callbacks.checkpoint import _write_json_atomic

    _write_json_atomic(path, tokenizer.get_config())


def load_tokenizer(path):
    from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer

    config = runs._read_json(path, "tokenizer vocabulary")
    return CaptionTokenizer.from_config(config)


def build_damsm(config, image_size, vocabulary_size, channels=3,
                width=None):
    """An untrained DAMSM of a text config: `damsm_image_encoder` (width
    `width`, or `model.width`, 16 by default, at least 8;
    `text.damsm_pooling`) and
    `BiLSTMTextEncoder`; gamma1 4, gamma2 5, gamma3 10 (AttnGAN's CUB
    settings)."""
    from keras_gan_stable.architectures.damsm import damsm_image_encoder
    from keras_gan_stable.models.damsm import DAMSM
    from keras_gan_stable.text.text_encoder import BiLSTMTextEncoder

    text = config["text"]
    if width is None:
        width = max(8, config["model"]["width"] or 16)
    return DAMSM(damsm_image_encoder(image_size, text["feature_dim"],
                                     width=width, channels=channels,
                                     pooling=text["damsm_pooling"]),
                 BiLSTMTextEncoder(vocabulary_size, text["embedding_dim"],
                                   text["feature_dim"]),
                 gamma1=4.0, gamma2=5.0, gamma3=10.0)


def pretrain_damsm(damsm, images, ids, counts, steps, batch_size,
                   learning_rate, seed, callbacks=None):
    """Trains `damsm` for `steps` Adam steps on batches drawn with the seed
    `[seed, DAMSM_SEED, step]` (one caption per image); `callbacks` go to
    its `fit()`."""
    import keras

    damsm.compile(optimizer=keras.optimizers.Adam(learning_rate))
    if not steps:  # built all the same (it is saved and loaded built)
        damsm({"images": images[:1], "captions": ids[:1, 0]})
        return damsm
    batch_size = min(int(batch_size), len(images))

    def batches():
        step = 0
        while True:
            rng = np.random.default_rng([seed, DAMSM_SEED, step])
            idx = rng.choice(len(images), batch_size, replace=False)
            pick = rng.integers(counts[idx])
            yield ({"images": images[idx], "captions": ids[idx, pick]},)
            step += 1

    damsm.fit(batches(), steps_per_epoch=int(steps), epochs=1, verbose=0,
              callbacks=callbacks)
    return damsm


def load_damsm(path):
    """The DAMSM of a `.keras` file, trainable (the GAN freezes it).

    A DAMSM saved frozen is loaded with `trainable=False` layers whose new
    variables are still marked trainable, and freezing it again leaves
    them so; making it trainable first lets the GAN's freeze reach every
    variable, so the GAN's variables are listed (and checkpointed) in the
    same order however the DAMSM was made."""
    import keras

    import keras_gan_stable

    keras_gan_stable.register_all()
    damsm = keras.saving.load_model(path, compile=False)
    damsm.trainable = True
    for layer in (damsm.text_encoder, damsm.image_encoder):
        layer.trainable = True
    return damsm


def reload_damsm(damsm):
    """`damsm` saved to `.keras` and loaded back: the GAN then holds the
    DAMSM built as `load_text_run` and `--resume` build it from
    `RUN/text/damsm.keras` (its variables in the same order, which the
    checkpoints rely on), whether it was just trained or read."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, DAMSM_FILE)
        damsm.save(path)
        return load_damsm(path)


def build_text_gan(config, image_shape, damsm, total_steps=None):
    """The compiled `StackGAN` / `AttnGAN` / `DMGAN` of a text config for
    images of `image_shape` `(S, S, C)`, conditioned by `damsm`'s frozen
    text encoder (and trained with its loss for AttnGAN / DM-GAN).

    Networks (CPU-sized; `model.width` channels, default 16): StackGAN's
    stage-I generator and matching-aware discriminator; AttnGAN's
    attentional / DM-GAN's dynamic-memory generator with
    `text.refinement_stages` refinement stages (each doubling the size)
    and the same discriminator on the final image, or, with
    `text.stage_discriminators`, one per stage's image
    (`multi_stage_discriminator`); `text.d_projection` adds the projection
    term to each discriminator; `text.sentence_affine` conditions the
    AttnGAN / DM-GAN generator's batch normalisations on the sentence.
    `model.latent_dim` is `noise + text.condition_dim`.
    """
    from keras_gan_stable.architectures import stackgan as arch
    from keras_gan_stable.architectures import text_to_image

    config = runs._as_dict(config)
    model, t, text = config["model"], config["train"], config["text"]
    name = model["architecture"]
    size, channels = int(image_shape[0]), int(image_shape[-1])
    width = model["width"] or 16
    dim, cond = text["feature_dim"], text["condition_dim"]
    noise = model["latent_dim"] - cond
    if noise < 1:
        raise ConfigError(
            f"Invalid config value model.latent_dim={model['latent_dim']}: "
            f"it is noise + text.condition_dim ({cond}), so it should be "
            f"more than {cond}. Set model.latent_dim={cond + 32}.")
    stages = 1
    if name != "stackgan" and text["stage_discriminators"]:
        stages = text["refinement_stages"] + 1
    if stages == 1:
        d = arch.stackgan_stage1_discriminator(
            image_size=size, embedding_dim=dim, condition_dim=cond,
            width=width, channels=channels,
            normalization=model["d_normalization"],
            projection=text["d_projection"])
    else:  # AttnGAN's D_0..D_K, stage k at size / 2**(K - k)
        d = text_to_image.multi_stage_discriminator(
            [arch.stackgan_stage1_discriminator(
                image_size=size >> (stages - 1 - k), embedding_dim=dim,
                condition_dim=cond, width=width, channels=channels,
                normalization=model["d_normalization"],
                projection=text["d_projection"],
                name=f"stage{k}_discriminator") for k in range(stages)],
            size, channels)
    kwargs = dict(kl_weight=text["kl_weight"],
                  mismatch_weight=text["mismatch_weight"], seed=t["seed"])
    if t["ema"] is not None:
        kwargs.update(ema_decay=t["ema"], ema_rampup=t["ema_rampup"])
    if name == "stackgan":
        from keras_gan_stable.models.stackgan import StackGAN

        g = arch.stackgan_stage1_generator(
            noise_dim=noise, embedding_dim=dim, condition_dim=cond,
            image_size=size, width=width, channels=channels)
        gan = StackGAN(g, d, latent_dim=model["latent_dim"],
                       text_encoder=damsm.text_encoder, **kwargs)
    else:
        builder = (text_to_image.attngan_generator if name == "attngan"
                   else text_to_image.dmgan_generator)
        g = builder(noise_dim=noise, text_dim=dim, condition_dim=cond,
                    image_size=size,
                    refinement_stages=text["refinement_stages"],
                    width=width, residual_blocks=text["residual_blocks"],
                    channels=channels, stage_images=stages > 1,
                    sentence_affine=text["sentence_affine"])
        if name == "attngan":
            from keras_gan_stable.models.attngan import AttnGAN as cls
        else:
            from keras_gan_stable.models.dmgan import DMGAN as cls
        gan = cls(g, d, latent_dim=model["latent_dim"], damsm=damsm,
                  damsm_weight=text["damsm_weight"], image_stages=stages,
                  **kwargs)
    return runs.compile_from_train(gan, t, total_steps)


# ---------------------------------------------------------------------- #
# Sample grid
# ---------------------------------------------------------------------- #
def caption_grid(gan, ids, seeds, generator=None):
    """Images `[R * C, S, S, ch]`: row `r` caption `r`, column `c` seed
    `seeds[c]`; column `c` is `gan.generate(captions=ids, seed=seeds[c])`
    (all the captions at once, as `generate` and the SavedModel draw the
    noise for the whole batch)."""
    cols = [gan.generate(captions=ids, seed=int(s), generator=generator)
            for s in seeds]
    return np.stack(cols, axis=1).reshape((-1,) + cols[0].shape[1:])


class CaptionGrid(SampleGrid):
    """`SampleGrid` for text-to-image models: one row per fixed caption,
    one column per seed (the EMA generator's images when kept)."""

    def __init__(self, directory, captions, ids, seeds, **kwargs):
        super().__init__(directory, num_samples=len(ids) * len(seeds),
                         **kwargs)
        self.captions = list(captions)
        self.ids = np.asarray(ids, "int32")
        self.seeds = [int(s) for s in seeds]

    def samples(self):
        return caption_grid(self.model, self.ids, self.seeds,
                            generator=self._generator())

    def write(self, epoch):
        from keras_gan_stable.utils.images import save_image_grid

        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, self.filename.format(epoch=epoch))
        images = self.samples()
        save_image_grid(images, path, nrow=len(self.seeds))
        self._log_image(images, epoch)
        self.paths.append(path)
        listing = os.path.join(self.directory, "captions.txt")
        if not os.path.exists(listing):
            tmp = listing + ".tmp"
            with open(tmp, "w") as f:
                f.write("\n".join(self.captions) + "\n")
            os.replace(tmp, listing)
        return path


# ---------------------------------------------------------------------- #
# The run
# ---------------------------------------------------------------------- #
class TextRun(runs.Run):
    """A `Run` that trains a text-to-image GAN on captioned images (see the
    module docstring); built by `Run(config)` when `model.architecture` is
    `stackgan`, `attngan` or `dmgan`."""

    def _load_data(self):
        images, captions, self.test = load_captioned(self.config)
        self.train_captions = captions
        self.tokenizer, self._damsm_source = self._tokenizer(captions)
        self.ids, self.counts = tokenize_all(self.tokenizer, captions)
        return images, None

    def _tokenizer(self, captions):
        """The run's tokenizer: from the run folder (resume), from
        `text.damsm`, or adapted to the training captions."""
        from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer

        mine = text_dir(self.out_dir)
        if self.resume and os.path.exists(os.path.join(mine, DAMSM_FILE)):
            return load_tokenizer(os.path.join(mine, TOKENIZER_FILE)), mine
        given = self.config["text"]["damsm"]
        if given is not None:
            for name in (TOKENIZER_FILE, DAMSM_FILE):
                if not os.path.isfile(os.path.join(given, name)):
                    raise ConfigError(
                        f"text.damsm={given}: no {name} there. Pass the "
                        f"{TEXT_DIR}/ folder of a text-to-image run (it holds "
                        f"{TOKENIZER_FILE} and {DAMSM_FILE}).")
            tok = load_tokenizer(os.path.join(given, TOKENIZER_FILE))
            if tok.max_length != self.config["text"]["max_length"]:
                raise ConfigError(
                    f"text.damsm={given} was trained with max_length="
                    f"{tok.max_length}; received text.max_length="
                    f"{self.config['text']['max_length']}. Set them equal.")
            return tok, given
        tok = CaptionTokenizer(max_length=self.config["text"]["max_length"])
        tok.adapt([c for group in captions for c in group])
        return tok, None

    def _fitting_size(self, shape):
        return None  # the text networks take the data's size

    def _batches(self, x, y, per_step, steps):
        return CaptionBatches(x, self.ids, self.counts, per_step,
                              seed=self.config["train"]["seed"],
                              steps_per_epoch=steps)

    def _damsm(self):
        if self._damsm_source is not None:
            damsm = load_damsm(os.path.join(self._damsm_source, DAMSM_FILE))
            self.damsm_pretrain = {"from": self._damsm_source}
            return damsm
        text, t = self.config["text"], self.config["train"]
        damsm = build_damsm(self.config, self.data_shape[0],
                            self.tokenizer.vocabulary_size,
                            self.data_shape[-1])
        pretrain_damsm(damsm, self.batches.x, self.ids, self.counts,
                       text["damsm_steps"], text["damsm_batch_size"],
                       text["damsm_learning_rate"], t["seed"])
        self.damsm_pretrain = {"steps": text["damsm_steps"]}
        return reload_damsm(damsm)

    def _build_model(self):
        import keras

        self.damsm = self._damsm()
        # The same initial GAN whether the DAMSM was trained or loaded.
        keras.utils.set_random_seed(self.config["train"]["seed"])
        return build_text_gan(self.config, self.data_shape, self.damsm,
                              total_steps=self.total_steps)

    def _grid_captions(self):
        caps = self.config["text"]["grid_captions"]
        if caps is None:
            caps = (list(GRID_CAPTIONS) if self.config["data"]["source"]
                    == "captioned_shapes" else list(self.test[1][:4]))
        return caps

    def _callbacks(self):
        cbs = super()._callbacks()
        t, text = self.config["train"], self.config["text"]
        captions = self._grid_captions()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ids = self.tokenizer(captions)
        old = self.grid
        self.grid = CaptionGrid(
            old.directory, captions, ids,
            [t["seed"] + i for i in range(text["grid_seeds"])],
            seed=t["seed"], every=old.every,
            tensorboard_dir=old.tensorboard_dir)
        cbs[cbs.index(old)] = self.grid
        return cbs

    def fit(self):
        """Writes the tokenizer and the DAMSM to `RUN/text/`, then trains
        (see `Run.fit`)."""
        folder = text_dir(self.out_dir)
        if not os.path.exists(os.path.join(folder, DAMSM_FILE)):
            os.makedirs(folder, exist_ok=True)
            save_tokenizer(self.tokenizer,
                           os.path.join(folder, TOKENIZER_FILE))
            tmp = os.path.join(folder, ".tmp." + DAMSM_FILE)
            self.damsm.save(tmp)
            os.replace(tmp, os.path.join(folder, DAMSM_FILE))
        return super().fit()

    def _final_metrics(self, gan):
        return text_metrics(gan, self.tokenizer, self.test, self.config,
                            self.out_dir, reference=self.batches.x[
                                :len(self.test[0])])

    def _export(self):
        if not self.config["output"]["export"]:
            return {}
        from keras_gan_stable.export_text import export_text_to_image

        try:
            path = export_text_to_image(
                self.gan, self.tokenizer,
                path=os.path.join(self.out_dir, "saved_model"),
                overwrite=True)
        except (ImportError, ValueError, RuntimeError) as e:
            print(f"Skipping the saved_model export: "
                  f"{' '.join(str(e).split())}")
            return {}
        return {"saved_model": path}


# ---------------------------------------------------------------------- #
# Metrics
# ---------------------------------------------------------------------- #
def _r_precision(damsm, images, ids):
    from keras_gan_stable.metrics.r_precision import r_precision

    img, txt = damsm.encode_images(images), damsm.encode_captions(ids)
    k = min(100, len(img))
    return float(np.mean([r_precision(img, txt, k, seed=s)
                          for s in range(3)]))


def text_metrics(gan, tokenizer, test, config, out_dir=None,
                 reference=None):
    """Metrics of a text run's generator on the held-out captions `test`
    (`(images, captions, attributes or None)`), images from seed 0.

    - `attribute_*` (captioned_shapes): attribute accuracy of colour,
      shape, size and position of single-object captions
      (`single_object_*`; `single_object_seen_*` leaves out those of a
      held-out colour/shape combination, about a quarter), two-object
      captions and held-out combinations (`heldout_*`), read by an
      attribute classifier trained on
      `text.classifier_images` real scenes of every combination (cached
      as `RUN/attribute_classifier.keras`); `real_*`: the same on the
      real held-out images (the ceiling).
    - `r_precision` / `real_r_precision` (`text.eval_damsm_steps` > 0):
      R-precision of generated and real images against their captions
      (min(100, N) candidates, mean over candidate draws 0-2) under a
      second DAMSM, trained on the held-out real images only, of width
      `EVAL_DAMSM_WIDTH` (16) whatever `model.width`, so that runs of any
      width are judged alike.
    - `fid` / `real_fid` (with that DAMSM): Frechet distance between the
      generated and the real held-out images in its global image features
      (`text.feature_dim` wide); `real_fid`: `reference` (real training
      images, as many as the held-out ones) against the held-out images,
      the floor at this sample count (a Frechet distance from a few
      hundred samples is biased upwards; compare runs at equal
      `text.holdout`).
    """
    import keras

    config = runs._as_dict(config)
    text, seed = config["text"], int(config["train"]["seed"])
    images, captions, attrs = test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = tokenizer(captions)
    fake = gan.generate(captions=ids, seed=0)
    out = {"holdout_captions": int(len(captions))}
    if attrs is not None:
        from keras_gan_stable.data.captioned_shapes import captioned_shapes
        from keras_gan_stable.metrics.attributes import (
            attribute_accuracy, train_attribute_classifier)

        path = (os.path.join(out_dir, "attribute_classifier.keras")
                if out_dir else None)
        if path and os.path.exists(path):
            clf = keras.saving.load_model(path)
        else:
            x, _, a = captioned_shapes(
                text["classifier_images"], int(images.shape[1]),
                seed=seed + CLASSIFIER_SEED, heldout=())
            clf = train_attribute_classifier(
                x, a, epochs=text["classifier_epochs"], seed=seed)
            if path:
                tmp = os.path.join(out_dir, ".tmp.attribute_classifier.keras")
                clf.save(tmp)
                os.replace(tmp, path)
        for prefix, pics in (("", fake), ("real_", images)):
            served = {"at": 0}

            def serve(caps, pics=pics, served=served):
                lo = served["at"]
                served["at"] += len(caps)
                return pics[lo:lo + len(caps)]

            scores = attribute_accuracy(serve, captions, attrs, clf,
                                        batch_size=len(captions))
            for group in ("single_object", "single_object_seen",
                          "two_objects", "heldout"):
                for key, value in scores[group].items():
                    if key != "count":
                        out[f"{prefix}{group}_{key}"] = float(value)
    if text["eval_damsm_steps"]:
        keras.utils.set_random_seed(seed + EVAL_DAMSM_SEED)
        damsm = build_damsm(config, int(images.shape[1]),
                            tokenizer.vocabulary_size, int(images.shape[-1]),
                            width=EVAL_DAMSM_WIDTH)
        ones = np.ones(len(ids), "int32")
        pretrain_damsm(damsm, images, ids[:, None], ones,
                       text["eval_damsm_steps"], text["damsm_batch_size"],
                       text["damsm_learning_rate"], seed + EVAL_DAMSM_SEED)
        out["r_precision"] = _r_precision(damsm, fake, ids)
        out["real_r_precision"] = _r_precision(damsm, images, ids)
        from keras_gan_stable.metrics.frechet import (
            frechet_distance_from_features)

        held = _image_features(damsm, images)
        out["fid"] = float(frechet_distance_from_features(
            _image_features(damsm, fake), held))
        if reference is not None and len(reference):
            out["real_fid"] = float(frechet_distance_from_features(
                _image_features(damsm, reference[:len(images)]), held))
    return out


def _image_features(damsm, images):
    """The DAMSM's global image features `[N, D]` as float64."""
    return np.asarray(damsm.encode_images(np.asarray(images, "float32")),
                      "float64")


# ---------------------------------------------------------------------- #
# Loading a trained text run; sampling from captions
# ---------------------------------------------------------------------- #
def load_text_run(source):
    """`(gan, tokenizer, config)` of a text run folder: its config, the
    tokenizer and DAMSM of `RUN/text/` and its newest checkpoint."""
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints

    config = runs._as_dict(cfg.load_config_file(
        os.path.join(source, "config.yaml")))
    folder = text_dir(source)
    ckpt_dir = os.path.join(source, runs.CHECKPOINT_DIR)
    state_path = os.path.join(source, runs.STATE_NAME)
    if not (os.path.isfile(os.path.join(folder, DAMSM_FILE))
            and os.path.isfile(state_path) and list_checkpoints(ckpt_dir)):
        raise ConfigError(
            f"{source}: the text-to-image run has no checkpoint (or lacks "
            f"{TEXT_DIR}/{DAMSM_FILE}). Train it first, or --resume it.")
    import keras_gan_stable

    keras_gan_stable.register_all()
    tokenizer = load_tokenizer(os.path.join(folder, TOKENIZER_FILE))
    damsm = load_damsm(os.path.join(folder, DAMSM_FILE))
    state = runs._read_json(state_path, "run state")
    shape = tuple(int(s) for s in state["data_shape"])
    gan = build_text_gan(config, shape, damsm)
    runs.restore_run_checkpoint(gan, ckpt_dir, source)
    return gan, tokenizer, config


def tokenize_captions(tokenizer, captions, flag="--caption"):
    """Token ids of user captions: unknown words -> `[UNK]` (id 1), an
    empty caption -> `ConfigError`, an over-long one truncated with a
    `UserWarning` (`CaptionTokenizer`'s rules)."""
    captions = list(captions or [])
    if not captions:
        raise ConfigError(f"Pass at least one caption ({flag} \"a small red "
                          "circle on the left\").")
    for i, c in enumerate(captions):
        if not str(c).strip():
            raise ConfigError(
                f"{flag} {c!r} is empty (caption {i}): every caption needs "
                "at least one word.")
    try:
        return tokenizer(captions)
    except ValueError as e:
        raise ConfigError(f"{flag}: {' '.join(str(e).split())}") from None


def unknown_words(tokenizer, captions):
    """The words of `captions` not in the tokenizer's vocabulary (they
    become `[UNK]`), in order of appearance."""
    import re

    vocab = set(tokenizer.get_vocabulary())
    out = []
    for c in captions:
        for w in re.sub(r"[^\w\s]", "", str(c).lower()).split():
            if w not in vocab and w not in out:
                out.append(w)
    return out


def write_caption_samples(source, captions, out, num=1, seed=0):
    """Writes images of a text run for `captions` to `out` and returns it.

    A `.png` grid: one row per caption, `num` columns, seeds `seed, seed
    + 1, ...`; column `c` equals `gan.generate(captions=tokenizer(
    captions), seed=seed + c)` (the noise is drawn for the whole list of
    captions, as the SavedModel's `generate(captions, seed)` draws it). A
    `.npy`: the same images as uint8 `[len(captions), num, S, S, C]`.
    The caption rules are `CaptionTokenizer`'s: an unknown word becomes
    `[UNK]`, an empty caption is an error, a caption longer than
    `text.max_length` words is cut with a warning.
    """
    kind = str(out).lower().rsplit(".", 1)[-1]
    if kind not in ("png", "npy") or os.path.isdir(out):
        raise ConfigError(f"--out {out}: expected a .png (grid: a row per "
                          "caption) or .npy (uint8 array) file.")
    if not (isinstance(num, int) and 1 <= num <= 64):
        raise ConfigError(f"-n should be in [1, 64] with --caption (images "
                          f"per caption). Received: -n {num}.")
    parent = os.path.dirname(os.path.abspath(out))
    runs._check_writable(parent, "--out")
    if not (os.path.isdir(source) and runs._run_is_text(source)):
        raise ConfigError(
            f"--caption applies to text-to-image runs (--recipe stackgan, "
            f"attngan or dmgan); {source} is not one. Drop --caption.")
    path = os.path.join(text_dir(source), TOKENIZER_FILE)
    if not os.path.isfile(path):
        raise ConfigError(f"{source}: no {TEXT_DIR}/{TOKENIZER_FILE} there. "
                          "Train the run first, or --resume it.")
    ids = tokenize_captions(load_tokenizer(path), captions)
    gan, _, _ = load_text_run(source)
    images = caption_grid(gan, ids, [seed + i for i in range(num)])
    os.makedirs(parent, exist_ok=True)
    if kind == "npy":
        from keras_gan_stable.utils.images import to_uint8

        arr = to_uint8(images).reshape((len(ids), num) + images.shape[1:])
        np.save(out + ".tmp.npy", arr)
        os.replace(out + ".tmp.npy", out)
    else:
        from keras_gan_stable.utils.images import save_image_grid

        save_image_grid(images, out, nrow=num)
    return out


def evaluate_text_run(source, data=None):
    """`text_metrics` of a text run folder on its held-out captions (the
    data of its config, or `data`)."""
    gan, tokenizer, config = load_text_run(source)
    if data:
        config["data"]["source"] = data
    images, _, test = load_captioned(config)
    return text_metrics(gan, tokenizer, test, config, source,
                        reference=images[:len(test[0])])


def export_text_run(source, out, version=1, overwrite=False,
                    format="saved_model"):
    """`export_text_to_image` of a text run folder (strings + seed ->
    uint8 images); SavedModel only."""
    from keras_gan_stable.export_text import export_text_to_image

    if format != "saved_model":
        raise ConfigError(
            f"--format {format}: a text-to-image run exports a SavedModel "
            "only (its signature takes strings). Drop --format.")
    gan, tokenizer, _ = load_text_run(source)
    try:
        return export_text_to_image(gan, tokenizer, path=out,
                                    version=version, overwrite=overwrite)
    except ValueError as e:
        raise ConfigError(" ".join(str(e).split())) from None
