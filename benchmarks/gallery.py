"""Regenerates the sample grids of the README and BENCHMARKS.md.

Each picture is made by one `keras-gan-stable` command, run here in a fresh
process exactly as a user types it; the run's newest sample grid is then
copied to `docs/images/<name>.png`. The commands (also printed, and written
to `docs/images/gallery.json` with each run's summary line):

- `main_job_digits`: `keras-gan-stable train` (no arguments: `recommended` on the
  bundled digits);
- `mnist_5min`: `recommended` on MNIST (the test split: the data mirror
  holds only that one offline) for 5 CPU-minutes;
- `cifar10_10min`: `recommended` and `dcgan` on CIFAR-10 for 10 CPU-minutes
  each;
- `ring8`, `grid25`: `recommended` on the 2D mixtures, no other flag.

    python benchmarks/gallery.py                     # everything (~45 min)
    python benchmarks/gallery.py --only main_job_digits,ring8

Needs the data mirror for MNIST and CIFAR-10 offline
(`KERAS_GAN_STABLE_DATA`), or an internet connection and `--download`.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMAGES = os.path.join(ROOT, "docs", "images")
CPU_BUDGET = ["--set", "train.clock=cpu", "--set", "train.images=null",
              "--set", "train.epochs=100000"]

PICTURES = {
    "main_job_digits": [],
    "mnist_5min": ["--data", "mnist", "--set", "data.split=test",
                   "--set", "train.minutes=5", *CPU_BUDGET],
    "cifar10_10min": ["--data", "cifar10", "--set", "train.minutes=10",
                      *CPU_BUDGET],
    "cifar10_10min_dcgan": ["--recipe", "dcgan", "--data", "cifar10",
                            "--set", "train.minutes=10", *CPU_BUDGET],
    "ring8": ["--data", "ring8"],
    "grid25": ["--data", "grid25"],
}


def newest_grid(run_dir):
    grids = sorted(glob.glob(os.path.join(run_dir, "samples", "*.png")),
                   key=os.path.getmtime)
    if not grids:
        raise SystemExit(f"{run_dir}: the run wrote no sample grid")
    return grids[-1]


def make(name, work, quiet=True):
    out = os.path.join(work, name)
    shutil.rmtree(out, ignore_errors=True)
    argv = ["keras-gan-stable", "train", *PICTURES[name], "--out", out]
    if quiet:
        argv.append("--quiet")
    print("$", " ".join(argv), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "keras_gan_stable",
                           *argv[1:]], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{name} failed ({proc.returncode}):\n"
                         f"{proc.stderr[-3000:]}")
    grid = newest_grid(out)
    target = os.path.join(IMAGES, f"{name}.png")
    shutil.copyfile(grid, target)
    summary = proc.stdout.strip().splitlines()
    print(f"  {seconds:.0f} s wall -> {os.path.relpath(target, ROOT)}",
          flush=True)
    print("  " + "\n  ".join(summary[:6]), flush=True)
    return {"command": " ".join(["keras-gan-stable", "train",
                                 *PICTURES[name]]),
            "wall_s": round(seconds, 1), "grid": os.path.relpath(target, ROOT),
            "from": os.path.relpath(grid, work), "summary": summary}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(PICTURES),
                   help="comma-separated pictures, from: " + ", ".join(PICTURES))
    p.add_argument("--work", default="/tmp/gallery",
                   help="folder of the runs")
    args = p.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = [n for n in names if n not in PICTURES]
    if unknown:
        raise SystemExit(f"unknown picture(s) {unknown}; choose from "
                         f"{list(PICTURES)}")
    os.makedirs(IMAGES, exist_ok=True)
    index_path = os.path.join(IMAGES, "gallery.json")
    index = {}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    sys.path.insert(0, HERE)
    from _machine import run_metadata

    for name in names:
        meta = run_metadata(backend=False)
        meta["script"] = meta.pop("command", None)  # keep the CLI command
        index[name] = {**meta, **make(name, args.work)}
        with open(index_path, "w") as f:
            json.dump(index, f, indent=1)
    print(f"wrote {index_path}")


if __name__ == "__main__":
    main()
