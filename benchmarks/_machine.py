"""What machine a benchmark ran on (shared by the scripts in this folder)."""

import platform


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
