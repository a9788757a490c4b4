"""`TrainingCurves(max_share=...)` skips a due plot while plotting would take
more than that share of the CPU time since the previous plot, and always
plots at the end of training."""

import pytest

from keras_gan_stable.callbacks import plots
from keras_gan_stable.callbacks.plots import TrainingCurves


def test_max_share_skips_plots_that_cost_too_large_a_share(tmp_path,
                                                           monkeypatch):
    clock = {"t": 0.0}
    drawn = []

    def fake_plot(history, path, title=None):
        drawn.append(history["epoch"][-1])
        clock["t"] += 1.0  # each plot costs 1 CPU-second

    monkeypatch.setattr(plots.time, "process_time", lambda: clock["t"])
    monkeypatch.setattr(plots, "plot_history", fake_plot)
    cb = TrainingCurves(str(tmp_path / "c.png"), every=1, max_share=0.5)
    # Epochs end 0.6 CPU-seconds apart (plus the plots' own cost): a plot
    # is allowed once 1 <= 0.5 * (seconds since the previous plot ended),
    # i.e. 2 seconds after it: epoch 1 (the first), then every 4th epoch.
    for epoch in range(9):
        clock["t"] += 0.6
        cb.on_epoch_end(epoch, {"d_loss": 1.0})
    assert drawn == [1, 5, 9]
    cb.on_train_end()
    assert drawn == [1, 5, 9, 9]  # the end: always
    assert cb.history["epoch"] == list(range(1, 10))


@pytest.mark.parametrize("share", [0, 1, 1.5, True, "0.1"])
def test_max_share_is_checked(tmp_path, share):
    with pytest.raises(ValueError, match="max_share"):
        TrainingCurves(str(tmp_path / "c.png"), max_share=share)
