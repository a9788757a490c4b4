"""StyleGAN2: one train step against plain PyTorch, schedules, sampling.

The parity test builds the library's networks (8x8, 8 channels, so every
piece appears once: constant, modulated 3x3 with and without upsampling,
noise, toRGB skip sum, residual D block with FIR downsampling, mbstd), sets
the same weights, injects every random draw through the dict batch (z,
mixing latents and cut-offs, noise maps, path-length latents and image
noise) and compares one `train_on_batch` with lazy R1 and path length both
due (step 0) against `reference.torch_stylegan2.reference_train_step`.
"""

import numpy as np
import pytest

import keras

from keras_gan_stable import StyleGAN2, stylegan2_discriminator
from keras_gan_stable import stylegan2_generator

torch = pytest.importorskip("torch")

from reference.torch_nets import to_numpy  # noqa: E402
from reference.torch_stylegan2 import TorchStyleGAN2  # noqa: E402
from reference.torch_stylegan2 import reference_train_step  # noqa: E402

LATENT = 8
B = 4
# float32 with reductions of at most K = 128 terms (D's dense layer; 72 in a
# 3x3x8 convolution) chained through ~12 layers and a double backward: the
# round-off is of order K * 1e-7 * depth ~ 1e-4 of the largest terms.
TOL = dict(rtol=2e-4, atol=2e-6)


def tiny_nets(res=8, num_classes=None):
    g = stylegan2_generator(res, 1, latent_dim=LATENT, w_dim=LATENT,
                            mapping_layers=2, channel_base=8 * res,
                            channel_max=8, num_classes=num_classes)
    d = stylegan2_discriminator(res, 1, channel_base=8 * res, channel_max=8,
                                num_classes=num_classes)
    return g, d


class GradientRecorder(keras.layers.Layer):
    def __init__(self, variables, **kwargs):
        super().__init__(**kwargs)
        self.paths = [v.path for v in variables]
        self.index = {id(v): i for i, v in enumerate(variables)}
        self.slots = [self.add_weight(shape=v.shape, initializer="zeros",
                                      trainable=False, name=f"grad_{i}")
                      for i, v in enumerate(variables)]
        self.built = True

    def record(self, grads, variables):
        for g, v in zip(grads, variables):
            self.slots[self.index[id(v)]].assign(g)

    def values(self):
        return {p: to_numpy(s) for p, s in zip(self.paths, self.slots)}


class RecordingStyleGAN2(StyleGAN2):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.recorder = GradientRecorder(
            self.discriminator.trainable_variables
            + self.generator.trainable_variables)

    def _apply_gradients(self, optimizer, grads, variables, **kwargs):
        self.recorder.record(grads, variables)
        return super()._apply_gradients(optimizer, grads, variables, **kwargs)


def set_weights(model, rng):
    for v in model.weights:
        shape = tuple(v.shape)
        name = v.path.split("/")[-1]
        if name == "affine_bias":
            value = 1.0 + rng.normal(0.0, 0.2, shape)
        elif name in ("bias", "strength", "w_avg"):
            value = rng.normal(0.0, 0.2, shape)
        else:  # equalised-LR weights are stored N(0, 1)
            value = rng.normal(0.0, 1.0, shape)
        if name == "kernel" and "mapping" in v.path:
            value = value * 100.0  # N(0, 1 / lr_multiplier), lr_mul = 0.01
        v.assign(value.astype("float32"))


def injected_batch(rng, g, res=8):
    num_ws = g.num_ws
    p = g.synthesis.noise_size
    pl = B // 2

    def normal(*shape):
        return rng.standard_normal(shape).astype("float32")

    return {
        "images": rng.uniform(-1, 1, (B, res, res, 1)).astype("float32"),
        "z": normal(B, LATENT), "z_mix": normal(B, LATENT),
        # one sample unmixed (cut-off num_ws), the others mixed
        "mix_cutoff": np.array([1, num_ws, 2, 3], "int32"),
        "noise": normal(B, p),
        "z_g": normal(B, LATENT), "z_mix_g": normal(B, LATENT),
        "mix_cutoff_g": np.array([num_ws, 1, 3, 2], "int32"),
        "noise_g": normal(B, p),
        "z_pl": normal(pl, LATENT), "z_mix_pl": normal(pl, LATENT),
        "mix_cutoff_pl": np.array([2, num_ws], "int32"),
        "noise_pl": normal(pl, p), "pl_y": normal(pl, res, res, 1),
    }


SETTINGS = dict(r1_gamma=3.0, r1_interval=16, pl_weight=2.0, pl_decay=0.01,
                pl_interval=4)


@pytest.mark.multibackend
def test_train_step_matches_plain_pytorch():
    rng = np.random.default_rng(3)
    g, d = tiny_nets()
    set_weights(g, rng)
    set_weights(d, rng)
    ref = TorchStyleGAN2(g, d)
    batch = injected_batch(rng, g)
    w_avg0 = to_numpy(g.mapping.w_avg)
    gan = RecordingStyleGAN2(g, d, seed=0, ema_decay=None, ema_rampup=None)
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01),
                pl_batch_shrink=2, style_mixing_prob=0.9, **SETTINGS)
    logs = gan.train_on_batch(batch, return_dict=True)
    ref_logs, ref_d, ref_g = reference_train_step(ref, batch, lr=0.01,
                                                  **SETTINGS)
    for key, expected in ref_logs.items():
        np.testing.assert_allclose(float(logs[key]), expected, **TOL,
                                   err_msg=f"log {key}")
    # Both regularisers were active and mattered.
    assert ref_logs["r1"] > 1e-3 and ref_logs["pl_penalty"] > 1e-6
    grads = gan.recorder.values()
    for path, expected in {**ref_d, **ref_g}.items():
        e = expected.numpy()
        np.testing.assert_allclose(grads[path], e, rtol=TOL["rtol"],
                                   atol=TOL["atol"] + 1e-4 * np.abs(e).max(),
                                   err_msg=f"gradient of {path}")
    # The mapping's gradient includes the path-length term through w.
    assert np.abs(ref_g[g.name + "/mapping/fc0/kernel"].numpy()).max() > 0
    params = {**ref.d_params, **ref.g_params}
    for v in d.trainable_variables + g.trainable_variables:
        np.testing.assert_allclose(to_numpy(v), params[v.path].detach().numpy(),
                                   **TOL, err_msg=f"updated weight {v.path}")
    np.testing.assert_allclose(to_numpy(g.mapping.w_avg), ref.w_avg.numpy(),
                               **TOL)
    assert not np.allclose(to_numpy(g.mapping.w_avg), w_avg0)


def _compiled(seed=0, **kwargs):
    g, d = tiny_nets()
    gan = StyleGAN2(g, d, seed=seed)
    settings = dict(r1_gamma=1.0, r1_interval=2, pl_interval=3)
    settings.update(kwargs)
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01),
                **settings)
    return gan


def test_lazy_regularisation_schedule_and_ema_rampup():
    gan = _compiled(run_eagerly=True)
    x = np.random.default_rng(0).uniform(-1, 1, (B, 8, 8, 1)).astype("float32")
    r1, pl = [], []
    for step in range(4):
        logs = gan.train_on_batch(x, return_dict=True)
        r1.append(float(logs["r1"]))
        pl.append(float(logs["pl_penalty"]))
        if step == 0:
            # EMA ramp-up: the half-life is at most 0.05 * t steps, so after
            # the first update (t = 0) the EMA copy equals the generator.
            for e, w in zip(gan.ema_generator.weights,
                            gan.generator.weights):
                np.testing.assert_allclose(to_numpy(e), to_numpy(w),
                                           rtol=1e-6, atol=1e-7)
    # R1 on D updates 0 and 2 (interval 2), path length on G updates 0, 3.
    assert [v > 0 for v in r1] == [True, False, True, False]
    assert [v > 0 for v in pl] == [True, False, False, True]
    assert float(logs["pl_mean"]) > 0
    assert int(to_numpy(gan.d_optimizer.iterations)) == 4
    # Later the EMA lags behind the generator.
    assert any(not np.allclose(to_numpy(e), to_numpy(w))
               for e, w in zip(gan.ema_generator.weights,
                               gan.generator.weights))


def test_truncation_and_reproducible_sampling():
    gan = _compiled()
    g = gan.generator
    g.mapping.w_avg.assign(np.linspace(-1, 1, LATENT).astype("float32"))
    w1 = to_numpy(gan.mapped(5, seed=3, use_ema=False))
    w0 = to_numpy(gan.mapped(5, seed=3, truncation_psi=0.0, use_ema=False))
    wh = to_numpy(gan.mapped(5, seed=3, truncation_psi=0.5, use_ema=False))
    avg = to_numpy(g.mapping.w_avg)
    np.testing.assert_allclose(w0, np.tile(avg, (5, 1)), atol=1e-6)
    np.testing.assert_allclose(wh, avg + 0.5 * (w1 - avg), rtol=1e-5,
                               atol=1e-6)
    a = gan.generate(5, seed=3, truncation_psi=0.7, use_ema=False)
    np.testing.assert_array_equal(
        a, gan.generate(5, seed=3, truncation_psi=0.7, use_ema=False))
    assert a.shape == (5, 8, 8, 1)
    assert not np.allclose(a, gan.generate(5, seed=4, truncation_psi=0.7,
                                           use_ema=False))
    # psi = 0 with the noise switched off: every sample is the same image.
    for v in g.weights:
        if v.path.endswith("strength"):
            v.assign(np.zeros(v.shape, "float32"))
    z = gan.generate(4, seed=1, truncation_psi=0.0, use_ema=False)
    np.testing.assert_allclose(z, np.repeat(z[:1], 4, 0), atol=1e-5)


def test_style_mixing_grid_cells():
    gan = _compiled()
    num_ws = gan.generator.num_ws
    rows, cols = [1, 2], [3, 4, 5]
    all_cols = gan.style_mixing_grid(rows, cols, col_styles=range(num_ws),
                                     use_ema=False)
    none = gan.style_mixing_grid(rows, cols, col_styles=[], use_ema=False)
    assert all_cols.shape == (3 * 8, 4 * 8, 1)
    cell = lambda grid, i, j: grid[i * 8:(i + 1) * 8, j * 8:(j + 1) * 8]
    np.testing.assert_array_equal(cell(all_cols, 0, 0), -1.0)
    for i in (1, 2):
        for j in (1, 2, 3):
            # All layers from the column: the column's image.
            np.testing.assert_allclose(cell(all_cols, i, j),
                                       cell(all_cols, 0, j), atol=1e-5)
            # No layer from the column: the row's image.
            np.testing.assert_allclose(cell(none, i, j), cell(none, i, 0),
                                       atol=1e-5)
    coarse = gan.style_mixing_grid(rows, cols, use_ema=False)
    assert not np.allclose(cell(coarse, 1, 1), cell(coarse, 0, 1), atol=1e-3)
    with pytest.raises(ValueError, match="col_styles"):
        gan.style_mixing_grid(rows, cols, col_styles=[num_ws])


def test_conditional_stylegan2_uses_labels():
    g, d = tiny_nets(num_classes=3)
    gan = StyleGAN2(g, d, seed=0)
    assert gan.num_classes == 3
    gan.compile(r1_interval=2, pl_interval=2, run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (B, 8, 8, 1)).astype("float32")
    y = np.array([0, 1, 2, 0], "int32")
    logs = gan.train_on_batch(x, y, return_dict=True)
    assert float(logs["r1"]) > 0 and float(logs["pl_penalty"]) > 0
    a = gan.generate(2, seed=0, labels=[0, 0], use_ema=False)
    b = gan.generate(2, seed=0, labels=[1, 1], use_ema=False)
    assert not np.allclose(a, b)
    # Projection D: the label changes the logit of the same image.
    d0 = to_numpy(d([x, np.zeros(B, "int32")]))
    d1 = to_numpy(d([x, np.ones(B, "int32")]))
    assert not np.allclose(d0, d1)


def test_compile_and_construction_errors():
    g, d = tiny_nets()
    gan = StyleGAN2(g, d)
    with pytest.raises(ValueError, match="loss"):
        gan.compile(loss="hinge")
    with pytest.raises(ValueError, match="n_critic"):
        gan.compile(n_critic=2)
    with pytest.raises(ValueError, match="r1_interval"):
        gan.compile(r1_interval=0)
    with pytest.raises(ValueError, match="style_mixing_prob"):
        gan.compile(style_mixing_prob=1.5)
    dense = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(64),
                              keras.layers.Reshape((8, 8, 1))])
    with pytest.raises(ValueError, match="stylegan2_generator"):
        StyleGAN2(dense, d, latent_dim=LATENT)
    with pytest.raises(ValueError, match="resolution"):
        stylegan2_generator(12)
    clone = StyleGAN2.from_config(gan.get_config())
    assert clone.generator.get_config() == g.get_config()
    assert len(clone.generator.weights) == len(g.weights)


def test_ada_step_and_keras_save_round_trip(tmp_path):
    from keras_gan_stable import GeometricAdaptiveAugment

    g, d = tiny_nets()
    gan = StyleGAN2(g, d, seed=0)
    gan.compile(r1_interval=2, run_eagerly=True,
                augment=GeometricAdaptiveAugment(initial_p=0.2, seed=0))
    x = np.random.default_rng(0).uniform(-1, 1, (B, 8, 8, 1)).astype("float32")
    logs = gan.train_on_batch(x, return_dict=True)
    assert float(logs["augment_p"]) == pytest.approx(0.2)
    path = str(tmp_path / "stylegan2.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, StyleGAN2) and loaded.r1_interval == 2
    assert isinstance(loaded.augment, GeometricAdaptiveAugment)
    np.testing.assert_array_equal(loaded.generate(3, seed=1),
                                  gan.generate(3, seed=1))
    np.testing.assert_array_equal(to_numpy(loaded.generator.mapping.w_avg),
                                  to_numpy(g.mapping.w_avg))


def test_fused_generator_equals_unfused_and_call_path():
    rng = np.random.default_rng(6)
    g, _ = tiny_nets(res=16)
    fused = stylegan2_generator(16, 1, latent_dim=LATENT, w_dim=LATENT,
                                mapping_layers=2, channel_base=128,
                                channel_max=8, fused_modconv=True)
    set_weights(g, rng)
    fused.set_weights(g.get_weights())
    assert g.num_ws == 6 and g.synthesis.noise_size == 16 + 2 * (64 + 256)
    z = rng.standard_normal((3, LATENT)).astype("float32")
    noise = rng.standard_normal((3, g.synthesis.noise_size)).astype("float32")
    ws = g.broadcast(g.mapping(z))
    a = to_numpy(g.synthesis(ws, noise=noise))
    # Grouped convolutions vs activation scaling: 72-term reductions per
    # layer through 5 layers, float32.
    np.testing.assert_allclose(to_numpy(fused.synthesis(ws, noise=noise)), a,
                               rtol=1e-4, atol=1e-5 * np.abs(a).max())
    np.testing.assert_allclose(to_numpy(g(z, noise=noise)), a, rtol=1e-6,
                               atol=1e-6)
    assert a.shape == (3, 16, 16, 1)


def test_w_space_interpolation_endpoints_and_midpoint():
    gan = _compiled()
    frames = gan.interpolate([1, 2, 3], steps=2, use_ema=False)
    assert frames.shape == (5, 8, 8, 1)
    ends = gan.interpolate([1, 3], steps=1, use_ema=False)
    # Frame 0 is seed 1's image, the last frame seed 3's (same noise).
    np.testing.assert_allclose(frames[0], ends[0], atol=1e-5)
    np.testing.assert_allclose(frames[-1], ends[-1], atol=1e-5)
    # Frame 1 is the image of the mean of seeds 1 and 2's w.
    g = gan.generator
    w = np.concatenate([to_numpy(gan.mapped(1, seed=s, use_ema=False))
                        for s in (1, 2)])
    noise = gan._noise(0, 1, g)
    mid = to_numpy(g.synthesis(g.broadcast(w.mean(0, keepdims=True)),
                               noise=noise))
    np.testing.assert_allclose(frames[1], mid[0], atol=1e-5)
    with pytest.raises(ValueError, match="two seeds"):
        gan.interpolate([1])
