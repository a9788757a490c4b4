"""Progressive growing inside one `fit()`: the schedule and its callback."""

import json

import keras


def _per_resolution(name, value, resolutions, kind):
    """Expands an int/float or a `{resolution: value}` dict to a list."""
    if isinstance(value, dict):
        missing = [r for r in resolutions if r not in value]
        if missing:
            raise ValueError(
                f"`{name}` has no entry for resolution(s) {missing}. Give a "
                f"value for each of {resolutions}, or one value for all. "
                f"Received: `{name}={value!r}`"
            )
        out = [value[r] for r in resolutions]
    else:
        out = [value] * len(resolutions)
    return [kind(v) for v in out]


class ProgressiveSchedule:
    """Where a progressive-growing run stands after a number of images.

    Resolution `4 * 2**l` (level `l`) runs a fade-in phase of
    `fade_images[l]` images (none for the first resolution), during which
    alpha rises linearly from 0 (after 0 images) to 1, then a stable phase of
    `stable_images[l]` images at alpha 1. After `k` images of a fade phase
    alpha is exactly `k / fade_images`.

    Args:
        resolutions: list of ints, e.g. `[4, 8, 16, 32]`.
        fade_images: list of ints, one per resolution (the first is unused).
        stable_images: list of ints, one per resolution.
        first_level: int. Level of `resolutions[0]` in the networks.
    """

    def __init__(self, resolutions, fade_images, stable_images, first_level=0):
        self.resolutions = list(resolutions)
        self.first_level = int(first_level)
        self.phases = []  # (level, "fade"|"stable", start, length)
        start = 0
        for i, res in enumerate(self.resolutions):
            level = self.first_level + i
            if i and fade_images[i] > 0:
                self.phases.append((level, "fade", start, fade_images[i]))
                start += fade_images[i]
            self.phases.append((level, "stable", start, stable_images[i]))
            start += stable_images[i]
        self.total_images = start

    def state_at(self, images_shown):
        """`(level, alpha, phase)` for the batch after `images_shown` images;
        `phase` is `"fade"`, `"stable"` or `"done"` (past the schedule)."""
        n = int(images_shown)
        for level, kind, start, length in self.phases:
            if start <= n < start + length:
                alpha = (n - start) / length if kind == "fade" else 1.0
                return level, alpha, kind
        return self.first_level + len(self.resolutions) - 1, 1.0, "done"

    def resolution_start(self, level):
        """Images shown when `level` starts (its fade phase)."""
        for lvl, _, start, _ in self.phases:
            if lvl == level:
                return start
        raise ValueError(f"Level {level} is not in this schedule.")


class ProgressiveGrowing(keras.callbacks.Callback):
    """Grows a `ProGAN` from 4x4 to its target resolution inside one `fit()`.

    The schedule counts real images shown to the discriminator (`n_critic *
    batch_size` per train step). Each resolution after the first fades in
    over `fade_images`, with alpha rising linearly, then trains stably for
    `stable_images` (the paper: 800k each). After every batch the callback
    moves the model's level and alpha variables (an alpha change never
    retraces; a new resolution retraces the train step once), and at the
    start of each resolution it sets that resolution's batch size and
    learning rate and optionally resets both optimizers' state (the
    original code does). It writes `resolution`, `alpha` and `images_shown`
    into the batch and epoch logs, so `History` and a `TensorBoard` callback
    placed after it record them.

    Epochs and images: `fit()`'s epochs only pace logging; the schedule runs
    on images. A resolution with batch size `b` consumes `n_critic * b`
    images per step, so the run needs `steps_required(n_critic)` steps in
    all: feed a repeating dataset whose batches hold `n_critic * max(b)`
    images (the model uses the first `n_critic * b` of each) and set
    `epochs * steps_per_epoch` to at least that. With `stop_at_end=True`
    training stops once the last stable phase is over.

    Resuming: `get_state()` / `set_state(state)` give the schedule as a
    JSON-serialisable dict (`images_shown`, `level`, `alpha`,
    `resolution`); the model also keeps them in variables, so restoring its
    weights alone resumes the schedule at the batch where it stopped.

    Args:
        fade_images: int or `{resolution: int}`. Images of each fade-in.
            Defaults to `800_000`.
        stable_images: int or `{resolution: int}`. Images of each stable
            phase. Defaults to `800_000`.
        batch_size: int or `{resolution: int}`. Batch size of each D update
            (`B`). Defaults to `16` (the paper's up to 128x128).
        learning_rate: `None`, float, `{resolution: float}` or
            `{resolution: (d_lr, g_lr)}`. Set on both optimizers when a
            resolution starts; `None` leaves them alone.
        reset_optimizer: bool. Zero both optimizers' moments and iteration
            counts when a new resolution starts. Defaults to `False`.
        start_resolution: int. First resolution. Defaults to `4`.
        stop_at_end: bool. Stop `fit()` when the schedule ends. Defaults to
            `True`.
        on_resolution_end: callable `(model, resolution)` or `None`. Called
            when a resolution's last phase is over (before the next starts),
            e.g. to save a sample grid.
        verbose: int. `1` prints each new resolution.

    >>> grow = ProgressiveGrowing(fade_images=10_000, stable_images=10_000,
    ...                           batch_size={4: 32, 8: 32, 16: 16, 32: 16})
    >>> gan.fit(dataset.repeat(), steps_per_epoch=100, epochs=1000,
    ...         callbacks=[grow])

    Reference:
        Karras et al., "Progressive Growing of GANs for Improved Quality,
        Stability, and Variation", ICLR 2018.
    """

    def __init__(self, fade_images=800_000, stable_images=800_000,
                 batch_size=16, learning_rate=None, reset_optimizer=False,
                 start_resolution=4, stop_at_end=True, on_resolution_end=None,
                 verbose=0):
        super().__init__()
        for name, value in (("fade_images", fade_images),
                            ("stable_images", stable_images),
                            ("batch_size", batch_size)):
            values = value.values() if isinstance(value, dict) else [value]
            low = 1 if name == "batch_size" else 0
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int) or v < low:
                    raise ValueError(
                        f"`{name}` should be an int >= {low} or a dict "
                        f"{{resolution: int}}. Received: `{name}={value!r}`"
                    )
        if not isinstance(start_resolution, int) or start_resolution < 4 or (
                start_resolution & (start_resolution - 1)):
            raise ValueError(
                "`start_resolution` should be a power of two >= 4. "
                f"Received: `start_resolution={start_resolution!r}`"
            )
        if on_resolution_end is not None and not callable(on_resolution_end):
            raise ValueError(
                "`on_resolution_end` should be a callable (model, resolution) "
                f"or None. Received: {on_resolution_end!r}"
            )
        self.fade_images = fade_images
        self.stable_images = stable_images
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.reset_optimizer = bool(reset_optimizer)
        self.start_resolution = start_resolution
        self.stop_at_end = bool(stop_at_end)
        self.on_resolution_end = on_resolution_end
        self.verbose = int(verbose)
        self.schedule = None
        self.images_shown = 0
        self.level = None
        self.alpha = None
        self._pending_state = None
        self._finished = False

    # ------------------------------------------------------------------ #
    # Schedule
    # ------------------------------------------------------------------ #
    def build_schedule(self, num_levels):
        """The `ProgressiveSchedule` for networks with `num_levels` levels."""
        first = self.start_resolution.bit_length() - 3
        if first >= num_levels:
            raise ValueError(
                f"`start_resolution={self.start_resolution}` is above the "
                f"model's target resolution {4 * 2 ** (num_levels - 1)}."
            )
        resolutions = [4 * 2 ** lvl for lvl in range(first, num_levels)]
        self._resolutions = resolutions
        self._batch = _per_resolution("batch_size", self.batch_size,
                                      resolutions, int)
        self._lr = None
        if self.learning_rate is not None:
            self._lr = _per_resolution(
                "learning_rate", self.learning_rate, resolutions,
                lambda v: (float(v[0]), float(v[1]))
                if isinstance(v, (tuple, list)) else (float(v), float(v)))
        self.schedule = ProgressiveSchedule(
            resolutions,
            _per_resolution("fade_images", self.fade_images, resolutions, int),
            _per_resolution("stable_images", self.stable_images, resolutions,
                            int),
            first_level=first)
        return self.schedule

    def steps_required(self, n_critic=1, num_levels=None):
        """Train steps the whole schedule takes."""
        if num_levels is not None or self.schedule is None:
            if num_levels is None:
                raise ValueError("Pass `num_levels` before the model is set.")
            self.build_schedule(num_levels)
        # A step counts `n_critic * B` images at the level where it starts,
        # and a batch that crosses a phase boundary counts them all, so the
        # next phase starts part-way: walk the phases with that carry.
        steps = shown = 0
        for level, _, start, length in self.schedule.phases:
            end = start + length
            if shown >= end:
                continue
            per_step = n_critic * self._batch[level - self.schedule.first_level]
            k = -(-(end - shown) // per_step)
            steps += k
            shown += k * per_step
        return steps

    def batch_size_at(self, level):
        return self._batch[level - self.schedule.first_level]

    # ------------------------------------------------------------------ #
    # State for checkpoints
    # ------------------------------------------------------------------ #
    def get_state(self):
        """The schedule's position as a JSON-serialisable dict."""
        level = self.level
        alpha = self.alpha
        if level is None:
            level, alpha = 0, 0.0
        state = {
            "images_shown": int(self.images_shown),
            "level": int(level),
            "alpha": float(alpha),
            "resolution": int(4 * 2 ** level),
        }
        json.dumps(state)
        return state

    def set_state(self, state):
        """Restores a `get_state()` dict; applied when training (re)starts."""
        if not isinstance(state, dict) or "images_shown" not in state:
            raise ValueError(
                "`state` should be a dict from `get_state()` with at least "
                f"'images_shown'. Received: {state!r}"
            )
        self._pending_state = dict(state)
        self.images_shown = int(state["images_shown"])

    # ------------------------------------------------------------------ #
    # Callback hooks
    # ------------------------------------------------------------------ #
    def on_train_begin(self, logs=None):
        model = self.model
        if not hasattr(model, "set_progress") or not hasattr(
                model, "get_progress"):
            raise ValueError(
                "ProgressiveGrowing drives a model with `set_progress()` and "
                "`get_progress()` (keras_gan_stable.ProGAN). Received a "
                f"model of type {type(model).__name__}."
            )
        self.build_schedule(model.num_levels)
        if self._pending_state is not None:
            self.images_shown = int(self._pending_state["images_shown"])
        else:
            self.images_shown = model.get_progress()["images_shown"]
        level, _, _ = self.schedule.state_at(self.images_shown)
        if self._pending_state is not None and "level" in self._pending_state:
            if int(self._pending_state["level"]) != level:
                raise ValueError(
                    f"The restored state {self._pending_state} is at level "
                    f"{self._pending_state['level']}, but this schedule puts "
                    f"{self.images_shown} images at level {level}. Resume "
                    "with the schedule arguments of the original run."
                )
        self._pending_state = None
        self.level = None
        self._apply(model, new_resolution=self.images_shown == 0)

    def on_train_batch_end(self, batch, logs=None):
        # Reading `self.model` first syncs the JAX state back into the
        # variables; an assignment made before it would be overwritten.
        model = self.model
        trained_level, trained_alpha = self.level, self.alpha
        b = self.batch_size_at(trained_level)
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        self.images_shown += model.n_critic * b * spe
        next_level, _, phase = self.schedule.state_at(self.images_shown)
        if next_level != trained_level or phase == "done":
            if self.on_resolution_end is not None and (
                    next_level != trained_level or not self._finished):
                self.on_resolution_end(model, 4 * 2 ** trained_level)
        self._finished = phase == "done"
        self._apply(model, new_resolution=next_level != trained_level)
        if logs is not None:
            logs["resolution"] = 4 * 2 ** trained_level
            logs["alpha"] = trained_alpha
            logs["images_shown"] = self.images_shown
        if self._finished and self.stop_at_end:
            model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self.level is not None:
            logs["resolution"] = 4 * 2 ** self.level
            logs["alpha"] = self.alpha
            logs["images_shown"] = self.images_shown

    # ------------------------------------------------------------------ #
    def _apply(self, model, new_resolution):
        level, alpha, phase = self.schedule.state_at(self.images_shown)
        self._finished = phase == "done"
        first_apply = self.level is None
        level_changed = level != self.level
        if level_changed or first_apply:
            if self._lr is not None:
                d_lr, g_lr = self._lr[level - self.schedule.first_level]
                model.d_optimizer.learning_rate = d_lr
                model.g_optimizer.learning_rate = g_lr
            if new_resolution and self.reset_optimizer and not first_apply:
                for opt in (model.d_optimizer, model.g_optimizer):
                    _reset_optimizer(opt)
            if self.verbose and level_changed:
                res = 4 * 2 ** level
                print(f"\nProgressiveGrowing: {res}x{res} after "
                      f"{self.images_shown} images")
        model.set_progress(level, alpha, images_shown=self.images_shown,
                           batch_size=self.batch_size_at(level))
        self.level, self.alpha = level, alpha


def _reset_optimizer(optimizer):
    """Zeros an optimizer's moments and iteration count, keeping its rate."""
    lr = getattr(optimizer, "_learning_rate", None)
    for v in optimizer.variables:
        if v is lr:
            continue
        v.assign(keras.ops.zeros(v.shape, dtype=v.dtype))
