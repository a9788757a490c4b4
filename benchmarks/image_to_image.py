"""Image-to-image tasks on CIFAR-10 against classical baselines.

On CIFAR-10 images split off before training (the last `--n-test` of the
subset, never trained on), per task, at a stated budget of CPU-seconds per
model (`time.process_time()` of this process, all its threads; run with
`--threads 1` so that the seconds compare across machines and loads):

- `sr4`: super-resolution x4 (8 -> 32, antialiased bicubic downsampling):
  bicubic upsampling vs an RRDB generator trained on L1 alone and, with
  `--gan-budget-s`, that generator fine-tuned as an `ImageToImageGAN`
  (hinge, SN-PatchGAN, L1 x 100);
- `denoise`: Gaussian noise of sigma 0.1 on [0, 1]: scikit-image's
  non-local means and total-variation denoising (each at its best setting
  on the test images, which favours the baselines) vs an L1-trained network;
- `cyclegan`: MNIST digits vs inverted digits from disjoint halves of the
  test set (unpaired): cycle L1 on held-out digits, and a logistic-regression
  domain classifier's verdict on translated images;
- `inpaint`: a 16x16 centre hole: `skimage.restoration.inpaint_biharmonic`
  vs a DeepFill-style gated-convolution generator (known pixels pasted
  back) trained on the per-image log-MSE (`--inpaint-loss`) and, with
  `--inpaint-gan-budget-s`, fine-tuned as an `ImageToImageGAN` (hinge,
  SN-PatchGAN, L2 x 100); PSNR in the hole.

PSNR (dB) and SSIM on [0, 1] images (`keras_gan_stable.psnr`/`ssim`, which
match `skimage.metrics`), FID in the library's classifier features with
`--fid`. Prints a table, writes before/after grids (8 held-out examples;
rows: input, baseline, model(s), target) to `docs/images/image_to_image_
<task>.png` and the task's entry (results and run metadata: CPU, load
average, date, command) of `benchmarks/results/image_to_image.json`. The
issue's budgets are 10-20 CPU-minutes per model (`--budget-s 600`);
`--budget-s 60` is a smoke run.

    KERAS_GAN_STABLE_DATA=/work/shared/data python benchmarks/image_to_image.py \
        --threads 1 --tasks sr4 --budget-s 600 --gan-budget-s 150 --fid
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from _machine import run_metadata, threads_from_argv  # noqa: E402

threads_from_argv()  # `--threads N` acts before TensorFlow starts
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402

import keras_gan_stable as kgs  # noqa: E402
from keras_gan_stable.data import degradations  # noqa: E402
from keras_gan_stable.data.cifar import load_cifar10_from_tar  # noqa: E402

RESULTS = os.path.join(HERE, "results")
IMAGES = os.path.join(os.path.dirname(HERE), "docs", "images")


class TimeBudget(keras.callbacks.Callback):
    """Stops `fit()` once `seconds` of CPU time of this process
    (`time.process_time()`, all its threads) have been spent after the first
    step (which includes tracing the step, timed apart). On a shared
    machine CPU-seconds, not wall seconds, are the honest budget."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.steps = 0
        self.first_step_cpu_s = None

    def on_train_begin(self, logs=None):
        self.start = time.process_time()
        self.wall_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        now = time.process_time()
        if self.steps == 1:
            self.first_step_cpu_s = round(now - self.start, 1)
            self.start = now
        elif now - self.start > self.seconds:
            self.model.stop_training = True

    def info(self):
        """Steps, CPU-seconds after the first step, the first step's
        CPU-seconds and the wall seconds of the whole `fit()`."""
        return {"steps": self.steps,
                "train_cpu_s": round(time.process_time() - self.start, 1),
                "first_step_cpu_s": self.first_step_cpu_s,
                "train_wall_s": round(time.perf_counter() - self.wall_start,
                                      1)}


def save_grid(rows, path, n=8):
    """A PNG of `n` examples per row (each row a `[N, H, W, C]` array in
    [-1, 1]; smaller images are upsampled by pixel repetition, one
    channel is shown grey), 2-pixel white gaps."""
    from PIL import Image

    size = max(r.shape[1] for r in rows)
    tiles = []
    for r in rows:
        r = np.asarray(r[:n], "float32")
        r = np.repeat(np.repeat(r, size // r.shape[1], 1), size // r.shape[2],
                      2)
        if r.shape[-1] == 1:
            r = np.repeat(r, 3, -1)
        tiles.append(r[..., :3])
    gap = 2
    h = len(rows) * (size + gap) + gap
    w = n * (size + gap) + gap
    canvas = np.ones((h, w, 3), "float32")
    for i, r in enumerate(tiles):
        for j, im in enumerate(r):
            y, x = gap + i * (size + gap), gap + j * (size + gap)
            canvas[y:y + size, x:x + size] = (im + 1) / 2
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray((canvas.clip(0, 1) * 255).round().astype("uint8")).resize(
        (w * 3, h * 3), Image.NEAREST).save(path)
    return os.path.relpath(path, os.path.dirname(HERE))


FEATURES = None   # the classifier-feature extractor when --fid is given


def scores(pred, target, hole=None):
    """PSNR/SSIM on [0, 1]; PSNR in the hole when a mask is given; the
    classifier FID against the targets with `--fid`."""
    p, t = (np.clip((x + 1) / 2, 0, 1).astype("float32")
            for x in (pred, target))
    fid = {}
    if FEATURES is not None:
        from keras_gan_stable.metrics.frechet import (
            frechet_distance_from_features)

        fid["fid"] = float(frechet_distance_from_features(
            FEATURES(p * 2 - 1), FEATURES(t * 2 - 1)))
    out = {"psnr": float(np.mean(keras.ops.convert_to_numpy(kgs.psnr(p, t, 1.0)))),
           "ssim": float(np.mean(keras.ops.convert_to_numpy(kgs.ssim(p, t, 1.0))))}
    if hole is not None:
        m = np.broadcast_to(hole, p.shape)
        mse = (((p - t) ** 2) * m).reshape(len(p), -1).sum(1) / m.reshape(
            len(p), -1).sum(1)
        out["psnr_hole"] = float(np.mean(10 * np.log10(1.0 / mse)))
    return {**out, **fid}


def log_mse(y_true, y_pred):
    """Per image `log10(MSE + 1e-4)` (a negative PSNR, capped at 40 dB in
    [-1, 1] units): the benchmark's mean per-image PSNR as a loss. Plain MSE
    weights every image by its squared error, so training spends itself on
    the hardest (textured) images, while the mean PSNR gains most on the
    smooth ones, where biharmonic interpolation is near exact."""
    err = keras.ops.mean(keras.ops.square(y_pred - y_true), axis=(1, 2, 3))
    return keras.ops.log(err + 1e-4) / np.log(10.0)


def train_l1(model, x, y, seconds, batch_size, lr, loss="mae"):
    loss = log_mse if loss == "log_mse" else loss
    model.compile(keras.optimizers.Adam(lr), loss=loss)
    budget = TimeBudget(seconds)
    model.fit(x, y, batch_size=batch_size, epochs=10_000, verbose=0,
              callbacks=[budget])
    return budget.info()


def gan_finetune(gan, x, y, x_test, seconds, batch_size):
    """Compiles an `ImageToImageGAN` with the fine-tune settings (hinge,
    Adam 2e-4 / 1e-4, beta_1 0.5), trains it on `(x, y)` for `seconds`
    of CPU and returns its translation of `x_test` and the budget."""
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                keras.optimizers.Adam(1e-4, beta_1=0.5), loss="hinge")
    budget = TimeBudget(seconds)
    gan.fit(x, y, batch_size=batch_size, epochs=10_000, verbose=0,
            callbacks=[budget])
    return gan.translate(x_test), budget


def grid_path(args, task):
    return os.path.join(args.grid_dir, f"image_to_image_{task}.png")


def run_sr4(train, test, args):
    pairs = degradations.super_resolution(4)
    lo_tr, hi_tr = pairs(train)
    lo_te, hi_te = pairs(test)
    up = degradations.resize_matrix(8, 32)
    bicubic = np.einsum("ah,nhwc,bw->nabc", up, lo_te, up).astype("float32")
    rows = {"bicubic": scores(bicubic, hi_te)}
    g = kgs.rrdb_generator((8, 8, 3), 4, filters=args.filters,
                           num_blocks=args.blocks, growth=args.filters // 2)
    info = train_l1(g, lo_tr, hi_tr, args.budget_s, args.batch_size, 1e-3)
    l1_out = g.predict(lo_te, verbose=0)
    rows["l1_rrdb"] = {**scores(l1_out, hi_te), **info}
    shown = [lo_te, bicubic, l1_out]
    if args.gan_budget_s:
        d = kgs.patchgan_discriminator((32, 32, 6), filters=args.filters,
                                       num_layers=2, normalization=None,
                                       spectral_norm=True)
        gan = kgs.ImageToImageGAN(g, d, reconstruction_weight=100.0)
        gan_out, budget = gan_finetune(gan, lo_tr, hi_tr, lo_te,
                                       args.gan_budget_s, args.batch_size)
        rows["gan_rrdb"] = {**scores(gan_out, hi_te), **budget.info(),
                            "note": "fine-tuned from l1_rrdb"}
        shown.append(gan_out)
    rows["grid"] = save_grid(shown + [hi_te], grid_path(args, "sr4"))
    rows["grid_rows"] = ("input (8x8), bicubic, L1 RRDB"
                         + (", GAN fine-tune" if args.gan_budget_s else "")
                         + ", target")
    return rows


def run_denoise(train, test, args):
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle

    pairs = degradations.denoising("gaussian", sigma=0.1, seed=0)
    noisy_tr, clean_tr = pairs(train)
    noisy_te, clean_te = pairs(test)
    rows = {"noisy": scores(noisy_te, clean_te)}
    x01 = (noisy_te + 1) / 2
    best, best_out = {}, {}
    for name, fn, settings in (
            ("nl_means", lambda im, h: denoise_nl_means(
                im, h=h, sigma=0.1, patch_size=3, patch_distance=5,
                fast_mode=True, channel_axis=-1), (0.03, 0.045, 0.06, 0.08)),
            ("tv_chambolle", lambda im, w: denoise_tv_chambolle(
                im, weight=w, channel_axis=-1), (0.04, 0.06, 0.08, 0.1))):
        for s in settings:
            out = np.stack([fn(im, s) for im in x01]) * 2 - 1
            sc = scores(out, clean_te)
            if name not in best or sc["psnr"] > best[name]["psnr"]:
                best[name] = {**sc, "setting": s}
                best_out[name] = out
    rows.update({f"skimage_{k}": v for k, v in best.items()})
    g = kgs.rrdb_generator((32, 32, 3), 1, filters=args.filters,
                           num_blocks=args.blocks, growth=args.filters // 2)
    info = train_l1(g, noisy_tr, clean_tr, args.budget_s, args.batch_size,
                    1e-3)
    out = g.predict(noisy_te, verbose=0)
    rows["l1_rrdb"] = {**scores(out, clean_te), **info}
    top = max(best, key=lambda k: best[k]["psnr"])
    rows["grid"] = save_grid([noisy_te, best_out[top], out, clean_te],
                             grid_path(args, "denoise"))
    rows["grid_rows"] = f"noisy input, scikit-image {top}, L1 RRDB, target"
    return rows


def run_inpaint(train, test, args):
    from skimage.restoration import inpaint_biharmonic

    pairs = degradations.inpainting("box", hole_size=16)
    in_tr, tg_tr = pairs(train)
    in_te, tg_te = pairs(test)
    hole = in_te[..., 3:]
    rows = {}
    bih = np.stack([inpaint_biharmonic(im[..., :3], m[..., 0],
                                       channel_axis=-1)
                    for im, m in zip(in_te, in_te[..., 3:])])
    rows["skimage_biharmonic"] = scores(bih, tg_te, hole)
    g = kgs.deepfill_generator((32, 32, 4), filters=args.inpaint_filters)
    info = train_l1(g, in_tr, tg_tr, args.budget_s, args.batch_size,
                    args.inpaint_lr, loss=args.inpaint_loss)
    out = g.predict(in_te, verbose=0)
    name = {"mae": "l1", "mse": "l2", "log_mse": "logmse"}[args.inpaint_loss]
    rows[f"{name}_deepfill"] = {**scores(out, tg_te, hole), **info}
    shown = [in_te[..., :3], bih, out]
    if args.inpaint_gan_budget_s:
        d = kgs.patchgan_discriminator((32, 32, 3), filters=args.filters,
                                       num_layers=2, normalization=None,
                                       spectral_norm=True)
        gan = kgs.ImageToImageGAN(g, d, conditional=False,
                                  reconstruction={"mae": "l1", "mse": "l2", "log_mse": "l2"}[
                                      args.inpaint_loss],
                                  reconstruction_weight=100.0)
        gan_out, budget = gan_finetune(gan, in_tr, tg_tr, in_te,
                                       args.inpaint_gan_budget_s,
                                       args.batch_size)
        rows["gan_deepfill"] = {**scores(gan_out, tg_te, hole),
                                **budget.info(),
                                "note": f"fine-tuned from {name}_deepfill"}
        shown.append(gan_out)
    rows["grid"] = save_grid(shown + [tg_te], grid_path(args, "inpaint"))
    rows["grid_rows"] = ("input with hole, biharmonic, DeepFill-style"
                         + (", GAN fine-tune" if args.inpaint_gan_budget_s
                            else "") + ", target")
    return rows


def run_cyclegan(args):
    """MNIST digits (A) vs inverted digits (B), unpaired halves of the test
    set: cycle L1 and a domain classifier's verdict on translated images."""
    from sklearn.linear_model import LogisticRegression

    from keras_gan_stable.data.idx import load_mnist_test

    x, _ = load_mnist_test()
    x = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    n = min(len(x) // 2, args.per_class * 10)
    a_all, b_all = x[:n], -x[n:2 * n]            # unpaired: different digits
    k = args.n_test
    a_tr, a_te, b_tr, b_te = a_all[:-k], a_all[-k:], b_all[:-k], b_all[-k:]
    m = min(1000, len(a_tr))
    clf = LogisticRegression(max_iter=200).fit(
        np.concatenate([a_tr[:m], b_tr[:m]]).reshape(2 * m, -1),
        np.r_[np.zeros(m), np.ones(m)])

    def nets(name):
        g = kgs.unet_generator((32, 32, 1), 1, filters=args.filters // 4,
                               depth=3, normalization="instance", dropout=0,
                               name="g_" + name)
        d = kgs.patchgan_discriminator((32, 32, 1), filters=args.filters // 4,
                                       num_layers=2, normalization="instance",
                                       name="d_" + name)
        return g, d

    (g_ab, d_a), (g_ba, d_b) = nets("ab"), nets("ba")
    gan = kgs.CycleGAN(g_ab, g_ba, d_a, d_b, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                keras.optimizers.Adam(2e-4, beta_1=0.5))
    budget = TimeBudget(args.cyclegan_budget_s)
    gan.fit(a_tr, b_tr, batch_size=8, epochs=10_000, verbose=0,
            callbacks=[budget])
    fake_b, fake_a = gan.translate(a_te), gan.translate(b_te, "ba")
    rec_a = gan.translate(fake_b, "ba")
    row = {
        "cycle_l1_a": float(np.abs(rec_a - a_te).mean()),
        "identity_baseline_l1": float(np.abs(a_te - b_te).mean()),
        "classifier_acc_real": float(clf.score(
            np.concatenate([a_te, b_te]).reshape(2 * k, -1),
            np.r_[np.zeros(k), np.ones(k)])),
        "translated_ab_classified_b": float(
            clf.predict(fake_b.reshape(k, -1)).mean()),
        "translated_ba_classified_a": float(
            1 - clf.predict(fake_a.reshape(k, -1)).mean()),
        "train_images_per_domain": len(a_tr), "held_out_per_domain": k,
        **budget.info(),
    }
    row["grid"] = save_grid([a_te, fake_b, rec_a, b_te, fake_a],
                            grid_path(args, "cyclegan"))
    row["grid_rows"] = ("digits A, A->B, back to A, inverted digits B "
                        "(other digits), B->A")
    return {"cyclegan_mnist_inverted": row}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default="sr4,denoise,inpaint")
    parser.add_argument("--budget-s", type=float, default=600.0,
                        help="CPU-seconds of L1 training per model")
    parser.add_argument("--gan-budget-s", type=float, default=0.0,
                        help="CPU-seconds of GAN fine-tuning (sr4)")
    parser.add_argument("--cyclegan-budget-s", type=float, default=300.0,
                        help="CPU-seconds of CycleGAN training")
    parser.add_argument("--inpaint-loss", default="log_mse",
                        choices=("mae", "mse", "log_mse"),
                        help="training loss of the inpainting generator")
    parser.add_argument("--inpaint-lr", type=float, default=1e-3)
    parser.add_argument("--inpaint-filters", type=int, default=16)
    parser.add_argument("--inpaint-gan-budget-s", type=float, default=0.0,
                        help="CPU-seconds of GAN fine-tuning (inpaint)")
    parser.add_argument("--threads", type=int, default=None,
                        help="TensorFlow/OpenMP threads (set before "
                        "TensorFlow starts); 1 makes CPU-seconds comparable")
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fid", action="store_true",
                        help="classifier FID (trains or loads the library's "
                        "feature classifier on the training split)")
    parser.add_argument("--fid-classifier", default="/tmp/cifar_i2i_features"
                        ".keras", help="cache of that classifier")
    parser.add_argument("--fid-epochs", type=int, default=None)
    parser.add_argument("--grid-dir", default=IMAGES,
                        help="where the before/after grids go")
    parser.add_argument("--out", default=os.path.join(
        RESULTS, "image_to_image.json"),
        help="results JSON; the tasks run here replace their entries")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    images, labels = load_cifar10_from_tar(max_per_class=args.per_class)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    images, labels = images[order], labels[order]
    train, test = images[:-args.n_test], images[-args.n_test:]
    if args.fid:
        global FEATURES
        from keras_gan_stable.metrics.extractors import ClassifierExtractor
        from keras_gan_stable.metrics.feature_classifier import (
            train_feature_classifier)

        if not os.path.exists(args.fid_classifier):
            train_feature_classifier(train, labels[:-args.n_test],
                                     epochs=args.fid_epochs,
                                     save_path=args.fid_classifier)
        FEATURES = ClassifierExtractor(args.fid_classifier)
    runners = {"sr4": run_sr4, "denoise": run_denoise, "inpaint": run_inpaint}
    out = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            out = json.load(f)
        if "runs" not in out:      # an older layout: start afresh
            out = {}
    out.setdefault("results", {})
    out.setdefault("runs", {})
    for task in args.tasks.split(","):
        meta = run_metadata()
        wall, cpu = time.perf_counter(), time.process_time()
        if task == "cyclegan":
            results = run_cyclegan(args)
        else:
            results = runners[task](train, test, args)
        meta.update(
            args=vars(args), load_average_end=os.getloadavg(),
            task_wall_s=round(time.perf_counter() - wall, 1),
            task_cpu_s=round(time.process_time() - cpu, 1))
        if task != "cyclegan":     # CycleGAN counts its MNIST images itself
            meta.update(train_images=len(train), held_out_images=len(test))
        out["results"][task] = results
        out["runs"][task] = meta
        print(f"\n{task} ({meta['task_cpu_s']:.0f} CPU-s, "
              f"{meta['task_wall_s']:.0f} s wall)")
        if task == "cyclegan":
            for key, value in results["cyclegan_mnist_inverted"].items():
                print(f"  {key:<30}{value}")
        else:
            print(f"{'method':<22}{'PSNR':>8}{'SSIM':>8}{'PSNR hole':>11}"
                  f"{'FID':>8}{'steps':>8}{'CPU-s':>8}")
            for name, r in results.items():
                if not isinstance(r, dict):
                    print(f"  {name}: {r}")
                    continue
                hole = f"{r['psnr_hole']:.2f}" if "psnr_hole" in r else "-"
                fid = f"{r['fid']:.2f}" if "fid" in r else "-"
                print(f"{name:<22}{r['psnr']:>8.2f}{r['ssim']:>8.3f}"
                      f"{hole:>11}{fid:>8}{r.get('steps', '-'):>8}"
                      f"{r.get('train_cpu_s', '-'):>8}")
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
