"""Throughput of the WGAN-GP DCGAN-32 train step, library against minimal.

Real images per second of one WGAN-GP step (Gulrajani et al. 2017: one
critic update with the gradient penalty on interpolates, lambda = 10, then
one generator update; Adam(1e-4, 0.0, 0.9)) on the DCGAN-32 (width 64, latent
128, 32x32x3, LayerNorm in the critic) at batch 64, measured side by side in
one run, each implementation in its own process:

- `keras_gan_stable.GAN` under `fit()` on the TensorFlow, JAX and PyTorch
  Keras backends;
- a minimal hand-written Keras/TF model: a plain `keras.Model` subclass whose
  `train_step` uses `tf.GradientTape` (nested for the penalty) on the same
  networks, returning the two losses; `keras_tf` slices the batch with its
  static size, `keras_tf_dynamic` with `tf.shape` as the Keras WGAN-GP
  tutorial does;
- the same networks and step in plain PyTorch eager
  (`benchmarks/reference/torch_dcgan.py`).

`--n-critic 5` runs the paper's five critic updates per G update instead
(then a step consumes 5 x 64 real images). The rounds are interleaved and the
best round of each implementation is kept, which damps the noise of a shared
machine. Ratios are against the minimal Keras/TF step and against PyTorch.

    python benchmarks/train_step.py                 # ~5-10 CPU minutes
    python benchmarks/train_step.py --steps 10 --rounds 1 --only keras_tf,library_tf

Writes `benchmarks/results/train_step.json`.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from _machine import cpu_model as _cpu_model, run_metadata  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
IMPLS = {  # name -> (KERAS_BACKEND, description)
    "library_tf": ("tensorflow", "keras_gan_stable.GAN, TensorFlow"),
    "keras_tf": ("tensorflow", "minimal Keras/TF train_step"),
    "keras_tf_dynamic": ("tensorflow", "minimal Keras/TF, tf.shape batch"),
    "torch": ("tensorflow", "plain PyTorch eager"),
    "library_jax": ("jax", "keras_gan_stable.GAN, JAX"),
    "library_torch": ("torch", "keras_gan_stable.GAN, PyTorch"),
}
LATENT, WIDTH, SHAPE = 128, 64, (32, 32, 3)




# ---------------------------------------------------------------------------
# Workers (one implementation per process)
# ---------------------------------------------------------------------------
def _networks():
    import keras_gan_stable as kgs

    g = kgs.dcgan_generator(LATENT, SHAPE, width=WIDTH)
    d = kgs.dcgan_discriminator(SHAPE, width=WIDTH, normalization="layer")
    return g, d


def _adam():
    import keras

    return keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9)


def _minimal_keras_model(g, d, n_critic, dynamic_batch=False):
    import keras
    import tensorflow as tf

    class MinimalWGANGP(keras.Model):
        """What one writes by hand from the Keras WGAN-GP tutorial."""

        def __init__(self, generator, discriminator):
            super().__init__()
            self.generator = generator
            self.discriminator = discriminator

        def compile(self, d_optimizer, g_optimizer):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer

        def train_step(self, images):
            # The Keras WGAN-GP tutorial reads the batch size with tf.shape
            # (dynamic); the library uses the static size when it is known.
            b = images.shape[0]
            if dynamic_batch or b is None:
                b = tf.shape(images)[0]
            b = b // n_critic
            for i in range(n_critic):
                real = images[i * b:(i + 1) * b]
                z = tf.random.normal((b, LATENT))
                fake = self.generator(z, training=True)
                with tf.GradientTape() as tape:
                    d_loss = (tf.reduce_mean(self.discriminator(fake, training=True))
                              - tf.reduce_mean(self.discriminator(real, training=True)))
                    eps = tf.random.uniform((b, 1, 1, 1))
                    x_hat = eps * real + (1.0 - eps) * fake
                    with tf.GradientTape() as gp_tape:
                        gp_tape.watch(x_hat)
                        out = tf.reduce_sum(self.discriminator(x_hat, training=True))
                    grad = gp_tape.gradient(out, x_hat)
                    norm = tf.sqrt(tf.reduce_sum(tf.square(grad), [1, 2, 3]) + 1e-12)
                    loss = d_loss + 10.0 * tf.reduce_mean(tf.square(norm - 1.0))
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply(tape.gradient(loss, d_vars), d_vars)
            with tf.GradientTape() as tape:
                fake = self.generator(tf.random.normal((b, LATENT)), training=True)
                g_loss = -tf.reduce_mean(self.discriminator(fake, training=True))
            g_vars = self.generator.trainable_variables
            self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
            return {"d_loss": d_loss, "g_loss": g_loss}

    model = MinimalWGANGP(g, d)
    model.compile(_adam(), _adam())
    return model


def _time_keras(model, x, batch, warmup, steps):
    model.fit(x[:warmup * batch], batch_size=batch, epochs=1, shuffle=False,
              verbose=0)  # traces and compiles
    start = time.perf_counter()
    model.fit(x[:steps * batch], batch_size=batch, epochs=1, shuffle=False,
              verbose=0)
    return time.perf_counter() - start


def _time_torch(batch, warmup, steps, n_critic, threads):
    import torch

    sys.path.insert(0, HERE)
    from reference.torch_dcgan import WGANGPStep

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    step = WGANGPStep(LATENT, SHAPE[2], WIDTH, n_critic=n_critic)
    x = torch.rand(steps * batch, SHAPE[2], SHAPE[0], SHAPE[1]) * 2 - 1
    for i in range(warmup):
        step(x[i * batch:(i + 1) * batch])
    start = time.perf_counter()
    for i in range(steps):
        d_loss, g_loss = step(x[i * batch:(i + 1) * batch])
    float(d_loss), float(g_loss)
    return time.perf_counter() - start


def worker(args):
    batch = args.batch * args.n_critic  # real images per train step
    if args.impl == "torch":
        seconds = _time_torch(batch, args.warmup, args.steps, args.n_critic,
                              args.threads)
    else:
        import numpy as np
        import keras

        import keras_gan_stable as kgs

        keras.utils.set_random_seed(0)
        x = np.random.default_rng(0).uniform(
            -1, 1, (max(args.steps, args.warmup) * batch,) + SHAPE
        ).astype("float32")
        g, d = _networks()
        if args.impl.startswith("keras_tf"):
            model = _minimal_keras_model(
                g, d, args.n_critic, dynamic_batch=args.impl.endswith("dynamic"))
        else:
            model = kgs.GAN(g, d, latent_dim=LATENT, seed=0)
            model.compile(_adam(), _adam(), loss="wasserstein", penalty="gp",
                          penalty_weight=10.0, n_critic=args.n_critic)
        seconds = _time_keras(model, x, batch, args.warmup, args.steps)
    print(json.dumps({"impl": args.impl, "seconds": seconds,
                      "images_per_s": args.steps * batch / seconds}))


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def run_one(impl, args):
    env = dict(os.environ, KERAS_BACKEND=IMPLS[impl][0],
               TF_CPP_MIN_LOG_LEVEL="3")
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads),
                   TF_NUM_INTRAOP_THREADS=str(args.threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--batch", str(args.batch), "--n-critic", str(args.n_critic),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    sys.stderr.write(out.stderr[-3000:])
    raise RuntimeError(f"{impl} failed (exit {out.returncode})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=30,
                   help="timed train steps per round (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--batch", type=int, default=64,
                   help="images per critic update (default: %(default)s)")
    p.add_argument("--n-critic", type=int, default=1)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0,
                   help="intra-op threads (0: each framework's default)")
    p.add_argument("--only", default=",".join(IMPLS),
                   help="comma-separated subset of " + ",".join(IMPLS))
    p.add_argument("--out", default=os.path.join(RESULTS, "train_step.json"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.impl = args.worker
        return worker(args)

    impls = [i for i in args.only.split(",") if i]
    unknown = sorted(set(impls) - set(IMPLS))
    if unknown:
        p.error(f"unknown implementations {unknown}; choose from {list(IMPLS)}")
    best, rounds = {}, []
    for r in range(args.rounds):
        for impl in impls:
            res = run_one(impl, args)
            rounds.append({"round": r, **res})
            print(f"  round {r} {impl:14s} {res['images_per_s']:8.1f} images/s",
                  flush=True)
            if impl not in best or res["images_per_s"] > best[impl]["images_per_s"]:
                best[impl] = res
    ref_keras = best.get("keras_tf", {}).get("images_per_s")
    ref_torch = best.get("torch", {}).get("images_per_s")
    print(f"\nWGAN-GP DCGAN-32 step, batch {args.batch}, n_critic "
          f"{args.n_critic}, {_cpu_model()}, {os.cpu_count()} CPUs "
          f"(best of {args.rounds} rounds of {args.steps} steps)")
    print(f"{'implementation':38s} {'images/s':>9s} {'vs Keras/TF':>12s} "
          f"{'vs PyTorch':>11s}")
    table = []
    for impl in impls:
        ips = best[impl]["images_per_s"]
        row = {"impl": impl, "description": IMPLS[impl][1],
               "images_per_s": ips,
               "ratio_vs_minimal_keras_tf": ips / ref_keras if ref_keras else None,
               "ratio_vs_torch": ips / ref_torch if ref_torch else None}
        table.append(row)
        fmt = lambda v: f"{v:.2f}x" if v else "-"
        print(f"{IMPLS[impl][1]:38s} {ips:9.1f} "
              f"{fmt(row['ratio_vs_minimal_keras_tf']):>12s} "
              f"{fmt(row['ratio_vs_torch']):>11s}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "train_step", "step": "WGAN-GP",
                   "network": "DCGAN-32 width 64, latent 128, LayerNorm critic",
                   "batch": args.batch, "n_critic": args.n_critic,
                   "steps": args.steps, "rounds": args.rounds,
                   **run_metadata(backend=False),
                   "results": table, "all_rounds": rounds}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
