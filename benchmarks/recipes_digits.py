"""Recipe comparison on the bundled digits: the measurement behind `recommended`.

Each named recipe trains on scikit-learn's digits (32x32 grey) for the same
number of real images shown to the discriminator, through the same code path
as `keras-gan-stable train` (`keras_gan_stable.cli.train`). Each run is then
scored with one shared feature classifier (trained once on the real digits):
the Frechet distance between 1,000 generated and the 1,797 real images in its
128-d feature space ("classifier FID": lower is better; comparable only
within this table). Also reported: the classifier's mean confidence on the
samples and the number of digit classes it predicts at least 2% of the
time (mode coverage, 10 is best).

    python benchmarks/recipes_digits.py --images 40000 --recipes dcgan,wgan-gp,sngan

Writes benchmarks/results/recipes_digits.json and prints a table.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=40000)
    p.add_argument("--recipes", default="dcgan,wgan,wgan-gp,sngan,sagan")
    p.add_argument("--seeds", default="0")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--out", default=os.path.join(
        os.path.dirname(__file__), "results", "recipes_digits.json"))
    args = p.parse_args()

    import keras

    from keras_gan_stable.cli import resolve_config, train
    from keras_gan_stable.data import load_arrays
    from keras_gan_stable.run import load_gan as load_checkpoint
    from keras_gan_stable.metrics import (frechet_distance_from_features,
                                          train_feature_classifier)

    real, labels = load_arrays("digits", labels=True)
    clf = train_feature_classifier(real, labels, epochs=8, seed=0)
    features = keras.Model(clf.inputs, clf.get_layer("features").output)
    f_real = features.predict(real, verbose=0, batch_size=256)
    rows = []
    for recipe in args.recipes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            overrides = [f"train.seed={seed}", "output.fid_samples=0",
                         "output.export=false", "output.tensorboard=false"]
            if args.width:
                overrides.append(f"model.width={args.width}")
            config = resolve_config(recipe=recipe, images=args.images,
                                    overrides=overrides)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.time()
                train(config, os.path.join(tmp, "run"), verbose=0)
                seconds = time.time() - t0
                gan, _ = load_checkpoint(os.path.join(tmp, "run"))
            fake = gan.generate(1000, seed=123)
            f_fake = features.predict(fake, verbose=0, batch_size=256)
            probs = clf.predict(fake, verbose=0, batch_size=256)
            counts = np.bincount(probs.argmax(1), minlength=10) / len(fake)
            row = {"recipe": recipe, "seed": seed, "images": args.images,
                   "classifier_fid": float(frechet_distance_from_features(
                       f_real, f_fake)),
                   "confidence": float(probs.max(1).mean()),
                   "classes_covered": int((counts >= 0.02).sum()),
                   "seconds": round(seconds, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            keras.backend.clear_session()
    print(f"\n| recipe | seed | classifier FID | confidence | classes | s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['recipe']} | {r['seed']} | {r['classifier_fid']:.2f} | "
              f"{r['confidence']:.3f} | {r['classes_covered']} | "
              f"{r['seconds']:.0f} |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"command": " ".join(sys.argv), "machine":
                   platform.processor() or platform.machine(),
                   "backend": keras.backend.backend(), "rows": rows}, f,
                  indent=1)


if __name__ == "__main__":
    main()
