"""Train-step throughput of three GANs on every Keras backend, beside PyTorch.

Real images per second of one training step at batch 64 (per D update) for

- `wgan_gp`: the DCGAN-32 (width 64, latent 128, LayerNorm critic) with the
  WGAN-GP step (Gulrajani et al. 2017: n_critic 5, lambda 10,
  Adam(1e-4, 0.0, 0.9));
- `sngan`: the SNGAN ResNet-32 (G width 256, D width 128) with the hinge
  loss and n_dis 5 (Miyato et al. 2018, Adam(2e-4, 0.0, 0.9));
- `sagan`: the SAGAN-32 (width 64, attention on G's 32x32 and D's 16x16
  maps, SN in G and D) with the hinge loss and TTUR (Zhang et al. 2019:
  one D update, Adam 4e-4 / 1e-4, betas (0.0, 0.9));

each measured in its own process, side by side in one run:

- `library_tf`, `library_jax`, `library_torch`: `keras_gan_stable.GAN` under
  `fit()` on the TensorFlow, JAX and PyTorch Keras backends;
- `keras_tf`: a minimal hand-written Keras/TF model (a plain `keras.Model`
  whose `train_step` uses `tf.GradientTape`) on the same networks;
- `torch`: the same networks and step in plain PyTorch eager
  (`benchmarks/reference/`: `torch_dcgan`, `torch_sngan`, `torch_sagan`).

Rounds are interleaved and the best round of each implementation is kept.
Also reported: the achieved GFLOP/s of each implementation against the
machine's float32 matrix-multiply ceiling (best of 5 NumPy 2048^3 matmuls,
all cores). FLOPs are counted analytically from the Keras networks
(2 x multiply-adds of every convolution, transposed convolution, dense layer
and attention matmul; element-wise work ignored), per image forward: Gf and
Df; a step of n_critic D updates of batch B is estimated as
`n_critic * B * (Gf + 6 Df [+ 6 Df for the gradient penalty]) +
B * (3 Gf + 3 Df)` (backward = 2x forward; the penalty's input gradient and
its double backward ~ 2x a forward-backward pass).

    python benchmarks/throughput.py                      # the issue's sizes
    python benchmarks/throughput.py --width-scale 4 --steps 3 --rounds 1

`--width-scale k` divides every network width by k (reduced runs on a busy
machine; say so beside the figures). Writes `benchmarks/results/throughput.json`.
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
LATENT = 128
IMPLS = {  # name -> (KERAS_BACKEND, description)
    "library_tf": ("tensorflow", "keras_gan_stable.GAN, TensorFlow"),
    "keras_tf": ("tensorflow", "minimal Keras/TF train_step"),
    "torch": ("tensorflow", "plain PyTorch eager"),
    "library_jax": ("jax", "keras_gan_stable.GAN, JAX"),
    "library_torch": ("torch", "keras_gan_stable.GAN, PyTorch"),
}
NETWORKS = {  # name -> (description, n_critic)
    "wgan_gp": ("WGAN-GP DCGAN-32 (n_critic 5)", 5),
    "sngan": ("SNGAN ResNet-32 hinge (n_dis 5)", 5),
    "sagan": ("SAGAN-32 hinge, TTUR (n_critic 1)", 1),
}




def matmul_ceiling(n=2048, reps=5):
    """Best float32 GFLOP/s of an n x n x n NumPy matmul (all cores)."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


# ---------------------------------------------------------------------------
# Networks, FLOPs, steps (worker side)
# ---------------------------------------------------------------------------
def widths(network, scale):
    if network == "sngan":
        return {"g": max(8, 256 // scale), "d": max(8, 128 // scale)}
    return {"g": max(8, 64 // scale), "d": max(8, 64 // scale)}


def build_networks(network, scale):
    import keras_gan_stable as kgs
    from keras_gan_stable.architectures.sagan import (
        sagan_discriminator, sagan_generator)

    w = widths(network, scale)
    shape = (32, 32, 3)
    if network == "wgan_gp":
        return (kgs.dcgan_generator(LATENT, shape, width=w["g"]),
                kgs.dcgan_discriminator(shape, width=w["d"],
                                        normalization="layer"))
    if network == "sngan":
        return (kgs.sngan_resnet_generator(LATENT, shape, width=w["g"]),
                kgs.sngan_resnet_discriminator(shape, width=w["d"]))
    return (sagan_generator(LATENT, shape, width=w["g"]),
            sagan_discriminator(shape, width=w["d"]))


def _layer_flops(layer, in_shape, out_shape):
    """2 x multiply-adds of one weight layer (per image), else 0."""
    import numpy as np
    from keras import layers

    from keras_gan_stable.layers.self_attention import SelfAttention2D
    from keras_gan_stable.layers.spectral_normalization import (
        SpectralNormalization)

    inner = layer.layer if isinstance(layer, SpectralNormalization) else layer
    if isinstance(inner, layers.Conv2DTranspose):
        k = inner.kernel.shape  # [kh, kw, out, in]
        return 2.0 * np.prod(k) * in_shape[1] * in_shape[2]
    if isinstance(inner, layers.Conv2D):
        return 2.0 * np.prod(inner.kernel.shape) * out_shape[1] * out_shape[2]
    if isinstance(inner, layers.Dense):
        return 2.0 * np.prod(inner.kernel.shape)
    if isinstance(inner, SelfAttention2D):
        n = in_shape[1] * in_shape[2]
        c, qk, v = inner.channels, inner.qk_channels, inner.v_channels
        return 2.0 * n * (c * (2 * qk + v) + v * c + n * (qk + v))
    return 0.0


def forward_flops(model):
    """Per-image forward FLOPs of a functional Keras model's weight layers."""
    total = 0.0
    for layer in model.layers:
        try:
            in_shape = layer.input.shape
            out_shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if isinstance(in_shape, (list, tuple)) and in_shape and isinstance(
                in_shape[0], (list, tuple)):
            continue  # multi-input layers (Add) have no weights
        total += _layer_flops(layer, in_shape, out_shape)
    return float(total)


def gan_step_flops(gf, df, n_critic, penalty=False, batch=1):
    """FLOPs of one G step (n_critic D updates of `batch`, then one G
    update of `batch`) from the per-image forward FLOPs `gf` and `df`."""
    per_d = gf + 6 * df + (6 * df if penalty else 0)
    return n_critic * batch * per_d + batch * (3 * gf + 3 * df)


def step_flops(network, gf, df, batch):
    return gan_step_flops(gf, df, NETWORKS[network][1],
                          penalty=network == "wgan_gp", batch=batch)


def _adams(network):
    import keras

    if network == "sagan":
        return (keras.optimizers.Adam(4e-4, beta_1=0.0, beta_2=0.9),
                keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9))
    lr = 1e-4 if network == "wgan_gp" else 2e-4
    return (keras.optimizers.Adam(lr, beta_1=0.0, beta_2=0.9),
            keras.optimizers.Adam(lr, beta_1=0.0, beta_2=0.9))


def minimal_keras_model(g, d, network):
    """What one writes by hand from the Keras GAN tutorials (TF only)."""
    import keras
    import tensorflow as tf

    n_critic = NETWORKS[network][1]
    wgan = network == "wgan_gp"

    class MinimalGAN(keras.Model):
        def __init__(self, generator, discriminator):
            super().__init__()
            self.generator = generator
            self.discriminator = discriminator

        def compile(self, d_optimizer, g_optimizer):
            super().compile()
            self.d_optimizer = d_optimizer
            self.g_optimizer = g_optimizer

        def train_step(self, images):
            b = tf.shape(images)[0] // n_critic
            for i in range(n_critic):
                real = images[i * b:(i + 1) * b]
                fake = self.generator(tf.random.normal((b, LATENT)),
                                      training=True)
                with tf.GradientTape() as tape:
                    out_real = self.discriminator(real, training=True)
                    out_fake = self.discriminator(fake, training=True)
                    if wgan:
                        d_loss = (tf.reduce_mean(out_fake)
                                  - tf.reduce_mean(out_real))
                        eps = tf.random.uniform((b, 1, 1, 1))
                        x_hat = eps * real + (1.0 - eps) * fake
                        with tf.GradientTape() as gp_tape:
                            gp_tape.watch(x_hat)
                            out = tf.reduce_sum(
                                self.discriminator(x_hat, training=True))
                        grad = gp_tape.gradient(out, x_hat)
                        norm = tf.sqrt(tf.reduce_sum(tf.square(grad),
                                                     [1, 2, 3]) + 1e-12)
                        loss = d_loss + 10.0 * tf.reduce_mean(
                            tf.square(norm - 1.0))
                    else:
                        d_loss = (tf.reduce_mean(tf.nn.relu(1.0 - out_real))
                                  + tf.reduce_mean(tf.nn.relu(1.0 + out_fake)))
                        loss = d_loss
                d_vars = self.discriminator.trainable_variables
                self.d_optimizer.apply(tape.gradient(loss, d_vars), d_vars)
            with tf.GradientTape() as tape:
                fake = self.generator(tf.random.normal((b, LATENT)),
                                      training=True)
                g_loss = -tf.reduce_mean(self.discriminator(fake,
                                                            training=True))
            g_vars = self.generator.trainable_variables
            self.g_optimizer.apply(tape.gradient(g_loss, g_vars), g_vars)
            return {"d_loss": d_loss, "g_loss": g_loss}

    model = MinimalGAN(g, d)
    model.compile(*_adams(network))
    return model


def library_model(g, d, network):
    import keras_gan_stable as kgs

    gan = kgs.GAN(g, d, latent_dim=LATENT, seed=0)
    kwargs = {"loss": "hinge", "n_critic": NETWORKS[network][1]}
    if network == "wgan_gp":
        kwargs = {"loss": "wasserstein", "penalty": "gp",
                  "penalty_weight": 10.0, "n_critic": 5}
    gan.compile(*_adams(network), **kwargs)
    return gan


def torch_step(network, scale):
    sys.path.insert(0, HERE)
    w = widths(network, scale)
    if network == "wgan_gp":
        from reference.torch_dcgan import WGANGPStep

        return WGANGPStep(LATENT, 3, w["g"], n_critic=5)
    if network == "sngan":
        from reference.torch_sngan import HingeStep

        return HingeStep(LATENT, 3, w["g"], w["d"], n_dis=5)
    from reference.torch_sagan import SAGANStep

    return SAGANStep(LATENT, 3, w["g"])


def worker(args):
    per_step = args.batch * NETWORKS[args.network][1]
    flops = None
    if args.impl == "torch":
        import torch

        torch.manual_seed(0)
        step = torch_step(args.network, args.width_scale)
        x = torch.rand(per_step, 3, 32, 32) * 2 - 1
        for _ in range(args.warmup):
            step(x)
        start = time.perf_counter()
        for _ in range(args.steps):
            d_loss, g_loss = step(x)
        float(d_loss), float(g_loss)
        seconds = time.perf_counter() - start
    else:
        import numpy as np
        import keras

        keras.utils.set_random_seed(0)
        g, d = build_networks(args.network, args.width_scale)
        flops = {"g_forward": forward_flops(g), "d_forward": forward_flops(d)}
        model = (minimal_keras_model(g, d, args.network)
                 if args.impl == "keras_tf"
                 else library_model(g, d, args.network))
        x = np.random.default_rng(0).uniform(
            -1, 1, (max(args.steps, args.warmup) * per_step, 32, 32, 3)
        ).astype("float32")
        model.fit(x[:args.warmup * per_step], batch_size=per_step, epochs=1,
                  shuffle=False, verbose=0)  # traces and compiles
        start = time.perf_counter()
        model.fit(x[:args.steps * per_step], batch_size=per_step, epochs=1,
                  shuffle=False, verbose=0)
        seconds = time.perf_counter() - start
    print(json.dumps({"impl": args.impl, "network": args.network,
                      "seconds": seconds, "flops": flops,
                      "steps_per_s": args.steps / seconds,
                      "images_per_s": args.steps * per_step / seconds}))


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------
def run_one(network, impl, args):
    env = dict(os.environ, KERAS_BACKEND=IMPLS[impl][0],
               TF_CPP_MIN_LOG_LEVEL="3")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", impl,
           "--network", network, "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--batch", str(args.batch),
           "--width-scale", str(args.width_scale)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    sys.stderr.write(out.stderr[-3000:])
    return {"impl": impl, "network": network,
            "error": f"exit {out.returncode}: {out.stderr[-300:]}"}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--networks", default=",".join(NETWORKS))
    p.add_argument("--only", default=",".join(IMPLS),
                   help="comma-separated subset of " + ",".join(IMPLS))
    p.add_argument("--steps", type=int, default=10,
                   help="timed train steps per round (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch", type=int, default=64,
                   help="images per D update (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--width-scale", type=int, default=1,
                   help="divide every network width by this (default 1)")
    p.add_argument("--out", default=os.path.join(RESULTS, "throughput.json"))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--network", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.impl = args.worker
        return worker(args)

    networks = [n for n in args.networks.split(",") if n]
    impls = [i for i in args.only.split(",") if i]
    bad = sorted(set(impls) - set(IMPLS)) + sorted(set(networks) - set(NETWORKS))
    if bad:
        p.error(f"unknown {bad}; implementations {list(IMPLS)}, networks "
                f"{list(NETWORKS)}")
    ceiling = matmul_ceiling()
    print(f"float32 matmul ceiling (NumPy 2048^3, best of 5): "
          f"{ceiling:.1f} GFLOP/s", flush=True)
    best, rounds = {}, []
    for r in range(args.rounds):
        for network in networks:
            for impl in impls:
                res = run_one(network, impl, args)
                rounds.append({"round": r, **res})
                ips = res.get("images_per_s")
                print(f"  round {r} {network:8s} {impl:14s} "
                      f"{ips if ips else float('nan'):8.1f} images/s",
                      flush=True)
                key = (network, impl)
                if ips and (key not in best
                            or ips > best[key]["images_per_s"]):
                    best[key] = res
                _write(args, networks, ceiling, [], rounds)  # partial
    table = []
    print(f"\nbatch {args.batch} per D update, width scale 1/"
          f"{args.width_scale}, {_cpu_model()}, {os.cpu_count()} CPUs, best "
          f"of {args.rounds} rounds of {args.steps} steps; matmul ceiling "
          f"{ceiling:.1f} GFLOP/s")
    print(f"{'network':8s} {'implementation':34s} {'images/s':>9s} "
          f"{'vs Keras/TF':>11s} {'vs PyTorch':>10s} {'GFLOP/s':>8s} "
          f"{'of ceil.':>8s}")
    for network in networks:
        flops = next((best[(network, i)]["flops"] for i in impls
                      if (network, i) in best and best[(network, i)]["flops"]),
                     None)
        per_step = (step_flops(network, flops["g_forward"],
                               flops["d_forward"], args.batch)
                    if flops else None)
        ref_k = best.get((network, "keras_tf"), {}).get("images_per_s")
        ref_t = best.get((network, "torch"), {}).get("images_per_s")
        for impl in impls:
            res = best.get((network, impl))
            if not res:
                table.append({"network": network, "impl": impl,
                              "error": "failed in every round"})
                continue
            ips = res["images_per_s"]
            gflops = (per_step * res["steps_per_s"] / 1e9
                      if per_step else None)
            row = {"network": network, "impl": impl,
                   "description": IMPLS[impl][1], "images_per_s": ips,
                   "ratio_vs_minimal_keras_tf": ips / ref_k if ref_k else None,
                   "ratio_vs_torch": ips / ref_t if ref_t else None,
                   "gflop_per_step": per_step / 1e9 if per_step else None,
                   "achieved_gflops": gflops,
                   "fraction_of_matmul_ceiling":
                       gflops / ceiling if gflops else None}
            table.append(row)
            fmt = lambda v, s="x": f"{v:.2f}{s}" if v else "-"
            print(f"{network:8s} {IMPLS[impl][1]:34s} {ips:9.1f} "
                  f"{fmt(row['ratio_vs_minimal_keras_tf']):>11s} "
                  f"{fmt(row['ratio_vs_torch']):>10s} "
                  f"{fmt(gflops, ''):>8s} "
                  f"{fmt(row['fraction_of_matmul_ceiling'] and 100 * row['fraction_of_matmul_ceiling'], '%'):>8s}")
    _write(args, networks, ceiling, table, rounds)
    print(f"wrote {args.out}")


def _write(args, networks, ceiling, table, rounds):
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "throughput", "batch": args.batch,
                   "complete": bool(table),
                   "networks": {n: NETWORKS[n][0] for n in networks},
                   "widths": {n: widths(n, args.width_scale)
                              for n in networks},
                   "width_scale": args.width_scale, "steps": args.steps,
                   "rounds": args.rounds, "matmul_ceiling_gflops": ceiling,
                   **run_metadata(backend=False),
                   "results": table, "all_rounds": rounds}, f, indent=1)


if __name__ == "__main__":
    main()
