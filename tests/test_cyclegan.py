"""CycleGAN: the losses of one step against NumPy for per-pixel linear
networks, the updated weights against torch autograd, and the image pool
against a sequential Python reference."""

import numpy as np
import pytest

import keras

from keras_gan_stable import CycleGAN
from reference.torch_nets import to_numpy

torch = pytest.importorskip("torch")
L = keras.layers
# Sums of a few dozen float32 terms of order 1.
TOL = dict(rtol=1e-4, atol=1e-6)


def linear(c_in, c_out, size, name):
    x = keras.Input((size, size, c_in))
    return keras.Model(x, L.Conv2D(c_out, 1, name=name + "_conv")(x),
                       name=name)


def nets(size=4, c=2):
    return (linear(c, c, size, "g_ab"), linear(c, c, size, "g_ba"),
            linear(c, 1, size, "d_a"), linear(c, 1, size, "d_b"))


def _params(net):
    k, b = (to_numpy(v) for v in net.trainable_variables)
    return k[0, 0], b                            # [C_in, C_out], [C_out]


def numpy_losses(nets_, a, b, cw, iw, aw):
    (wab, bab), (wba, bba), (wda, bda), (wdb, bdb) = (_params(n)
                                                       for n in nets_)
    g_ab = lambda x: x @ wab + bab
    g_ba = lambda x: x @ wba + bba
    d_a = lambda x: (x @ wda + bda).reshape(len(x), -1).mean(1)
    d_b = lambda x: (x @ wdb + bdb).reshape(len(x), -1).mean(1)
    l1 = lambda x, y: np.abs(x - y).reshape(len(x), -1).mean(1).mean()
    fb, fa = g_ab(a), g_ba(b)
    adv = (0.5 * (d_b(fb) - 1) ** 2).mean() + (0.5 * (d_a(fa) - 1) ** 2).mean()
    cycle = l1(g_ba(fb), a) + l1(g_ab(fa), b)
    identity = l1(g_ab(b), b) + l1(g_ba(a), a)
    g_loss = aw * adv + cw * cycle + cw * iw * identity
    return {"adversarial": adv, "cycle": cycle, "identity": identity,
            "g_loss": g_loss}


def torch_step(nets_, a, b, cw, iw, aw, lr):
    """Plain torch autograd, SGD: G first, then D on the pre-update fakes."""
    ps = [[torch.tensor(p, requires_grad=True) for p in _params(n)]
          for n in nets_]
    t = lambda x: torch.tensor(x)
    a, b = t(a), t(b)
    lin = lambda p, x: x @ p[0] + p[1]
    d = lambda p, x: lin(p, x).reshape(len(x), -1).mean(1)
    l1 = lambda x, y: (x - y).abs().reshape(len(x), -1).mean(1).mean()
    gab, gba, da, db = ps
    fb, fa = lin(gab, a), lin(gba, b)
    adv = (0.5 * (d(db, fb) - 1) ** 2).mean() + (0.5 * (d(da, fa) - 1) ** 2).mean()
    loss = (aw * adv + cw * (l1(lin(gba, fb), a) + l1(lin(gab, fa), b))
            + cw * iw * (l1(lin(gab, b), b) + l1(lin(gba, a), a)))
    grads = torch.autograd.grad(loss, gab + gba)
    fa, fb = fa.detach(), fb.detach()
    ls = lambda r, f: (0.5 * ((r - 1) ** 2 + f ** 2)).mean()
    d_loss = ls(d(da, a), d(da, fa)) + ls(d(db, b), d(db, fb))
    d_grads = torch.autograd.grad(d_loss, da + db)
    with torch.no_grad():
        for p, g in zip(gab + gba + da + db, grads + d_grads):
            p -= lr * g
    return [[p.detach().numpy() for p in q] for q in ps], d_loss.item()


@pytest.mark.multibackend
def test_one_step_losses_and_updates_match_numpy_and_torch():
    rng = np.random.default_rng(0)
    nets_ = nets()
    a = rng.uniform(-1, 1, (2, 4, 4, 2)).astype("float32")
    b = rng.uniform(-1, 1, (2, 4, 4, 2)).astype("float32")
    expected = numpy_losses(nets_, a, b, 10.0, 0.5, 2.0)
    wba, bba = _params(nets_[1])                    # before the update
    new_params, d_loss = torch_step(nets_, a, b, 10.0, 0.5, 2.0, 0.01)
    gan = CycleGAN(*nets_, seed=0)   # defaults: 10, 0.5, LSGAN, pool 50
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.01))
    logs = gan.train_on_batch(a, b, return_dict=True)
    for key, value in expected.items():
        np.testing.assert_allclose(float(logs[key]), value, **TOL,
                                   err_msg=key)
    np.testing.assert_allclose(float(logs["d_loss"]), d_loss, **TOL)
    for net, (k, bias) in zip(nets_, new_params):
        got_k, got_b = _params(net)
        np.testing.assert_allclose(got_k, k, **TOL, err_msg=net.name)
        np.testing.assert_allclose(got_b, bias, **TOL, err_msg=net.name)
    # The pool took the two generated images of each domain.
    pool_a, count_a = gan.pools["a"]
    assert int(to_numpy(count_a)) == 2
    np.testing.assert_allclose(to_numpy(pool_a)[:2], b @ wba + bba, **TOL)
    np.testing.assert_array_equal(to_numpy(pool_a)[2:], 0.0)


def test_image_pool_matches_a_sequential_reference():
    nets_ = nets()
    gan = CycleGAN(*nets_, pool_size=3, seed=0)
    rng = np.random.default_rng(1)
    ref_pool, shown_ref = [], []

    def reference(images, u, slot):
        out = []
        for img, ui, si in zip(images, u, slot):
            if len(ref_pool) < 3:
                ref_pool.append(img)
                out.append(img)
            elif ui > 0.5:
                out.append(ref_pool[si])
                ref_pool[si] = img
            else:
                out.append(img)
        return np.stack(out)

    for step in range(4):
        images = rng.uniform(-1, 1, (2, 4, 4, 2)).astype("float32")
        u = rng.uniform(size=2).astype("float32")
        slot = rng.integers(0, 3, size=2)
        if step == 3:
            slot[:] = slot[0]   # both draw one slot: the later image stays
            u[:] = 0.9
        shown = to_numpy(gan._pool_query("a", images, u, slot))
        expected = reference(images, u, slot)
        if step == 3:
            # The batch is handled at once: the second image sees the slot
            # before the first one's swap (image by image it would get the
            # first image back).
            np.testing.assert_array_equal(expected[1], images[0])
            expected[1] = expected[0]
        np.testing.assert_array_equal(shown, expected)
        np.testing.assert_array_equal(to_numpy(gan.pools["a"][0]),
                                      np.stack(ref_pool + [np.zeros_like(
                                          images[0])] * (3 - len(ref_pool))))
    assert int(to_numpy(gan.pools["a"][1])) == 3


def test_fit_translate_config_and_errors(tmp_path):
    rng = np.random.default_rng(2)
    gan = CycleGAN(*nets(), pool_size=4, seed=0)
    gan.compile(skip_nonfinite=True)
    a = rng.uniform(-1, 1, (4, 4, 4, 2)).astype("float32")
    b = rng.uniform(-1, 1, (4, 4, 4, 2)).astype("float32")
    hist = gan.fit(a, b, batch_size=2, epochs=1, verbose=0)
    assert {"cycle", "identity", "adversarial", "d_loss",
            "nonfinite_skips"} <= set(hist.history)
    w, bias = _params(gan.g_ab)
    np.testing.assert_allclose(gan.translate(a), a @ w + bias, rtol=1e-5,
                               atol=1e-6)
    ev = gan.evaluate(a, b, batch_size=4, return_dict=True, verbose=0)
    wb, bb = _params(gan.g_ba)
    cyc = (np.abs((a @ w + bias) @ wb + bb - a).mean()
           + np.abs((b @ wb + bb) @ w + bias - b).mean())
    np.testing.assert_allclose(ev["cycle"], cyc, rtol=1e-5)
    gan.save(str(tmp_path / "cyclegan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "cyclegan.keras"))
    np.testing.assert_array_equal(loaded.translate(b, "ba"),
                                  gan.translate(b, "ba"))
    np.testing.assert_array_equal(  # the pool is saved with the model
        to_numpy(loaded.pools["a"][0]), to_numpy(gan.pools["a"][0]))
    clone = CycleGAN.from_config(gan.get_config())
    assert clone.pool_size == 4 and clone.cycle_weight == 10.0
    with pytest.raises(ValueError, match=r"domain B images have shape "
                                         r"\(4, 4, 3\)"):
        gan.fit(a, np.zeros((4, 4, 4, 3), "float32"), batch_size=2)
    with pytest.raises(ValueError, match="direction"):
        gan.translate(a, direction="ac")
    with pytest.raises(ValueError, match="penalties"):
        gan.compile(penalty="r1")
    g_ab3 = linear(2, 3, 4, "g3")
    with pytest.raises(ValueError, match="Domain B"):
        CycleGAN(g_ab3, *nets()[1:])
    g_ab = linear(2, 3, 4, "g_ab3")
    g_ba = linear(3, 2, 4, "g_ba3")
    with pytest.raises(ValueError, match="identity_weight=0.0"):
        CycleGAN(g_ab, g_ba, linear(2, 1, 4, "da"), linear(3, 1, 4, "db"))
    CycleGAN(g_ab, g_ba, linear(2, 1, 4, "da2"), linear(3, 1, 4, "db2"),
             identity_weight=0.0)
