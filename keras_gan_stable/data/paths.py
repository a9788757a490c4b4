"""Where real data sets live on this machine: one setting for all code."""

import os

ENV_VAR = "KERAS_GAN_STABLE_DATA"


def data_root():
    """The folder of local data sets.

    Read from the environment variable `KERAS_GAN_STABLE_DATA`; defaults to
    `../shared/data` relative to the current working directory (the layout of
    this project's checkout).
    """
    return os.path.abspath(os.environ.get(ENV_VAR, os.path.join("..", "shared", "data")))


def data_path(*parts, must_exist=True):
    """Path of a file under `data_root()`, with a clear error when missing."""
    path = os.path.join(data_root(), *parts)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(
            f"Data file not found: {path}. Set the environment variable "
            f"{ENV_VAR} to the folder that holds "
            f"'{os.path.join(*parts)}' (currently {data_root()})."
        )
    return path
