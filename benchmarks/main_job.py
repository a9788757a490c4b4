"""The README's main job, as a user runs it, against a bare `fit()` loop.

Runs `keras-gan-stable train` (no arguments: the `recommended` recipe on the
bundled digits) in a fresh process and times it end to end (start-up,
training, final metrics, export). Then, side by side on the same machine:

- the same networks and optimizers trained by a bare `GAN.fit()` for the
  same number of generator steps, with no callbacks: the CLI path's
  generator steps per CPU-second against this loop's (the overhead of the
  user's path: grids, curves, TensorBoard, checkpoints);
- optionally (`--variants`) the same command with other settings, e.g.
  `data.labels=false` (unconditional) or `--recipe sngan` (the previous
  default).

Every run's samples (1,000, seed 1) are scored by an independent check: an
RBF SVM trained on scikit-learn's 8x8 digits, the samples area-averaged back
to 8x8 (`tests/digit_check.py`): classes holding >= 3% of the samples, KL of
the class histogram to uniform, mean confidence (real digits: 10, 0.0002,
0.97).

    python benchmarks/main_job.py
    python benchmarks/main_job.py --variants "data.labels=false" "--recipe sngan"

Prints a table and writes benchmarks/results/main_job.json.
"""

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_cli(args, folder):
    """`keras-gan-stable train ARGS` in `folder`; wall and CPU seconds."""
    cmd = [sys.executable, "-m", "keras_gan_stable", "train", "--quiet",
           *args]
    cpu0, t0 = _children_cpu(), time.time()
    proc = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
    wall, cpu = time.time() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return wall, cpu


def score_run(run_dir, clf):
    from digit_check import digit_coverage
    from keras_gan_stable.run import load_gan

    gan, _ = load_gan(run_dir)
    steps = int(gan.g_optimizer.iterations.numpy()
                if hasattr(gan.g_optimizer.iterations, "numpy")
                else gan.g_optimizer.iterations)
    classes, kl, conf, shares = digit_coverage(gan.generate(1000, seed=1),
                                               clf)
    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    return {"steps": steps, "classes": classes, "kl": kl, "confidence": conf,
            "shares": [round(float(s), 4) for s in shares],
            "summary_metrics": summary["metrics"],
            "train_seconds": summary.get("train_seconds"),
            "seconds": summary.get("seconds")}


def bare_fit(steps):
    """The default run's networks trained by `GAN.fit` alone."""
    import keras

    from keras_gan_stable.data.loaders import load_arrays
    from keras_gan_stable.run import (build_gan, resolve_augment,
                                      resolve_config)

    x, y = load_arrays("digits", labels=True)
    config = resolve_augment(resolve_config(), len(x), x.shape[1:])
    keras.utils.set_random_seed(0)
    gan = build_gan(config, x.shape[1:], 10)
    batch = config["train"]["batch_size"]
    per_epoch = len(x) // batch
    epochs = -(-steps // per_epoch)
    cpu0, t0 = time.process_time(), time.time()
    gan.fit(x[:per_epoch * batch], y[:per_epoch * batch], batch_size=batch,
            epochs=epochs, verbose=0, shuffle=True)
    return time.time() - t0, time.process_time() - cpu0, epochs * per_epoch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", nargs="*", default=[],
                   help="extra runs: `--set` overrides or train flags")
    p.add_argument("--out", default=os.path.join(HERE, "results",
                                                  "main_job.json"))
    args = p.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    from _machine import run_metadata
    from digit_check import digit_classifier

    clf = digit_classifier()
    rows = []
    for variant in [""] + list(args.variants):
        extra = shlex.split(variant)
        if extra and not extra[0].startswith("--"):
            extra = [a for kv in extra for a in ("--set", kv)]
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu = run_cli(extra, tmp)
            run_dir = os.path.join(tmp, "runs", os.listdir(
                os.path.join(tmp, "runs"))[0])
            row = {"command": " ".join(["keras-gan-stable train"] + extra),
                   "wall_s": wall, "cpu_s": cpu, **score_run(run_dir, clf)}
        rows.append(row)
    steps = rows[0]["steps"]
    b_wall, b_cpu, b_steps = bare_fit(steps)
    bare = {"steps": b_steps, "wall_s": b_wall, "cpu_s": b_cpu,
            "steps_per_cpu_s": b_steps / b_cpu}
    # The CLI's training seconds (its summary) against the bare loop.
    cli_train = rows[0]["train_seconds"]
    ratio = ((rows[0]["steps"] / cli_train) / (b_steps / b_wall)
             if cli_train else None)

    print(f"\n{'command':55s} {'wall s':>7s} {'steps':>6s} {'classes':>7s} "
          f"{'KL':>7s} {'conf':>6s} {'FID*':>7s}")
    for r in rows:
        fid = r["summary_metrics"].get("fid", float("nan"))
        print(f"{r['command']:55s} {r['wall_s']:7.0f} {r['steps']:6d} "
              f"{r['classes']:7d} {r['kl']:7.4f} {r['confidence']:6.3f} "
              f"{fid:7.2f}")
    print(f"bare GAN.fit, same networks: {b_steps} steps in {b_wall:.0f} s "
          f"wall, {b_cpu:.0f} CPU-s")
    if ratio:
        print(f"CLI training steps/s over the bare loop's: {ratio:.2f}x")
    print("*FID in the run's own feature classifier (comparable within a "
          "row's data only); classes/KL/conf from the independent SVM.")
    record = {**run_metadata(), "runs": rows, "bare_fit": bare,
              "cli_over_bare_steps_per_second": ratio}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
