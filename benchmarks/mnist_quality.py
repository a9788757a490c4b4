"""MNIST sample quality per CPU-minute: recipes beside a plain PyTorch DCGAN.

Each library recipe (`dcgan`, `wgan-gp`, `sngan`, `recommended`, built as
the CLI builds them for 32x32 grey images: MNIST's 10,000 test images padded
with background to 32x32) trains on one run and is scored when its training
wall-clock (scoring excluded) passes each budget, e.g. 2, 5 and 10 minutes;
a recipe whose settings equal one already trained (`recommended` is `sngan`
on images) shares that run instead of repeating it.
A plain PyTorch DCGAN (the `dcgan` recipe written in `torch.nn`: the
generator of `benchmarks/reference/torch_dcgan.py`, a BatchNorm
discriminator, non-saturating loss, Adam(2e-4, 0.5, 0.999), batch 64)
trains for the same wall-clock in the same process.

Scores (`score_images`), from 2,000 samples, in the features of one
classifier trained once on the real images
(`keras_gan_stable.metrics.train_feature_classifier`, fixed seed):

- classifier FID: Frechet distance between the real images' and the
  samples' features (lower is better; comparable only within one run of
  this script, with the same classifier);
- modes: digit classes predicted for at least 2% of the samples (10 is
  best), and the KL divergence of the predicted-class histogram from uniform
  (`keras_gan_stable.metrics.mode_coverage`).

Samples are drawn with `training=False` (BatchNorm in inference mode, its
moving statistics).

    python benchmarks/mnist_quality.py                  # budgets 2,5,10 min
    python benchmarks/mnist_quality.py --budgets 1,2 --recipes dcgan,recommended

Writes `benchmarks/results/mnist_quality.json`.
"""

import argparse
import json
import os
import sys
import time
from _machine import run_metadata  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
NUM_SAMPLES = 2000




def load_mnist32(max_images=None):
    """MNIST test images padded to `[N, 32, 32, 1]` in [-1, 1], labels."""
    import numpy as np

    from keras_gan_stable.data.idx import load_mnist_test

    images, labels = load_mnist_test()
    if max_images:
        images, labels = images[:max_images], labels[:max_images]
    images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)),
                    constant_values=-1.0)
    return images.astype("float32"), labels


class Scorer:
    """Classifier FID and mode coverage against one set of real images."""

    def __init__(self, real, labels, epochs=3, cache=None):
        """`cache`: a `.keras` path. Loaded when it exists, else the
        classifier is trained and saved there, so that several processes or
        sittings score in exactly the same features."""
        import keras

        from keras_gan_stable.metrics import train_feature_classifier

        if cache and os.path.exists(cache):
            self.clf = keras.saving.load_model(cache)
        else:
            self.clf = train_feature_classifier(real, labels, epochs=epochs,
                                                seed=0, save_path=cache)
        self.features = keras.Model(self.clf.inputs,
                                    self.clf.get_layer("features").output)
        self.f_real = self.features.predict(real, verbose=0, batch_size=500)

    def __call__(self, fake):
        import numpy as np

        from keras_gan_stable.metrics import (frechet_distance_from_features,
                                              mode_coverage)

        fake = np.asarray(fake, "float32")
        if not np.all(np.isfinite(fake)):
            return {"classifier_fid": float("inf"), "modes": 0,
                    "mode_kl": float("inf"), "finite": False}
        f_fake = self.features.predict(fake, verbose=0, batch_size=500)
        probs = self.clf.predict(fake, verbose=0, batch_size=500)
        counts = np.bincount(probs.argmax(1), minlength=10) / len(fake)
        cover = mode_coverage(probs)
        return {"classifier_fid": float(frechet_distance_from_features(
                    self.f_real, f_fake)),
                "modes": int((counts >= 0.02).sum()),
                "mode_kl": float(cover.kl), "finite": True}


def build_recipe_gan(recipe, seed=0, overrides=None):
    """The recipe's compiled GAN for 32x32x1 images, as the CLI builds it."""
    from keras_gan_stable import presets
    from keras_gan_stable.cli import build_gan

    config = presets.recipe_config(recipe)
    config["train"]["seed"] = seed
    for key, value in (overrides or {}).items():
        section, name = key.split(".", 1)
        if "." in name:  # e.g. train.d_optimizer.learning_rate
            name, sub = name.split(".", 1)
            config[section][name][sub] = value
        else:
            config[section][name] = value
    return build_gan(config, (32, 32, 1)), config


def train_keras_budgets(gan, config, images, budgets_s, scorer, seed=0,
                        chunk_steps=20):
    """Trains in chunks, scoring when the training time passes each budget."""
    import numpy as np

    t = config["train"]
    per_step = t["batch_size"] * t["n_critic"]
    rng = np.random.default_rng(seed)
    trained, rows, steps = 0.0, [], 0
    for budget in budgets_s:
        while trained < budget:
            idx = rng.integers(0, len(images), chunk_steps * per_step)
            t0 = time.perf_counter()
            hist = gan.fit(images[idx], batch_size=per_step, epochs=1,
                           shuffle=False, verbose=0)
            trained += time.perf_counter() - t0
            steps += chunk_steps
            if not all(np.isfinite(v[-1]) for v in hist.history.values()):
                break
        fake = gan.generate(NUM_SAMPLES, seed=1234)
        rows.append({"budget_s": budget, "trained_s": trained,
                     "g_steps": steps,
                     "real_images_seen": steps * per_step, **scorer(fake)})
        print(f"    {budget:5.0f} s: {rows[-1]}", flush=True)
    return rows


def train_torch_budgets(images, budgets_s, scorer, seed=0, batch=64,
                        threads=0):
    """The plain PyTorch DCGAN, scored at the same wall-clock budgets."""
    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, HERE)
    from reference.torch_dcgan import Generator

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    latent, width = 100, 32
    g = Generator(latent, 1, width)
    d = nn.Sequential(  # the DCGAN discriminator: BatchNorm, LeakyReLU(0.2)
        nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * width, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(4 * width, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * width * 16, 1))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    data = torch.from_numpy(np.transpose(images, (0, 3, 1, 2)).copy())
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    trained, rows, steps = 0.0, [], 0
    gen = torch.Generator().manual_seed(seed)
    for budget in budgets_s:
        g.train(), d.train()
        while trained < budget:
            t0 = time.perf_counter()
            for _ in range(20):
                real = data[torch.randint(0, len(data), (batch,),
                                          generator=gen)]
                fake = g(torch.randn(batch, latent))
                loss_d = (bce(d(real), ones)
                          + bce(d(fake.detach()), zeros))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                loss_g = bce(d(fake), ones)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            trained += time.perf_counter() - t0
            steps += 20
        g.eval()
        with torch.no_grad():
            fake = g(torch.randn(NUM_SAMPLES, latent,
                                 generator=torch.Generator().manual_seed(1)))
        fake = np.transpose(fake.numpy(), (0, 2, 3, 1))
        rows.append({"budget_s": budget, "trained_s": trained,
                     "g_steps": steps, "real_images_seen": steps * batch,
                     **scorer(fake)})
        print(f"    {budget:5.0f} s: {rows[-1]}", flush=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="2,5,10",
                   help="wall-clock training budgets in minutes")
    p.add_argument("--recipes", default="dcgan,wgan-gp,sngan,recommended")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--classifier-epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=os.path.join(RESULTS,
                                                 "mnist_quality.json"))
    args = p.parse_args()
    import keras

    budgets = [60.0 * float(b) for b in args.budgets.split(",") if b]
    images, labels = load_mnist32()
    t0 = time.perf_counter()
    scorer = Scorer(images, labels, epochs=args.classifier_epochs)
    print(f"feature classifier trained in {time.perf_counter() - t0:.0f} s",
          flush=True)
    real_score = scorer(images[:NUM_SAMPLES])
    print(f"  real images (first {NUM_SAMPLES}): {real_score}", flush=True)
    from keras_gan_stable import presets

    results, settings_run = [], {}
    for recipe in [r for r in args.recipes.split(",") if r]:
        # A recipe with the settings of one already trained (`recommended`
        # is `sngan` on images) would train the same run again: share it.
        config = presets.recipe_config(recipe)
        key = json.dumps([config["model"], config["train"]], sort_keys=True)
        if key in settings_run:
            same = settings_run[key]
            print(f"  {recipe}: the settings of {same}, same run", flush=True)
            rows = next(r["rows"] for r in results if r["method"] == same)
            results.append({"method": recipe, "same_run_as": same,
                            "rows": rows})
            continue
        settings_run[key] = recipe
        print(f"  {recipe}", flush=True)
        keras.utils.set_random_seed(args.seed)
        gan, config = build_recipe_gan(recipe, args.seed)
        rows = train_keras_budgets(gan, config, images, budgets, scorer,
                                   args.seed)
        results.append({"method": recipe, "rows": rows})
        keras.backend.clear_session()
    if not args.no_torch:
        print("  plain PyTorch DCGAN", flush=True)
        results.append({"method": "pytorch_dcgan",
                        "rows": train_torch_budgets(images, budgets, scorer,
                                                    args.seed)})
    header = "".join(f" {b / 60:>5g} min FID / modes" for b in budgets)
    print(f"\n{'method':16s}{header}")
    for res in results:
        cells = "".join(f" {r['classifier_fid']:9.2f} / {r['modes']:2d}     "
                        for r in res["rows"])
        print(f"{res['method']:16s}{cells}")
    print(f"{'real images':16s} {real_score['classifier_fid']:9.2f} / "
          f"{real_score['modes']:2d}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "mnist_quality",
                   "budgets_min": [b / 60 for b in budgets],
                   "samples": NUM_SAMPLES, "real_images_score": real_score,
                   **run_metadata(), "results": results}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
