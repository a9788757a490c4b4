"""ImageToImageGAN: one train step against plain PyTorch, the networks, the
perceptual loss, the guard and the errors for inputs the model cannot take.

The parity reference is written here from the pix2pix objective with torch's
own ops (the networks' forward passes come from `reference.torch_nets`,
which shares only the weight values with Keras): for each of the n_critic
slices, one D update on `D([up(x), y])` against `D([up(x), G(x)])`; then one
G update on `adv + lambda_rec * |G(x) - y| + lambda_p * |F(G(x)) - F(y)|^2`
on the last slice, SGD for both.
"""

import numpy as np
import pytest

import keras

from keras_gan_stable import ImageToImageGAN
from keras_gan_stable import PerceptualLoss
from keras_gan_stable import deepfill_generator
from keras_gan_stable import GatedConv2D
from keras_gan_stable import patchgan_discriminator
from keras_gan_stable import rrdb_generator
from keras_gan_stable import unet_generator

torch = pytest.importorskip("torch")
F = torch.nn.functional

from reference.torch_nets import TorchChain, to_numpy  # noqa: E402

L = keras.layers
# float32 sums over at most a few hundred terms of order 1: round-off is
# ~1e-5 relative; weights after one SGD step of lr 0.1 keep that order.
TOL = dict(rtol=1e-4, atol=1e-6)
B = 2


def tiny_nets(c_in=2, size=4, feature=True):
    x = keras.Input((size, size, c_in))
    h = L.Conv2DTranspose(4, 4, strides=2, padding="same")(x)
    h = L.LeakyReLU(0.2)(h)
    h = L.Conv2D(1, 3, padding="same")(h)
    h = L.Activation("tanh")(h)
    g = keras.Model(x, h, name="g")
    y = keras.Input((2 * size, 2 * size, c_in + 1))
    k = L.Conv2D(4, 3, strides=2, padding="same")(y)
    k = L.LeakyReLU(0.2)(k)
    k = L.Conv2D(1, 3, padding="same")(k)
    d = keras.Model(y, k, name="d")
    f = None
    if feature:
        i = keras.Input((2 * size, 2 * size, 1))
        o = L.Conv2D(3, 3, strides=2, padding="same")(i)
        o = L.ReLU()(o)
        f = keras.Model(i, o, name="features")
    return g, d, f


def _up(x, factor):                                   # NHWC nearest
    return x.repeat_interleave(factor, 1).repeat_interleave(factor, 2)


def reference_step(G, D, Fm, inputs, targets, *, loss, n_critic, rec,
                   rec_weight, p_weight, adv_weight, r1_gamma, lr=0.1):
    t = lambda a: torch.tensor(a, dtype=torch.float32)
    inputs, targets = t(inputs), t(targets)
    b = inputs.shape[0] // n_critic
    up = targets.shape[1] // inputs.shape[1]
    per_sample = lambda logits: logits.reshape(logits.shape[0], -1).mean(1)
    hist = {"d_loss": [], "d_real": [], "d_fake": [], "r1": []}
    for i in range(n_critic):
        x, y = inputs[i * b:(i + 1) * b], targets[i * b:(i + 1) * b]
        with torch.no_grad():
            fake = G(x)
        cond = _up(x, up)
        r = per_sample(D(torch.cat([cond, y], -1)))
        f = per_sample(D(torch.cat([cond, fake], -1)))
        if loss == "hinge":
            adv = (torch.relu(1 - r) + torch.relu(1 + f)).mean()
        else:  # non-saturating: -log sigmoid(r) - log(1 - sigmoid(f))
            adv = (F.softplus(-r) + F.softplus(f)).mean()
        total = adv
        hist["d_loss"].append(adv.item())
        hist["d_real"].append(r.mean().item())
        hist["d_fake"].append(f.mean().item())
        if r1_gamma:
            yy = y.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(
                D(torch.cat([cond, yy], -1)).sum(), yy, create_graph=True)
            r1 = (g.reshape(b, -1) ** 2).sum(1).mean()
            hist["r1"].append(r1.item())
            total = total + r1_gamma / 2 * r1
        grads = torch.autograd.grad(total, D.parameters())
        with torch.no_grad():
            for p, g in zip(D.parameters(), grads):
                p -= lr * g
    x = inputs[(n_critic - 1) * b:]
    y = targets[(n_critic - 1) * b:]
    fake = G(x)
    f = per_sample(D(torch.cat([_up(x, up), fake], -1)))
    adv = (-f).mean() if loss == "hinge" else F.softplus(-f).mean()
    diff = fake - y
    recon = (diff.abs() if rec == "l1" else diff ** 2).mean()
    total = adv_weight * adv + rec_weight * recon
    logs = {"reconstruction": recon.item()}
    if Fm is not None:
        perc = ((Fm(fake) - Fm(y).detach()) ** 2).mean()
        total = total + p_weight * perc
        logs["perceptual"] = perc.item()
    grads = torch.autograd.grad(total, G.parameters())
    with torch.no_grad():
        for p, g in zip(G.parameters(), grads):
            p -= lr * g
    logs.update({k: float(np.mean(v)) for k, v in hist.items() if v})
    logs["g_loss"] = total.item()
    return logs


CASES = {
    # pix2pix: hinge, L1 x 100, a perceptual term, two D updates per G.
    "hinge_l1_perceptual": dict(loss="hinge", n_critic=2, rec="l1",
                                rec_weight=100.0, p_weight=0.5,
                                adv_weight=1.0, r1_gamma=0.0, feature=True),
    # Non-saturating with R1 on the output image, L2, adversarial x 0.5.
    "ns_l2_r1": dict(loss="non_saturating", n_critic=2, rec="l2",
                     rec_weight=10.0, p_weight=0.0, adv_weight=0.5,
                     r1_gamma=1.0, feature=False),
}


# Both cases on TensorFlow; the cheaper one (XLA compiles the perceptual
# case for ~15 s on JAX) on JAX and PyTorch too.
@pytest.mark.parametrize("name", [
    "hinge_l1_perceptual",
    pytest.param("ns_l2_r1", marks=pytest.mark.multibackend)])
def test_train_step_matches_plain_pytorch(name):
    case = CASES[name]
    g, d, f = tiny_nets(feature=case["feature"])
    rng = np.random.default_rng(3)
    k = case["n_critic"]
    inputs = rng.uniform(-1, 1, (k * B, 4, 4, 2)).astype("float32")
    targets = rng.uniform(-1, 1, (k * B, 8, 8, 1)).astype("float32")
    ref_G, ref_D = TorchChain(g), TorchChain(d)
    ref_F = None if f is None else TorchChain(f)
    gan = ImageToImageGAN(g, d, reconstruction=case["rec"],
                          reconstruction_weight=case["rec_weight"],
                          perceptual=f, perceptual_weight=case["p_weight"],
                          adversarial_weight=case["adv_weight"])
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1),
                loss=case["loss"], n_critic=k,
                penalty="r1" if case["r1_gamma"] else None,
                penalty_weight=case["r1_gamma"] or None)
    logs = gan.train_on_batch(inputs, targets, return_dict=True)
    ref = reference_step(ref_G, ref_D, ref_F, inputs, targets,
                         loss=case["loss"], n_critic=k, rec=case["rec"],
                         rec_weight=case["rec_weight"],
                         p_weight=case["p_weight"],
                         adv_weight=case["adv_weight"],
                         r1_gamma=case["r1_gamma"])
    assert set(ref) <= set(logs)
    for key, expected in ref.items():
        np.testing.assert_allclose(float(logs[key]), expected, **TOL,
                                   err_msg=f"log {key}")
    for net, r in ((gan.discriminator, ref_D), (gan.generator, ref_G)):
        for v in net.trainable_variables:
            before = r.params[v.path].detach().numpy()
            np.testing.assert_allclose(to_numpy(v), before, **TOL,
                                       err_msg=f"updated weight {v.path}")
    # The perceptual network is frozen: not among the trained variables.
    if f is not None:
        assert not f.trainable_variables or not gan.perceptual.model.trainable
        assert all(id(v) not in {id(w) for w in gan.trainable_variables}
                   for v in f.weights)


def test_discriminator_sees_upsampled_input_and_output():
    # D = identity read-out of its input: the logits are the concatenation.
    g, _, _ = tiny_nets(feature=False)
    y = keras.Input((8, 8, 3))
    d = keras.Model(y, L.Activation("linear")(y))
    gan = ImageToImageGAN(g, d)
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    img = np.full((2, 8, 8, 1), 7.0, "float32")
    out = to_numpy(gan._discriminate(img, x))
    np.testing.assert_array_equal(out[..., :2],
                                  x.repeat(2, axis=1).repeat(2, axis=2))
    np.testing.assert_array_equal(out[..., 2:], img)
    y1 = keras.Input((8, 8, 1))
    d1 = keras.Model(y1, L.Activation("linear")(y1))
    uncond = ImageToImageGAN(g, d1, conditional=False)
    np.testing.assert_array_equal(to_numpy(uncond._discriminate(img, x)), img)


def test_skip_nonfinite_guard_skips_a_nan_target():
    g, d, _ = tiny_nets(feature=False)
    gan = ImageToImageGAN(g, d)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1),
                loss="hinge", skip_nonfinite=True)
    before = [to_numpy(v) for v in g.trainable_variables]
    rng = np.random.default_rng(0)
    inputs = rng.uniform(-1, 1, (2, 4, 4, 2)).astype("float32")
    targets = rng.uniform(-1, 1, (2, 8, 8, 1)).astype("float32")
    targets[0, 0, 0, 0] = np.nan
    logs = gan.train_on_batch(inputs, targets, return_dict=True)
    # D and G both see the NaN (real image / L1 term): both updates skipped.
    assert float(logs["nonfinite_skips"]) == 2.0
    for v, b in zip(g.trainable_variables, before):
        np.testing.assert_array_equal(to_numpy(v), b)


def test_perceptual_loss_equals_numpy_on_the_feature_classifier():
    from keras_gan_stable.metrics.feature_classifier import feature_classifier

    fc = feature_classifier((8, 8, 1), 3, width=4, feature_dim=6)
    loss = PerceptualLoss(fc, layers=["features"])
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    b = rng.uniform(-1, 1, (3, 8, 8, 1)).astype("float32")
    feats = keras.Model(fc.inputs, fc.get_layer("features").output)
    fa, fb = (to_numpy(feats(v, training=False)) for v in (a, b))
    expected = ((fa - fb) ** 2).mean(axis=1)
    np.testing.assert_allclose(to_numpy(loss(a, b)), expected, **TOL)
    np.testing.assert_array_equal(to_numpy(loss(a, a)), 0.0)
    with pytest.raises(ValueError, match="nope"):
        PerceptualLoss(fc, layers=["nope"])


def test_fit_translate_and_config_round_trip(tmp_path):
    g, d, _ = tiny_nets(feature=False)
    gan = ImageToImageGAN(g, d, reconstruction="l2", reconstruction_weight=3.0,
                          adversarial_weight=0.5, ema_decay=0.9)
    gan.compile(loss="least_squares")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 4, 4, 2)).astype("float32")
    y = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    hist = gan.fit(x, y, batch_size=2, epochs=1, verbose=0)
    assert "reconstruction" in hist.history
    out = gan.translate(x)
    np.testing.assert_allclose(
        out, to_numpy(gan.ema_generator(x, training=False)), rtol=1e-6)
    assert gan.translate(x[0]).shape == (8, 8, 1)
    ev = gan.evaluate(x, y, batch_size=2, return_dict=True, verbose=0)
    fake = to_numpy(gan.generator(x, training=False))
    np.testing.assert_allclose(ev["reconstruction"],
                               ((fake - y) ** 2).mean(), rtol=1e-5)
    gan.save(str(tmp_path / "i2i.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "i2i.keras"))
    assert isinstance(loaded, ImageToImageGAN)
    np.testing.assert_array_equal(loaded.translate(x), out)
    config = gan.get_config()
    clone = ImageToImageGAN.from_config(config)
    assert clone.get_config()["reconstruction_weight"] == 3.0
    assert clone.get_config()["adversarial_weight"] == 0.5
    assert clone.conditional and clone.reconstruction == "l2"


def test_bad_inputs_raise_one_clear_error_each():
    g, d, _ = tiny_nets(feature=False)
    gan = ImageToImageGAN(g, d)
    gan.compile()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 4, 4, 2)).astype("float32")
    y = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match=r"inputs have samples of shape "
                                         r"\(8, 8, 2\).*take \(4, 4, 2\)"):
        gan.fit(np.zeros((4, 8, 8, 2), "float32"), y, batch_size=2)
    with pytest.raises(ValueError, match="channels differ"):
        gan.fit(x[..., :1], y, batch_size=2)
    with pytest.raises(ValueError, match="targets have samples"):
        gan.fit(x, np.zeros((4, 8, 8, 3), "float32"), batch_size=2)
    with pytest.raises(ValueError, match="channels differ"):
        gan.translate(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="needs targets"):
        gan.fit(x, batch_size=2)
    # A discriminator built for the output alone, used conditionally.
    y1 = keras.Input((8, 8, 1))
    d1 = keras.Model(y1, L.Conv2D(1, 3)(y1))
    with pytest.raises(ValueError, match=r"discriminator takes \(8, 8, 1\)"):
        ImageToImageGAN(g, d1)
    with pytest.raises(ValueError, match="reconstruction"):
        ImageToImageGAN(g, d, reconstruction="l3")
    with pytest.raises(ValueError, match="translate"):
        gan.generate(4)


def test_gated_conv2d_equals_numpy():
    layer = GatedConv2D(3, 3, activation="elu")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 5, 5, 2)).astype("float32")
    out = to_numpy(layer(x))
    kernel, bias = (to_numpy(v) for v in layer.conv.weights)
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = np.zeros((2, 5, 5, 6))
    for i in range(5):
        for j in range(5):
            conv[:, i, j] = np.einsum("nhwc,hwco->no",
                                      xp[:, i:i + 3, j:j + 3], kernel)
    conv += bias
    feat, gate = conv[..., :3], conv[..., 3:]
    elu = np.where(feat > 0, feat, np.expm1(feat))
    # 18-term float32 sums: 1e-5 relative is ample.
    np.testing.assert_allclose(out, elu / (1 + np.exp(-gate)), rtol=1e-5,
                               atol=1e-6)
    clone = GatedConv2D.from_config(layer.get_config())
    assert clone.filters == 3 and clone.dilation_rate == 1


def test_architectures_shapes_and_errors():
    unet = unet_generator((16, 16, 4), 3, filters=8)
    assert unet.output_shape == (None, 16, 16, 3)
    patch = patchgan_discriminator((16, 16, 7), filters=8, num_layers=2,
                                   spectral_norm=True, normalization=None)
    assert patch.output_shape == (None, 4, 4, 1)
    rrdb = rrdb_generator((8, 8, 3), scale=4, filters=8, num_blocks=1,
                          growth=4)
    assert rrdb.output_shape == (None, 32, 32, 3)
    fill = deepfill_generator((16, 16, 4), filters=4)
    assert fill.output_shape == (None, 16, 16, 3)
    # DeepFill pastes the known pixels back: outside the hole, output = input.
    rng = np.random.default_rng(0)
    img = rng.uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
    mask = np.zeros((1, 16, 16, 1), "float32")
    mask[:, 4:12, 4:12] = 1.0
    out = to_numpy(fill(np.concatenate([img * (1 - mask), mask], -1)))
    np.testing.assert_allclose(out[mask[..., 0] == 0], img[mask[..., 0] == 0],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="multiples of 16"):
        unet_generator((20, 20, 3), depth=4)
    with pytest.raises(ValueError, match="scale"):
        rrdb_generator((8, 8, 3), scale=3)
    with pytest.raises(ValueError, match="num_layers"):
        patchgan_discriminator((8, 8, 3), num_layers=4)
    # The builders' networks plug into ImageToImageGAN as they are.
    gan = ImageToImageGAN(unet, patch)
    assert gan.image_shape == (16, 16, 3)


@pytest.mark.parametrize("masked", [False, True])
def test_exported_saved_model_equals_translate_in_uint8(tmp_path, masked):
    tf = pytest.importorskip("tensorflow")
    from keras_gan_stable.data.degradations import inpainting
    from keras_gan_stable.export_image import (export_translator, from_uint8,
                                               to_uint8)

    rng = np.random.default_rng(0)
    if masked:
        g = deepfill_generator((8, 8, 4), filters=2)
        d = patchgan_discriminator((8, 8, 7), filters=4, num_layers=1)
        images = rng.integers(0, 256, (3, 8, 8, 3), dtype="uint8")
        masks = np.zeros((3, 8, 8, 1), "uint8")
        masks[:, 2:6, 2:6] = 255
        x = inpainting()(from_uint8(images), masks=masks > 0)[0]
        args = (images, masks)
    else:
        g, d, _ = tiny_nets(feature=False)
        images = rng.integers(0, 256, (3, 4, 4, 2), dtype="uint8")
        x = from_uint8(images)
        args = (images,)
    gan = ImageToImageGAN(g, d)
    expected = to_uint8(gan.translate(x))
    path = export_translator(gan, str(tmp_path / "model"))
    loaded = tf.saved_model.load(path)   # keep it: it owns the variables
    served = loaded.serve(*args).numpy()
    assert served.dtype == np.uint8
    np.testing.assert_array_equal(served, expected)
    with pytest.raises(ValueError, match="exists"):
        export_translator(gan, str(tmp_path / "model"))


def test_fit_on_a_tf_data_pipeline_of_pair_makers():
    tf = pytest.importorskip("tensorflow")
    from keras_gan_stable.data.degradations import super_resolution

    g, d, _ = tiny_nets(c_in=1, feature=False)
    gan = ImageToImageGAN(g, d)
    gan.compile(keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices(images).batch(2).map(
        super_resolution(2))
    hist = gan.fit(ds, epochs=1, verbose=0)
    # lr 0: the logged L1 is that of the untouched generator on the pairs.
    low, high = super_resolution(2)(images)
    fake = to_numpy(g(low))
    np.testing.assert_allclose(hist.history["reconstruction"][0],
                               np.abs(fake - high).mean(), rtol=1e-5)
    wrong = tf.data.Dataset.from_tensor_slices(images).batch(2).map(
        super_resolution(4))
    with pytest.raises(ValueError, match=r"inputs have samples of shape "
                                         r"\(2, 2, 1\)"):
        gan.fit(wrong, epochs=1, verbose=0)


def test_apply_images_on_a_folder_equals_the_saved_model(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from PIL import Image

    from keras_gan_stable.apply_images import apply_images
    from keras_gan_stable.data.degradations import inpainting
    from keras_gan_stable.export_image import export_translator

    g = deepfill_generator((8, 8, 4), filters=2)
    d = patchgan_discriminator((8, 8, 7), filters=4, num_layers=1)
    gan = ImageToImageGAN(g, d)
    rng = np.random.default_rng(0)
    src = tmp_path / "in"
    src.mkdir()
    images = rng.integers(0, 256, (2, 8, 8, 3), dtype="uint8")
    mask = np.zeros((8, 8), "uint8")
    mask[1:5, 2:7] = 255
    for i, img in enumerate(images):
        Image.fromarray(img).save(src / f"img{i}.png")
    Image.fromarray(mask).save(src / "img0_mask.png")
    with pytest.raises(ValueError, match="no mask img1_mask.png"):
        apply_images(gan, str(src), str(tmp_path / "out"))
    Image.fromarray(mask).save(src / "img1_mask.png")
    written = apply_images(gan, str(src), str(tmp_path / "out"))
    assert [p.split("/")[-1] for p in written] == ["img0.png", "img1.png"]
    got = np.stack([np.asarray(Image.open(p)) for p in written])
    loaded = tf.saved_model.load(export_translator(gan, str(tmp_path / "sm")))
    masks = np.broadcast_to(mask[None, :, :, None], (2, 8, 8, 1)).copy()
    served = loaded.serve(images, masks).numpy()
    np.testing.assert_array_equal(got, served)
    # Known pixels are kept exactly (uint8 round trip of x / 127.5 - 1).
    np.testing.assert_array_equal(got[:, mask == 0], images[:, mask == 0])
    Image.fromarray(np.zeros((8, 6), "uint8")).save(src / "img1_mask.png")
    with pytest.raises(ValueError, match="mask is 6x8, its image 8x8"):
        apply_images(gan, str(src), str(tmp_path / "out"))
    (src / "img1_mask.png").unlink()
    drawn = apply_images(gan, str(src / "img1.png"), str(tmp_path / "one.png"),
                         masks=inpainting("box", hole_size=2, seed=0))
    assert drawn == [str(tmp_path / "one.png")]
    Image.fromarray(np.zeros((6, 8, 3), "uint8")).save(src / "small.png")
    with pytest.raises(ValueError, match="model takes 8x8"):
        apply_images(gan, str(src / "small.png"), str(tmp_path / "o.png"))
