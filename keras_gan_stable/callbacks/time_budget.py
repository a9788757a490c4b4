"""A wall-clock budget for `fit()`."""

import math
import time

import keras


class TimeBudget(keras.callbacks.Callback):
    """Stops training when a wall-clock budget is spent (checked per batch).

    For users who think in compute rather than epochs: the run ends on time,
    after the batch that crossed the budget, with its callbacks' end-of-run
    work (checkpoints, plots) still done. `stopped` tells whether it fired.

    Args:
        minutes: float. The budget, counted from `on_train_begin` of the
            first `fit()` this callback sees (a second `fit()` with the same
            callback continues the count).
        clock: callable returning seconds. Defaults to `time.monotonic`.

    >>> gan.fit(data, epochs=1000, callbacks=[TimeBudget(minutes=30)])
    """

    def __init__(self, minutes, clock=time.monotonic):
        super().__init__()
        if isinstance(minutes, bool) or not isinstance(
                minutes, (int, float)) or not math.isfinite(minutes) \
                or minutes <= 0:
            raise ValueError(
                "`minutes` should be a finite number > 0. Received: "
                f"`minutes={minutes!r}`"
            )
        self.minutes = float(minutes)
        self.clock = clock
        self.start = None
        self.stopped = False

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        if self.clock() - self.start >= 60.0 * self.minutes:
            self.stopped = True
            self.model.stop_training = True
