"""What machine a benchmark ran on (shared by the scripts in this folder)."""

import os
import platform
import sys
import time


def threads_from_argv():
    """Applies `--threads N` of the command line to the thread-count
    environment variables of TensorFlow, OpenMP and MKL; call it before
    TensorFlow or PyTorch is imported."""
    if "--threads" in sys.argv:
        n = sys.argv[sys.argv.index("--threads") + 1]
        for var in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = n


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or `platform.processor()`)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_metadata(backend=True):
    """Where, when and how a benchmark ran, for its JSON: the CPU, core
    count, load average, UTC date, command line and (with `backend`) the
    Keras backend."""
    meta = {"cpu": cpu_model(), "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}
    if backend:
        import keras

        meta["backend"] = keras.backend.backend()
    meta["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    meta["command"] = "python " + " ".join(sys.argv)
    return meta


def print_rows(rows):
    """`rows` (dicts with the same keys) as a Markdown table."""
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|---" * len(keys) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


def write_results(results_dir, name, args, rows):
    """`{"meta", "args", "rows"}` as `results_dir/name` (JSON)."""
    import json

    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, name), "w") as f:
        json.dump({"meta": run_metadata(), "args": vars(args), "rows": rows},
                  f, indent=1)
