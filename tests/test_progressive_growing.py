"""Progressive growing: schedule, exact fades, traces, resume, backends."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable.architectures.progan import progan_discriminator
from keras_gan_stable.architectures.progan import progan_generator
from keras_gan_stable.callbacks.progressive_growing import ProgressiveGrowing
from keras_gan_stable.layers.progan import resample
from keras_gan_stable.models.progan import ProGAN

BACKEND = keras.backend.backend()
LATENT = 8


def _np(x):
    return ops.convert_to_numpy(x)


def _read(v):
    return _np(v.value).item()


class CountingProGAN(ProGAN):
    """Records the level each time the train step is traced (or, on torch,
    run eagerly)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.traced_levels = []

    def _gan_train_step(self, data):
        self.traced_levels.append(self._level)
        return super()._gan_train_step(data)


def _tiny_gan(resolution=8, cls=CountingProGAN, seed=3):
    keras.utils.set_random_seed(seed)
    g = progan_generator(LATENT, (resolution, resolution, 1), filters=4)
    d = progan_discriminator((resolution, resolution, 1), filters=4)
    gan = cls(g, d, seed=seed)
    gan.compile()
    return gan


class Probe(keras.callbacks.Callback):
    """Reads, before each batch, what the model will train with."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def on_train_batch_begin(self, batch, logs=None):
        m = self.model
        self.rows.append({
            "level": m.level,
            "alpha": _read(m.progress_alpha),
            "g_alpha": _read(m.generator.alpha),
            "d_alpha": _read(m.discriminator.alpha),
            "images": _read(m.images_shown),
            "batch": m.active_batch_size,
            "d_lr": float(_np(m.d_optimizer.learning_rate)),
            "g_lr": float(_np(m.g_optimizer.learning_rate)),
        })


# ---------------------------------------------------------------------- #
# Schedule (pure Python)
# ---------------------------------------------------------------------- #
def test_schedule_alpha_boundaries_and_resolution_sequence():
    cb = ProgressiveGrowing()  # the paper: 800k fade + 800k stable
    schedule = cb.build_schedule(num_levels=9)             # 4 ... 1024
    assert schedule.resolutions == [4 * 2 ** i for i in range(9)]
    assert [p[:2] for p in schedule.phases[:5]] == [
        (0, "stable"), (1, "fade"), (1, "stable"), (2, "fade"),
        (2, "stable")]
    assert schedule.total_images == 800_000 + 8 * 1_600_000
    f = 800_000
    for level in range(1, 9):
        start = schedule.resolution_start(level)
        assert start == 800_000 + (level - 1) * 1_600_000
        # Just before the fade: previous level, stable, alpha 1.
        assert schedule.state_at(start - 1) == (level - 1, 1.0, "stable")
        for k in (0, 1, 1234, f // 2, f - 1):
            lvl, alpha, phase = schedule.state_at(start + k)
            assert (lvl, phase) == (level, "fade")
            assert alpha == k / f
        assert schedule.state_at(start + f) == (level, 1.0, "stable")
    assert schedule.state_at(0) == (0, 1.0, "stable")
    assert schedule.state_at(schedule.total_images) == (8, 1.0, "done")


def test_schedule_per_resolution_lengths_and_start_resolution():
    cb = ProgressiveGrowing(fade_images={8: 30, 16: 10},
                            stable_images={8: 5, 16: 0},
                            batch_size={8: 4, 16: 2}, start_resolution=8)
    schedule = cb.build_schedule(num_levels=3)
    assert schedule.resolutions == [8, 16]
    # The first resolution has no fade; 16x16 fades over 10 images.
    assert schedule.phases == [(1, "stable", 0, 5), (2, "fade", 5, 10),
                               (2, "stable", 15, 0)]
    assert schedule.state_at(12) == (2, 0.7, "fade")
    # n_critic 1: 4 images a step at 8x8 (0 -> 4 -> 8: the second step
    # crosses into the fade at 5), then 2 a step from 8 to 16 >= 15.
    assert cb.steps_required(n_critic=1) == 2 + 4
    # n_critic 2: one step of 8 ends the stable phase, then 8 -> 12 -> 16.
    assert cb.steps_required(n_critic=2) == 1 + 2
    with pytest.raises(ValueError, match="no entry for resolution"):
        ProgressiveGrowing(batch_size={4: 8}).build_schedule(num_levels=2)


@pytest.mark.parametrize("fade,stable,batch,n_critic", [
    (96, 96, 64, 1), (100, 100, 64, 1), (1000, 1000, 64, 5),
    ({4: 0, 8: 30, 16: 10}, {4: 7, 8: 5, 16: 3}, {4: 3, 8: 4, 16: 2}, 2),
])
def test_steps_required_is_the_callbacks_own_count(fade, stable, batch,
                                                   n_critic):
    # The reference walks the schedule as the callback does: each step adds
    # n_critic * B(level where it starts) images until the schedule is done.
    cb = ProgressiveGrowing(fade_images=fade, stable_images=stable,
                            batch_size=batch)
    schedule = cb.build_schedule(num_levels=3)
    shown = steps = 0
    while schedule.state_at(shown)[2] != "done":
        shown += n_critic * cb.batch_size_at(schedule.state_at(shown)[0])
        steps += 1
    assert cb.steps_required(n_critic=n_critic) == steps


@pytest.mark.multibackend
def test_ema_generator_follows_the_level_and_alpha():
    # The EMA copy starts with the generator's weights, so at any level and
    # alpha it must draw exactly the generator's images.
    keras.utils.set_random_seed(5)
    g = progan_generator(LATENT, (16, 16, 1), filters=4)
    d = progan_discriminator((16, 16, 1), filters=4)
    g.set_progress(0, 1.0)
    gan = ProGAN(g, d, seed=5, ema_decay=0.999)
    assert gan.ema_generator.level == 0
    np.testing.assert_array_equal(gan.generate(4, seed=1, use_ema=True),
                                  gan.generate(4, seed=1, use_ema=False))
    for level, alpha in ((1, 0.25), (2, 0.5), (1, 1.0)):
        gan.set_progress(level, alpha)
        assert gan.ema_generator.level == level
        np.testing.assert_array_equal(
            gan.generate(4, seed=1, use_ema=True),
            gan.generate(4, seed=1, use_ema=False))


@pytest.mark.parametrize("kwargs", [
    {"fade_images": -1}, {"batch_size": 0}, {"stable_images": 1.5},
    {"start_resolution": 6}, {"on_resolution_end": 3},
])
def test_callback_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        ProgressiveGrowing(**kwargs)


# ---------------------------------------------------------------------- #
# Exact fades of G, D and real images
# ---------------------------------------------------------------------- #
@pytest.mark.multibackend
def test_fades_are_exact_at_alpha_0_and_1(rng):
    # 16x16 on TF: level 1 is resampled to the target on both sides, level 2
    # is the target. Eager JAX compiles every op, so 8x8 (level 1 only) there.
    size = 16 if BACKEND == "tensorflow" else 8
    keras.utils.set_random_seed(0)
    filters = [6, 5, 4][:size.bit_length() - 2]
    g = progan_generator(LATENT, (size, size, 1), filters=filters)
    d = progan_discriminator((size, size, 1), filters=filters)
    gan = ProGAN(g, d)
    z = rng.normal(size=(4, LATENT)).astype("float32")
    x = rng.uniform(-1, 1, size=(4, size, size, 1)).astype("float32")
    top = g.num_levels - 1
    for level in range(1, top + 1):
        # alpha = 0: exactly the previous resolution's output (upsampled).
        gan.set_progress(level - 1, 1.0)
        g_prev, d_prev = _np(g(z)), _np(d(x))
        gan.set_progress(level, 0.0)
        np.testing.assert_array_equal(_np(g(z)), g_prev)
        np.testing.assert_array_equal(_np(d(x)), d_prev)
        # alpha = 1: exactly the new block's path.
        gan.set_progress(level, 1.0)
        h, _ = g.features(z, level)
        new_rgb = resample(g.to_rgb[level](h), top - level)
        np.testing.assert_array_equal(_np(g(z)), _np(new_rgb))
        x_l = resample(x, -(top - level))
        hd = d.block(d.from_rgb_features(x_l, level), level)
        for lvl in range(level - 1, 0, -1):
            hd = d.block(hd, lvl)
        np.testing.assert_array_equal(_np(d(x)), _np(d.head(hd)))
    # Real-image fade: alpha * x_r + (1 - alpha) * up(down(x_r)) at the
    # active resolution r = 8, then nearest-upsampled to the target (NumPy).
    f = size // 8

    def pool(a, k):
        n, h, w, c = a.shape
        return a.reshape(n, h // k, k, w // k, k, c).mean(axis=(2, 4))

    x_r = pool(x, f)
    blur = pool(x_r, 2).repeat(2, axis=1).repeat(2, axis=2)
    for alpha in (0.0, 0.3, 1.0):
        gan.set_progress(1, alpha)
        ref = (alpha * x_r + (1 - alpha) * blur).repeat(f, 1).repeat(f, 2)
        np.testing.assert_allclose(_np(gan._preprocess_real(x)), ref,
                                   rtol=1e-6, atol=1e-6)
    steps = top - 1
    gan.set_progress(1, 1.0)
    np.testing.assert_array_equal(_np(gan._preprocess_real(x)),
                                  _np(resample(resample(x, -steps), steps)))
    gan.set_progress(1, 0.0)
    np.testing.assert_array_equal(
        _np(gan._preprocess_real(x)),
        _np(resample(resample(x, -steps - 1), steps + 1)))


# ---------------------------------------------------------------------- #
# One fit(): schedule, batch size, learning rate, traces, alpha on JAX;
# then the same run interrupted in the middle of the fade and resumed.
# ---------------------------------------------------------------------- #
def _grow():
    return ProgressiveGrowing(fade_images=32, stable_images=16,
                              batch_size={4: 8, 8: 4},
                              learning_rate={4: 1e-3, 8: (4e-4, 5e-4)})


def _batches():
    # Every batch holds the same images and injected noise, so neither the
    # data order nor the noise stream can differ between the straight run
    # and a resumed one.
    rng = np.random.default_rng(7)

    def tiled(shape):
        return np.tile(rng.uniform(-1, 1, size=shape).astype("float32"),
                       (8,) + (1,) * (len(shape) - 1))

    return {"images": tiled((8, 8, 8, 1)), "z": tiled((8, LATENT)),
            "z_g": tiled((8, LATENT)), "eps": tiled((8,)) * 0.5 + 0.5}


def _fit(gan, callbacks):
    return gan.fit(_batches(), batch_size=8, epochs=5, callbacks=callbacks,
                   verbose=0, shuffle=False)


@pytest.fixture(scope="module")
def straight_run():
    gan, probe, grow = _tiny_gan(), Probe(), _grow()
    history = _fit(gan, [grow, probe])
    return {
        "rows": probe.rows,
        "steps_required": grow.steps_required(),
        "history": history.history,
        "progress": gan.get_progress(),
        "net_alphas": (_read(gan.generator.alpha),
                       _read(gan.discriminator.alpha)),
        "traced_levels": list(gan.traced_levels),
        "g_weights": [_np(v.value) for v in gan.generator.weights],
    }


@pytest.mark.multibackend
def test_fit_follows_schedule_with_one_trace_per_resolution(straight_run):
    rows = straight_run["rows"]
    # 16 images at 4x4 (2 steps of 8), a 32-image fade and a 16-image
    # stable phase at 8x8 (12 steps of 4); then the callback stops fit().
    assert straight_run["steps_required"] == len(rows) == 14
    assert [r["images"] for r in rows] == [0, 8] + list(range(16, 64, 4))
    assert [r["level"] for r in rows] == [0] * 2 + [1] * 12
    expected_alpha = [1.0, 1.0] + [k / 32 for k in range(0, 32, 4)] + [1.0] * 4
    for r, a in zip(rows, expected_alpha):
        assert r["alpha"] == r["g_alpha"] == r["d_alpha"] == pytest.approx(
            a, abs=1e-7)
    assert [r["batch"] for r in rows] == [8] * 2 + [4] * 12
    np.testing.assert_allclose([r["d_lr"] for r in rows],
                               [1e-3] * 2 + [4e-4] * 12, rtol=1e-6)
    np.testing.assert_allclose([r["g_lr"] for r in rows],
                               [1e-3] * 2 + [5e-4] * 12, rtol=1e-6)
    # The fade ran to its end on every backend (JAX: pitfall 3).
    assert straight_run["progress"] == {"level": 1, "alpha": 1.0,
                                        "images_shown": 64}
    assert straight_run["net_alphas"] == (1.0, 1.0)
    # Epoch 1: 2 steps of 8 and 6 of 4 images; epoch 2 ends the schedule.
    assert straight_run["history"]["resolution"] == [8, 8]
    assert straight_run["history"]["images_shown"] == [40, 64]
    # Nine distinct alpha values, but one trace per resolution.
    if BACKEND in ("tensorflow", "jax"):
        assert straight_run["traced_levels"] == [0, 1]
    else:  # torch runs the step eagerly: one call per batch
        assert straight_run["traced_levels"] == [r["level"] for r in rows]


class StopAfter(keras.callbacks.Callback):
    def __init__(self, n):
        super().__init__()
        self.n = n
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            self.model.stop_training = True


@pytest.mark.multibackend
def test_resume_mid_fade_continues_schedule_exactly(straight_run, tmp_path):
    first, probe1, cb1 = _tiny_gan(), Probe(), _grow()
    _fit(first, [cb1, probe1, StopAfter(5)])      # 3 batches into the fade
    state = json.loads(json.dumps(cb1.get_state()))
    assert state == {"images_shown": 28, "level": 1, "alpha": 12 / 32,
                     "resolution": 8}
    path = str(tmp_path / "mid_fade.weights.h5")
    first.save_weights(path)

    # With set_state(), and (TF pass) from the model's variables alone.
    for use_state in (True, False) if BACKEND == "tensorflow" else (True,):
        resumed, probe2, cb2 = _tiny_gan(seed=99), Probe(), _grow()
        resumed.load_weights(path)
        assert resumed.level == 1
        if use_state:
            cb2.set_state(state)
        _fit(resumed, [cb2, probe2])
        assert probe1.rows + probe2.rows == straight_run["rows"]
        assert resumed.get_progress() == straight_run["progress"]
        for a, b in zip(straight_run["g_weights"], resumed.generator.weights):
            np.testing.assert_allclose(a, _np(b.value), rtol=1e-5, atol=1e-6)


def test_resume_rejects_state_of_another_schedule(rng):
    gan = _tiny_gan()
    cb = ProgressiveGrowing(fade_images=32, stable_images=8, batch_size=8)
    cb.set_state({"images_shown": 24, "level": 0, "alpha": 1.0})
    x = rng.uniform(-1, 1, size=(8, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="schedule arguments"):
        gan.fit(x, batch_size=8, epochs=1, callbacks=[cb], verbose=0)


def test_progan_rejects_non_progressive_networks():
    from keras_gan_stable.architectures.dcgan import dcgan_discriminator
    from keras_gan_stable.architectures.dcgan import dcgan_generator

    g = dcgan_generator(8, (32, 32, 1), width=4)
    d = dcgan_discriminator((32, 32, 1), width=4)
    with pytest.raises(ValueError, match="progressive networks"):
        ProGAN(g, d)
    with pytest.raises(ValueError, match="same"):
        ProGAN(progan_generator(8, (16, 16, 1), filters=2),
               progan_discriminator((8, 8, 1), filters=2))


def test_keras_file_round_trip_restores_level_and_alpha(tmp_path):
    gan = _tiny_gan(cls=ProGAN)
    gan.set_progress(1, 0.25, images_shown=123, batch_size=4)
    samples = gan.generate(4, seed=0)
    path = str(tmp_path / "progan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, ProGAN)
    assert loaded.level == loaded.generator.level == 1
    assert loaded.discriminator.level == 1
    assert loaded.get_progress() == {"level": 1, "alpha": 0.25,
                                     "images_shown": 123}
    np.testing.assert_array_equal(loaded.generate(4, seed=0), samples)
    assert loaded.drift == 0.001 and loaded.loss_fn.name == "wasserstein"
