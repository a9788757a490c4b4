"""Generator steps per CPU-second: the user's path against a bare `fit()`.

For each data source (default: the bundled digits and the two 2D mixtures),
two fresh processes, one after the other:

- the user's path: `keras-gan-stable train --data SOURCE` with no other flag
  (the `recommended` recipe, its default length and its default callbacks:
  sample grids, curves, history, TensorBoard, checkpoints); its training
  CPU-seconds are the run summary's `train_cpu_seconds` (this process's CPU
  time from the start of `Run.fit` to the end of training, before export and
  the final metrics);
- a bare loop: the same networks and optimizers (`run.build_gan` on the same
  config) trained by `GAN.fit` on the same arrays for the same number of
  generator steps, with no callbacks, timed the same way.

The ratio is the path's steps per CPU-second over the bare loop's (target:
at least 0.9). Both sides include tracing and compilation. On a shared
machine one pair is noisy: `--repeats N` runs N pairs per source, path and
bare alternately, and reports their median ratio (every pair is kept in
the JSON).

    python benchmarks/cli_overhead.py
    python benchmarks/cli_overhead.py --data ring8 --repeats 3

Writes `benchmarks/results/cli_overhead.json`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def bare_loop(source, steps, out_json):
    """In this process: the bare `GAN.fit` for `steps` steps."""
    import time

    import keras

    from keras_gan_stable.run import Run, build_gan, resolve_config

    config = resolve_config(data=source)
    # The same data, labels and sizes as the run (Run prepares them).
    with tempfile.TemporaryDirectory() as tmp:
        job = Run(config, out_dir=os.path.join(tmp, "run"), verbose=0)
        x, y = job.batches.x, job.batches.y
        per_step = job.batches.batch_size
        shape, classes = job.data_shape, job.num_classes
    keras.backend.clear_session()
    keras.utils.set_random_seed(config["train"]["seed"])
    gan = build_gan(config, shape, classes, total_steps=steps)
    per_epoch = len(x) // per_step
    epochs = -(-steps // per_epoch)
    n = per_epoch * per_step
    cpu0, t0 = time.process_time(), time.time()
    gan.fit(x[:n], None if y is None else y[:n], batch_size=per_step,
            epochs=epochs, verbose=0, shuffle=True)
    record = {"steps": epochs * per_epoch,
              "cpu_s": time.process_time() - cpu0, "wall_s": time.time() - t0}
    with open(out_json, "w") as f:
        json.dump(record, f)


def user_path(source, folder):
    cmd = [sys.executable, "-m", "keras_gan_stable", "train", "--quiet",
           "--data", source, "--out", os.path.join(folder, "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    with open(os.path.join(folder, "run", "summary.json")) as f:
        summary = json.load(f)
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints

    newest = list_checkpoints(os.path.join(folder, "run", "checkpoints"))[0]
    with open(os.path.join(newest, "meta.json")) as f:
        steps = int(json.load(f)["step"])
    return {"steps": steps, "cpu_s": summary["train_cpu_seconds"],
            "wall_s": summary["train_seconds"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="digits,ring8,grid25")
    p.add_argument("--repeats", type=int, default=1,
                   help="pairs per data source, run alternately (path, "
                        "bare, path, ...); the row's ratio is their median")
    p.add_argument("--bare", nargs=3, metavar=("SOURCE", "STEPS", "JSON"),
                   help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results",
                                                 "cli_overhead.json"))
    args = p.parse_args()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.bare:
        bare_loop(args.bare[0], int(args.bare[1]), args.bare[2])
        return
    from _machine import run_metadata

    if args.repeats < 1:
        p.error(f"--repeats should be at least 1; received {args.repeats}")
    rows = []
    for source in [s for s in args.data.split(",") if s]:
        pairs = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                path = user_path(source, tmp)
                out_json = os.path.join(tmp, "bare.json")
                subprocess.run([sys.executable, __file__, "--bare", source,
                                str(path["steps"]), out_json], check=True)
                with open(out_json) as f:
                    bare = json.load(f)
            ratio = ((path["steps"] / path["cpu_s"])
                     / (bare["steps"] / bare["cpu_s"]))
            pairs.append({"path": path, "bare_fit": bare,
                          "ratio_steps_per_cpu_s": ratio,
                          "load_average": os.getloadavg()})
            print(f"{source}: path {path['steps']} steps / "
                  f"{path['cpu_s']:.0f} CPU-s, bare {bare['steps']} / "
                  f"{bare['cpu_s']:.0f} CPU-s: {ratio:.2f}x", flush=True)
        # The median pair (the lower middle one for an even count).
        mid = sorted(pairs, key=lambda q: q["ratio_steps_per_cpu_s"])[
            (len(pairs) - 1) // 2]
        rows.append({"data": source, **mid, "pairs": pairs,
                     "ratios": [q["ratio_steps_per_cpu_s"] for q in pairs]})
    print("\n| data | path steps | path CPU-s | bare steps | bare CPU-s | "
          "ratio (median) | all ratios |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['data']} | {r['path']['steps']} | "
              f"{r['path']['cpu_s']:.0f} | {r['bare_fit']['steps']} | "
              f"{r['bare_fit']['cpu_s']:.0f} | "
              f"{r['ratio_steps_per_cpu_s']:.2f} | "
              f"{', '.join(f'{v:.2f}' for v in r['ratios'])} |")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"benchmark": "cli_overhead", **run_metadata(),
                   "rows": rows}, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
