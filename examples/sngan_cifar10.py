"""Train an SNGAN (or a projection cGAN) on CIFAR-10 and write sample grids.

    python examples/sngan_cifar10.py --steps 200 --width 64 --max-per-class 500
    python examples/sngan_cifar10.py --conditional --out /tmp/sngan_c
    KERAS_BACKEND=jax python examples/sngan_cifar10.py --epochs 50   # GPU

The paper's setting (Miyato et al. 2018, Table 1 "C" / appendix B.4): hinge
loss, spectral normalisation in every discriminator layer, Adam with
learning rate 2e-4 and betas (0, 0.9), n_dis = 5 discriminator updates per
generator update, batch 64, ResNet networks (256-channel generator blocks,
128-channel discriminator blocks) or the "standard CNN" (`--arch cnn`).
`--conditional` trains the class-conditional variant: conditional
BatchNorm in G and the projection discriminator (Miyato & Koyama 2018).

Images are read from the CIFAR-10 `train-jpeg.tar.gz` without unpacking it
(default: `$KERAS_GAN_STABLE_DATA/cifar10/train-jpeg.tar.gz`, a local
data mirror with no default), or from `--data`: the archive itself, a data folder
holding `cifar10/train-jpeg.tar.gz`, or an unpacked folder of
`<class>/*.jpg` (or `train/<class>/*.jpg`) images. The script writes
`samples_init.png`, one `epoch_NNNN.png` per epoch, `samples.png` (for the
conditional model one row per class) and `history.json` to `--out`.
"""

import argparse
import json
import os
import time

import numpy as np
import keras

import keras_gan_stable as kgs
from keras_gan_stable.callbacks import SampleGrid
from keras_gan_stable.data.cifar import CIFAR10_CLASSES
from keras_gan_stable.data.cifar import load_cifar10_from_tar
from keras_gan_stable.data.paths import data_root
from keras_gan_stable.utils.images import save_image_grid


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="train-jpeg.tar.gz, a folder holding "
                        "cifar10/train-jpeg.tar.gz, or an unpacked folder of "
                        "<class>/*.jpg (default: $KERAS_GAN_STABLE_DATA)")
    p.add_argument("--out", default="sngan_cifar10_out",
                   help="output folder (default: %(default)s)")
    p.add_argument("--arch", default="resnet", choices=("resnet", "cnn"))
    p.add_argument("--conditional", action="store_true",
                   help="class-conditional: conditional BatchNorm in G, "
                        "projection discriminator")
    p.add_argument("--width", type=int, default=None,
                   help="network width; default: the paper's (ResNet G 256, "
                        "D 128; CNN 64)")
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64,
                   help="images per discriminator update (default: "
                        "%(default)s); each train step reads n_dis times this")
    p.add_argument("--n-dis", type=int, default=5,
                   help="discriminator updates per generator update")
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--beta1", type=float, default=0.0)
    p.add_argument("--beta2", type=float, default=0.9)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=None,
                   help="stop after this many generator updates "
                        "(overrides --epochs)")
    p.add_argument("--max-per-class", type=int, default=None,
                   help="use at most this many images per class")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name in ("latent_dim", "batch_size", "n_dis", "epochs"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} should be >= 1")
    for name in ("steps", "max_per_class", "width"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} should be >= 1")
    if not args.lr > 0:
        p.error("--lr should be > 0")
    return args


def _read_folder(folder, max_per_class):
    """Images of an unpacked `<class>/*.jpg` tree, in CIFAR-10 class order."""
    from PIL import Image

    if os.path.isdir(os.path.join(folder, "train")):
        folder = os.path.join(folder, "train")
    classes = sorted(d for d in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, d)))
    classes = [c for c in CIFAR10_CLASSES if c in classes] + [
        c for c in classes if c not in CIFAR10_CLASSES]
    if not classes:
        raise FileNotFoundError(
            f"No class folders (<class>/*.jpg) found in {folder}")
    images, labels = [], []
    for label, cls in enumerate(classes):
        files = sorted(f for f in os.listdir(os.path.join(folder, cls))
                       if f.lower().endswith((".jpg", ".jpeg", ".png")))
        for f in files[:max_per_class]:
            img = Image.open(os.path.join(folder, cls, f)).convert("RGB")
            images.append(np.asarray(img.resize((32, 32)), "uint8"))
            labels.append(label)
    images = np.stack(images).astype("float32") / 127.5 - 1.0
    return images, np.asarray(labels, "int32")


def load_images(data, max_per_class):
    """`(images [N, 32, 32, 3] in [-1, 1], labels [N])`."""
    if data is None:
        return load_cifar10_from_tar(max_per_class=max_per_class)
    if os.path.isfile(data):
        return load_cifar10_from_tar(data, max_per_class=max_per_class)
    archive = os.path.join(data, "cifar10", "train-jpeg.tar.gz")
    if os.path.isfile(archive):
        return load_cifar10_from_tar(archive, max_per_class=max_per_class)
    return _read_folder(data, max_per_class)


def build_gan(args, num_classes):
    shape = (32, 32, 3)
    classes = num_classes if args.conditional else None
    if args.arch == "resnet":
        generator = kgs.sngan_resnet_generator(
            args.latent_dim, shape, width=args.width, num_classes=classes)
        discriminator = kgs.sngan_resnet_discriminator(
            shape, width=args.width, num_classes=classes)
    else:
        width = args.width or 64
        generator = kgs.sngan_cnn_generator(
            args.latent_dim, shape, width=width, num_classes=classes)
        discriminator = kgs.sngan_cnn_discriminator(
            shape, width=width, num_classes=classes)
    gan = kgs.GAN(generator, discriminator, latent_dim=args.latent_dim,
                  num_classes=classes, seed=args.seed)

    def adam():
        return keras.optimizers.Adam(args.lr, beta_1=args.beta1,
                                     beta_2=args.beta2)

    gan.compile(d_optimizer=adam(), g_optimizer=adam(), loss="hinge",
                n_critic=args.n_dis)
    return gan


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    if args.data is None:
        print(f"Reading CIFAR-10 from {data_root()}/cifar10")
    images, labels = load_images(args.data, args.max_per_class)
    num_classes = int(labels.max()) + 1
    gan = build_gan(args, num_classes)

    os.makedirs(args.out, exist_ok=True)
    save_image_grid(gan.generate(100, seed=1),
                    os.path.join(args.out, "samples_init.png"))

    step_batch = args.n_dis * args.batch_size  # real images per G update
    steps_per_epoch = len(images) // step_batch
    if steps_per_epoch < 1:
        raise SystemExit(
            f"{len(images)} images are fewer than one train step needs "
            f"(n_dis * batch = {step_batch}); lower --batch-size or --n-dis.")
    epochs = args.epochs
    if args.steps is not None:
        epochs = -(-args.steps // steps_per_epoch)
        steps_per_epoch = min(steps_per_epoch, args.steps)
    data = (images, labels) if args.conditional else (images,)
    start = time.time()
    history = gan.fit(
        *data, batch_size=step_batch,
        epochs=epochs, steps_per_epoch=steps_per_epoch, shuffle=True,
        verbose=2, callbacks=[SampleGrid(args.out, num_samples=100,
                                         seed=1)])
    seconds = time.time() - start

    grid = os.path.join(args.out, "samples.png")
    if args.conditional:  # one row per class
        rows = np.repeat(np.arange(num_classes), 10)
        save_image_grid(gan.generate(len(rows), seed=2, labels=rows), grid)
    else:
        save_image_grid(gan.generate(100, seed=2), grid)
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vals]
                   for k, vals in history.history.items()}, f, indent=1)
    print(f"{epochs * steps_per_epoch} generator steps "
          f"({args.n_dis} D steps each) in {seconds:.0f} s on "
          f"{keras.backend.backend()}; samples written to {grid}")
    return gan


if __name__ == "__main__":
    main()
