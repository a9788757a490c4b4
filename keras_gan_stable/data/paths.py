"""The optional local mirror of data sets: one setting for all code.

`KERAS_GAN_STABLE_DATA` names a folder laid out like this project's shared
data (`mnist/t10k-images-idx3-ubyte.gz`, `cifar10/train-jpeg.tar.gz`, ...).
It has no default: a pip-installed library reads named data sets from the
Keras cache (`~/.keras/datasets`), and the mirror is only used when set.
"""

import os

ENV_VAR = "KERAS_GAN_STABLE_DATA"


def mirror_root():
    """The mirror folder named by `KERAS_GAN_STABLE_DATA`, or `None` when unset."""
    root = os.environ.get(ENV_VAR)
    return os.path.abspath(os.path.expanduser(root)) if root else None


def data_root():
    """The mirror folder; raises `FileNotFoundError` when the variable is unset."""
    root = mirror_root()
    if root is None:
        raise FileNotFoundError(
            f"The environment variable {ENV_VAR} is not set. Set it to a local "
            "mirror of the data sets (a folder holding e.g. "
            "mnist/t10k-images-idx3-ubyte.gz), or load named data sets with "
            "keras_gan_stable.data.load_arrays('mnist'), which uses the Keras "
            "cache (~/.keras/datasets)."
        )
    return root


def data_path(*parts, must_exist=True):
    """Path of a file under the mirror, with a clear error when missing."""
    root = data_root()
    path = os.path.join(root, *parts)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(
            f"Data file not found: {path}. Set the environment variable "
            f"{ENV_VAR} to the folder that holds "
            f"'{os.path.join(*parts)}' (currently {root})."
        )
    return path
