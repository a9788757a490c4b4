"""Mode collapse on 2D Gaussian mixtures, with the PacGAN/VEEGAN metrics.

Trains small MLP GANs on the ring of 8 (radius 1, std 0.01) and the grid of
25 (`{-4, -2, 0, 2, 4}^2`, std 0.05) and scores 2,500 samples of each
trained generator as in VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et
al. 2018, Table 1):

- high quality: the share of samples within 3 std of their nearest mode;
- modes: the number of modes nearest to at least one high-quality sample;
- reverse KL: `sum_k p_k log(p_k / (1/K))` of the histogram `p` of the
  high-quality samples' modes against the uniform distribution.

Variants (networks: `keras_gan_stable.presets.mlp_networks`, latent 128,
3 hidden layers of 128; no BatchNorm, so sampling is the same in training and
inference mode; samples are drawn with `training=False`, from the EMA
generator where the recipe keeps one):

- `recommended`: the library's `recommended` recipe as the CLI builds it
  for point data (non-saturating loss, R1 0.1, Adam(5e-4, 0.5, 0.9), EMA
  generator 0.999);
- `gan`: the plain non-saturating GAN (the `dcgan` recipe's loss and Adam);
- `wgan-gp`: the `wgan-gp` recipe (lambda 10, n_critic 5, Adam(1e-4, 0, 0.9));
- `hinge-sn`: hinge loss with every D weight spectrally normalised,
  Adam(2e-4, 0.5, 0.999).

Every run is capped at `--cpu-seconds` of process CPU time (default 180: 3
CPU-minutes) and `--steps` G steps, trains with compiled steps,
`steps_per_execution` and one TensorFlow thread per op, and appends one record per (variant, mixture, seed)
to the JSON, so the full 10-seed table can be built over several sittings.
The table printed at the end aggregates every record in the JSON beside the
published rows.

    python benchmarks/mixtures.py                       # 3 seeds
    python benchmarks/mixtures.py --seeds 10
    python benchmarks/mixtures.py --variants recommended --mixtures grid25
    python benchmarks/mixtures.py --mixtures grid25 --out part.json  # in
    python benchmarks/mixtures.py --merge part.json       # parallel, merged

Writes (appends to) `benchmarks/results/mixtures.json`.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Networks this small are dominated by per-op overhead: one thread per op
# gets the most steps out of each CPU-second (the budget is CPU time).
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _machine import run_metadata  # noqa: E402

RESULTS = os.path.join(HERE, "results")
VARIANTS = ("recommended", "gan", "wgan-gp", "hinge-sn")
PUBLISHED = [  # (source, mixture, modes, high quality %, reverse KL)
    ("PacGAN Table 1: GAN", "grid25", 17.3, 94.8, 0.70),
    ("PacGAN Table 1: PacGAN4", "grid25", 24.8, 93.6, 0.04),
    ("VEEGAN Table 1: VEEGAN", "grid25", 24.6, 40.0, None),
]
NUM_SAMPLES = 2500


def mixture_scores(samples, centres, std):
    """The VEEGAN/PacGAN metrics of `samples` [N, 2] (dict of floats)."""
    from keras_gan_stable.metrics.mode_coverage import mixture_scores as score

    return score(samples, centres, std)


def build(variant, seed, steps_per_execution):
    """The variant's compiled GAN (as the CLI builds the recipe for point
    data, recompiled with `steps_per_execution`) and its configuration."""
    import keras
    from keras import layers

    from keras_gan_stable import presets
    from keras_gan_stable.cli import build_gan
    from keras_gan_stable.layers.spectral_normalization import (
        SpectralNormalization)
    from keras_gan_stable.models.gan import GAN
    from keras_gan_stable.utils.config import make_optimizer

    recipe = {"recommended": "recommended", "gan": "dcgan",
              "wgan-gp": "wgan-gp", "hinge-sn": "sngan"}[variant]
    config = presets.recipe_config(recipe, points=True)
    config["train"]["seed"] = seed
    t = config["train"]
    gan = build_gan(config, (2,))
    if variant == "hinge-sn":
        p = keras.Input((2,), name="points")
        x = p
        for _ in range(3):
            x = SpectralNormalization(layers.Dense(128))(x)
            x = layers.LeakyReLU(0.2)(x)
        d = keras.Model(p, SpectralNormalization(layers.Dense(1))(x),
                        name="sn_mlp_discriminator")
        gan = GAN(gan.generator, d, latent_dim=config["model"]["latent_dim"],
                  seed=seed)
    gan.compile(d_optimizer=make_optimizer(t["d_optimizer"]),
                g_optimizer=make_optimizer(t["g_optimizer"]),
                loss=t["loss"], penalty=t["penalty"],
                penalty_weight=t["penalty_weight"], n_critic=t["n_critic"],
                weight_clip=t["weight_clip"], drift=t["drift"],
                label_smoothing=t["label_smoothing"],
                steps_per_execution=steps_per_execution)
    gan._benchmark_batch = t["batch_size"] * t["n_critic"]
    return gan, config


class _CPUBudget:
    """Stops `fit` when the process has used `seconds` of CPU time."""

    def __new__(cls, seconds):
        import keras

        class Stop(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.start = time.process_time()
                self.stopped_early = False

            def on_train_batch_end(self, batch, logs=None):
                if time.process_time() - self.start > seconds:
                    self.model.stop_training = True
                    self.stopped_early = True

        return Stop()


def run_one(variant, mixture, seed, args):
    import numpy as np
    import keras

    from keras_gan_stable.data.mixtures import mixture_modes, sample_mixture

    keras.utils.set_random_seed(seed)
    gan, config = build(variant, seed, args.steps_per_execution)
    per_step = gan._benchmark_batch
    n_points = min(args.steps, 2000) * per_step
    x, _ = sample_mixture(mixture, n_points, seed=seed)
    epochs = max(1, -(-args.steps * per_step // n_points))
    budget = _CPUBudget(args.cpu_seconds)
    t0, c0 = time.perf_counter(), time.process_time()
    hist = gan.fit(x, batch_size=per_step, epochs=epochs, shuffle=True,
                   verbose=0, callbacks=[budget])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    steps_done = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
    samples = gan.generate(NUM_SAMPLES, seed=seed + 1000)
    centres, std = mixture_modes(mixture)
    scores = mixture_scores(np.asarray(samples, "float64"), centres, std)
    if gan.ema_generator is not None:  # what the EMA adds, for the record
        raw = gan.generate(NUM_SAMPLES, seed=seed + 1000, use_ema=False)
        scores["raw_generator"] = mixture_scores(
            np.asarray(raw, "float64"), centres, std)
    last = {k: float(v[-1]) for k, v in hist.history.items()}
    return {"variant": variant, "mixture": mixture, "seed": seed,
            "recipe": config.get("recipe"),
            "loss": config["train"]["loss"], "batch_size": config["train"]["batch_size"],
            "n_critic": config["train"]["n_critic"],
            "g_steps": steps_done, "steps_cap": args.steps,
            "cpu_seconds": cpu, "wall_seconds": wall,
            "stopped_by_cpu_budget": budget.stopped_early,
            "sampled_from_ema_generator": gan.ema_generator is not None,
            "final_logs": last, **scores}


def summarize(records):
    import numpy as np

    rows = []
    keys = sorted({(r["variant"], r["mixture"]) for r in records},
                  key=lambda k: (k[1], VARIANTS.index(k[0])
                                 if k[0] in VARIANTS else 99))
    for variant, mixture in keys:
        rs = [r for r in records if (r["variant"], r["mixture"])
              == (variant, mixture)]
        k = rs[0]["num_modes"]
        rows.append({
            "variant": variant, "mixture": mixture, "runs": len(rs),
            "seeds": sorted({r["seed"] for r in rs}),
            "modes_mean": float(np.mean([r["modes"] for r in rs])),
            "all_modes_runs": int(sum(r["modes"] == k for r in rs)),
            "high_quality_mean": float(np.mean([r["high_quality"]
                                                for r in rs])),
            "reverse_kl_mean": float(np.mean([r["reverse_kl"] for r in rs])),
            "cpu_seconds_max": float(max(r["cpu_seconds"] for r in rs)),
            "g_steps_mean": float(np.mean([r["g_steps"] for r in rs])),
        })
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=3,
                   help="seeds 0..N-1 per variant and mixture (default 3)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--mixtures", default="ring8,grid25")
    p.add_argument("--steps", type=int, default=100000,
                   help="cap on generator steps per run (default 100000; "
                        "the CPU-time cap usually ends a run first)")
    p.add_argument("--cpu-seconds", type=float, default=180.0,
                   help="process CPU-time cap per run (default 180)")
    p.add_argument("--steps-per-execution", type=int, default=100)
    p.add_argument("--out", default=os.path.join(RESULTS, "mixtures.json"))
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="append the records of these JSON files (e.g. runs "
                        "made in parallel processes) to --out, print the "
                        "table and exit")
    args = p.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    bad = sorted(set(variants) - set(VARIANTS))
    if bad:
        p.error(f"unknown variants {bad}; choose from {list(VARIANTS)}")
    data = {"benchmark": "mixtures", "records": []}
    if os.path.exists(args.out):
        with open(args.out) as f:
            data = json.load(f)
    if args.merge:
        for path in args.merge:
            with open(path) as f:
                data["records"].extend(json.load(f)["records"])
        data["summary"] = summarize(data["records"])
        _write(data, args.out)
        _print_table(data, args.out)
        return
    for mixture in args.mixtures.split(","):
        for variant in variants:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                rec = run_one(variant, mixture, seed, args)
                rec.update(run_metadata())
                data["records"].append(rec)
                data["summary"] = summarize(data["records"])
                _write(data, args.out)
                print(f"  {mixture:6s} {variant:11s} seed {seed}: modes "
                      f"{rec['modes']}/{rec['num_modes']}, high quality "
                      f"{100 * rec['high_quality']:.1f}%, reverse KL "
                      f"{rec['reverse_kl']:.3f} ({rec['g_steps']} G steps, "
                      f"{rec['cpu_seconds']:.0f} CPU-s)", flush=True)
    _print_table(data, args.out)


def _write(data, out):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, out)


def _print_table(data, out):
    print(f"\n{'mixture':7s} {'method':28s} {'runs':>4s} {'modes':>6s} "
          f"{'all-modes runs':>14s} {'high q. %':>9s} {'rev. KL':>8s}")
    for r in data.get("summary", []):
        print(f"{r['mixture']:7s} {r['variant']:28s} {r['runs']:4d} "
              f"{r['modes_mean']:6.1f} {r['all_modes_runs']:>14d} "
              f"{100 * r['high_quality_mean']:9.1f} "
              f"{r['reverse_kl_mean']:8.3f}")
    for source, mixture, modes, hq, kl in PUBLISHED:
        print(f"{mixture:7s} {source:28s} {'':>4s} {modes:6.1f} {'':>14s} "
              f"{hq:9.1f} {('%.3f' % kl) if kl is not None else '-':>8s}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
