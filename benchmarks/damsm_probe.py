"""What a text run's pretrained DAMSM tells its GAN: attribute probes.

The GAN of a text run sees a caption only through the frozen DAMSM's text
encoder (the discriminator through its sentence feature), so a caption
attribute that the sentence feature does not encode cannot be learned. This
benchmark pretrains the DAMSM exactly as `keras-gan-stable train --recipe
attngan` does (`text_run.build_damsm` and `text_run.pretrain_damsm` on the
recipe's `captioned_shapes` training images, its tokenizer and settings)
and, after `--steps` steps, fits a logistic-regression probe (scikit-learn)
per attribute on the sentence features of 2,000 single-object captions and
scores it on 1,000 others (new scenes): colour (chance 1/6), shape (1/3),
size (1/2) and position (1/5). `img_shape` probes the DAMSM's global image
feature for the shape. One row per (pooling, steps). Prints a table and
writes `benchmarks/results/damsm_probe.json`:

    python benchmarks/damsm_probe.py --steps 300 1000 2000 4000 8000 \
        --pooling average flatten
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from benchmarks._machine import print_rows, write_results  # noqa: E402
from keras_gan_stable import text_run  # noqa: E402
from keras_gan_stable.data.captioned_shapes import captioned_shapes  # noqa: E402
from keras_gan_stable.run import RunConfig  # noqa: E402
from keras_gan_stable.text.caption_tokenizer import CaptionTokenizer  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
ATTRS = ("colour", "shape", "size", "position")


def probe(features, labels, n_fit=2000):
    clf = LogisticRegression(max_iter=3000)
    clf.fit(features[:n_fit], labels[:n_fit])
    return round(float(clf.score(features[n_fit:], labels[n_fit:])), 3)


class Probe(keras.callbacks.Callback):
    def __init__(self, at, ids, images, attrs, row):
        super().__init__()
        self.at, self.ids, self.images, self.attrs = set(at), ids, images, attrs
        self.row, self.rows = row, []
        self.start = time.process_time()

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if step not in self.at:
            return
        cpu = time.process_time() - self.start
        _, sentence = self.model.text_encoder(self.ids, training=False)
        _, global_ = self.model.image_encoder(self.images, training=False)
        sentence = keras.ops.convert_to_numpy(sentence)
        global_ = keras.ops.convert_to_numpy(global_)
        row = {**self.row, "steps": step, "cpu_s": round(cpu, 1),
               "loss": round(float(logs["loss"]), 3)}
        row.update({k: probe(sentence, self.attrs[k]) for k in ATTRS})
        row["img_shape"] = probe(global_, self.attrs["shape"])
        print(row, flush=True)
        self.rows.append(row)
        self.start = time.process_time() - cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="attngan")
    ap.add_argument("--steps", type=int, nargs="+",
                    default=[300, 1000, 2000, 4000, 8000])
    ap.add_argument("--pooling", nargs="+", default=["average", "flatten"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="damsm_probe.json")
    args = ap.parse_args()
    rows = []
    for pooling in args.pooling:
        config = RunConfig.from_recipe(
            args.recipe, overrides=[f"text.damsm_pooling={pooling}",
                                    f"train.seed={args.seed}"]).to_dict()
        images, captions, _ = text_run.load_captioned(config)
        tok = CaptionTokenizer(max_length=config["text"]["max_length"])
        tok.adapt([c for group in captions for c in group])
        ids, counts = text_run.tokenize_all(tok, captions)
        # Probe scenes: single-object, from a seed the run never draws.
        x, caps, attrs = captioned_shapes(6000, images.shape[1],
                                          seed=args.seed + 4242)
        keep = np.flatnonzero(attrs["n_objects"] == 1)[:3000]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe_ids = tok([caps[i] for i in keep])
        keras.utils.set_random_seed(args.seed)
        damsm = text_run.build_damsm(config, images.shape[1],
                                     tok.vocabulary_size, images.shape[-1])
        text = config["text"]
        cb = Probe(args.steps, probe_ids, x[keep],
                   {k: attrs[k][keep] for k in ATTRS},
                   {"pooling": pooling,
                    "batch_size": text["damsm_batch_size"]})
        text_run.pretrain_damsm(damsm, images, ids, counts, max(args.steps),
                                text["damsm_batch_size"],
                                text["damsm_learning_rate"], args.seed,
                                callbacks=[cb])
        rows += cb.rows
    print_rows(rows)
    write_results(RESULTS, args.out, args, rows)


if __name__ == "__main__":
    main()
