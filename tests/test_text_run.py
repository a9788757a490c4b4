"""Text-to-image runs through the run API and the command line.

A tiny AttnGAN run on `captioned_shapes` trains through `Run`, keeps its
tokenizer and DAMSM in the run folder, and its last grid equals the
library's `generate` from the restored checkpoint; its batches pair each
image with one of its own captions and are a function of (seed, epoch,
batch); a run stopped mid-epoch resumes to the same weights as a straight
run; `sample RUN --caption` writes what `generate` gives for the same
captions and seeds; bad captions get one line and exit status 2.
"""

import os

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="CaptionTokenizer runs on "
                    "TensorFlow string ops (CI installs it)")

from keras_gan_stable.cli import main  # noqa: E402
from resume_check import assert_stopped_run_resumes_exactly  # noqa: E402
from test_cli_errors import assert_cli_error  # noqa: E402

TINY = ["data.num_samples=48", "text.holdout=4", "text.damsm_steps=2",
        "text.eval_damsm_steps=0", "train.batch_size=8", "model.width=8",
        "text.grid_seeds=2", "text.residual_blocks=1",
        "text.grid_captions=[a small red circle on the left, a large blue "
        "square in the centre]",
        "output.tensorboard=false", "output.plots=false",
        "output.export=false", "output.fid_samples=0", "train.epochs=1",
        "train.images=null"]


def _config(recipe="attngan", extra=()):
    from keras_gan_stable.run import RunConfig

    return RunConfig.from_recipe(recipe, overrides=TINY + list(extra))


@pytest.fixture(scope="module")
def text_run_dir(tmp_path_factory):
    from keras_gan_stable.run import Run
    from keras_gan_stable.text_run import TextRun

    out = str(tmp_path_factory.mktemp("text_run") / "run")
    job = Run(_config(), out_dir=out, verbose=0)
    assert isinstance(job, TextRun)
    summary = job.fit()
    return out, summary


def _png(path):
    from PIL import Image

    return np.asarray(Image.open(path))


def test_text_run_writes_grid_checkpoint_tokenizer_and_damsm(text_run_dir,
                                                            tmp_path):
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints
    from keras_gan_stable.run import load_gan
    from keras_gan_stable.text_run import caption_grid
    from keras_gan_stable.utils.images import save_image_grid

    out, summary = text_run_dir
    assert len(list_checkpoints(os.path.join(out, "checkpoints"))) == 1
    for name in ("tokenizer.json", "damsm.keras"):
        assert os.path.isfile(os.path.join(out, "text", name))
    with open(os.path.join(out, "samples", "captions.txt")) as f:
        rows = f.read().split("\n")[:2]
    assert rows == ["a small red circle on the left",
                    "a large blue square in the centre"]
    # The last grid (2 captions x 2 seeds) is what the restored run
    # generates: column c = generate(captions, seed=train.seed + c).
    gan, config = load_gan(out)
    expected = caption_grid(gan, gan.tokenizer(rows), [0, 1])
    assert expected.shape == (4, 32, 32, 3)
    save_image_grid(expected, str(tmp_path / "expected.png"), nrow=2)
    np.testing.assert_array_equal(_png(summary["files"]["last_grid"]),
                                  _png(tmp_path / "expected.png"))
    # The DAMSM is the run's frozen one: its text encoder feeds the GAN.
    assert gan.text_encoder is gan.damsm.text_encoder
    assert not gan.damsm.trainable


def test_caption_batches_pair_images_with_their_captions():
    from keras_gan_stable.data.captioned_shapes import captioned_shapes
    from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer
    from keras_gan_stable.text_run import CaptionBatches, tokenize_all

    images, captions, _ = captioned_shapes(24, 32, seed=3)
    groups = [[c, f"another caption {i}"] for i, c in enumerate(captions)]
    tok = CaptionTokenizer(max_length=24)
    tok.adapt([c for g in groups for c in g])
    ids, counts = tokenize_all(tok, groups)
    a = CaptionBatches(images, ids, counts, 8, seed=5)
    b = CaptionBatches(images, ids, counts, 8, seed=5)
    batch = a.batch(2, 1)
    again = b.batch(2, 1)  # a fresh stream: the same batch
    for key in ("images", "captions"):
        np.testing.assert_array_equal(batch[key], again[key])
    # Independently: epoch 2's permutation, and one of each image's own
    # captions, chosen by default_rng([seed, epoch, batch]).
    idx = np.random.default_rng([5, 2]).permutation(24)[8:16]
    pick = np.random.default_rng([5, 2, 1]).integers(np.full(8, 2))
    np.testing.assert_array_equal(batch["images"], images[idx])
    want = tok([groups[i][j] for i, j in zip(idx, pick)])
    np.testing.assert_array_equal(batch["captions"], want)
    assert 0 < pick.sum() < 8  # both captions of an image are drawn


def test_damsm_width_follows_the_model_and_the_judge_keeps_16():
    import keras

    from keras_gan_stable.text_run import EVAL_DAMSM_WIDTH, build_damsm

    config = _config(extra=["model.width=32"]).to_dict()

    def first_conv_filters(damsm):
        return next(layer.filters for layer in damsm.image_encoder.layers
                    if isinstance(layer, keras.layers.Conv2D))

    assert first_conv_filters(build_damsm(config, 32, 50)) == 32
    assert EVAL_DAMSM_WIDTH == 16
    assert first_conv_filters(build_damsm(config, 32, 50,
                                          width=EVAL_DAMSM_WIDTH)) == 16


def test_text_metrics_fid_is_zero_for_the_real_images(text_run_dir):
    # The Frechet distance of a feature set to itself is 0 (up to the
    # float64 matrix square root's round-off); a generator that returns
    # the reference images scores exactly the reference's `real_fid` (the
    # same features, computed deterministically).
    from keras_gan_stable.data.captioned_shapes import captioned_shapes
    from keras_gan_stable.text_run import load_text_run, text_metrics

    out, _ = text_run_dir
    _, tokenizer, config = load_text_run(out)
    config["text"]["eval_damsm_steps"] = 2
    held, caps, _ = captioned_shapes(40, 32, seed=11)
    other, _, _ = captioned_shapes(40, 32, seed=12)

    class Replay:  # a "generator" that returns fixed images
        def __init__(self, images):
            self.images = images

        def generate(self, captions, seed):
            assert len(captions) == len(self.images) and seed == 0
            return self.images

    same = text_metrics(Replay(held), tokenizer, (held, caps, None), config,
                        reference=held)
    assert abs(same["fid"]) < 1e-6 and abs(same["real_fid"]) < 1e-6
    moved = text_metrics(Replay(other), tokenizer, (held, caps, None),
                         config, reference=other)
    assert moved["fid"] == moved["real_fid"] > 1e-3
    assert "real_fid" not in text_metrics(Replay(held), tokenizer,
                                          (held, caps, None), config)


@pytest.mark.multibackend
def test_text_run_stopped_mid_epoch_resumes_exactly(tmp_path):
    # StackGAN (the cheapest step); its text encoder is the DAMSM's (left
    # untrained here, to save time), which the resumed run reads from
    # b/text/damsm.keras.
    config = _config("stackgan", extra=["train.epochs=2", "text.damsm_steps=0",
                                        "data.num_samples=32"])
    assert_stopped_run_resumes_exactly(config, tmp_path, min_arrays=100)


@pytest.mark.multibackend
def test_cli_sample_caption_equals_generate(text_run_dir, tmp_path, capsys):
    from keras_gan_stable.run import load_gan
    from keras_gan_stable.utils.images import save_image_grid

    out, _ = text_run_dir
    caps = ["a small red circle on the left", "a huge zorbly square"]
    argv = ["sample", out, "--caption", caps[0], "--caption", caps[1],
            "-n", "2", "--seed", "7"]
    with pytest.raises(SystemExit) as info:
        main(argv + ["--out", str(tmp_path / "x.png")])
    assert info.value.code == 0
    err = capsys.readouterr().err
    assert "read as [UNK]: zorbly" in err  # the unknown word, one line
    gan, _ = load_gan(out)
    ids = gan.tokenizer(caps)
    assert ids[1, 2] == 1  # "zorbly": the out-of-vocabulary id
    cols = [gan.generate(captions=ids, seed=s) for s in (7, 8)]
    grid = np.stack(cols, 1).reshape(4, 32, 32, 3)
    save_image_grid(grid, str(tmp_path / "want.png"), nrow=2)
    np.testing.assert_array_equal(_png(tmp_path / "x.png"),
                                  _png(tmp_path / "want.png"))


def test_cli_sample_truncates_a_long_caption_with_one_warning_line(
        text_run_dir, tmp_path, capsys):
    out, _ = text_run_dir
    long = " ".join(["a red circle"] * 10)  # 30 words > max_length 24
    with pytest.raises(SystemExit) as info:
        main(["sample", out, "--caption", long, "--out",
              str(tmp_path / "l.npy")])
    assert info.value.code == 0
    warn = [line for line in capsys.readouterr().err.splitlines()
            if "warning" in line]
    assert len(warn) == 1 and "truncated to their first 24" in warn[0]
    # The .npy holds uint8 [captions, seeds, H, W, C]: the long caption
    # gives the image of its first 24 words.
    from keras_gan_stable.run import load_gan
    from keras_gan_stable.utils.images import to_uint8

    gan, _ = load_gan(out)
    arr = np.load(tmp_path / "l.npy")
    assert arr.shape == (1, 1, 32, 32, 3)
    first = " ".join(long.split()[:24])
    np.testing.assert_array_equal(
        arr[:, 0], to_uint8(gan.generate(captions=gan.tokenizer([first]),
                                         seed=0)))


BAD = [
    (["--caption", "", "--out", "x.png"], "is empty"),
    (["--caption", "!!!", "--out", "x.png"], "empty after standardisation"),
    (["--out", "x.png"], "pass the captions"),
    (["--caption", "a red circle", "-n", "0", "--out", "x.png"], "-n"),
    (["--caption", "a red circle", "--out", "x.gif"], "--out x.gif"),
]


@pytest.mark.parametrize("argv,fragment", BAD,
                         ids=[" ".join(a) for a, _ in BAD])
def test_bad_caption_one_line_exit_2(argv, fragment, text_run_dir,
                                     capsys, monkeypatch):
    out, _ = text_run_dir
    folder = os.path.dirname(out)
    monkeypatch.chdir(folder)
    assert_cli_error(["sample", "run"] + argv, fragment, folder, capsys)


def test_caption_on_a_run_that_is_not_a_text_run(tmp_path, capsys,
                                                 monkeypatch):
    import yaml

    from keras_gan_stable.run import resolve_config

    os.makedirs(tmp_path / "plain")
    (tmp_path / "plain" / "config.yaml").write_text(
        yaml.safe_dump(resolve_config()))
    monkeypatch.chdir(tmp_path)
    assert_cli_error(["sample", "plain", "--caption", "a red circle",
                      "--out", "x.png"], "not one. Drop --caption",
                     str(tmp_path), capsys)
    assert_cli_error(["train", "--data", "captioned_shapes"],
                     "model.architecture", str(tmp_path), capsys)
    assert_cli_error(["train", "--recipe", "attngan", "--set",
                      "text.damsm_pooling=max"],
                     "text.damsm_pooling", str(tmp_path), capsys)
    assert_cli_error(["train", "--recipe", "attngan", "--set",
                      "text.d_projection=3"],
                     "text.d_projection", str(tmp_path), capsys)
    assert_cli_error(["train", "--recipe", "stackgan", "--set",
                      "text.sentence_affine=true"],
                     "text.sentence_affine=True", str(tmp_path), capsys)
