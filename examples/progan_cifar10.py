"""Grow a ProGAN on CIFAR-10 (32x32) and save a sample grid per resolution.

    python examples/progan_cifar10.py                         # a few CPU minutes
    python examples/progan_cifar10.py --per-class 5000 --filters 128 \
        --fade-images 200000 --stable-images 200000

CIFAR-10's training images are read from the JPEG archive in `--data/cifar10`
(default: the folder named by `KERAS_GAN_STABLE_DATA`, which has no default);
`--per-class` limits how many are read. The networks grow 4 -> 8 -> 16 -> 32
under `ProgressiveGrowing` inside one `fit()`, with the paper's WGAN-GP and
drift objective; `samples_<R>x<R>.png` is written to `--out` when each
resolution ends, and `history.json` holds the per-epoch logs.
"""

import argparse
import json
import math
import os
import time

import keras

import keras_gan_stable as kgs
from keras_gan_stable.data.cifar import load_cifar10_from_tar
from keras_gan_stable.data.paths import data_root
from keras_gan_stable.utils.images import save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder holding cifar10/ (default: "
                        "the folder named by $KERAS_GAN_STABLE_DATA)")
    p.add_argument("--out", default="progan_cifar10_out")
    p.add_argument("--per-class", type=int, default=500,
                   help="images read per class (default: %(default)s)")
    p.add_argument("--fade-images", type=int, default=6000)
    p.add_argument("--stable-images", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--filters", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name in ("fade_images", "stable_images"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} should be >= 0")
    for name in ("per_class", "batch_size", "filters", "latent_dim"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} should be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    root = args.data or data_root()
    images, _ = load_cifar10_from_tar(
        os.path.join(root, "cifar10", "train-jpeg.tar.gz"),
        max_per_class=args.per_class)
    keras.utils.set_random_seed(args.seed)
    g = kgs.progan_generator(args.latent_dim, (32, 32, 3),
                             filters=args.filters)
    d = kgs.progan_discriminator((32, 32, 3), filters=args.filters)
    gan = kgs.ProGAN(g, d, seed=args.seed)
    gan.compile()   # WGAN-GP, drift 0.001, Adam(1e-3, 0, 0.99)
    os.makedirs(args.out, exist_ok=True)

    def save_samples(model, resolution):
        path = os.path.join(args.out, f"samples_{resolution}x{resolution}.png")
        save_image_grid(model.generate(64, seed=args.seed), path)
        print(f"wrote {path}")

    growing = kgs.ProgressiveGrowing(
        fade_images=args.fade_images, stable_images=args.stable_images,
        batch_size=args.batch_size, on_resolution_end=save_samples, verbose=1)
    n = len(images) - len(images) % args.batch_size
    steps_per_epoch = n // args.batch_size
    epochs = math.ceil(growing.steps_required(
        num_levels=g.num_levels) / steps_per_epoch)
    start = time.time()
    history = gan.fit(images[:n], batch_size=args.batch_size, epochs=epochs,
                      callbacks=[growing], verbose=2)
    print(f"trained in {time.time() - start:.0f} s: {growing.get_state()}")
    logs = {k: [float(v) for v in vals]
            for k, vals in history.history.items()}
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(logs, f, indent=1)


if __name__ == "__main__":
    main()
