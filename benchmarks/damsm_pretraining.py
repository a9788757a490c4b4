"""DAMSM pretraining on `captioned_shapes`: R-precision before and after.

For each data seed: draws `--n` training-split scenes (32 px), adapts a
`CaptionTokenizer`, trains a small `DAMSM` (`damsm_image_encoder` width 8,
`BiLSTMTextEncoder` 16/32, gamma1 = 4, gamma2 = 5, gamma3 = 10, Adam 2e-3,
batch 20) for `--steps` steps, and reports R-precision (100 candidates,
chance 0.01; mean over candidate draws 0-2) of the global image feature
against the sentence feature on the training scenes (held-in) and on
`--n` other training-split scenes (new scenes: the same attribute space,
unseen pictures and captions), before and after training. Prints a table
and writes `benchmarks/results/damsm_pretraining.json`:

    python benchmarks/damsm_pretraining.py --steps 60
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402

import keras_gan_stable as kgs  # noqa: E402
from benchmarks._machine import print_rows, write_results  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def r_prec(damsm, images, ids):
    """R-precision over 100 candidates (all the scenes when `--n` < 100)."""
    img, txt = damsm.encode_images(images), damsm.encode_captions(ids)
    k = min(100, len(images))
    return round(float(np.mean([kgs.r_precision(img, txt, k, seed=s)
                                for s in range(3)])), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", default="damsm_pretraining.json")
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        keras.utils.set_random_seed(seed)
        images, captions, _ = kgs.captioned_shapes(args.n, 32, seed=seed)
        tok = kgs.CaptionTokenizer(max_length=20)
        tok.adapt(captions)
        ids = tok(captions)
        new_images, new_captions, _ = kgs.captioned_shapes(
            args.n, 32, seed=seed + 100)
        with warnings.catch_warnings():  # a rare over-long new caption
            warnings.simplefilter("ignore")
            new_ids = tok(new_captions)
        damsm = kgs.DAMSM(
            kgs.damsm_image_encoder(32, 32, width=8),
            kgs.BiLSTMTextEncoder(tok.vocabulary_size, 16, 32),
            gamma1=4.0, gamma2=5.0, gamma3=10.0)
        damsm.compile(optimizer=keras.optimizers.Adam(2e-3))
        data = {"images": images, "captions": ids}
        loss0 = damsm.evaluate(data, batch_size=args.batch_size, verbose=0)
        before = r_prec(damsm, images, ids)
        steps_per_epoch = -(-args.n // args.batch_size)
        start = time.perf_counter()
        hist = damsm.fit(data, batch_size=args.batch_size,
                         epochs=max(1, args.steps // steps_per_epoch),
                         verbose=0)
        train_s = round(time.perf_counter() - start, 1)
        rows.append({
            "seed": seed, "steps": len(hist.history["loss"]) * steps_per_epoch,
            "train_s": train_s, "loss_before": round(float(loss0), 3),
            "loss_after": round(float(hist.history["loss"][-1]), 3),
            "r_precision_untrained": before,
            "r_precision_held_in": r_prec(damsm, images, ids),
            "r_precision_new_scenes": r_prec(damsm, new_images, new_ids)})
    print_rows(rows)
    write_results(RESULTS, args.out, args, rows)


if __name__ == "__main__":
    main()
