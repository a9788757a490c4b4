"""Every bad command-line input gets one line on stderr, exit status 2, and
leaves the output folder as it was (nothing is written before the check).

The cases run in-process (`cli.main(argv)` with captured stderr); one runs
in a subprocess to show the same holds for the installed command.
"""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import yaml

from keras_gan_stable.cli import main


def _snapshot(root):
    """Every path under `root` with its size and mtime."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


def _fixtures(root):
    """The files the bad inputs point at."""
    os.makedirs(root / "full")
    (root / "full" / "keep.txt").write_text("x")
    (root / "a_file.txt").write_text("x")
    os.makedirs(root / "cfg_folder")
    (root / "bad.yaml").write_text("train: {n_critic: [1, \n")
    (root / "list.yaml").write_text("- 1\n- 2\n")
    (root / "u.json").write_text(json.dumps({"trian": {"batch_size": 8}}))
    (root / "evil.yaml").write_text(
        "name: !!python/object/apply:os.mkdir ['marker']\n")
    x = np.zeros((16, 8, 8, 1), "uint8")
    np.savez(root / "neg.npz", x=x, y=np.array([-1] + [0] * 15))
    np.savez(root / "huge.npz", x=x, y=np.array([1_000_000] + [0] * 15))
    np.savez(root / "ten.npz", x=x, y=np.arange(16) % 4)
    os.makedirs(root / "notarun")
    # A run folder whose every checkpoint is damaged, and one whose run
    # state is garbage.
    from keras_gan_stable.run import resolve_config

    config = resolve_config(overrides=["model.width=8", "train.epochs=1"])
    for name in ("damaged", "badstate"):
        run = root / name
        os.makedirs(run / "checkpoints" / "ckpt-0000000004")
        (run / "config.yaml").write_text(yaml.safe_dump(config))
        (run / "checkpoints" / "ckpt-0000000004" / "meta.json").write_text("{")
        (run / "checkpoints" / "ckpt-0000000004" / "state.npz").write_bytes(
            b"\0" * 10)
    (root / "damaged" / "run_state.json").write_text(json.dumps(
        {"epochs": 1, "data_shape": [32, 32, 1], "num_classes": None,
         "finished": False, "exported": False}))
    (root / "badstate" / "run_state.json").write_text("{not json")
    # .keras files: truncated, garbage, and one with a Lambda layer.
    import keras

    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp))
    model.save(root / "lambda.keras")
    data = (root / "lambda.keras").read_bytes()
    (root / "truncated.keras").write_bytes(data[: len(data) // 2])
    (root / "garbage.keras").write_bytes(b"garbage" * 100)
    with zipfile.ZipFile(root / "notagan.keras", "w") as z:
        z.writestr("config.json", "{}")


# (argv, a fragment naming the argument or file)
CASES = [
    (["train", "--recipe", "bigggan"], "--recipe"),
    (["recipes", "bigggan"], "bigggan"),
    (["fly"], "'fly'"),
    (["--backend", "mxnet"], "--backend"),
    (["train", "--epoch", "1"], "--epoch"),
    (["train", "--epochs", "two"], "--epochs"),
    (["train", "--epochs", "2", "--images", "10"], "--images"),
    (["train", "--set", "n_critic"], "--set"),
    (["train", "--set", "model.depth=3"], "model.depth"),
    (["train", "--set", "train.n_critic=0"], "train.n_critic"),
    (["train", "--set", "train.penalty_weight=-1"], "train.penalty_weight"),
    (["train", "--set", "train.loss=wgan"], "train.loss"),
    (["train", "--set", "train.d_optimizer.name=adagrad"],
     "train.d_optimizer.name"),
    (["train", "--set", "train.d_optimizer.learning_rate=.inf"],
     "train.d_optimizer.learning_rate"),
    (["train", "--set", "train.g_optimizer.learning_rate=.nan"],
     "train.g_optimizer.learning_rate"),
    (["train", "--set", "train.g_optimizer.learning_rate=0"],
     "train.g_optimizer.learning_rate"),
    (["train", "--set", "train.d_optimizer.clipnorm=-1"],
     "train.d_optimizer.clipnorm"),
    (["train", "--set", "train.d_optimizer.schedule=step"],
     "train.d_optimizer.schedule"),
    (["train", "--set", "train.batch_size=0"], "train.batch_size"),
    (["train", "--set", "train.epochs=-1"], "train.epochs"),
    (["train", "--set", "train.ema=1.5"], "train.ema"),
    (["train", "--set", "data.channels=2"], "data.channels"),
    (["train", "--set", "train.augment=cutmix"], "train.augment"),
    (["train", "--set", "train.precision=float8"], "train.precision"),
    (["train", "--set", "train.minutes=0"], "train.minutes"),
    (["train", "--set", "train.rollback_after=3"], "train.rollback_after"),
    (["train", "--set", "output.metrics=[fid, xyz]"], "output.metrics"),
    (["train", "--set", "export.formats=[]"], "export.formats"),
    (["train", "--set", "export.formats=[saved_model, gif]"],
     "export.formats"),
    (["train", "--set", "data.num_classes=1"], "data.num_classes"),
    (["train", "--data", "no/such/folder"], "no/such/folder"),
    (["train", "--data", "celeba"], "celeba"),
    (["train", "--out", "a_file.txt"], "--out a_file.txt"),
    (["train", "--out", "a_file.txt/sub"], "--out a_file.txt/sub"),
    (["train", "--out", "full"], "--out full"),
    (["train", "--config", "cfg_folder"], "--config cfg_folder"),
    (["train", "--config", "missing.yaml"], "missing.yaml"),
    (["train", "--config", "bad.yaml"], "bad.yaml"),
    (["train", "--config", "list.yaml"], "list.yaml"),
    (["train", "--config", "u.json"], "u.json"),
    (["train", "--config", "evil.yaml"], "evil.yaml"),
    (["train", "--resume"], "--resume"),
    (["train", "--resume", "notarun"], "--resume notarun"),
    (["train", "--resume", "damaged", "--recipe", "wgan"], "--recipe"),
    (["train", "--resume", "missing_run"], "--resume missing_run"),
    (["train", "--resume", "badstate"], "run_state.json"),
    (["train", "--resume", "damaged"], "--resume damaged"),
    (["train", "--data", "neg.npz", "--set", "data.labels=true"], "neg.npz"),
    (["train", "--data", "huge.npz", "--set", "data.labels=true"],
     "huge.npz"),
    (["train", "--data", "ten.npz", "--set", "data.labels=true",
      "--set", "data.num_classes=3"], "data.num_classes"),
    (["train", "--set", "train.batch_size=5000"], "train.batch_size"),
    (["sample", "no_run", "--out", "x.png"], "no_run"),
    (["sample", "damaged", "--out", "x.gif"], "--out x.gif"),
    (["sample", "damaged", "--out", "full"], "--out full"),
    (["sample", "damaged", "--out", "x.png", "-n", "2000000000"], "-n"),
    (["sample", "damaged", "--out", "x.png", "-n", "0"], "-n"),
    (["sample", "damaged", "--out", "x.png"], "damaged"),
    (["sample", "notarun", "--out", "x.png"], "notarun"),
    (["sample", "truncated.keras", "--out", "x.png"], "truncated.keras"),
    (["sample", "garbage.keras", "--out", "x.png"], "garbage.keras"),
    (["sample", "notagan.keras", "--out", "x.png"], "notagan.keras"),
    (["sample", "a_file.txt", "--out", "x.png"], "a_file.txt"),
    (["evaluate", "damaged", "-n", "0"], "-n"),
    (["evaluate", "damaged"], "damaged"),
    (["export", "damaged", "--out", "srv", "--version", "-1"], "--version"),
    (["export", "damaged", "--out", "a_file.txt"], "--out a_file.txt"),
    (["export", "lambda.keras", "--out", "srv"], "lambda.keras"),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    _fixtures(root)
    return root


@pytest.mark.parametrize("argv,fragment", CASES,
                         ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_one_line_exit_2_nothing_written(argv, fragment, workdir,
                                                   capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    assert_cli_error(argv, fragment, workdir, capsys)


def assert_cli_error(argv, fragment, folder, capsys):
    """Asserts that `main(argv)` exits 2 with one line on stderr holding
    `fragment`, and leaves `folder` unchanged."""
    before = _snapshot(folder)
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert info.value.code == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("keras-gan-stable: error: "), lines[0]
    assert fragment in lines[0], lines[0]
    assert _snapshot(folder) == before


def test_enough_cases():
    assert len(CASES) >= 40


def test_lambda_file_refusal_says_why_and_how(workdir, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    with pytest.raises(SystemExit):
        main(["sample", "lambda.keras", "--out", "x.png"])
    line = capsys.readouterr().err.strip()
    assert "safe mode" in line and "Lambda" in line
    assert "safe_mode=False" in line  # how to load a trusted file


def test_read_only_output_folder(workdir, capsys, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only folders")
    monkeypatch.chdir(workdir)
    os.makedirs("ro", exist_ok=True)
    os.chmod("ro", 0o500)
    try:
        with pytest.raises(SystemExit) as info:
            main(["train", "--out", "ro/run"])
        assert info.value.code == 2
        assert "not writable" in capsys.readouterr().err
        assert os.listdir("ro") == []
    finally:
        os.chmod("ro", 0o700)


def test_installed_command_answers_in_one_line(workdir):
    """The same through `python -m keras_gan_stable` (no backend needed)."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    res = subprocess.run([sys.executable, "-m", "keras_gan_stable", "train",
                          "--set", "train.d_optimizer.learning_rate=.inf"],
                         cwd=workdir, capture_output=True, text=True, env=env)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "keras-gan-stable: error: Invalid config value "
        "train.d_optimizer.learning_rate=inf: expected a finite number > 0, "
        "e.g. 2e-4. Fix it in the config file or with --set "
        "train.d_optimizer.learning_rate=..."]
