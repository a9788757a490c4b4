"""StackGAN on `captioned_shapes`: attribute accuracy against real images.

Trains the attribute classifier on real 32 px scenes (every colour/shape
combination, `heldout=()`), scores real test scenes with it (the ceiling),
then trains StackGAN stage I (32 px) for `--budget-s` seconds and, with
`--stage2-budget-s`, stage II (64 px, read at 32 px by 2x2 means) on the
training split (held-out combinations excluded), and scores images
generated for the test captions: per attribute, single-object captions and
held-out combinations (`split="heldout"` captions) apart.

The text encoder is an untrained `BiLSTMTextEncoder` (DAMSM pretraining is
not in the library yet), so these rows measure the pipeline, not the
method. Prints a table and writes `benchmarks/results/text_to_image.json`.
The issue's budgets are 20-30 CPU-minutes per model; the defaults are a
smoke run of about 4 minutes:

    python benchmarks/text_to_image.py --budget-s 90 --stage2-budget-s 45
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import keras_gan_stable as kgs  # noqa: E402
from benchmarks._machine import run_metadata  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def down2(x):
    """64 px -> 32 px by 2 x 2 means (the classifier reads 32 px)."""
    n, s = len(x), x.shape[1] // 2
    return x.reshape(n, s, 2, s, 2, 3).mean((2, 4))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-classifier", type=int, default=1500)
    ap.add_argument("--classifier-epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=2048)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--budget-s", type=float, default=90)
    ap.add_argument("--stage2-budget-s", type=float, default=45)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default="text_to_image.json")
    args = ap.parse_args()
    rows = []
    t = time.perf_counter()
    x, _, attrs = kgs.captioned_shapes(args.n_classifier, 32, seed=1,
                                       heldout=())
    clf = kgs.train_attribute_classifier(
        x, attrs, epochs=args.classifier_epochs, width=16)
    clf_s = time.perf_counter() - t
    xa, ca, aa = kgs.captioned_shapes(args.n_test, 32, seed=2)
    xb, cb, ab = kgs.captioned_shapes(args.n_test // 3, 32, seed=2,
                                      split="heldout")
    test_caps = ca + cb
    test_attrs = {k: np.concatenate([aa[k], ab[k]]) for k in aa}
    real = np.concatenate([xa, xb])
    state = {"at": 0}

    def serve_real(caps):
        lo = state["at"]
        state["at"] += len(caps)
        return real[lo:lo + len(caps)]

    def row(model, seconds, steps, scores):
        rows.append({
            "model": model, "train_s": round(seconds, 1), "steps": steps,
            **{f"{g}_{k}": (round(v, 3) if isinstance(v, float) else v)
               for g in ("single_object", "two_objects", "heldout")
               for k, v in scores[g].items()}})

    row("real images (ceiling)", clf_s, 0,
        kgs.attribute_accuracy(serve_real, test_caps, test_attrs, clf,
                               batch_size=10 ** 6))

    images, captions, _ = kgs.captioned_shapes(args.n_train, 32, seed=0)
    tok = kgs.CaptionTokenizer(max_length=24)
    tok.adapt(captions)
    encoder = kgs.BiLSTMTextEncoder(tok.vocabulary_size, embedding_dim=32,
                                    feature_dim=32)
    g = kgs.stackgan_stage1_generator(noise_dim=32, embedding_dim=32,
                                      condition_dim=16, image_size=32,
                                      width=16)
    d = kgs.stackgan_stage1_discriminator(image_size=32, embedding_dim=32,
                                          condition_dim=16, width=16)
    gan = kgs.StackGAN(g, d, latent_dim=48, text_encoder=encoder, seed=0)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                keras.optimizers.Adam(2e-4, beta_1=0.5))
    budget = kgs.TimeBudget(minutes=args.budget_s / 60)
    t = time.perf_counter()
    gan.fit({"images": images, "captions": tok(captions)},
            batch_size=args.batch_size, epochs=10 ** 4, verbose=0,
            callbacks=[budget])
    stage1_s = time.perf_counter() - t
    steps = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
    row("StackGAN stage I (32 px)", stage1_s, steps, kgs.attribute_accuracy(
        lambda c: gan.generate(captions=tok(c), seed=0), test_caps,
        test_attrs, clf))

    if args.stage2_budget_s > 0:
        images64, captions64, _ = kgs.captioned_shapes(args.n_train, 64,
                                                       seed=0)
        g2 = kgs.stackgan_stage2_generator(gan.generator, condition_dim=16,
                                           width=16)
        d2 = kgs.stackgan_stage1_discriminator(
            image_size=64, embedding_dim=32, condition_dim=16, width=16)
        stage2 = kgs.StackGAN(g2, d2, latent_dim=64, text_encoder=encoder,
                              seed=0)
        stage2.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                       keras.optimizers.Adam(2e-4, beta_1=0.5))
        budget = kgs.TimeBudget(minutes=args.stage2_budget_s / 60)
        t = time.perf_counter()
        stage2.fit({"images": images64, "captions": tok(captions64)},
                   batch_size=args.batch_size, epochs=10 ** 4, verbose=0,
                   callbacks=[budget])
        steps = int(keras.ops.convert_to_numpy(stage2.g_optimizer.iterations))
        row("StackGAN stage II (64 px, read at 32)",
            time.perf_counter() - t, steps, kgs.attribute_accuracy(
                lambda c: down2(stage2.generate(captions=tok(c), seed=0)),
                test_caps, test_attrs, clf))

    keys = ["single_object_colour", "single_object_shape",
            "single_object_size", "single_object_position",
            "two_objects_colour", "heldout_colour", "heldout_shape"]
    print("| model | train s | steps | " + " | ".join(keys) + " |")
    print("|---" * (3 + len(keys)) + "|")
    for r in rows:
        print(f"| {r['model']} | {r['train_s']} | {r['steps']} | "
              + " | ".join(str(r[k]) for k in keys) + " |")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.out), "w") as f:
        json.dump({"meta": run_metadata(), "args": vars(args), "rows": rows},
                  f, indent=1)


if __name__ == "__main__":
    main()
