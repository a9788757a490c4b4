"""Cost of spectral normalisation per discriminator update (SNGAN ResNet D).

    python benchmarks/sn_overhead.py                       # TF, width 128
    KERAS_BACKEND=jax python benchmarks/sn_overhead.py --rounds 5 --steps 5

One D update is what `GAN.train_step` does per `n_critic` iteration: D on a
real batch (power iteration on), D on a generated batch (power iteration
off), hinge loss, gradients, Adam. The generator is a weight-free reshape of
the latent vector into an image, so only D is timed. The two discriminators
are the 32x32 SNGAN ResNet D with and without `SpectralNormalization`
(identical architecture and width, `spectral_norm=True/False`); they are
timed in interleaved rounds within one process, and the ratios of the
median per-step wall times and process CPU times are reported (CPU time is
the steadier figure on a machine shared with other jobs). Prints a table and writes
`benchmarks/results/sn_overhead.json`. Never gates CI.
"""

import argparse
import json
import os
import time

import numpy as np
import keras

import keras_gan_stable as kgs
from _machine import cpu_model  # noqa: E402


class _DiscriminatorStep(kgs.GAN):
    """A GAN whose train step is a single discriminator update."""

    def _gan_train_step(self, data):
        images, labels, _, _, _ = self._unpack(data)
        self._d_update(keras.ops.cast(images, "float32"), labels, None, None)
        return {m.name: m.result() for m in self.metrics}


def build(spectral_norm, width, image_shape):
    latent = int(np.prod(image_shape))
    generator = keras.Sequential(
        [keras.Input((latent,)), keras.layers.Reshape(image_shape)],
        name="reshape_generator")
    discriminator = kgs.sngan_resnet_discriminator(
        image_shape, width=width, spectral_norm=spectral_norm)
    model = _DiscriminatorStep(generator, discriminator, latent_dim=latent,
                               seed=0)
    model.compile(
        d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
        g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.0, beta_2=0.9),
        loss="hinge")
    return model




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=128,
                   help="D width (the paper's CIFAR-10 D: %(default)s)")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved timing rounds per model")
    p.add_argument("--steps", type=int, default=3,
                   help="D updates per round")
    p.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "sn_overhead.json"))
    args = p.parse_args(argv)
    keras.utils.set_random_seed(0)
    shape = (32, 32, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (args.batch_size * args.steps,) + shape).astype(
        "float32")
    models = {"with SN": build(True, args.width, shape),
              "without SN": build(False, args.width, shape)}
    for model in models.values():  # compile the step outside the timing
        model.fit(x[:args.batch_size], batch_size=args.batch_size, epochs=1,
                  verbose=0)
    # Wall time, and the process's CPU time (all threads), which a machine
    # shared with other jobs disturbs much less than wall time.
    times = {name: [] for name in models}
    cpu = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            model.fit(x, batch_size=args.batch_size, epochs=1, verbose=0,
                      shuffle=False)
            times[name].append((time.perf_counter() - start) / args.steps)
            cpu[name].append((time.process_time() - start_cpu) / args.steps)
    median = {name: float(np.median(t)) for name, t in times.items()}
    median_cpu = {name: float(np.median(t)) for name, t in cpu.items()}
    overhead = median["with SN"] / median["without SN"] - 1.0
    overhead_cpu = median_cpu["with SN"] / median_cpu["without SN"] - 1.0
    sn_layers = sum(isinstance(l, kgs.SpectralNormalization)
                    for l in models["with SN"].discriminator._flatten_layers())

    print(f"SN overhead per D step, SNGAN ResNet D 32x32 width {args.width}, "
          f"batch {args.batch_size}, backend {keras.backend.backend()}")
    print("| model | median wall s / D step | median CPU s / D step | "
          "wall s per round |")
    print("| --- | --- | --- | --- |")
    for name in models:
        rounds = ", ".join(f"{t:.3f}" for t in times[name])
        print(f"| {name} | {median[name]:.3f} | {median_cpu[name]:.3f} | "
              f"{rounds} |")
    print(f"overhead ({sn_layers} SN layers): wall {100 * overhead:+.1f}%, "
          f"CPU time {100 * overhead_cpu:+.1f}%")

    result = {
        "benchmark": "sn_overhead",
        "backend": keras.backend.backend(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": list(os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "batch_size": args.batch_size,
        "width": args.width,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "sn_layers": sn_layers,
        "seconds_per_step": times,
        "median_seconds_per_step": median,
        "cpu_seconds_per_step": cpu,
        "median_cpu_seconds_per_step": median_cpu,
        "overhead": overhead,
        "overhead_cpu_time": overhead_cpu,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
