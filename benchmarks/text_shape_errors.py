"""Where a text run's shapes go wrong: a shape confusion matrix.

Loads a finished `captioned_shapes` text run (its newest checkpoint, its
tokenizer, DAMSM and attribute classifier, `RUN/attribute_classifier.keras`)
and draws `--n` new single-object training-split scenes (`--data-seed`).
It generates one image per caption for each of `--seeds` and reads the
first object's shape with the run's attribute classifier, as the run's final
metrics do. Prints, per seed and for the real images:
- shape accuracy and the confusion matrix (rows: caption, columns: read);
- accuracy per shape word of the caption (the synonyms of `captioned_shapes`),
  per colour for circles, and per shape and size;
- how much the noise changes the image: the mean absolute difference
  between images of the same captions from two seeds (images in [-1, 1]).

Writes the figures as JSON under `benchmarks/results/`.

    python benchmarks/text_shape_errors.py RUN --out text_shape_errors.json
"""

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._machine import run_metadata, threads_from_argv  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
WORDS = ("circle", "disc", "round shape", "square", "box", "block",
         "triangle", "wedge")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a finished captioned_shapes text run")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--data-seed", type=int, default=123)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--out", default="text_shape_errors.json")
    args = ap.parse_args()
    threads_from_argv()

    import keras
    import numpy as np

    from keras_gan_stable import text_run
    from keras_gan_stable.data.captioned_shapes import (
        COLOURS, SHAPES, SIZES, captioned_shapes)
    from keras_gan_stable.metrics.attributes import read_attributes

    gan, tokenizer, config = text_run.load_text_run(args.run)
    clf = keras.saving.load_model(
        os.path.join(args.run, "attribute_classifier.keras"))
    size = int(config["data"]["image_size"])
    real, captions, attrs = captioned_shapes(
        args.n, size, seed=args.data_seed, objects=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ids = tokenizer(captions)
    truth = attrs["shape"]
    ones = np.ones(len(captions), "int32")

    def score(images):
        read = np.asarray(read_attributes(clf, images, ones)["shape"])[:, 0]
        matrix = np.zeros((len(SHAPES), len(SHAPES) + 1), int)  # + "none"
        for t, r in zip(truth, read):
            matrix[t, r if r >= 0 else len(SHAPES)] += 1
        words = {}
        for word in WORDS:
            pick = np.array([f" {word}" in c or c.startswith(word)
                             for c in captions])
            if pick.any():
                words[word] = [int(pick.sum()),
                               float((read[pick] == truth[pick]).mean())]
        circles = {}
        for c, colour in enumerate(COLOURS):
            pick = (attrs["colour"] == c) & (truth == 0)
            if pick.any():
                circles[colour] = [int(pick.sum()),
                                   float((read[pick] == 0).mean())]
        by_size = {}
        for k, shape in enumerate(SHAPES):
            for z, name in enumerate(SIZES):
                pick = (truth == k) & (attrs["size"] == z)
                if pick.any():
                    by_size[f"{name} {shape}"] = [
                        int(pick.sum()), float((read[pick] == k).mean())]
        return {"accuracy": float((read == truth).mean()),
                "confusion": matrix.tolist(), "by_word": words,
                "circles_by_colour": circles, "by_shape_and_size": by_size}

    rows = {"real": score(np.asarray(real))}
    seeds = [int(s) for s in args.seeds.split(",")]
    images = {s: np.asarray(gan.generate(captions=ids, seed=s))
              for s in seeds}
    for s in seeds:
        rows[f"seed {s}"] = score(images[s])
    if len(seeds) > 1:
        rows["noise_effect"] = float(
            np.abs(images[seeds[0]] - images[seeds[1]]).mean())
        rows["caption_effect"] = float(  # the same seed, captions shifted
            np.abs(images[seeds[0]] - np.roll(images[seeds[0]], 1, 0)).mean())

    print(f"{args.run}: {args.n} single-object captions (data seed "
          f"{args.data_seed}); rows: caption's shape, columns: read "
          f"{list(SHAPES) + ['none']}")
    for name in ["real"] + [f"seed {s}" for s in seeds]:
        r = rows[name]
        print(f"\n{name}: shape accuracy {r['accuracy']:.3f}")
        for shape, line in zip(SHAPES, r["confusion"]):
            print(f"  {shape:9s} {line}")
        print("  by word: " + ", ".join(
            f"{w} {v[1]:.2f} ({v[0]})" for w, v in r["by_word"].items()))
        print("  circles by colour: " + ", ".join(
            f"{c} {v[1]:.2f} ({v[0]})"
            for c, v in r["circles_by_colour"].items()))
        print("  by shape and size: " + ", ".join(
            f"{c} {v[1]:.2f} ({v[0]})"
            for c, v in r["by_shape_and_size"].items()))
    if "noise_effect" in rows:
        print(f"\nmean |G(c, z) - G(c, z')|: {rows['noise_effect']:.4f}; "
              f"between neighbouring captions, one z: "
              f"{rows['caption_effect']:.4f}")
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.out), "w") as f:
        json.dump({"meta": run_metadata(), "run": args.run, "n": args.n,
                   "data_seed": args.data_seed, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
