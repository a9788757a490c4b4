"""The `keras-gan-stable` command: usage errors, recipes, the main job end to end."""

import glob
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import yaml

from keras_gan_stable import recipes as presets
from keras_gan_stable.cli import main
from keras_gan_stable.run import build_gan
from keras_gan_stable.run import load_gan
from keras_gan_stable.run import resolve_config
from keras_gan_stable.utils.config import ConfigError


def _run(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def _usage_error(argv, capsys, *fragments):
    code = _run(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("keras-gan-stable: error:"), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("argv,fragments", [
    (["train", "--recipe", "bigggan"], ["Unknown recipe 'bigggan'", "sngan"]),
    (["train", "--set", "train.n_critic=0"], ["train.n_critic=0"]),
    (["train", "--set", "train.penalty_weight=-1"],
     ["train.penalty_weight=-1"]),
    (["train", "--set", "train.loss=wgan"], ["train.loss='wgan'", "hinge"]),
    (["train", "--set", "model.depth=3"], ["model.depth", "unknown setting"]),
    (["train", "--set", "train.d_optimizer.name=adagrad"],
     ["train.d_optimizer.name='adagrad'"]),
    (["train", "--set", "n_critic"], ["key=value"]),
    (["train", "--epochs", "two"], ["--epochs", "invalid int"]),
    (["train", "--epochs", "2", "--images", "10"], ["not allowed with"]),
    (["train", "--data", "no/such/folder"], ["no/such/folder",
                                             "does not exist"]),
    (["train", "--data", "celeba"], ["Unknown data source 'celeba'"]),
    (["fly"], ["invalid choice"]),
    (["sample", "no_run", "--out", "x.png"], ["no_run does not exist"]),
    (["train", "--epoch", "1"], ["unrecognized arguments: --epoch"]),
    (["sample", "no_run", "--out", "x.jpg"], ["x.jpg", ".png"]),
    (["sample", "no_run", "--out", "x.gif"], ["-n should be in [2, 16]"]),
    (["sample", "no_run", "--out", "x.npy", "--style-mixing", "fine"],
     ["with a .png --out"]),
])
def test_usage_errors_exit_2_with_one_line(argv, fragments, capsys, in_tmp):
    _usage_error(argv, capsys, *fragments)
    assert not os.path.exists("runs")  # nothing written


def test_help_and_usage_errors_load_no_backend():
    code = ("import sys\n"
            "from keras_gan_stable.cli import main\n"
            "for argv in (['--help'], ['train', '--recipe', 'nope'],"
            " ['recipes', 'sngan'], ['train', '--print-config']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch')"
            " if m in sys.modules), file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, env=env)
    assert res.stderr.strip().splitlines()[-1] == "[]", res.stderr


def test_version_print_config_and_recipe_settings(capsys, in_tmp):
    from keras_gan_stable.version import __version__

    assert _run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"keras-gan-stable {__version__}"
    assert _run(["train", "--recipe", "wgan-gp", "--print-config",
                 "--set", "train.minutes=5"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == resolve_config(recipe="wgan-gp",
                                     overrides=["train.minutes=5"])
    assert _run(["recipes", "wgan"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# wgan: Arjovsky")
    settings = yaml.safe_load(out)
    assert settings == presets.recipe_config("wgan")
    assert settings["train"]["weight_clip"] == 0.01
    # A measured recipe states its figure, as a comment of its settings too.
    assert _run(["recipes", "dcgan"]) == 0
    out = capsys.readouterr().out
    assert f"# measured: {presets.MEASURED['dcgan']}" in out
    assert yaml.safe_load(out) == presets.recipe_config("dcgan")
    assert set(presets.MEASURED) <= set(presets.RECIPES)
    assert not os.listdir(in_tmp)  # nothing written


def test_every_argument_has_help_and_a_default_shown():
    import argparse

    from keras_gan_stable.cli import _build_parser

    parser = _build_parser()
    subs = next(a for a in parser._actions
                if isinstance(a, argparse._SubParsersAction))
    for p in [parser] + list(subs.choices.values()):
        assert p.allow_abbrev is False
        text = p.format_help()
        for action in p._actions:
            if action.help == argparse.SUPPRESS or isinstance(
                    action, argparse._SubParsersAction):
                continue
            assert action.help, (p.prog, action.dest)
        if p.prog.endswith("train"):
            assert "(default: digits)" in text


def test_bad_data_and_config_files_exit_2(capsys, in_tmp):
    x = np.zeros((8, 8, 8), "float32")
    x[5, 1, 1] = np.nan
    np.save("nan.npy", x)
    _usage_error(["train", "--data", "nan.npy"], capsys, "nan.npy", "NaN",
                 "index 5")
    np.save("chw.npy", np.zeros((8, 3, 8, 8), "uint8"))
    _usage_error(["train", "--data", "chw.npy"], capsys, "channels-first")
    os.makedirs("imgs")
    _usage_error(["train", "--data", "imgs"], capsys, "holds no PNG/JPEG")
    os.environ["TFDS_DATA_DIR"] = str(in_tmp / "tfds")
    try:
        _usage_error(["train", "--data", "tfds:mnist"], capsys,
                     "not available offline", str(in_tmp / "tfds"))
    finally:
        del os.environ["TFDS_DATA_DIR"]
    with open("bad.yaml", "w") as f:
        f.write("train: {n_critic: [1, \n")
    _usage_error(["train", "--config", "bad.yaml"], capsys, "bad.yaml",
                 "not valid YAML")
    # A config file never runs code: YAML's python tags are refused.
    marker = in_tmp / "marker_dir"
    with open("evil.yaml", "w") as f:
        f.write(f"name: !!python/object/apply:os.mkdir ['{marker}']\n")
    _usage_error(["train", "--config", "evil.yaml"], capsys, "evil.yaml")
    assert not marker.exists()
    with open("c.json", "w") as f:
        json.dump({"train": {"batch_size": 0}}, f)
    _usage_error(["train", "--config", "c.json"], capsys,
                 "train.batch_size=0")
    with open("u.json", "w") as f:
        json.dump({"trian": {"batch_size": 8}}, f)
    _usage_error(["train", "--config", "u.json"], capsys, "'trian'",
                 "u.json")
    os.makedirs("full")
    open("full/keep.txt", "w").close()
    _usage_error(["train", "--out", "full"], capsys, "full",
                 "already holds files", "--resume")
    _usage_error(["train", "--resume", "full"], capsys, "no config.yaml")
    assert os.listdir("full") == ["keep.txt"]
    assert not os.path.exists("runs")


def test_default_output_folder_is_never_reused(in_tmp):
    from keras_gan_stable.run import unique_dir as _unique_dir

    assert _unique_dir("runs/sngan") == "runs/sngan"
    os.makedirs("runs/sngan")
    assert _unique_dir("runs/sngan") == "runs/sngan"  # empty: reused
    open("runs/sngan/x", "w").close()
    assert _unique_dir("runs/sngan") == "runs/sngan-2"
    os.makedirs("runs/sngan-2")
    open("runs/sngan-2/x", "w").close()
    assert _unique_dir("runs/sngan") == "runs/sngan-3"


def test_config_precedence(tmp_path):
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(
        "recipe: wgan-gp\ndata: {source: mnist}\ntrain: {n_critic: 3}\n")
    config = resolve_config(config_file=str(cfg_file),
                            overrides=["train.batch_size=16",
                                       "train.g_optimizer.learning_rate=3e-4"],
                            epochs=4)
    assert config["recipe"] == "wgan-gp" and config["name"] == "wgan-gp"
    assert config["data"]["source"] == "mnist"
    assert config["train"]["n_critic"] == 3  # file over recipe
    assert config["train"]["batch_size"] == 16  # --set over file
    assert config["train"]["epochs"] == 4 and config["train"]["images"] is None
    assert config["train"]["g_optimizer"] == {
        "name": "adam", "learning_rate": 3e-4, "beta_1": 0.0, "beta_2": 0.9}
    # A flag recipe overrides the file's recipe.
    assert resolve_config(recipe="wgan", config_file=str(cfg_file))[
        "train"]["weight_clip"] == 0.01
    with pytest.raises(ConfigError, match="Unknown recipe"):
        resolve_config(recipe="nope")


# The papers' settings (DCGAN, WGAN, WGAN-GP, SNGAN, SAGAN, ProGAN).
PAPER_SETTINGS = {
    "dcgan": ("non_saturating", None, 1, None, "Adam", 2e-4, 2e-4, 0.5),
    "wgan": ("wasserstein", None, 5, 0.01, "RMSprop", 5e-5, 5e-5, None),
    "wgan-gp": ("wasserstein", "gp", 5, None, "Adam", 1e-4, 1e-4, 0.0),
    "sngan": ("hinge", None, 1, None, "Adam", 2e-4, 2e-4, 0.5),
    "sagan": ("hinge", None, 1, None, "Adam", 4e-4, 1e-4, 0.0),
    "progan": ("wasserstein", "gp", 1, None, "Adam", 1e-3, 1e-3, 0.0),
}


@pytest.mark.parametrize("recipe", sorted(PAPER_SETTINGS))
def test_recipes_build_the_papers_settings(recipe):
    loss, penalty, k, clip, opt, d_lr, g_lr, beta_1 = PAPER_SETTINGS[recipe]
    config = resolve_config(recipe=recipe, overrides=["model.width=8",
                                                      "model.latent_dim=16"])
    gan = build_gan(config, (32, 32, 1))
    assert gan.loss_fn.name == loss
    assert [p.kind for p in gan.penalties] == ([penalty] if penalty else [])
    if penalty:
        assert gan.penalties[0].scale == pytest.approx(10.0)
    assert gan.n_critic == k and gan.weight_clip == clip
    assert type(gan.d_optimizer).__name__ == opt
    lr = lambda o: float(keras.ops.convert_to_numpy(o.learning_rate))  # noqa
    assert lr(gan.d_optimizer) == pytest.approx(d_lr)
    assert lr(gan.g_optimizer) == pytest.approx(g_lr)
    if beta_1 is not None:
        assert gan.d_optimizer.beta_1 == beta_1
    assert gan.image_shape == (32, 32, 1)
    layers = [type(layer).__name__
              for layer in gan.discriminator._flatten_layers()]
    if recipe in ("sngan", "sagan"):
        assert "SpectralNormalization" in layers
    if recipe == "wgan-gp":
        assert "BatchNormalization" not in layers
    if recipe == "progan":
        assert gan.drift == pytest.approx(0.001)


def test_point_data_uses_mlp_networks():
    config = resolve_config(data="ring8", overrides=["model.width=16"])
    gan = build_gan(config, (2,))
    assert gan.image_shape == (2,)
    out = gan.generate(5, seed=0)
    assert out.shape == (5, 2)


def test_recommended_recipe_takes_its_point_settings_on_the_mixtures(tmp_path):
    # The mixture sources, however given, switch `recommended` to its point
    # settings (NS + R1 0.1 + EMA, Adam 5e-4); images keep the SNGAN ones.
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text("data: {source: grid25}\n")
    for config in (resolve_config(recipe="recommended", data="ring8"),
                   resolve_config(recipe="recommended",
                                  overrides=["data.source=grid25"]),
                   resolve_config(recipe="recommended",
                                  config_file=str(cfg_file))):
        t = config["train"]
        assert (t["loss"], t["penalty"], t["penalty_weight"], t["ema"]) == (
            "non_saturating", "r1", 0.1, 0.999)
        assert t["d_optimizer"] == {"name": "adam", "learning_rate": 5e-4,
                                    "beta_1": 0.5, "beta_2": 0.9}
    images = resolve_config(recipe="recommended", data="mnist")["train"]
    assert (images["loss"], images["penalty"], images["ema"],
            images["ema_rampup"]) == ("hinge", None, 0.999, 0.05)
    assert images["d_optimizer"] == {"name": "adam", "learning_rate": 1e-3,
                                     "beta_1": 0.0, "beta_2": 0.9}
    # Settings the user gives still win over the recipe's point settings,
    # and recipes without point settings are unchanged on points.
    mine = resolve_config(recipe="recommended", data="ring8",
                          overrides=["train.loss=hinge", "train.ema=null"])
    assert (mine["train"]["loss"], mine["train"]["ema"]) == ("hinge", None)
    assert resolve_config(recipe="dcgan", data="ring8")["train"] == \
        resolve_config(recipe="dcgan", data="mnist")["train"]
    gan = build_gan(resolve_config(recipe="recommended", data="ring8",
                                   overrides=["model.width=8"]), (2,))
    assert gan.ema_generator is not None
    assert [p.kind for p in gan.penalties] == ["r1"]
    assert gan.penalties[0].scale == pytest.approx(0.1 / 2)


def _events(logdir):
    import tensorflow as tf

    scalars, images = {}, {}
    for path in sorted(glob.glob(os.path.join(logdir, "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for v in event.summary.value:
                t = tf.make_ndarray(v.tensor)
                if v.metadata.plugin_data.plugin_name == "images":
                    images[(v.tag, event.step)] = t
                else:
                    scalars.setdefault(v.tag, {})[event.step] = float(t)
    return scalars, images


@pytest.mark.slow
def test_main_job_end_to_end(in_tmp, capsys):
    """`keras-gan-stable train --recipe sngan` on digits with a short
    budget: every output of a run (the default recipe's own quality is
    checked by tests/test_main_job.py)."""
    import tensorflow as tf
    from PIL import Image

    from keras_gan_stable.utils.images import image_grid, to_uint8

    small = ["--set", "model.width=8", "--set", "data.max_samples=256",
             "--set", "output.samples=16", "--set", "output.fid_samples=128",
             "--set", "train.batch_size=32", "--quiet"]
    assert _run(["train", "--recipe", "sngan", "--images", "512"]
                + small) == 0
    out = capsys.readouterr().out
    run = in_tmp / "runs" / "sngan"
    assert f"Outputs in {os.path.join('runs', 'sngan')}/" in out

    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["recipe"] == "sngan" and config["train"]["loss"] == "hinge"
    assert config["data"]["source"] == "digits"
    # 256 images, 32 per step: 8 steps an epoch, 512 images = 2 epochs.
    # Epochs this short get a grid every ceil(100 / 8) = 13 epochs (none
    # here), before training and after the last epoch.
    grids = sorted(os.listdir(run / "samples"))
    assert grids == ["epoch_0000.png", "epoch_0002.png"]
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2] and len(history["d_loss"]) == 2
    with Image.open(run / "curves.png") as im:
        assert im.size[0] > 300
    state = json.loads((run / "run_state.json").read_text())
    assert (state["epochs"], state["finished"], state["exported"]) == (
        2, True, True)

    # The last grid is the checkpoint's generator on the fixed noise.
    gan, _ = load_gan(str(run))
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 16
    z, _ = gan.sample_latents(16, seed=config["train"]["seed"])
    fake = keras.ops.convert_to_numpy(gan.generator(z, training=False))
    expected = image_grid(fake)
    with Image.open(run / "samples" / "epoch_0002.png") as im:
        png = np.asarray(im)
    assert png.shape[:2] == (expected.shape[0] * (png.shape[0] //
                                                  expected.shape[0]),) * 2
    step = png.shape[0] // expected.shape[0]
    assert np.abs(png[::step, ::step].astype(int)
                  - expected[..., 0].astype(int)).max() <= 1

    # TensorBoard: scalars per epoch, the grid as an image.
    scalars, images = _events(str(run / "tensorboard" / "train"))
    assert set(scalars["d_loss"]) == {1, 2}
    np.testing.assert_allclose(
        [scalars["g_loss"][1], scalars["g_loss"][2]], history["g_loss"],
        rtol=1e-6)
    w, h, png_bytes = images[("samples", 2)]
    tb_grid = tf.io.decode_png(png_bytes).numpy()
    np.testing.assert_array_equal(tb_grid[..., 0], image_grid(fake)[..., 0])

    # The SavedModel serves the same generator.
    model = tf.saved_model.load(str(run / "saved_model" / "1"))
    served = model.serve(tf.constant(z)).numpy()
    assert np.abs(served.astype(int) - to_uint8(fake).astype(int)).max() <= 1

    summary = json.loads((run / "summary.json").read_text())
    for path in summary["files"].values():
        assert os.path.exists(path), path

    # `sample` gives the same uint8 images from the run and its SavedModel.
    assert _run(["sample", str(run), "-n", "5", "--seed", "3",
                 "--out", "a.npy"]) == 0
    assert _run(["sample", str(run / "saved_model"), "-n", "5", "--seed",
                 "3", "--out", "b.npy"]) == 0
    a, b = np.load("a.npy"), np.load("b.npy")
    assert a.dtype == b.dtype == np.uint8 and a.shape == (5, 32, 32, 1)
    # float32 rounding may put a pixel on the other side of a .5 boundary.
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert summary["metrics"]["fid"] > 0 and 0 <= summary["metrics"]["precision"] <= 1
    assert summary["final_logs"]["d_loss"] == pytest.approx(
        history["d_loss"][-1])
    leftovers = [p for p in glob.glob(str(run / "**" / "*"), recursive=True)
                 if "tmp" in os.path.basename(p)]
    assert leftovers == []

    # sample: from the checkpoint (PNG) and from the export (array).
    assert _run(["sample", str(run), "--out", "s.png", "-n", "4"]) == 0
    with Image.open("s.png") as im:
        assert im.mode == "L"
    assert _run(["sample", str(run / "saved_model"), "--out", "s.npy",
                 "-n", "3", "--seed", "5"]) == 0
    np.testing.assert_array_equal(
        np.load("s.npy"), model.sample(tf.constant(3), tf.constant(5)).numpy())
    # export to a serving folder.
    assert _run(["export", str(run), "--out", "serving", "--version",
                 "7"]) == 0
    assert os.path.exists("serving/7/saved_model.pb")

    # Resume: one more epoch continues the counters and the grids.
    assert _run(["train", "--resume", str(run), "--epochs", "3",
                 "--quiet"]) == 0
    assert json.loads((run / "run_state.json").read_text())["epochs"] == 3
    assert os.path.exists(run / "samples" / "epoch_0003.png")
    gan, _ = load_gan(str(run))
    assert int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations)) == 24
    # History and curves are appended across the resume.
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]


@pytest.mark.slow
def test_python_m_and_backend_switch(in_tmp):
    """`python -m keras_gan_stable --backend jax ...` re-runs under JAX."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.path.dirname(
                   os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-m", "keras_gan_stable", "--backend", "jax",
         "train", "--data", "ring8", "--epochs", "1", "--quiet",
         "--set", "data.num_samples=256", "--set", "model.width=16",
         "--set", "output.tensorboard=false"],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((in_tmp / "runs" / "recommended" /
                          "summary.json").read_text())
    assert summary["backend"] == "jax"
    assert set(summary["metrics"]) == {"modes", "high_quality", "reverse_kl"}
    assert os.path.exists(in_tmp / "runs" / "recommended" / "samples" /
                          "epoch_0001.png")
    proc = subprocess.run([sys.executable, "-m", "keras_gan_stable", "train",
                           "--recipe", "nope"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "keras-gan-stable: error: Unknown recipe 'nope' (--recipe")


def test_power_of_two_architectures_get_a_fitting_size():
    from keras_gan_stable.run import fitting_size as _fitting_size

    sngan = resolve_config(recipe="sngan")
    assert _fitting_size(sngan, (28, 28, 1)) == 32  # MNIST for SNGAN
    assert _fitting_size(sngan, (32, 32, 3)) is None
    assert _fitting_size(resolve_config(recipe="dcgan"), (28, 28, 1)) is None
    fixed = resolve_config(recipe="sngan", overrides=["data.image_size=24"])
    assert _fitting_size(fixed, (28, 28, 1)) is None
