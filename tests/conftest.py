"""Shared fixtures.

The suite runs once per Keras backend (see `scripts/run_tests.sh`): tests
marked `multibackend` run under TensorFlow, JAX and PyTorch; the others run
under the TensorFlow pass only. Real data comes from the local mirror
`KERAS_GAN_STABLE_DATA`, which the library does not default; the suite sets
it to `../shared/data` next to the checkout unless it is already set.
"""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_GAN_STABLE_DATA", os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "shared", "data"))

import keras  # noqa: E402

BACKEND = keras.backend.backend()


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(
        reason=f"TensorFlow-only test (this pass runs KERAS_BACKEND={BACKEND})")
    for item in items:
        if "multibackend" not in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield
    # Without the full `gc.collect()` Keras adds by default: with TensorFlow
    # loaded it costs about 0.4 CPU-seconds a test (minutes a pass), and
    # Python's own collector still frees the cycles a test leaves.
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="session")
def mnist_test_set():
    """The 10,000 MNIST test images in [-1, 1] and their labels."""
    from keras_gan_stable.data.idx import load_mnist_test

    try:
        return load_mnist_test()
    except FileNotFoundError as e:  # pragma: no cover - CI has the data
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def cifar10_subset():
    """2,000 CIFAR-10 images (200 per class) in [-1, 1], read once."""
    from keras_gan_stable.data.cifar import load_cifar10_from_tar

    try:
        return load_cifar10_from_tar(max_per_class=200)
    except FileNotFoundError as e:  # pragma: no cover - CI has the data
        pytest.fail(str(e))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
