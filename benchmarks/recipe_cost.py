"""What one training step of each recipe costs, counted analytically.

For each named recipe, built as the CLI builds it (`cli.build_gan`) for
MNIST-sized grey images (32x32x1) and CIFAR-sized colour images (32x32x3):
the generator's and discriminator's parameters and forward FLOPs per image,
and the FLOPs of one generator step (its n_critic D updates included) per
image of the batch, with the ratio to the `dcgan` recipe's step.

FLOPs are counted as in `benchmarks/throughput.py` (2 x multiply-adds of
every convolution, transposed convolution, dense layer and attention
matmul; element-wise work, normalisation and the spectral-norm power
iteration ignored): a D update costs `Gf + 6 Df` per image (G forward, D
forward and backward on a real and a fake image), `+ 6 Df` with a gradient
penalty (its input gradient and double backward); a G update `3 Gf + 3 Df`.
Measured steps per second are in `throughput.py`, `mnist_quality.py` and
`robustness_sweep.py`; this table says how much of a speed difference
between recipes is the arithmetic of their networks.

    python benchmarks/recipe_cost.py

Writes `benchmarks/results/recipe_cost.json`. Builds networks only (seconds).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _machine import run_metadata  # noqa: E402
from throughput import RESULTS, forward_flops, gan_step_flops  # noqa: E402

RECIPES = ("dcgan", "wgan", "wgan-gp", "sngan", "sagan", "recommended")
SHAPES = {"mnist": (32, 32, 1), "cifar10": (32, 32, 3)}


def recipe_cost(recipe, shape):
    import keras

    from keras_gan_stable import presets
    from keras_gan_stable.cli import build_gan

    config = presets.recipe_config(recipe)
    if config["train"].get("augment") == "auto":
        config["train"]["augment"] = None  # the networks' cost alone
    gan = build_gan(config, shape)
    gf, df = forward_flops(gan.generator), forward_flops(gan.discriminator)
    train = config["train"]
    row = {"recipe": recipe, "shape": list(shape),
           "architecture": config["model"]["architecture"],
           "g_params": int(gan.generator.count_params()),
           "d_params": int(gan.discriminator.count_params()),
           "g_forward_mflop": gf / 1e6, "d_forward_mflop": df / 1e6,
           "n_critic": int(train["n_critic"]),
           "penalty": train.get("penalty"),
           "g_step_mflop_per_image": gan_step_flops(
               gf, df, train["n_critic"], bool(train.get("penalty"))) / 1e6,
           "g_step_mflop_per_image_n_critic_5": gan_step_flops(
               gf, df, 5, bool(train.get("penalty"))) / 1e6}
    keras.backend.clear_session()
    return row


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--out", default=os.path.join(RESULTS, "recipe_cost.json"))
    args = p.parse_args()
    recipes = [r for r in args.recipes.split(",") if r]
    rows = [recipe_cost(r, shape) for name, shape in SHAPES.items()
            for r in recipes]
    for name, shape in SHAPES.items():
        base = next((r for r in rows if r["recipe"] == "dcgan"
                     and tuple(r["shape"]) == shape), None)
        print(f"\n{name} {shape}")
        print(f"{'recipe':12s} {'arch':10s} {'G params':>9s} {'D params':>9s} "
              f"{'G MFLOP':>8s} {'D MFLOP':>8s} {'n_crit':>6s} "
              f"{'step MFLOP':>10s} {'vs dcgan':>8s}")
        for r in rows:
            if tuple(r["shape"]) != shape:
                continue
            if base:
                r["vs_dcgan"] = (r["g_step_mflop_per_image"]
                                 / base["g_step_mflop_per_image"])
            print(f"{r['recipe']:12s} {r['architecture']:10s} "
                  f"{r['g_params']:9d} {r['d_params']:9d} "
                  f"{r['g_forward_mflop']:8.2f} {r['d_forward_mflop']:8.2f} "
                  f"{r['n_critic']:6d} {r['g_step_mflop_per_image']:10.1f} "
                  f"{r.get('vs_dcgan', float('nan')):8.2f}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "recipe_cost", **run_metadata(),
                   "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
