"""Time to build spectrally normalised networks: the build-time warm start.

`SpectralNormalization.build()` runs 15 power iterations so that `sigma()`
and inference are meaningful at once. On eager values they run in NumPy;
on symbolic values (a build inside a traced function) the backend's ops
run them. This script builds the same networks with each path, in
interleaved rounds in one process, and reports the median wall and process
CPU time of each build and their ratio:

- the SNGAN ResNet-32 generator (width 256) and discriminator (width 128)
  for CIFAR-10, the paper's widths;
- the SAGAN generator and discriminator for 64x64x3 images at width 16.

    python benchmarks/sn_build.py
    KERAS_BACKEND=jax python benchmarks/sn_build.py --rounds 3

Writes `benchmarks/results/sn_build_<backend>.json`. Never gates CI.
"""

import argparse
import os
import sys
import time

import numpy as np
import keras

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import keras_gan_stable as kgs  # noqa: E402
from keras_gan_stable.architectures.sagan import (  # noqa: E402
    sagan_discriminator, sagan_generator)
from keras_gan_stable.export import write_json_atomic  # noqa: E402
from keras_gan_stable.layers import spectral_normalization as sn  # noqa: E402
from _machine import run_metadata  # noqa: E402

NETWORKS = {
    "sngan_resnet_g_32": lambda: kgs.sngan_resnet_generator(
        latent_dim=128, image_shape=(32, 32, 3), width=256),
    "sngan_resnet_d_32": lambda: kgs.sngan_resnet_discriminator(
        image_shape=(32, 32, 3), width=128),
    "sagan_g_64": lambda: sagan_generator(128, (64, 64, 3), width=16),
    "sagan_d_64": lambda: sagan_discriminator((64, 64, 3), width=16),
}


PATHS = {"numpy": sn.SpectralNormalization._warm_start,
         "backend ops": sn.SpectralNormalization._warm_start_with_ops}


def time_build(factory, path):
    sn.SpectralNormalization._warm_start = PATHS[path]
    try:
        start, start_cpu = time.perf_counter(), time.process_time()
        model = factory()
        wall = time.perf_counter() - start
        cpu = time.process_time() - start_cpu
    finally:
        sn.SpectralNormalization._warm_start = PATHS["numpy"]
    layers = sum(isinstance(l, sn.SpectralNormalization)
                 for l in model._flatten_layers())
    del model
    keras.backend.clear_session()
    return wall, cpu, layers


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5,
                   help="interleaved builds per network and path")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    backend = keras.backend.backend()
    out = args.out or os.path.join(HERE, "results",
                                   f"sn_build_{backend}.json")
    keras.utils.set_random_seed(0)
    rows = []
    for name, factory in NETWORKS.items():
        time_build(factory, "numpy")  # first build: imports, kernel caches
        walls = {path: [] for path in PATHS}
        cpus = {path: [] for path in PATHS}
        layers = 0
        for _ in range(args.rounds):
            for path in PATHS:
                wall, cpu, layers = time_build(factory, path)
                walls[path].append(wall)
                cpus[path].append(cpu)
        row = {"network": name, "sn_layers": layers,
               "wall_s": walls, "cpu_s": cpus,
               "median_wall_s": {k: float(np.median(v))
                                 for k, v in walls.items()},
               "median_cpu_s": {k: float(np.median(v))
                                for k, v in cpus.items()}}
        row["speedup_wall"] = (row["median_wall_s"]["backend ops"]
                               / row["median_wall_s"]["numpy"])
        row["speedup_cpu"] = (row["median_cpu_s"]["backend ops"]
                              / row["median_cpu_s"]["numpy"])
        rows.append(row)
        print(f"  {name}: {row}", flush=True)

    print(f"\nBuild time of SN networks, backend {backend}, median of "
          f"{args.rounds} interleaved builds (seconds)")
    print("| network | SN layers | wall: backend ops | wall: NumPy | "
          "CPU: backend ops | CPU: NumPy | speed-up (wall / CPU) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        w, c = r["median_wall_s"], r["median_cpu_s"]
        print(f"| {r['network']} | {r['sn_layers']} | {w['backend ops']:.2f}"
              f" | {w['numpy']:.2f} | {c['backend ops']:.2f} | "
              f"{c['numpy']:.2f} | {r['speedup_wall']:.2f}x / "
              f"{r['speedup_cpu']:.2f}x |")
    write_json_atomic(out, {"benchmark": "sn_build", **run_metadata(),
                            "rounds": args.rounds, "rows": rows})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
