"""Image-to-image runs from the command line: `train --task` and `apply`.

`train --task sr2` then `apply` on a folder of PNGs gives the same uint8
images as the run's SavedModel served by TensorFlow alone; the summary's
bicubic baseline equals Pillow's bicubic upsampling scored by scikit-image;
a task run stopped mid-epoch resumes to the same weights as a straight run;
bad inputs get one line and exit status 2 with nothing written.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from keras_gan_stable.cli import main
from keras_gan_stable.data.loaders import load_arrays
from resume_check import assert_stopped_run_resumes_exactly
from test_cli_errors import assert_cli_error

TINY = ["--set", "data.image_size=16", "--set", "data.max_samples=40",
        "--set", "task.holdout=8", "--set", "model.width=8",
        "--set", "train.batch_size=8", "--set", "output.samples=2",
        "--set", "output.tensorboard=false", "--set", "output.plots=false"]

_TF_ONLY = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    path, x_path, out_path = sys.argv[1:4]
    m = tf.saved_model.load(path)
    np.save(out_path, m.serve(tf.constant(np.load(x_path))).numpy())
    print(json.dumps({"keras_gan_stable_imported":
                      any(k.startswith("keras_gan_stable") for k in sys.modules)}))
""")


def _main(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0


def _png_folder(folder, images):
    from PIL import Image

    os.makedirs(folder)
    for i, img in enumerate(images):
        Image.fromarray(img[..., 0]).save(os.path.join(folder, f"im{i}.png"))


def test_train_sr2_then_apply_equals_the_saved_model(tmp_path, monkeypatch,
                                                     capsys):
    pytest.importorskip("tensorflow", reason="the SavedModel export needs "
                        "TensorFlow (CI installs it)")
    skimage_metrics = pytest.importorskip(
        "skimage.metrics", reason="the independent PSNR reference ([test] "
        "extra; CI installs it)")
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    _main(["train", "--task", "sr2", "--data", "digits", "--out", "run",
           "--epochs", "1", "--quiet", "--set", "output.fid_samples=1"]
          + TINY)
    summary = json.load(open("run/summary.json"))
    m = summary["metrics"]
    assert m["holdout_images"] == 8 and m["baseline"] == "bicubic"
    # The baseline, independently: the last 8 images (never trained on),
    # downscaled by 2 and upscaled by Pillow's bicubic, scored on [0, 1].
    # float32 sums of <= 16 taps per pixel: agreement to ~1e-5 relative.
    x = load_arrays("digits", image_size=16, max_samples=40, seed=0)[-8:]
    def bicubic(im, size):  # Pillow on float32 ("F") images
        return np.asarray(Image.fromarray(im).resize(size, Image.BICUBIC))

    up = np.stack([bicubic(bicubic(im[..., 0], (8, 8)), (16, 16))
                   for im in x])[..., None]
    expected = np.mean([skimage_metrics.peak_signal_noise_ratio(
        (t + 1) / 2, np.clip((u + 1) / 2, 0, 1), data_range=1.0)
        for t, u in zip(x, up)])
    assert m["baseline_psnr"] == pytest.approx(expected, rel=1e-4)
    # Grids: rows of input | output | target (4 pairs of 16 px, 2 px gaps).
    grid = np.asarray(Image.open(summary["files"]["last_grid"]))
    scale = grid.shape[0] // (2 * 18 + 2)
    assert grid.shape[:2] == ((2 * 18 + 2) * scale, (3 * 18 + 2) * scale)

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 8, 8, 1), dtype="uint8")
    _png_folder("in", images)
    capsys.readouterr()
    _main(["apply", "run", "in", "--out", "out"])
    assert "Wrote 3 image(s)" in capsys.readouterr().out
    assert sorted(os.listdir("out")) == ["im0.png", "im1.png", "im2.png"]
    got = np.stack([np.asarray(Image.open(f"out/im{i}.png"))
                    for i in range(3)])
    np.save("x.npy", images)
    proc = subprocess.run(
        [sys.executable, "-c", _TF_ONLY, "run/saved_model/1", "x.npy",
         "served.npy"], capture_output=True, text=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["keras_gan_stable_imported"] is False
    served = np.load("served.npy")
    assert served.shape == (3, 16, 16, 1) and served.dtype == np.uint8
    np.testing.assert_array_equal(got, served[..., 0])


@pytest.mark.slow
def test_task_run_stopped_mid_epoch_resumes_exactly(tmp_path):
    from keras_gan_stable.run import Run, RunConfig
    from keras_gan_stable.task_run import TaskRun

    overrides = [v for v in TINY if v != "--set"] + [
        "task.name=denoise", "train.epochs=2", "train.images=null",
        "output.export=false", "output.fid_samples=0"]
    config = RunConfig.from_recipe(data="digits", overrides=overrides)
    assert isinstance(Run(config, out_dir=str(tmp_path / "c"), verbose=0),
                      TaskRun)
    assert_stopped_run_resumes_exactly(config, tmp_path)


# ---------------------------------------------------------------------- #
# Bad inputs: one line, exit status 2, nothing written
# ---------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from PIL import Image

    from keras_gan_stable.run import Run, RunConfig, resolve_config

    root = tmp_path_factory.mktemp("task_bad_inputs")
    overrides = [v for v in TINY if v != "--set"] + [
        "task.name=inpaint", "train.epochs=1", "train.images=null",
        "output.export=false", "output.fid_samples=0", "data.max_samples=24"]
    Run(RunConfig.from_recipe(data="digits", overrides=overrides),
        out_dir=str(root / "inpaint_run"), verbose=0).fit()
    os.makedirs(root / "notask")
    (root / "notask" / "config.yaml").write_text(
        yaml.safe_dump(resolve_config()))
    grey = np.zeros((16, 16), "uint8")
    for name in ("imgs", "badmask"):
        os.makedirs(root / name)
        Image.fromarray(grey).save(root / name / "img.png")
    Image.fromarray(np.zeros((8, 16), "uint8")).save(
        root / "badmask" / "img_mask.png")
    Image.fromarray(np.zeros((12, 16), "uint8")).save(root / "small.png")
    Image.fromarray(np.zeros((16, 16, 3), "uint8")).save(root / "rgb.png")
    (root / "a_file.txt").write_text("x")
    return root


CASES = [
    (["train", "--task", "sr3"], "--task"),
    (["train", "--set", "task.name=sr3"], "task.name"),
    (["train", "--task", "sr4", "--set", "data.image_size=18"],
     "data.image_size"),
    (["train", "--task", "denoise", "--set", "task.sigma=0"], "task.sigma"),
    (["train", "--task", "sr2", "--set", "train.augment=ada"],
     "train.augment"),
    (["train", "--task", "sr2", "--data", "ring8"], "ring8"),
    (["train", "--task", "inpaint", "--set", "task.holdout=5000"],
     "task.holdout"),
    (["train", "--resume", "inpaint_run", "--task", "sr2"], "--task"),
    (["apply", "inpaint_run", "missing", "--out", "o"], "missing"),
    (["apply", "inpaint_run", "imgs", "--out", "a_file.txt"],
     "--out a_file.txt"),
    (["apply", "inpaint_run", "small.png", "--out", "o.png"],
     "small.png: the image is 16x12"),
    (["apply", "inpaint_run", "rgb.png", "--out", "o.png"],
     "rgb.png: the image is 16x16 with 3 channels"),
    (["apply", "inpaint_run", "badmask", "--out", "o"], "img_mask.png"),
    (["apply", "notask", "imgs", "--out", "o"], "not an image-to-image run"),
    (["apply", "inpaint_run", "imgs"], "--out"),
    (["sample", "inpaint_run", "--out", "x.png"], "keras-gan-stable apply"),
    (["export", "inpaint_run", "--out", "srv", "--format", "onnx"],
     "--format onnx"),
]


@pytest.mark.parametrize("argv,fragment", CASES,
                         ids=[" ".join(a) for a, _ in CASES])
def test_bad_task_input_one_line_exit_2_nothing_written(
        argv, fragment, workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    assert_cli_error(argv, fragment, workdir, capsys)


def test_apply_draws_masks_under_the_seed_and_reads_mask_files(
        workdir, tmp_path, monkeypatch):
    """Inpainting: known pixels kept exactly; a NAME_mask.png gives the
    hole; without one, `--seed` draws the same masks every time."""
    from PIL import Image

    monkeypatch.chdir(workdir)
    rng = np.random.default_rng(1)
    src = tmp_path / "src"
    os.makedirs(src)
    img = rng.integers(0, 256, (16, 16), dtype="uint8")
    Image.fromarray(img).save(src / "a.png")
    outs = []
    for seed, name in ((3, "o1"), (3, "o2"), (4, "o3")):
        _main(["apply", "inpaint_run", str(src), "--out",
               str(tmp_path / name), "--seed", str(seed)])
        outs.append(np.asarray(Image.open(tmp_path / name / "a.png")))
    np.testing.assert_array_equal(outs[0], outs[1])
    mask = np.zeros((16, 16), "uint8")
    mask[4:9, 6:12] = 255
    Image.fromarray(mask).save(src / "a_mask.png")
    _main(["apply", "inpaint_run", str(src), "--out", str(tmp_path / "m")])
    out = np.asarray(Image.open(tmp_path / "m" / "a.png"))
    assert sorted(os.listdir(tmp_path / "m")) == ["a.png"]
    # keep_known: outside the hole the input comes back through the uint8
    # round trip x / 127.5 - 1 -> round((y + 1) * 127.5), exactly.
    np.testing.assert_array_equal(out[mask == 0], img[mask == 0])
    # `export` writes the run's image-in, image-out SavedModel: the same
    # uint8 output for the image and its mask.
    tf = pytest.importorskip("tensorflow", reason="the SavedModel export "
                             "needs TensorFlow (CI installs it)")
    _main(["export", "inpaint_run", "--out", str(tmp_path / "srv")])
    loaded = tf.saved_model.load(str(tmp_path / "srv" / "1"))  # owns vars
    served = loaded.serve(img[None, :, :, None],
                          mask[None, :, :, None]).numpy()
    np.testing.assert_array_equal(served[0, ..., 0], out)
    # The drawn masks are the task's (random 8x8 boxes): seeds 3 and 4
    # differ in where the output leaves the input.
    holes = [np.nonzero(o != img) for o in outs]
    for rows, cols in holes:
        assert 0 < np.ptp(rows) < 8 and 0 < np.ptp(cols) < 8
    assert set(zip(*holes[0])) != set(zip(*holes[2]))


def test_apply_names_outputs_after_inputs_and_refuses_high_res_for_sr(
        tmp_path):
    """A JPEG in gives a PNG of the same stem; an image of the model's
    output size given to a x2 model is told to be downscaled."""
    from PIL import Image

    from keras_gan_stable import ImageToImageGAN
    from keras_gan_stable.apply_images import apply_images
    from keras_gan_stable.architectures.patchgan import (
        patchgan_discriminator)
    from keras_gan_stable.architectures.rrdb import rrdb_generator
    from keras_gan_stable.export_image import from_uint8, to_uint8

    g = rrdb_generator((4, 4, 3), 2, filters=4, num_blocks=1, growth=4)
    gan = ImageToImageGAN(g, patchgan_discriminator((8, 8, 6), filters=4,
                                                    num_layers=1))
    img = np.random.default_rng(2).integers(0, 256, (4, 4, 3), "uint8")
    Image.fromarray(img).save(tmp_path / "p.jpg", quality=100)
    read = np.asarray(Image.open(tmp_path / "p.jpg"))
    written = apply_images(gan, str(tmp_path / "p.jpg"), str(tmp_path / "o"))
    assert written == [str(tmp_path / "o" / "p.png")]
    np.testing.assert_array_equal(np.asarray(Image.open(written[0])),
                                  to_uint8(gan.translate(from_uint8(read))))
    Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(tmp_path / "big.png")
    with pytest.raises(ValueError, match=r"big.png: the image is 8x8 .* "
                                         r"low-resolution images \(1/2"):
        apply_images(gan, str(tmp_path / "big.png"), str(tmp_path / "o2"))
    assert not os.path.exists(tmp_path / "o2")


def test_installed_apply_answers_path_errors_in_one_line(workdir):
    """`python -m keras_gan_stable apply` on a missing INPUT or a run that
    is not an image-to-image run: one line, before any backend loads."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    code = ("import sys; from keras_gan_stable.cli import main\n"
            "try:\n    main(sys.argv[1:])\n"
            "finally:\n    print('keras' in sys.modules)")
    for argv, line in (
            (["apply", "notask", "imgs", "--out", "o"],
             "notask is not an image-to-image run"),
            (["apply", "inpaint_run", "missing", "--out", "o"],
             "INPUT missing does not exist")):
        res = subprocess.run([sys.executable, "-c", code] + argv, cwd=workdir,
                             capture_output=True, text=True, env=env)
        assert res.returncode == 2
        assert res.stdout.strip() == "False"   # no backend was imported
        err = res.stderr.strip().splitlines()
        assert len(err) == 1 and line in err[0], res.stderr
