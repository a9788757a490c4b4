"""Train the DCGAN on the MNIST test set and write a grid of samples.

    python examples/dcgan_mnist.py                      # 10 epochs: ~2 CPU minutes
    python examples/dcgan_mnist.py --steps 300 --out /tmp/dcgan
    KERAS_BACKEND=jax python examples/dcgan_mnist.py --width 64 --epochs 20

The 10,000 MNIST test images are read from `--data/mnist` (default: the
folder named by `KERAS_GAN_STABLE_DATA`, which has no default). The networks are the
classic DCGAN (Radford et al. 2016) at reduced width, trained with the
non-saturating loss and Adam(2e-4, beta_1=0.5). The script writes
`samples_init.png` (before training), `samples.png` (after) and
`history.json` (the per-epoch logs) to `--out`.
"""

import argparse
import json
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
                   help="folder holding mnist/t10k-images-idx3-ubyte.gz "
                        "(default: the folder named by $KERAS_GAN_STABLE_DATA)")
    p.add_argument("--out", default="dcgan_mnist_out",
                   help="output folder (default: %(default)s)")
    p.add_argument("--epochs", type=int, default=10,
                   help="passes over the 10,000 images (default: %(default)s)")
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many generator updates "
                        "(overrides --epochs)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=16,
                   help="channels of the last G / first D layer; the paper's "
                        "DCGAN is 64-128 (default: %(default)s)")
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--loss", default="non_saturating",
                   choices=sorted(kgs.losses.LOSSES))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name in ("epochs", "batch_size", "width", "latent_dim"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} should be >= 1")
    if args.steps is not None and args.steps < 1:
        p.error("--steps should be >= 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    root = args.data or data_root()
    images, _ = load_mnist_test(os.path.join(root, "mnist"))  # [N, 28, 28, 1]
    shape = images.shape[1:]

    generator = kgs.dcgan_generator(args.latent_dim, shape, width=args.width)
    discriminator = kgs.dcgan_discriminator(shape, width=args.width)
    gan = kgs.GAN(generator, discriminator, latent_dim=args.latent_dim,
                  seed=args.seed)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        loss=args.loss,
    )
    os.makedirs(args.out, exist_ok=True)
    save_image_grid(gan.generate(64, seed=1),
                    os.path.join(args.out, "samples_init.png"))

    # Whole batches only: one batch shape, one compiled step.
    per_epoch = len(images) // args.batch_size
    steps = args.steps if args.steps is not None else args.epochs * per_epoch
    reps = -(-steps // per_epoch)
    x = np.concatenate([images[:per_epoch * args.batch_size]] * reps)
    x = x[:steps * args.batch_size]
    start = time.time()
    history = gan.fit(x, batch_size=args.batch_size, epochs=1, verbose=2)
    seconds = time.time() - start

    grid = os.path.join(args.out, "samples.png")
    save_image_grid(gan.generate(64, seed=1), grid)
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vals]
                   for k, vals in history.history.items()}, f, indent=1)
    print(f"{steps} steps in {seconds:.0f} s on "
          f"{keras.backend.backend()}; samples written to {grid}")
    return gan


if __name__ == "__main__":
    main()
