"""What machine a benchmark ran on (shared by the scripts in this folder)."""

import os
import platform
import sys
import time


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
