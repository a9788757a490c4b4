"""The resume check shared by the run types' tests: a run stopped by its
time budget mid-epoch and resumed must end bitwise equal to a run that
went straight through."""

import os

import numpy as np


def stop_on_batch(run, n):
    """Gives `run` a time budget that is spent on its `n`-th batch (a
    clock reading 0 for the first `n` calls, then 2 minutes), checked
    before its checkpoint callback, so the stop is saved mid-epoch."""
    from keras_gan_stable.callbacks.time_budget import TimeBudget

    calls = {"n": 0}

    def clock():
        calls["n"] += 1
        return 0.0 if calls["n"] <= n else 120.0

    run.budget = TimeBudget(minutes=1.0, clock=clock)
    run.callbacks.insert(run.callbacks.index(run.checkpoint), run.budget)
    return run


def assert_stopped_run_resumes_exactly(config, tmp_path, min_arrays=10):
    """Trains `config` straight into `tmp_path/a`; trains it again into
    `tmp_path/b` with a budget spent on the 3rd batch, resumes that run
    with `Run.resume_from`, and compares every array of the two newest
    checkpoints for equality."""
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints
    from keras_gan_stable.run import Run

    Run(config, out_dir=str(tmp_path / "a"), verbose=0).fit()
    stopped = stop_on_batch(
        Run(config, out_dir=str(tmp_path / "b"), verbose=0), 3)
    assert stopped.fit()["stopped_by_time_budget"]
    Run.resume_from(str(tmp_path / "b"), verbose=0).fit()
    a, b = (np.load(os.path.join(list_checkpoints(str(
        tmp_path / name / "checkpoints"))[0], "state.npz"))
        for name in ("a", "b"))
    assert len(a.files) == len(b.files) > min_arrays
    for ka, kb in zip(sorted(a.files), sorted(b.files)):
        np.testing.assert_array_equal(a[ka], b[kb], err_msg=ka)
