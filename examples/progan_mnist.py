"""Grow a ProGAN on MNIST (padded to 32x32) and save a sample grid per resolution.

    python examples/progan_mnist.py                          # a few CPU minutes
    python examples/progan_mnist.py --fade-images 50000 --stable-images 50000
    KERAS_BACKEND=jax python examples/progan_mnist.py --filters 64

The 10,000 MNIST test images are read from `--data/mnist` (default: the
folder named by `KERAS_GAN_STABLE_DATA`, which has no default) and padded from 28x28 to
32x32 with the background value. The networks grow 4 -> 8 -> 16 -> 32 under
`ProgressiveGrowing` inside one `fit()`: each resolution after 4x4 fades in
over `--fade-images` real images and then trains stably for
`--stable-images` (the paper uses 800k each; the defaults here are small so
the script finishes on a CPU). The objective is the paper's WGAN-GP with the
drift term. The script writes `samples_<R>x<R>.png` when each resolution
ends (the samples are the generator's output at that stage, upsampled to
32x32) and `history.json` (per-epoch logs: losses, resolution, alpha,
images shown) to `--out`.
"""

import argparse
import json
import math
import os
import time

import keras
import numpy as np

import keras_gan_stable as kgs
from keras_gan_stable.data.idx import load_mnist_test
from keras_gan_stable.data.paths import data_root
from keras_gan_stable.utils.images import save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder holding mnist/ (default: "
                        "the folder named by $KERAS_GAN_STABLE_DATA)")
    p.add_argument("--out", default="progan_mnist_out")
    p.add_argument("--fade-images", type=int, default=6000)
    p.add_argument("--stable-images", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=32,
                   help="images per D update at every resolution")
    p.add_argument("--filters", type=int, default=32,
                   help="channels of every block (the paper: up to 512)")
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name in ("fade_images", "stable_images"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} should be >= 0")
    for name in ("batch_size", "filters", "latent_dim"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} should be >= 1")
    return args


def grow(images, args):
    """Trains a ProGAN on `images` [N, R, R, C] in [-1, 1]; returns the GAN."""
    keras.utils.set_random_seed(args.seed)
    shape = images.shape[1:]
    g = kgs.progan_generator(args.latent_dim, shape, filters=args.filters)
    d = kgs.progan_discriminator(shape, filters=args.filters)
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
    # Whole batches only, so every step sees batch_size images.
    n = len(images) - len(images) % args.batch_size
    steps_per_epoch = n // args.batch_size
    epochs = math.ceil(growing.steps_required(
        num_levels=g.num_levels) / steps_per_epoch)
    start = time.time()
    history = gan.fit(images[:n], batch_size=args.batch_size, epochs=epochs,
                      callbacks=[growing], verbose=2)
    print(f"trained in {time.time() - start:.0f} s: "
          f"{growing.get_state()}")
    logs = {k: [float(v) for v in vals]
            for k, vals in history.history.items()}
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(logs, f, indent=1)
    return gan


def main(argv=None):
    args = parse_args(argv)
    images, _ = load_mnist_test(os.path.join(args.data or data_root(), "mnist"))
    # 28x28 -> 32x32: pad with the background value (-1).
    images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)),
                    constant_values=-1.0)
    grow(images, args)


if __name__ == "__main__":
    main()
