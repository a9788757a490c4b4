"""Train a SAGAN on CIFAR-10 and look at where its attention goes.

Hinge loss, spectral normalisation in G and D, TTUR (D 4e-4, G 1e-4, Adam
betas 0 and 0.9), self-attention on G's 32x32 feature map and D's 16x16
one. After every epoch it writes a sample grid and, for four query
positions of a few samples, a picture of the attention map of G's
attention block over the image (`attention_epoch_XXX.png`).

    python examples/sagan_cifar10.py --epochs 20                  # full set
    python examples/sagan_cifar10.py --max-per-class 200 --width 16 \
        --epochs 2                                                 # CPU try
    python examples/sagan_cifar10.py --conditional                 # + labels

Reads `cifar10/train-jpeg.tar.gz` from the folder named by
`KERAS_GAN_STABLE_DATA` (a local data mirror; no default).
"""

import argparse
import os

import numpy as np
import keras

from keras_gan_stable import GAN
from keras_gan_stable.architectures.sagan import sagan_compile_kwargs
from keras_gan_stable.architectures.sagan import sagan_discriminator
from keras_gan_stable.architectures.sagan import sagan_generator
from keras_gan_stable.data.cifar import load_cifar10_from_tar
from keras_gan_stable.layers.self_attention import SelfAttention2D
from keras_gan_stable.utils.images import save_image_grid

# Query positions as fractions of the feature map (row, column).
QUERIES = [(0.25, 0.25), (0.25, 0.75), (0.6, 0.5), (0.85, 0.2)]


def attention_maps(gan, n, seed):
    """Images `[n, H, W, 3]` and G's attention scores `[n, N, M]` with the
    feature-map shapes of queries and keys."""
    g = gan.generator
    layer = next(l for l in g.layers if isinstance(l, SelfAttention2D))
    features = keras.Model(g.inputs, layer.input)
    z, labels = gan.sample_latents(n, seed=seed)
    inputs = [z, labels] if gan.num_classes else z
    feat = features(inputs, training=False)
    _, scores = layer(feat, return_attention_scores=True)
    images = keras.ops.convert_to_numpy(g(inputs, training=False))
    h, w = feat.shape[1:3]
    key_hw = (h // 2, w // 2) if layer.pool_keys_values else (h, w)
    return images, keras.ops.convert_to_numpy(scores), (h, w), key_hw


def save_attention_picture(gan, path, n=4, seed=0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images, scores, (h, w), (kh, kw) = attention_maps(gan, n, seed)
    size = images.shape[1]
    fig, axes = plt.subplots(n, 1 + len(QUERIES),
                             figsize=(2 * (1 + len(QUERIES)), 2 * n))
    axes = np.atleast_2d(axes)
    for i in range(n):
        img = np.clip((images[i] + 1) / 2, 0, 1)
        axes[i, 0].imshow(img)
        axes[i, 0].set_title("sample" if i == 0 else "")
        for j, (fy, fx) in enumerate(QUERIES):
            qy, qx = int(fy * h), int(fx * w)
            attn = scores[i, qy * w + qx].reshape(kh, kw)
            ax = axes[i, j + 1]
            ax.imshow(img, alpha=0.35)
            ax.imshow(attn, cmap="inferno", alpha=0.65,
                      extent=(-0.5, size - 0.5, size - 0.5, -0.5))
            py, px = (qy + 0.5) * size / h - 0.5, (qx + 0.5) * size / w - 0.5
            ax.plot(px, py, "c+", markersize=12, markeredgewidth=2)
            if i == 0:
                ax.set_title(f"query ({qy},{qx})")
        for ax in axes[i]:
            ax.axis("off")
    fig.suptitle("Where G's self-attention looks (cyan + is the query)")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    os.replace(tmp, path)


class SaveSamples(keras.callbacks.Callback):
    """Writes a sample grid and an attention picture after each epoch."""

    def __init__(self, out_dir, n=64, seed=0):
        super().__init__()
        self.out_dir, self.n, self.seed = out_dir, n, seed

    def on_epoch_end(self, epoch, logs=None):
        gan = self.model
        grid = os.path.join(self.out_dir, f"samples_epoch_{epoch + 1:03d}.png")
        save_image_grid(gan.generate(self.n, seed=self.seed), grid)
        attention = os.path.join(self.out_dir,
                                 f"attention_epoch_{epoch + 1:03d}.png")
        save_attention_picture(gan, attention, seed=self.seed)
        gammas = {l.name: round(float(keras.ops.convert_to_numpy(l.gamma)), 4)
                  for m in (gan.generator, gan.discriminator)
                  for l in m.layers if isinstance(l, SelfAttention2D)}
        print(f"\nepoch {epoch + 1}: wrote {grid} and {attention}; "
              f"attention gammas {gammas}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64,
                        help="64 gives SNGAN's 256-channel CIFAR generator")
    parser.add_argument("--latent-dim", type=int, default=128)
    parser.add_argument("--max-per-class", type=int, default=None,
                        help="images per class (default: all 5,000)")
    parser.add_argument("--conditional", action="store_true",
                        help="conditional BN in G, projection D")
    parser.add_argument("--g-attention", type=int, nargs="*", default=[32])
    parser.add_argument("--d-attention", type=int, nargs="*", default=[16])
    parser.add_argument("--pool-keys-values", action="store_true")
    parser.add_argument("--out", default="runs/sagan_cifar10")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    keras.utils.set_random_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    images, labels = load_cifar10_from_tar(max_per_class=args.max_per_class)
    print(f"{len(images)} CIFAR-10 images, backend "
          f"{keras.backend.backend()}")
    num_classes = 10 if args.conditional else None
    g = sagan_generator(args.latent_dim, (32, 32, 3), width=args.width,
                        num_classes=num_classes,
                        attention_resolutions=args.g_attention or None,
                        pool_keys_values=args.pool_keys_values)
    d = sagan_discriminator((32, 32, 3), width=args.width,
                            num_classes=num_classes,
                            attention_resolutions=args.d_attention or None,
                            pool_keys_values=args.pool_keys_values)
    gan = GAN(g, d, latent_dim=args.latent_dim, num_classes=num_classes,
              seed=args.seed)
    gan.compile(**sagan_compile_kwargs())
    data = (images, labels) if args.conditional else (images,)
    gan.fit(*data, batch_size=args.batch_size, epochs=args.epochs,
            shuffle=True, callbacks=[SaveSamples(args.out, seed=args.seed)])
    gan.save(os.path.join(args.out, "sagan.keras"))


if __name__ == "__main__":
    main()
