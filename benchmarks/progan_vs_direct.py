"""Progressive growing against direct 32x32 training at the same CPU budget (MNIST).

Both runs use the same ProGAN networks, objective (WGAN-GP + drift 0.001,
Adam(1e-3, 0, 0.99)), batch size and data (the 10,000 MNIST test images
padded to 32x32). The progressive run grows 4 -> 8 -> 16 -> 32 with
`ProgressiveGrowing` and then stays at 32x32; the direct run trains the full
networks at 32x32 from the start. Each run stops when its process CPU time
(all threads, tracing included) reaches `--cpu-seconds`, so other jobs on a
shared machine do not shift the budget. Sample quality is measured on
`--samples` generated images against as many real ones with the library's
metrics: the Frechet distance in the feature space of a classifier trained on
the same images (`train_feature_classifier`), and the Frechet distance of
8x8 average-pooled pixels (a feature-free check).

    python benchmarks/progan_vs_direct.py [--cpu-seconds 120] [--filters 32]

Prints a table and writes benchmarks/results/progan_vs_direct.json (and a
sample grid per run next to it). Never gates CI.
"""

import argparse
import json
import os
import time

from _machine import cpu_model

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_gan_stable as kgs  # noqa: E402
from keras_gan_stable.data.idx import load_mnist_test  # noqa: E402
from keras_gan_stable.data.paths import data_root  # noqa: E402
from keras_gan_stable.metrics import ClassifierExtractor  # noqa: E402
from keras_gan_stable.metrics import frechet_distance_from_features  # noqa: E402
from keras_gan_stable.metrics import train_feature_classifier  # noqa: E402
from keras_gan_stable.utils.images import save_image_grid  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


class CPUBudget(keras.callbacks.Callback):
    """Stops fit() once the process has used `seconds` of CPU time."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.steps = 0

    def on_train_begin(self, logs=None):
        self.cpu0 = time.process_time()
        self.wall0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if time.process_time() - self.cpu0 >= self.seconds:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.cpu = time.process_time() - self.cpu0
        self.wall = time.perf_counter() - self.wall0



def pooled_pixels(images):
    n, h, w, c = images.shape
    return images.reshape(n, 8, h // 8, 8, w // 8, c).mean(axis=(2, 4)).reshape(
        n, -1)


def train(images, args, progressive):
    keras.utils.set_random_seed(args.seed)
    g = kgs.progan_generator(args.latent_dim, (32, 32, 1),
                             filters=args.filters)
    d = kgs.progan_discriminator((32, 32, 1), filters=args.filters)
    gan = kgs.ProGAN(g, d, seed=args.seed)
    gan.compile()
    budget = CPUBudget(args.cpu_seconds)
    callbacks = [budget]
    grow = None
    if progressive:
        # 4..16 follow the schedule; 32x32 then trains until the budget ends.
        stable = {r: args.stable_images for r in (4, 8, 16)}
        stable[32] = 10 ** 9
        grow = kgs.ProgressiveGrowing(
            fade_images=args.fade_images, stable_images=stable,
            batch_size=args.batch_size)
        callbacks = [grow, budget]
    n = len(images) - len(images) % args.batch_size
    gan.fit(images[:n], batch_size=args.batch_size, epochs=10 ** 6,
            callbacks=callbacks, verbose=0)
    shown = grow.get_state()["images_shown"] if grow else budget.steps * \
        args.batch_size
    row = {
        "method": "progressive" if progressive else "direct",
        "cpu_s": round(budget.cpu, 1),
        "wall_s": round(budget.wall, 1),
        "steps": budget.steps,
        "images_shown": int(shown),
        "final_resolution": 4 * 2 ** gan.level,
        "final_alpha": gan.get_progress()["alpha"],
    }
    if grow is not None:
        # Images shown at the full resolution after its fade-in.
        row["images_at_32_stable"] = int(max(
            0, shown - grow.schedule.resolution_start(g.num_levels - 1)
            - args.fade_images))
    return gan, row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cpu-seconds", type=float, default=120.0)
    p.add_argument("--fade-images", type=int, default=3000)
    p.add_argument("--stable-images", type=int, default=3000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--classifier-epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default="progan_vs_direct.json",
                   help="file name under benchmarks/results/")
    args = p.parse_args(argv)

    images, labels = load_mnist_test(os.path.join(data_root(), "mnist"))
    images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)),
                    constant_values=-1.0)                 # [N, 32, 32, 1]
    rows, grids = [], {}
    for progressive in (True, False):
        gan, row = train(images, args, progressive)
        fake = gan.generate(args.samples, seed=args.seed + 1)
        grids[row["method"]] = fake[:64]
        rows.append((row, fake))
        print(f"{row['method']}: {row}", flush=True)

    t0 = time.process_time()
    clf = train_feature_classifier(images, labels, epochs=args.classifier_epochs,
                                   width=16, seed=args.seed)
    extractor = ClassifierExtractor(clf)
    clf_cpu = time.process_time() - t0
    real = images[np.random.default_rng(args.seed).permutation(len(images))[
        :args.samples]]
    real_feat = extractor(real)
    real_pix = pooled_pixels(real)
    results = []
    for row, fake in rows:
        row["fd_classifier"] = round(
            frechet_distance_from_features(extractor(fake), real_feat), 3)
        row["fd_pixels_8x8"] = round(
            frechet_distance_from_features(pooled_pixels(fake), real_pix), 3)
        results.append(row)
    prog, direct = results
    ratios = {
        "fd_classifier_progressive_over_direct": round(
            prog["fd_classifier"] / direct["fd_classifier"], 3),
        "fd_pixels_progressive_over_direct": round(
            prog["fd_pixels_8x8"] / direct["fd_pixels_8x8"], 3),
        "images_shown_progressive_over_direct": round(
            prog["images_shown"] / max(direct["images_shown"], 1), 3),
    }

    head = ("method", "cpu_s", "wall_s", "steps", "images_shown",
            "final_resolution", "fd_classifier", "fd_pixels_8x8")
    print("\n| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for r in results:
        print("| " + " | ".join(str(r[k]) for k in head) + " |")
    print("\nratios (progressive / direct):", ratios)

    os.makedirs(RESULTS, exist_ok=True)
    for method, grid in grids.items():
        stem = os.path.splitext(args.output)[0]
        save_image_grid(grid, os.path.join(RESULTS, f"{stem}_{method}.png"))
    out = {
        "benchmark": "progan_vs_direct",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "backend": keras.backend.backend()},
        "args": vars(args),
        "classifier_cpu_s": round(clf_cpu, 1),
        "results": results,
        "ratios": ratios,
    }
    path = os.path.join(RESULTS, args.output)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
