"""A time budget for `fit()`: wall-clock or CPU seconds."""

import math
import time

import keras


CLOCKS = {"wall": time.monotonic, "cpu": time.process_time}


class TimeBudget(keras.callbacks.Callback):
    """Stops training when a time budget is spent (checked per batch).

    For users who think in compute rather than epochs: the run ends on time,
    after the batch that crossed the budget, with its callbacks' end-of-run
    work (checkpoints, plots) still done. `stopped` tells whether it fired.

    Args:
        minutes: float. The budget, counted from `on_train_begin` of the
            first `fit()` this callback sees (a second `fit()` with the same
            callback continues the count).
        clock: `"wall"` (`time.monotonic`), `"cpu"` (`time.process_time`:
            the CPU seconds of this process, all its threads; steadier than
            wall-clock on a shared machine, and on `k` busy cores it runs
            about `k` times faster than the wall clock), or a callable
            returning seconds. Defaults to `"wall"`.

    >>> gan.fit(data, epochs=1000, callbacks=[TimeBudget(minutes=30)])
    """

    def __init__(self, minutes, clock="wall"):
        super().__init__()
        if isinstance(minutes, bool) or not isinstance(
                minutes, (int, float)) or not math.isfinite(minutes) \
                or minutes <= 0:
            raise ValueError(
                "`minutes` should be a finite number > 0. Received: "
                f"`minutes={minutes!r}`"
            )
        if isinstance(clock, str):
            if clock not in CLOCKS:
                raise ValueError(
                    f"`clock` should be one of {sorted(CLOCKS)} or a callable. "
                    f"Received: `clock={clock!r}`"
                )
            clock = CLOCKS[clock]
        elif not callable(clock):
            raise ValueError(
                f"`clock` should be one of {sorted(CLOCKS)} or a callable. "
                f"Received: `clock={clock!r}`"
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
