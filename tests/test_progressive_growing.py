"""Progressive growing: schedule, exact fades, traces, resume, backends."""

import json

import keras
import numpy as np
import pytest
from keras import ops

from keras_gan_stable.architectures.progan import progan_discriminator
from keras_gan_stable.architectures.progan import progan_generator
from keras_gan_stable.callbacks.progressive_growing import ProgressiveGrowing
from keras_gan_stable.callbacks.progressive_growing import ProgressiveSchedule
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
    assert cb.steps_required(n_critic=1) == 2 + 5
    assert cb.steps_required(n_critic=2) == 1 + 3
    with pytest.raises(ValueError, match="no entry for resolution"):
        ProgressiveGrowing(batch_size={4: 8}).build_schedule(num_levels=2)


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
    keras.utils.set_random_seed(0)
    g = progan_generator(LATENT, (16, 16, 1), filters=[6, 5, 4])
    d = progan_discriminator((16, 16, 1), filters=[6, 5, 4])
    gan = ProGAN(g, d)
    z = rng.normal(size=(4, LATENT)).astype("float32")
    x = rng.uniform(-1, 1, size=(4, 16, 16, 1)).astype("float32")
    top = g.num_levels - 1
    for level in (1, 2):
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
    # active resolution r = 8, then nearest-upsampled to 16 (NumPy reference).
    x_r = x.reshape(4, 8, 2, 8, 2, 1).mean(axis=(2, 4))
    blur = x_r.reshape(4, 4, 2, 4, 2, 1).mean(axis=(2, 4))
    blur = blur.repeat(2, axis=1).repeat(2, axis=2)
    for alpha in (0.0, 0.3, 1.0):
        gan.set_progress(1, alpha)
        ref = (alpha * x_r + (1 - alpha) * blur).repeat(2, 1).repeat(2, 2)
        np.testing.assert_allclose(_np(gan._preprocess_real(x)), ref,
                                   rtol=1e-6, atol=1e-6)
    gan.set_progress(1, 1.0)
    np.testing.assert_array_equal(_np(gan._preprocess_real(x)),
                                  _np(resample(resample(x, -1), 1)))
    gan.set_progress(1, 0.0)
    np.testing.assert_array_equal(_np(gan._preprocess_real(x)),
                                  _np(resample(resample(x, -2), 2)))


# ---------------------------------------------------------------------- #
# One fit(): schedule, batch size, learning rate, traces, alpha on JAX
# ---------------------------------------------------------------------- #
@pytest.mark.multibackend
def test_fit_follows_schedule_with_one_trace_per_resolution(rng):
    gan = _tiny_gan(resolution=8)
    x = rng.uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    probe = Probe()
    grow = ProgressiveGrowing(fade_images=32, stable_images=16,
                              batch_size={4: 8, 8: 4},
                              learning_rate={4: 1e-3, 8: (4e-4, 5e-4)})
    history = gan.fit(x, batch_size=8, epochs=5, callbacks=[grow, probe],
                      verbose=0, shuffle=False)
    rows = probe.rows
    # 16 images at 4x4 (2 steps of 8), a 32-image fade and a 16-image
    # stable phase at 8x8 (12 steps of 4); then the callback stops fit().
    assert grow.steps_required() == len(rows) == 14
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
    assert gan.get_progress() == {"level": 1, "alpha": 1.0,
                                  "images_shown": 64}
    assert _read(gan.generator.alpha) == _read(gan.discriminator.alpha) == 1.0
    assert history.history["resolution"] == [8, 8]
    assert history.history["images_shown"] == [40, 64]
    # Nine distinct alpha values, but one trace per resolution.
    if BACKEND in ("tensorflow", "jax"):
        assert gan.traced_levels == [0, 1]
    else:  # torch runs the step eagerly: one call per batch
        assert gan.traced_levels == [r["level"] for r in rows]


# ---------------------------------------------------------------------- #
# Resume in the middle of a fade
# ---------------------------------------------------------------------- #
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
def test_resume_mid_fade_continues_schedule_exactly(rng, tmp_path):
    # Every batch holds the same images and injected noise, so neither the
    # data order nor the noise stream can differ between the straight run
    # and the resumed one.
    def tiled(shape):
        return np.tile(rng.uniform(-1, 1, size=shape).astype("float32"),
                       (4,) + (1,) * (len(shape) - 1))

    x = {"images": tiled((8, 8, 8, 1)), "z": tiled((8, LATENT)),
         "z_g": tiled((8, LATENT)), "eps": tiled((8,)) * 0.5 + 0.5}

    def grow():
        return ProgressiveGrowing(fade_images=32, stable_images=8,
                                  batch_size=8)

    def fit(gan, callbacks):
        gan.fit(x, batch_size=8, epochs=4, callbacks=callbacks, verbose=0,
                shuffle=False)

    straight, probe = _tiny_gan(), Probe()
    fit(straight, [grow(), probe])
    assert len(probe.rows) == 6

    first, probe1, cb1 = _tiny_gan(), Probe(), grow()
    fit(first, [cb1, probe1, StopAfter(3)])       # stops 2 batches into fade
    state = json.loads(json.dumps(cb1.get_state()))
    assert state == {"images_shown": 24, "level": 1, "alpha": 0.5,
                     "resolution": 8}
    path = str(tmp_path / "mid_fade.weights.h5")
    first.save_weights(path)

    for use_state in (True, False):
        resumed, probe2, cb2 = _tiny_gan(seed=99), Probe(), grow()
        resumed.load_weights(path)
        if use_state:
            cb2.set_state(state)
        # else: the model's variables alone carry the schedule.
        assert resumed.level == 1
        fit(resumed, [cb2, probe2])
        assert probe1.rows + probe2.rows == probe.rows
        assert resumed.get_progress() == straight.get_progress()
        for a, b in zip(straight.generator.weights, resumed.generator.weights):
            np.testing.assert_allclose(_np(a.value), _np(b.value), rtol=1e-5,
                                       atol=1e-6)


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
