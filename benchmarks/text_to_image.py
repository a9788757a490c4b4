"""StackGAN, AttnGAN and DM-GAN on `captioned_shapes`: attribute accuracy
and R-precision against real images.

Trains the attribute classifier on real 32 px scenes (every colour/shape
combination, `heldout=()`), scores real test scenes with it (the ceiling),
pretrains two DAMSMs (`--damsm-steps` each): one on the training split,
whose text encoder conditions every model and whose loss enters AttnGAN's
and DM-GAN's G objective, and one on other scenes of every combination
(another seed), used only for R-precision (100 candidates, mean over
candidate draws 0-2). Then it trains each model of `--models` for
`--budget-s` seconds on the training split (held-out combinations
excluded): StackGAN stage I (32 px; with `--stage2-budget-s`, stage II at
64 px read at 32 px by 2x2 means), AttnGAN and DM-GAN (16 px initial stage,
one refinement stage to 32 px, DAMSM weight `--damsm-weight`), and scores
images generated for the test captions: per attribute, single-object
captions and held-out combinations (`split="heldout"` captions) apart.
Prints a table and writes `benchmarks/results/text_to_image.json`. The
issue's budgets are 20-30 CPU-minutes per model; the defaults are a smoke
run of about 6 minutes:

    python benchmarks/text_to_image.py --budget-s 90 --stage2-budget-s 45
    python benchmarks/text_to_image.py --models attngan dmgan --budget-s 60
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import keras_gan_stable as kgs  # noqa: E402
from benchmarks._machine import write_results  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def down2(x):
    """64 px -> 32 px by 2 x 2 means (the classifier reads 32 px)."""
    n, s = len(x), x.shape[1] // 2
    return x.reshape(n, s, 2, s, 2, 3).mean((2, 4))


def pretrain_damsm(images, ids, vocabulary_size, steps, seed,
                   batch_size=20):
    """A small DAMSM (32-d features) trained for about `steps` steps."""
    keras.utils.set_random_seed(seed)
    damsm = kgs.DAMSM(kgs.damsm_image_encoder(32, 32, width=8),
                      kgs.BiLSTMTextEncoder(vocabulary_size, 16, 32),
                      gamma1=4.0, gamma2=5.0, gamma3=10.0)
    damsm.compile(optimizer=keras.optimizers.Adam(2e-3))
    per_epoch = -(-len(images) // batch_size)
    damsm.fit({"images": images, "captions": ids}, batch_size=batch_size,
              epochs=max(1, round(steps / per_epoch)), verbose=0)
    return damsm


def build_model(name, damsm, damsm_weight):
    """The named model at 32 px, conditioned by `damsm`'s text encoder."""
    d = kgs.stackgan_stage1_discriminator(image_size=32, embedding_dim=32,
                                          condition_dim=16, width=16)
    if name == "stackgan":
        g = kgs.stackgan_stage1_generator(noise_dim=32, embedding_dim=32,
                                          condition_dim=16, image_size=32,
                                          width=16)
        return kgs.StackGAN(g, d, latent_dim=48,
                            text_encoder=damsm.text_encoder, seed=0)
    builder = {"attngan": kgs.attngan_generator,
               "dmgan": kgs.dmgan_generator}[name]
    g = builder(noise_dim=32, text_dim=32, condition_dim=16, image_size=32,
                refinement_stages=1, width=16, residual_blocks=1)
    cls = kgs.AttnGAN if name == "attngan" else kgs.DMGAN
    return cls(g, d, latent_dim=48, damsm=damsm, damsm_weight=damsm_weight,
               seed=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["stackgan", "attngan",
                                                     "dmgan"],
                    choices=["stackgan", "attngan", "dmgan"])
    ap.add_argument("--n-classifier", type=int, default=1500)
    ap.add_argument("--classifier-epochs", type=int, default=10)
    ap.add_argument("--n-train", type=int, default=2048)
    ap.add_argument("--n-test", type=int, default=300)
    ap.add_argument("--damsm-steps", type=int, default=300)
    ap.add_argument("--damsm-weight", type=float, default=5.0)
    ap.add_argument("--budget-s", type=float, default=90)
    ap.add_argument("--stage2-budget-s", type=float, default=0)
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

    images, captions, _ = kgs.captioned_shapes(args.n_train, 32, seed=0)
    tok = kgs.CaptionTokenizer(max_length=24)
    tok.adapt(captions)
    ids = tok(captions)
    test_ids = tok(test_caps)
    t = time.perf_counter()
    damsm = pretrain_damsm(images, ids, tok.vocabulary_size,
                           args.damsm_steps, seed=0)
    x_eval, c_eval, _ = kgs.captioned_shapes(args.n_train, 32, seed=3,
                                             heldout=())
    eval_damsm = pretrain_damsm(x_eval, tok(c_eval), tok.vocabulary_size,
                                args.damsm_steps, seed=1)
    damsm_s = time.perf_counter() - t
    text_features = eval_damsm.encode_captions(test_ids)

    def r_prec(generated):
        feats = eval_damsm.encode_images(generated)
        return round(float(np.mean([
            kgs.r_precision(feats, text_features, 100, seed=s)
            for s in range(3)])), 3)

    def row(model, seconds, steps, generated):
        state = {"at": 0}

        def serve(caps):
            lo = state["at"]
            state["at"] += len(caps)
            return generated[lo:lo + len(caps)]

        scores = kgs.attribute_accuracy(serve, test_caps, test_attrs, clf,
                                        batch_size=10 ** 6)
        rows.append({
            "model": model, "train_s": round(seconds, 1), "steps": steps,
            "r_precision": r_prec(generated),
            **{f"{g}_{k}": (round(v, 3) if isinstance(v, float) else v)
               for g in ("single_object", "two_objects", "heldout")
               for k, v in scores[g].items()}})
        print(rows[-1], flush=True)

    row("real images (ceiling)", clf_s + damsm_s, 0, real)
    train = {"images": images, "captions": ids}
    for name in args.models:
        keras.utils.set_random_seed(0)
        gan = build_model(name, damsm, args.damsm_weight)
        gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                    keras.optimizers.Adam(2e-4, beta_1=0.5))
        budget = kgs.TimeBudget(minutes=args.budget_s / 60)
        t = time.perf_counter()
        gan.fit(train, batch_size=args.batch_size, epochs=10 ** 4,
                verbose=0, callbacks=[budget])
        seconds = time.perf_counter() - t
        steps = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
        label = {"stackgan": "StackGAN stage I (32 px)",
                 "attngan": "AttnGAN (16 -> 32 px)",
                 "dmgan": "DM-GAN (16 -> 32 px)"}[name]
        row(label, seconds, steps, gan.generate(captions=test_ids, seed=0))
        if name == "stackgan" and args.stage2_budget_s > 0:
            images64, captions64, _ = kgs.captioned_shapes(args.n_train, 64,
                                                           seed=0)
            g2 = kgs.stackgan_stage2_generator(gan.generator,
                                               condition_dim=16, width=16)
            d2 = kgs.stackgan_stage1_discriminator(
                image_size=64, embedding_dim=32, condition_dim=16, width=16)
            stage2 = kgs.StackGAN(g2, d2, latent_dim=64,
                                  text_encoder=damsm.text_encoder, seed=0)
            stage2.compile(keras.optimizers.Adam(2e-4, beta_1=0.5),
                           keras.optimizers.Adam(2e-4, beta_1=0.5))
            budget = kgs.TimeBudget(minutes=args.stage2_budget_s / 60)
            t = time.perf_counter()
            stage2.fit({"images": images64, "captions": tok(captions64)},
                       batch_size=args.batch_size, epochs=10 ** 4, verbose=0,
                       callbacks=[budget])
            steps = int(keras.ops.convert_to_numpy(
                stage2.g_optimizer.iterations))
            row("StackGAN stage II (64 px, read at 32)",
                time.perf_counter() - t, steps,
                down2(stage2.generate(captions=test_ids, seed=0)))

    keys = ["r_precision", "single_object_colour", "single_object_shape",
            "single_object_size", "single_object_position",
            "two_objects_colour", "heldout_colour", "heldout_shape"]
    print("| model | train s | steps | " + " | ".join(keys) + " |")
    print("|---" * (3 + len(keys)) + "|")
    for r in rows:
        print(f"| {r['model']} | {r['train_s']} | {r['steps']} | "
              + " | ".join(str(r[k]) for k in keys) + " |")
    write_results(RESULTS, args.out, args, rows)


if __name__ == "__main__":
    main()
