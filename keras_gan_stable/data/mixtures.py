"""2D Gaussian mixtures for mode-collapse studies (ring of 8, grid of 25)."""

import numpy as np

# name -> (centres builder, standard deviation)
MIXTURES = ("ring8", "grid25")


def mixture_modes(name):
    """The mode centres `[K, 2]` and the per-mode standard deviation.

    `"ring8"`: 8 modes evenly spaced on the circle of radius 1, std 0.01.
    `"grid25"`: 25 modes on `{-4, -2, 0, 2, 4}^2`, std 0.05 (PacGAN's grid).

    Metrics count a sample as "high quality" when it lies within 3 std of its
    nearest mode (Srivastava et al. 2017; Lin et al. 2018).
    """
    if name == "ring8":
        angles = 2.0 * np.pi * np.arange(8) / 8.0
        centres = np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return centres.astype("float32"), 0.01
    if name == "grid25":
        grid = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
        xs, ys = np.meshgrid(grid, grid, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        return centres.astype("float32"), 0.05
    raise ValueError(
        f"Unknown 2D mixture {name!r}. Use one of {list(MIXTURES)}."
    )


def sample_mixture(name, num_samples=10000, seed=0):
    """Draws `num_samples` points `[N, 2]` float32 and their mode index `[N]`.

    Modes are chosen uniformly; each point is its mode's centre plus
    isotropic Gaussian noise of the mixture's std.
    """
    num_samples = int(num_samples)
    if num_samples < 1:
        raise ValueError(
            f"`num_samples` should be >= 1 for the {name!r} mixture. "
            f"Received: `num_samples={num_samples}`"
        )
    centres, std = mixture_modes(name)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(centres), size=num_samples)
    points = centres[modes] + std * rng.standard_normal((num_samples, 2))
    return points.astype("float32"), modes.astype("int32")
