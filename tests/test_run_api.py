"""The run API (`keras_gan_stable.run`): typed config, every option reachable,
the CLI and Python producing the same run, time budget, finishing an export."""

import copy
import json
import os

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable.callbacks.checkpoint import list_checkpoints
from keras_gan_stable.callbacks.time_budget import TimeBudget
from keras_gan_stable.cli import main
from keras_gan_stable.run import Run
from keras_gan_stable.run import RunConfig
from keras_gan_stable.run import build_gan
from keras_gan_stable.run import run
from keras_gan_stable.utils.config import DEFAULT_CONFIG
from keras_gan_stable.utils.config import ConfigError
from keras_gan_stable.utils.config import flatten

TINY = ["model.width=8", "model.latent_dim=8", "data.max_samples=64",
        "data.image_size=16", "train.batch_size=8", "train.epochs=2",
        "output.samples=4", "output.fid_samples=0",
        "output.tensorboard=false", "output.plots=false",
        "output.export=false"]
# Points from a 2D mixture and small MLPs: the cheapest full run.
POINTS = ["data.source=ring8", "data.num_samples=64", "model.width=8",
          "model.latent_dim=4", "train.batch_size=8", "train.epochs=2",
          "output.samples=4", "output.fid_samples=0",
          "output.tensorboard=false", "output.plots=false"]


def test_config_has_the_keys_of_the_cli_and_round_trips(tmp_path):
    config = RunConfig()
    assert flatten(config.to_dict()) == flatten(DEFAULT_CONFIG)
    config = RunConfig.from_recipe(
        "wgan-gp", data="mnist",
        overrides=["train.n_critic=2", "train.augment=ada",
                   "train.d_optimizer.clipnorm=1.0",
                   "train.g_optimizer.schedule=cosine",
                   "export.formats=[saved_model, onnx]"])
    assert config.train.n_critic == 2 and config.data.source == "mnist"
    assert config.train.d_optimizer["clipnorm"] == 1.0
    for name in ("run.yaml", "run.json"):
        config.save(str(tmp_path / name))
        assert RunConfig.from_file(str(tmp_path / name)) == config
    # Sections may be given as dicts; values are validated when built.
    assert RunConfig(train={"n_critic": 3}).train.n_critic == 3
    with pytest.raises(ConfigError, match="train.d_optimizer.learning_rate"):
        RunConfig(train={"d_optimizer": {"name": "adam",
                                         "learning_rate": float("inf")}})
    with pytest.raises(ConfigError, match="unknown setting 'train.nope'"):
        RunConfig(train={"nope": 1})


def test_every_python_option_is_reachable_from_a_config():
    from keras_gan_stable.augment import AdaptiveAugment, DiffAugment

    config = RunConfig.from_recipe("sngan", overrides=TINY + [
        "train.augment=diffaugment", "train.augment_policy=translation",
        "train.skip_nonfinite=true", "train.ema=0.99",
        "train.d_optimizer.name=adamw", "train.d_optimizer.weight_decay=0.01",
        "train.d_optimizer.clipnorm=2.0",
        "train.g_optimizer.schedule=linear"])
    gan = build_gan(config, (16, 16, 1), total_steps=10)
    assert isinstance(gan.augment, DiffAugment)
    assert gan.augment.policy == "translation"
    assert gan.skip_nonfinite and gan.ema_generator is not None
    d = gan.d_optimizer
    assert type(d).__name__ == "AdamW"
    assert (d.weight_decay, d.clipnorm) == (0.01, 2.0)
    # A linear schedule decays to 0 over the run's 10 G steps: half way,
    # half the rate (PolynomialDecay with power 1).
    sched = gan.g_optimizer._learning_rate
    assert float(ops.convert_to_numpy(sched(5))) == pytest.approx(1e-4)
    ada = build_gan(RunConfig.from_recipe(
        "sngan", overrides=TINY + ["train.augment=ada",
                                   "train.ada_target=0.7"]), (16, 16, 1))
    assert isinstance(ada.augment, AdaptiveAugment)
    assert ada.augment.target == 0.7


def test_precision_policy_is_set_by_the_run(tmp_path):
    try:
        Run(RunConfig.from_recipe("sngan", overrides=TINY + [
            "train.precision=mixed_bfloat16"]), out_dir=str(tmp_path / "r"))
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _assert_same_state(a, b):
    # Keys are "<position>:<variable path>"; layer names may get suffixes
    # when a process builds the same networks twice, positions do not.
    assert len(a.files) == len(b.files) > 10
    for ka, kb in zip(sorted(a.files), sorted(b.files)):
        assert ka.split(":")[0] == kb.split(":")[0]
        np.testing.assert_array_equal(a[ka], b[kb], err_msg=ka)


def _final_state(run_dir):
    newest = list_checkpoints(os.path.join(run_dir, "checkpoints"))[0]
    return np.load(os.path.join(newest, "state.npz"))


def test_python_quick_start_and_cli_give_the_same_run(tmp_path, monkeypatch,
                                                      capsys):
    """The same config through `run()` and through `keras-gan-stable train
    --config`: bitwise the same final weights, optimizers and RNG state
    (TensorFlow on CPU runs these ops deterministically)."""
    monkeypatch.chdir(tmp_path)
    config = RunConfig.from_recipe("sngan", overrides=POINTS)
    config.save("run.yaml")
    summary = run(config, out_dir="python", verbose=0)
    assert summary["epochs"] == 2
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", "run.yaml", "--out", "cli", "--quiet"])
    assert info.value.code == 0
    _assert_same_state(_final_state("python"), _final_state("cli"))
    # 64 images / 8 a step = 8 G steps an epoch, 2 epochs.
    meta = json.load(open(os.path.join(
        list_checkpoints("cli/checkpoints")[0], "meta.json")))
    assert (meta["step"], meta["epoch"], meta["batch"]) == (16, 2, 0)


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_time_budget_stops_on_the_batch_that_spends_it():
    clock = _Clock()
    budget = TimeBudget(minutes=0.5, clock=clock)

    class Model:
        stop_training = False

    budget.set_model(Model())
    budget.on_train_begin()
    for batch in range(10):
        clock.now += 7.0  # seconds per batch: 30 s are spent on batch 4
        budget.on_train_batch_end(batch)
        if budget.model.stop_training:
            break
    assert batch == 4 and budget.stopped
    with pytest.raises(ValueError, match="minutes"):
        TimeBudget(minutes=float("inf"))


def test_time_budget_cpu_clock_counts_this_process_only():
    import time

    assert TimeBudget(1.0, clock="cpu").clock is time.process_time
    assert TimeBudget(1.0).clock is time.monotonic
    for bad in ("gpu", 3):
        with pytest.raises(ValueError, match="clock"):
            TimeBudget(1.0, clock=bad)
    # Sleeping spends wall-clock seconds but (nearly) no CPU seconds of this
    # process: idle library threads may spin for a few hundred ms at most,
    # well inside the 1 CPU-s budget against 1.2 s of sleep.
    budget = TimeBudget(minutes=1.0 / 60.0, clock="cpu")

    class Model:
        stop_training = False

    budget.set_model(Model())
    budget.on_train_begin()
    time.sleep(1.2)
    budget.on_train_batch_end(0)
    assert not budget.stopped
    end = time.process_time() + 1.0
    while time.process_time() < end:  # 1 more CPU-s: past the budget
        sum(range(1000))
    budget.on_train_batch_end(1)
    assert budget.stopped and budget.model.stop_training
    with pytest.raises(ValueError, match="train.clock"):
        RunConfig.from_recipe("dcgan", overrides=["train.clock=gpu"])


def test_time_budget_run_ends_early_and_resumes_exactly(tmp_path):
    """A run stopped by `train.minutes` mid-epoch resumes to the same
    weights as one that was never stopped."""
    config = RunConfig.from_recipe("sngan", overrides=POINTS)
    straight = Run(config, out_dir=str(tmp_path / "a"), verbose=0)
    straight.fit()
    stopped = Run(config, out_dir=str(tmp_path / "b"), verbose=0)
    # Spend the budget on the 11th batch (epoch 2, batch 3).
    calls = {"n": 0}

    def clock():
        calls["n"] += 1
        return 0.0 if calls["n"] <= 11 else 120.0

    budget = TimeBudget(minutes=1.0, clock=clock)
    stopped.budget = budget
    stopped.callbacks.insert(stopped.callbacks.index(stopped.checkpoint),
                             budget)
    summary = stopped.fit()
    assert summary["stopped_by_time_budget"]
    meta = json.load(open(os.path.join(list_checkpoints(
        str(tmp_path / "b" / "checkpoints"))[0], "meta.json")))
    assert (meta["epoch"], meta["batch"]) == (1, 3)
    Run.resume_from(str(tmp_path / "b"), verbose=0).fit()
    _assert_same_state(_final_state(str(tmp_path / "a")),
                       _final_state(str(tmp_path / "b")))


@pytest.mark.slow
def test_resume_finishes_an_interrupted_export_and_cleans_temp_files(
        tmp_path):
    pytest.importorskip("tensorflow")
    overrides = [o for o in TINY if o != "output.export=false"] + [
        "train.epochs=1"]
    out = tmp_path / "r"
    run(RunConfig.from_recipe("sngan", overrides=overrides),
        out_dir=str(out), verbose=0)
    steps = json.load(open(out / "checkpoints" / "manifest.json"))
    # A kill during the export: the version folder is missing and a
    # temporary folder is left behind.
    import shutil

    shutil.rmtree(out / "saved_model" / "1")
    os.makedirs(out / "saved_model" / ".1.tmp-abc" / "model")
    state = json.load(open(out / "run_state.json"))
    state["exported"] = False
    json.dump(state, open(out / "run_state.json", "w"))
    Run.resume_from(str(out), verbose=0).fit()
    assert os.listdir(out / "saved_model") == ["1"]
    assert os.path.exists(out / "saved_model" / "1" / "saved_model.pb")
    # No training happened: the newest checkpoint is the same step.
    again = json.load(open(out / "checkpoints" / "manifest.json"))
    assert again["checkpoints"][0]["step"] == steps["checkpoints"][0]["step"]


def test_config_dicts_are_not_mutated():
    config = copy.deepcopy(DEFAULT_CONFIG)
    RunConfig.from_dict(config)
    assert config == DEFAULT_CONFIG


@pytest.mark.parametrize("n, expected", [(9_999, "ada"), (10_000, None)])
def test_augment_auto_turns_ada_on_for_fewer_than_10k_images(tmp_path, n,
                                                              expected):
    from keras_gan_stable.augment import AdaptiveAugment
    from keras_gan_stable.run import SMALL_DATA_IMAGES

    assert SMALL_DATA_IMAGES == 10_000
    path = str(tmp_path / "images.npz")
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.uniform(-1, 1, (n, 8, 8, 1)).astype("float32"))
    config = RunConfig.from_recipe("recommended", overrides=[
        f"data.source={path}", "model.width=8", "model.latent_dim=8",
        "output.fid_samples=0", "output.export=false",
        "train.augment=auto"])
    job = Run(config, out_dir=str(tmp_path / "r"))
    assert job.config["train"]["augment"] == expected
    if expected is None:
        assert job.gan.augment is None
    else:
        assert isinstance(job.gan.augment, AdaptiveAugment)
        # ADA starts off: p = 0 until D is too sure of the real images.
        assert float(keras.ops.convert_to_numpy(job.gan.augment.p)) == 0.0
    with pytest.raises(ValueError, match=r"train.augment='auto'.*'ada' or null"):
        build_gan(config, (8, 8, 1))


def test_augment_auto_keeps_augmentation_off_for_points(tmp_path):
    job = Run(RunConfig.from_recipe("recommended",
                                    overrides=POINTS + ["train.augment=auto"]),
              out_dir=str(tmp_path / "r"))
    assert job.config["train"]["augment"] is None
    assert job.gan.augment is None
