"""The settings behind `recommended` on the bundled digits, per G step.

Trains one setting (networks, loss, optimizer, EMA, augmentation, class
conditioning) with a bare `GAN.fit` on scikit-learn's digits (32x32) and
scores the EMA generator every `--every` G steps with the independent digit
check of `tests/digit_check.py` (an RBF SVM on the original 8x8 digits; 1,000
samples, seed 1): classes holding >= 3% of the samples, KL of the class
histogram to uniform, mean confidence (real digits: 10, 0.0002, 0.97).
This is a private loop: the user's path is `benchmarks/main_job.py`.

    python benchmarks/digits_settings.py sngan_cond --steps 2400
    python benchmarks/digits_settings.py --list

Prints one line per evaluation; writes benchmarks/results/digits_settings_<name>.json.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

# name: (recipe networks, loss, Adam lr, beta_1, beta_2, DiffAugment policy,
#        class-conditional)
SETTINGS = {
    "dcgan": ("dcgan", "non_saturating", 2e-4, 0.5, 0.999, None, False),
    "dcgan_lr5e4": ("dcgan", "non_saturating", 5e-4, 0.5, 0.999, None, False),
    "sngan_lr1e3": ("sngan", "hinge", 1e-3, 0.5, 0.999, None, False),
    "sngan_lr5e4_aug": ("sngan", "hinge", 5e-4, 0.5, 0.999,
                        "translation,cutout", False),
    "sngan_b09": ("sngan", "hinge", 1e-3, 0.0, 0.9, None, False),
    "sngan_cond": ("sngan", "hinge", 1e-3, 0.0, 0.9, None, True),
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("name", nargs="?", choices=sorted(SETTINGS))
    p.add_argument("--steps", type=int, default=2400)
    p.add_argument("--every", type=int, default=300)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--list", action="store_true")
    args = p.parse_args()
    if args.list or not args.name:
        for name, s in SETTINGS.items():
            print(f"{name:16s} {s}")
        return
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import keras_gan_stable as kgs
    from _machine import run_metadata
    from digit_check import digit_classifier, digit_coverage
    from keras_gan_stable.recipes import build_networks, recipe_config

    recipe, loss, lr, b1, b2, aug, cond = SETTINGS[args.name]
    clf = digit_classifier()
    keras.utils.set_random_seed(0)
    x, y = kgs.load_arrays("digits", image_size=32, labels=True)
    config = recipe_config(recipe)
    config["model"]["width"] = args.width
    nc = 10 if cond else None
    g, d = build_networks(config, (32, 32, 1), num_classes=nc)
    gan = kgs.GAN(g, d, latent_dim=config["model"]["latent_dim"],
                  num_classes=nc, seed=0, ema_decay=0.999, ema_rampup=0.05)
    opt = lambda: keras.optimizers.Adam(lr, beta_1=b1, beta_2=b2)  # noqa
    gan.compile(d_optimizer=opt(), g_optimizer=opt(), loss=loss,
                augment=kgs.DiffAugment(aug, seed=0) if aug else None)
    rows = []
    t0, c0 = time.time(), time.process_time()

    class Score(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(keras.ops.convert_to_numpy(
                self.model.g_optimizer.iterations))
            if step % args.every:
                return
            n, kl, conf, _ = digit_coverage(
                self.model.generate(1000, seed=1), clf)
            rows.append({"step": step, "wall_s": time.time() - t0,
                         "cpu_s": time.process_time() - c0, "classes": n,
                         "kl": kl, "confidence": conf})
            print(f"{args.name} step {step:5d}: {n}/10 classes, KL "
                  f"{kl:.4f}, confidence {conf:.3f}", flush=True)
            if step >= args.steps:
                self.model.stop_training = True

    gan.fit(x, y if cond else None, batch_size=64, epochs=10_000, verbose=0,
            callbacks=[Score()])
    out = os.path.join(HERE, "results", f"digits_settings_{args.name}.json")
    with open(out + ".tmp", "w") as f:
        json.dump({**run_metadata(), "setting": dict(zip(
            ("recipe", "loss", "lr", "beta_1", "beta_2", "augment",
             "conditional"), SETTINGS[args.name])), "rows": rows}, f,
            indent=1)
    os.replace(out + ".tmp", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
