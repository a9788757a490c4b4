"""Start-up time of the `keras-gan-stable` command: answers that need no backend.

Runs each command `--repeats` times in a fresh process (`python -m
keras_gan_stable ...`) and reports the median and the worst wall-clock time:

- `--help`, `--version`, `train --help`, `recipes sngan`;
- an unknown recipe (`train --recipe nope`, exit 2) and an invalid value
  (`train --set train.d_optimizer.learning_rate=.inf`, exit 2);
- `python -c "import keras_gan_stable"` (the lazy package import);
- for scale, `python -c "import keras"` with the TensorFlow backend, the cost
  each of the above avoids.

The target (issue 17) is under 2 s for `--help` and the unknown recipe.
Prints a table and writes JSON to `benchmarks/results/cli_startup.json`.

    python benchmarks/cli_startup.py [--repeats 5]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

COMMANDS = [
    ("--help", ["-m", "keras_gan_stable", "--help"], 0),
    ("--version", ["-m", "keras_gan_stable", "--version"], 0),
    ("train --help", ["-m", "keras_gan_stable", "train", "--help"], 0),
    ("recipes sngan", ["-m", "keras_gan_stable", "recipes", "sngan"], 0),
    ("unknown recipe", ["-m", "keras_gan_stable", "train", "--recipe",
                        "nope"], 2),
    ("learning_rate=.inf", ["-m", "keras_gan_stable", "train", "--set",
                            "train.d_optimizer.learning_rate=.inf"], 2),
    ("import keras_gan_stable", ["-c", "import keras_gan_stable"], 0),
    ("import keras (TF, reference)", ["-c", "import keras"], 0),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5,
                        help="fresh processes per command")
    parser.add_argument("--out", default=os.path.join(
        ROOT, "benchmarks", "results", "cli_startup.json"),
        help="JSON output file")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=ROOT, KERAS_BACKEND="tensorflow",
               TF_CPP_MIN_LOG_LEVEL="3")
    rows = []
    for label, cmd, expected in COMMANDS:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = subprocess.run([sys.executable] + cmd, env=env, cwd=ROOT,
                                 capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if res.returncode != expected:
                raise SystemExit(f"{label}: exit {res.returncode}, expected "
                                 f"{expected}: {res.stderr[-500:]}")
        rows.append({"command": label, "median_s": statistics.median(times),
                     "max_s": max(times), "runs": len(times),
                     "exit_status": expected})
    print(f"{'command':32s} {'median s':>9s} {'max s':>7s}")
    for r in rows:
        print(f"{r['command']:32s} {r['median_s']:9.3f} {r['max_s']:7.3f}")
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "cpus": os.cpu_count(), "shared_machine_note":
              "measured on a CPU machine shared with other jobs",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": "python benchmarks/cli_startup.py --repeats "
                         f"{args.repeats}", "rows": rows}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
