"""StyleGAN2 sample quality per CPU-minute on MNIST, with truncation.

Trains a small StyleGAN2 (32x32x1, MNIST's 10,000 test images padded to
32x32; mapping 4 x 64, channels 64 down to 32; lazy R1 gamma, path length,
style mixing 0.9, EMA with ramp-up, Adam(0.0025, 0, 0.99)) and scores it
when its training wall-clock passes each budget, with the scorer of
`benchmarks/mnist_quality.py` (classifier FID and modes, from 2,000
samples, in the features of one classifier trained on the real images).
At the last budget it also scores truncation psi 1.0, 0.7 and 0.5 with
precision and recall (k = 3 nearest neighbours in the same features):
truncation should raise precision and lower recall.

`--recipes dcgan,sngan,recommended` trains those recipes on the same
budgets for comparison (as `mnist_quality.py` builds them). `--ada`
adds `GeometricAdaptiveAugment` (target 0.6).

    python benchmarks/stylegan2_quality.py --budgets 1            # a smoke run
    python benchmarks/stylegan2_quality.py --budgets 10,20 \
        --recipes dcgan,sngan,recommended

Writes `benchmarks/results/stylegan2_quality.json`.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import run_metadata  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")


def build_stylegan2(args):
    import keras

    from keras_gan_stable import GeometricAdaptiveAugment, StyleGAN2
    from keras_gan_stable import stylegan2_discriminator, stylegan2_generator

    g = stylegan2_generator(32, 1, latent_dim=args.latent, w_dim=args.latent,
                            mapping_layers=4, channel_base=1024,
                            channel_max=64)
    d = stylegan2_discriminator(32, 1, channel_base=1024, channel_max=64)
    gan = StyleGAN2(g, d, seed=args.seed, ema_decay=args.ema_decay,
                    ema_rampup=0.05)
    augment = None
    if args.ada:
        augment = GeometricAdaptiveAugment(adjustment_images=20_000,
                                           seed=args.seed)

    def adam():
        return keras.optimizers.Adam(args.lr, beta_1=0.0, beta_2=0.99,
                                     epsilon=1e-8)

    gan.compile(adam(), adam(), r1_gamma=args.r1_gamma, augment=augment)
    return gan, {"train": {"batch_size": args.batch, "n_critic": 1}}


def truncation_rows(gan, scorer, num_samples):
    import numpy as np

    from keras_gan_stable.metrics.precision_recall import precision_recall

    rows = []
    for psi in (1.0, 0.7, 0.5):
        fake = gan.generate(num_samples, seed=1234, truncation_psi=psi)
        score = scorer(fake)
        f_fake = scorer.features.predict(np.asarray(fake, "float32"),
                                         verbose=0, batch_size=500)
        pr = precision_recall(scorer.f_real[:num_samples], f_fake, k=3)
        rows.append({"truncation_psi": psi, **score,
                     "precision": float(pr[0]), "recall": float(pr[1])})
        print(f"    psi {psi}: {rows[-1]}", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="2,5",
                   help="wall-clock training budgets in minutes")
    p.add_argument("--recipes", default="",
                   help="library recipes to train alongside, e.g. dcgan,sngan")
    p.add_argument("--ada", action="store_true")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--latent", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1-gamma", type=float, default=1.0)
    p.add_argument("--ema-decay", type=float, default=0.995)
    p.add_argument("--classifier-epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(RESULTS,
                                                 "stylegan2_quality.json"))
    args = p.parse_args()
    import keras

    import mnist_quality as mq

    budgets = [60.0 * float(b) for b in args.budgets.split(",") if b]
    images, labels = mq.load_mnist32()
    t0 = time.perf_counter()
    scorer = mq.Scorer(images, labels, epochs=args.classifier_epochs)
    print(f"feature classifier trained in {time.perf_counter() - t0:.0f} s",
          flush=True)
    results = []
    keras.utils.set_random_seed(args.seed)
    name = "stylegan2-ada" if args.ada else "stylegan2"
    print(f"  {name}", flush=True)
    gan, config = build_stylegan2(args)
    rows = mq.train_keras_budgets(gan, config, images, budgets, scorer,
                                  args.seed)
    trunc = truncation_rows(gan, scorer, mq.NUM_SAMPLES)
    results.append({"method": name, "rows": rows, "truncation": trunc})
    for recipe in [r for r in args.recipes.split(",") if r]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(args.seed)
        print(f"  {recipe}", flush=True)
        rgan, rconfig = mq.build_recipe_gan(recipe, args.seed)
        results.append({"method": recipe, "rows": mq.train_keras_budgets(
            rgan, rconfig, images, budgets, scorer, args.seed)})
    header = "".join(f" {b / 60:>5g} min FID / modes" for b in budgets)
    print(f"\n{'method':16s}{header}")
    for res in results:
        cells = "".join(f" {r['classifier_fid']:9.2f} / {r['modes']:2d}     "
                        for r in res["rows"])
        print(f"{res['method']:16s}{cells}")
    print(f"\n{'psi':>5s} {'FID':>9s} {'precision':>10s} {'recall':>8s}")
    for r in trunc:
        print(f"{r['truncation_psi']:5.1f} {r['classifier_fid']:9.2f} "
              f"{r['precision']:10.3f} {r['recall']:8.3f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "stylegan2_quality",
                   "budgets_min": [b / 60 for b in budgets],
                   "samples": mq.NUM_SAMPLES, "settings": vars(args),
                   **run_metadata(), "results": results}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
