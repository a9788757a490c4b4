"""StyleGAN2 through the run API and the command: recipes, config options,
exact resume, truncated sampling, the SavedModel's `truncation_psi`, and the
style-mixing / interpolation files.

One tiny run (the bundled 8x8 digits, 8-channel networks, 8-dim z and w)
is trained once per module and shared."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_gan_stable.callbacks.checkpoint import checkpoint_variables
from keras_gan_stable.callbacks.checkpoint import list_checkpoints
from keras_gan_stable.callbacks.time_budget import TimeBudget
from keras_gan_stable.cli import main
from keras_gan_stable.run import Run
from keras_gan_stable.run import RunConfig
from keras_gan_stable.run import build_gan
from keras_gan_stable.run import load_gan
from keras_gan_stable.run import resolve_config
from keras_gan_stable.run import write_samples
from keras_gan_stable.utils.config import ConfigError
from keras_gan_stable.utils.images import to_uint8

# 24 digits / batch 4 = 6 steps an epoch, 2 epochs; R1 and path length due
# every other step, ADA adjusting every 4 steps by 4 * 4 / 100 = 0.16.
TINY = ["data.image_size=8", "model.latent_dim=8", "model.w_dim=8", "model.mapping_layers=2",
        "model.channel_base=64", "model.channel_max=8",
        "data.max_samples=24", "train.batch_size=4", "train.epochs=2",
        "train.images=null", "train.r1_interval=2", "train.pl_interval=2",
        "train.ada_images=100", "output.samples=4", "output.fid_samples=0",
        "output.tensorboard=false", "output.plots=false",
        "output.export=false"]


def _one_line(exc_info, *fragments):
    msg = str(exc_info.value)
    assert "\n" not in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_recipes_build_stylegan2_with_the_paper_settings():
    from keras_gan_stable import GeometricAdaptiveAugment
    from keras_gan_stable import StyleGAN2

    gan = build_gan(resolve_config(recipe="stylegan2"), (8, 8, 1))
    assert isinstance(gan, StyleGAN2) and gan.augment is None
    g = gan.generator
    assert (g.latent_dim, g.w_dim, g.mapping_layers) == (512, 512, 8)
    assert (g.channel_base, g.channel_max) == (1024, 64)
    assert (gan.r1_gamma, gan.r1_interval, gan.pl_weight, gan.pl_decay,
            gan.pl_interval, gan.pl_batch_shrink) == (10.0, 16, 2.0, 0.01,
                                                      4, 2)
    assert gan.style_mixing_prob == 0.9
    assert (gan.ema_decay, gan.ema_rampup) == (0.998, 0.05)
    for opt in (gan.d_optimizer, gan.g_optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == (
            pytest.approx(0.0025), 0.0, 0.99)
    config = resolve_config(recipe="stylegan2-ada", overrides=[
        "model.channel_max=16", "train.r1_gamma=0.01",
        "train.style_mixing_prob=0", "train.ema=null"])
    assert config["train"]["batch_size"] == 32
    gan = build_gan(config, (16, 16, 3))
    assert isinstance(gan.augment, GeometricAdaptiveAugment)
    assert gan.augment.target == 0.6
    assert gan.augment.adjustment_images == 100_000
    assert gan.generator.channel_max == 16 and gan.r1_gamma == 0.01
    assert gan.style_mixing_prob == 0.0 and gan.ema_generator is None


@pytest.mark.parametrize("overrides,fragment", [
    (["train.loss=hinge"], "train.loss='hinge'"),
    (["train.penalty=r1"], "train.penalty='r1'"),
    (["train.n_critic=2"], "train.n_critic=2"),
    (["model.width=8"], "model.channel_base"),
    (["train.r1_interval=0"], "train.r1_interval=0"),
    (["train.style_mixing_prob=1.5"], "[0, 1]"),
    (["train.pl_decay=0"], "train.pl_decay=0"),
    (["model.channel_max=-1"], "model.channel_max=-1"),
    (["train.ada_images=0"], "train.ada_images=0"),
    (["train.augment=nope"], "ada_geometric"),
])
def test_stylegan2_config_errors_are_one_line(overrides, fragment):
    with pytest.raises(ConfigError) as info:
        resolve_config(recipe="stylegan2", overrides=overrides)
    _one_line(info, fragment)


def test_stylegan2_settings_are_refused_for_other_architectures():
    with pytest.raises(ConfigError) as info:
        resolve_config(recipe="sngan", overrides=["train.r1_gamma=1"])
    _one_line(info, "train.r1_gamma=1", "model.architecture=stylegan2")
    with pytest.raises(ValueError) as info:
        build_gan(resolve_config(recipe="stylegan2"), (8, 12, 1))
    _one_line(info, "8x12", "data.image_size")
    with pytest.raises(ValueError) as info:
        build_gan(resolve_config(recipe="stylegan2", data="ring8"), (2,))
    _one_line(info, "needs image data")


def test_cli_recipes_prints_the_stylegan2_settings(capsys):
    with pytest.raises(SystemExit) as info:
        main(["recipes", "stylegan2-ada"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for line in ("architecture: stylegan2", "channel_base: 1024",
                 "r1_gamma: 10.0", "r1_interval: 16", "pl_weight: 2.0",
                 "style_mixing_prob: 0.9", "augment: ada_geometric",
                 "ada_target: 0.6", "learning_rate: 0.0025"):
        assert line in out, line
    with pytest.raises(SystemExit):
        main(["recipes"])
    names = capsys.readouterr().out
    assert "stylegan2 " in names and "stylegan2-ada " in names


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A tiny stylegan2-ada run of 2 epochs (12 steps)."""
    root = tmp_path_factory.mktemp("stylegan2_run")
    Run(RunConfig.from_recipe("stylegan2-ada", overrides=TINY),
        out_dir=str(root / "a"), verbose=0).fit()
    return root


def _state(run_dir):
    newest = list_checkpoints(os.path.join(run_dir, "checkpoints"))[0]
    return np.load(os.path.join(newest, "state.npz"))


@pytest.mark.slow
def test_stopped_and_resumed_stylegan2_run_is_exact(tiny_run):
    """A run stopped on its 8th batch (epoch 2, batch 2) by the time budget
    and resumed ends bitwise where the straight run ends."""
    root = tiny_run
    stopped = Run(RunConfig.from_recipe("stylegan2-ada", overrides=TINY),
                  out_dir=str(root / "b"), verbose=0)
    calls = {"n": 0}

    def clock():
        calls["n"] += 1
        return 0.0 if calls["n"] <= 8 else 120.0

    budget = TimeBudget(minutes=1.0, clock=clock)
    stopped.budget = budget
    stopped.callbacks.insert(stopped.callbacks.index(stopped.checkpoint),
                             budget)
    assert stopped.fit()["stopped_by_time_budget"]
    meta = json.load(open(os.path.join(list_checkpoints(
        str(root / "b" / "checkpoints"))[0], "meta.json")))
    assert (meta["epoch"], meta["batch"]) == (1, 2)
    Run.resume_from(str(root / "b"), verbose=0).fit()
    a, b = _state(str(root / "a")), _state(str(root / "b"))
    assert len(a.files) == len(b.files) > 50
    for ka, kb in zip(sorted(a.files), sorted(b.files)):
        assert ka.split(":")[0] == kb.split(":")[0]
        np.testing.assert_array_equal(a[ka], b[kb], err_msg=ka)
    # The checkpoint holds StyleGAN2's own state: path-length mean, w_avg
    # of the generator and of its EMA copy, ADA's p and last r_t (p itself
    # may stay at 0 in 12 steps, r_t below target), all moved off 0 but p.
    gan, _ = load_gan(str(root / "a"))
    saved = {key.split(":")[0]: key for key in a.files}
    found = {}
    for key, var in checkpoint_variables(gan):
        for name in ("pl_mean", "w_avg", "/p", "/r_t"):
            if key.endswith(name):
                found.setdefault(name, []).append(key)
                value = np.asarray(var)
                np.testing.assert_array_equal(
                    a[saved[key.split(":")[0]]], value, err_msg=key)
                assert name == "/p" or np.any(value != 0), key
    assert sorted(found) == ["/p", "/r_t", "pl_mean", "w_avg"]
    assert len(found["w_avg"]) == 2


def test_sample_truncation_psi_one_is_plain_and_zero_is_the_average(
        tiny_run, tmp_path):
    root = tiny_run
    run_dir = str(root / "a")
    plain = np.load(write_samples(run_dir, str(tmp_path / "plain.npy"), 6,
                                  seed=3))
    one = np.load(write_samples(run_dir, str(tmp_path / "one.npy"), 6, seed=3,
                                truncation_psi=1.0))
    np.testing.assert_array_equal(one, plain)
    zero = np.load(write_samples(run_dir, str(tmp_path / "zero.npy"), 6,
                                 seed=3, truncation_psi=0.0))
    # psi = 0: every w is w_avg, so sample i is the w_avg image with the
    # noise maps of row i of the seed's noise (latents.synthesis_noise).
    from keras import ops

    from keras_gan_stable.latents import synthesis_noise

    gan, _ = load_gan(run_dir)
    g = gan.ema_generator
    w_avg = np.tile(ops.convert_to_numpy(g.mapping.w_avg)[None], (6, 1))
    noise = synthesis_noise(6, g.synthesis.noise_size, 3)
    expected = to_uint8(ops.convert_to_numpy(g.synthesis(
        g.broadcast(ops.convert_to_tensor(w_avg)), noise=noise)))
    # One float32 pass each way: a pixel may round to the next uint8 level.
    assert np.abs(zero.astype(int) - expected).max() <= 1
    assert np.mean(zero == expected) > 0.99
    assert not np.array_equal(zero, plain)


def test_truncation_psi_errors(tiny_run, tmp_path, capsys):
    root = tiny_run
    for psi in (1.5, -0.1, float("nan")):
        with pytest.raises(ConfigError) as info:
            write_samples(str(root / "a"), str(tmp_path / "x.npy"), 2,
                          truncation_psi=psi)
        _one_line(info, "--truncation-psi should be in [0, 1]")
    with pytest.raises(SystemExit) as info:
        main(["sample", str(root / "a"), "--out", str(tmp_path / "x.png"),
              "--truncation-psi", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and "[0, 1]" in err[0]
    # A non-StyleGAN GAN: the flag is refused in one line.
    from keras_gan_stable import GAN, dcgan_discriminator, dcgan_generator

    gan = GAN(dcgan_generator(4, (28, 28, 1), width=4),
              dcgan_discriminator((28, 28, 1), width=4), latent_dim=4)
    gan.save(str(tmp_path / "dcgan.keras"))
    with pytest.raises(ConfigError) as info:
        write_samples(str(tmp_path / "dcgan.keras"), str(tmp_path / "x.npy"),
                      2, truncation_psi=0.7)
    _one_line(info, "StyleGAN2 only", "GAN")
    assert not os.path.exists(tmp_path / "x.npy")


# Loads the SavedModel in a process that imports TensorFlow only.
_TF_ONLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    m = tf.saved_model.load(sys.argv[1])
    out = {}
    for psi in (1.0, 0.5, 0.0):
        out[f"sample{psi}"] = m.sample(tf.constant(5), tf.constant(11),
                                       tf.constant(psi)).numpy()
    lat = m.latents(tf.constant(5), tf.constant(11))
    out["z"], out["noise"] = lat["z"].numpy(), lat["noise"].numpy()
    out["served"] = m.serve(lat["z"], tf.constant(0.5),
                            tf.constant(11)).numpy()
    out["other_noise"] = m.serve(lat["z"], tf.constant(0.5),
                                 tf.constant(12)).numpy()
    out["empty"] = m.serve(tf.zeros((0, lat["z"].shape[1])), tf.constant(1.0),
                           tf.constant(0)).numpy()
    np.savez(sys.argv[2], **out)
    print(json.dumps({"library": any(k.startswith("keras_gan_stable")
                                     for k in sys.modules)}))
""")


@pytest.mark.slow
def test_saved_model_truncation_psi_equals_generate(tiny_run, tmp_path):
    pytest.importorskip("tensorflow", reason="the SavedModel is read in a "
                        "TensorFlow-only process (CI installs TensorFlow)")
    from keras_gan_stable.latents import latent_noise, synthesis_noise
    from keras_gan_stable.run import export_run

    root = tiny_run
    path = export_run(str(root / "a"), str(tmp_path / "model"))
    out = str(tmp_path / "out.npz")
    proc = subprocess.run(
        [sys.executable, "-c", _TF_ONLY, path, out], capture_output=True,
        text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "library": False}
    got = dict(np.load(out))
    gan, _ = load_gan(str(root / "a"))
    np.testing.assert_array_equal(got["z"], latent_noise(5, 8, 11))
    np.testing.assert_array_equal(
        got["noise"],
        synthesis_noise(5, gan.generator.synthesis.noise_size, 11))
    for psi in (1.0, 0.5, 0.0):
        expected = to_uint8(gan.generate(5, seed=11, truncation_psi=psi))
        # The same float32 ops in a graph and eagerly: a pixel may round
        # to the neighbouring uint8 level.
        diff = np.abs(got[f"sample{psi}"].astype(int) - expected)
        assert diff.max() <= 1 and np.mean(diff == 0) > 0.99, psi
    np.testing.assert_array_equal(got["served"], got["sample0.5"])
    assert not np.array_equal(got["sample1.0"], got["sample0.0"])
    assert not np.array_equal(got["served"], got["other_noise"])
    assert got["empty"].shape == (0, 8, 8, 1)
    # The command reads psi through the SavedModel as from the run.
    a = np.load(write_samples(os.path.dirname(path), str(tmp_path / "s.npy"),
                              5, seed=11, truncation_psi=0.5))
    np.testing.assert_array_equal(a, got["sample0.5"])
    with pytest.raises(ConfigError) as info:
        write_samples(os.path.dirname(path), str(tmp_path / "w.gif"), 3)
    _one_line(info, "is a SavedModel", "run folder")


def test_style_mixing_grid_and_interpolation_files(tiny_run, tmp_path):
    from PIL import Image

    from keras_gan_stable.utils.style_figures import save_interpolation_gif
    from keras_gan_stable.utils.style_figures import save_style_mixing_grid

    root = tiny_run
    gan, _ = load_gan(str(root / "a"))
    seeds = [5, 6, 7]
    plain = {s: to_uint8(gan.generate(1, seed=s, noise_seed=0))[0]
             for s in seeds}
    grid = save_style_mixing_grid(gan, str(tmp_path / "mix.png"), seeds,
                                  seeds, col_styles="coarse", scale=2)
    png = np.asarray(Image.open(tmp_path / "mix.png"))
    np.testing.assert_array_equal(png[::2, ::2], grid[..., 0])
    assert grid.shape == (4 * 8, 4 * 8, 1)

    def cell(i, j):
        return grid[i * 8:(i + 1) * 8, j * 8:(j + 1) * 8]

    # Grids and generate share every op on the same w and noise; the two
    # graphs may differ by one float32 rounding, one uint8 level at most.
    def same(a, b):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1

    for k, s in enumerate(seeds):
        same(cell(0, k + 1), plain[s])      # first row: column seeds
        same(cell(k + 1, 0), plain[s])      # first column: row seeds
        same(cell(k + 1, k + 1), plain[s])  # a seed mixed with itself
    # At 8x8 there are 4 layers, all "coarse": a cell is its column's image.
    same(cell(1, 2), plain[6])
    fine = save_style_mixing_grid(gan, str(tmp_path / "fine.png"), seeds,
                                  seeds, col_styles="fine")
    same(fine[8:16, 16:24], fine[8:16, :8])  # no "fine" layer at 8x8
    frames = save_interpolation_gif(gan, str(tmp_path / "walk.gif"), [5, 7],
                                    steps=4, frame_ms=50)
    assert frames.shape == (5, 8, 8, 1)
    same(frames[0, ..., 0], plain[5][..., 0])
    same(frames[-1, ..., 0], plain[7][..., 0])
    gif = Image.open(tmp_path / "walk.gif")
    read = []
    for i in range(gif.n_frames):
        gif.seek(i)
        read.append(np.asarray(gif.convert("L")))
    # Grey frames are stored exactly (a 256-level grey palette).
    np.testing.assert_array_equal(np.stack(read), frames[..., 0])
    with pytest.raises(ValueError, match="col_styles"):
        save_style_mixing_grid(gan, str(tmp_path / "x.png"), [1], [2],
                               col_styles="everything")
    # The command writes the same figures (enlarged 8x to 64 px).
    from keras_gan_stable.cli import main as cli

    for argv in (["--out", str(tmp_path / "c.png"), "-n", "3", "--seed",
                  "5", "--style-mixing", "fine"],
                 ["--out", str(tmp_path / "c.gif"), "-n", "2", "--seed",
                  "5"]):
        with pytest.raises(SystemExit) as info:
            cli(["sample", str(root / "a")] + argv)
        assert info.value.code == 0
    png = np.asarray(Image.open(tmp_path / "c.png"))
    # Rows 5-7 against columns 8-10: no "fine" layer at 8x8, so every row
    # shows its row seed.
    assert png.shape == (4 * 64, 4 * 64)
    same(png[64:128:8, 128:192:8], plain[5][..., 0])
    cli_gif = Image.open(tmp_path / "c.gif")
    assert cli_gif.n_frames == 2 * 16 + 1  # 5 -> 6 -> 5
    cli_gif.seek(cli_gif.n_frames - 1)
    same(np.asarray(cli_gif.convert("L"))[::8, ::8], plain[5][..., 0])
    with pytest.raises(ValueError, match=r"\.gif"):
        save_interpolation_gif(gan, str(tmp_path / "x.png"), [1, 2])
