"""The one noise generator behind every `(n, seed)` sample of this library.

`GAN.generate(n, seed)`, the SavedModel's `sample(n, seed)` signature and any
exported format fed `latent_noise(n, latent_dim, seed)` give the same images,
bit for bit. Floating-point noise from NumPy's `default_rng` or TensorFlow's
`stateless_normal` cannot be reproduced exactly by another runtime (each uses
its own bit generator and its own `log`/`cos`), so the noise is made from
integer operations every runtime computes identically, and one table lookup:

    s     = seed mod 2**32                                     (uint32)
    k     = mix(s ^ 0x9E3779B9),  k2 = mix(k ^ 0x632BE5AB)
    c     = i * latent_dim + j   mod 2**32    for row i, column j
    h     = mix(mix(c ^ k) ^ k2)
    z[i, j] = TABLE[h >> 16]

where `mix` is the "lowbias32" integer hash (C. Wellons: `x ^= x >> 16;
x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16`, uint32
arithmetic) and `TABLE[q] = Phi^-1((q + 0.5) / 65536)` in float32, the
standard normal quantiles at the 65,536 midpoints (Python's
`statistics.NormalDist().inv_cdf`). The noise is therefore a standard
normal quantised to 65,536 levels (spacing about 4e-5 near 0, |z| <= 4.33),
which no generator network can tell from continuous noise. Row `i` depends
only on `(seed, i)`, so the first rows of `n = 10` equal those of `n = 5`.

StyleGAN2's per-pixel noise maps (`synthesis_noise`) use the stream
`k = mix(s ^ 0x2545F491)`, the rest as for `z`. Class labels of a
conditional GAN use the stream `k = mix(s ^ 0x7F4A7C15)`:
`label[i] = mix(mix(i ^ k) ^ mix(k ^ 0x632BE5AB)) mod num_classes`.

(`k2` is salted: with `k2 = mix(k)`, `c = 0` gave `h = mix(0) = 0` for
every seed, so `z[0, 0]` was always the table's lowest value, -4.32, and
the first label always 0.)
"""

import functools

import numpy as np

TABLE_BITS = 16
_Z_STREAM = 0x9E3779B9
_LABEL_STREAM = 0x7F4A7C15
_NOISE_STREAM = 0x2545F491
_SALT = 0x632BE5AB
_M1 = 0x7FEB352D
_M2 = 0x846CA68B


@functools.lru_cache(maxsize=1)
def normal_table():
    """`[65536]` float32: `Phi^-1((q + 0.5) / 65536)` for q = 0..65535."""
    from statistics import NormalDist

    inv = NormalDist().inv_cdf
    size = 1 << TABLE_BITS
    table = np.array([inv((q + 0.5) / size) for q in range(size)], "float64")
    table = table.astype("float32")
    table.flags.writeable = False
    return table


def mix32(x):
    """lowbias32: a bijective integer hash of uint32 arrays (wraps mod 2**32)."""
    x = np.asarray(x, np.uint32)
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint32(16))
        x = x * np.uint32(_M1)
        x = x ^ (x >> np.uint32(15))
        x = x * np.uint32(_M2)
        x = x ^ (x >> np.uint32(16))
    return x


def _check(n, seed):
    n = int(n)
    if n < 0:
        raise ValueError(f"`n` should be >= 0. Received: `n={n}`")
    if seed is None or isinstance(seed, bool):
        raise ValueError(
            f"`seed` should be an int. Received: `seed={seed!r}`. Draw one "
            "with np.random.default_rng().integers(2**32) for fresh noise."
        )
    return n, np.uint32(int(seed) & 0xFFFFFFFF)


def latent_noise(n, latent_dim, seed):
    """`[n, latent_dim]` float32 standard-normal noise for `seed` (see module doc)."""
    return _hash_normal(n, latent_dim, seed, _Z_STREAM)


def synthesis_noise(n, size, seed):
    """`[n, size]` float32 standard-normal noise maps for `seed`: the per-pixel
    noise of a StyleGAN2 generator (`StyleGAN2.generate`, the SavedModel's
    `sample`), the stream `k = mix(s ^ 0x2545F491)`, otherwise as `z`."""
    return _hash_normal(n, size, seed, _NOISE_STREAM)


def _hash_normal(n, latent_dim, seed, stream):
    n, s = _check(n, seed)
    latent_dim = int(latent_dim)
    k = mix32(s ^ np.uint32(stream))
    k2 = mix32(k ^ np.uint32(_SALT))
    c = np.arange(n * latent_dim, dtype=np.uint64).astype(np.uint32)
    h = mix32(mix32(c ^ k) ^ k2)
    return normal_table()[h >> np.uint32(32 - TABLE_BITS)].reshape(
        n, latent_dim)


def latent_labels(n, num_classes, seed):
    """`[n]` int32 class labels in `[0, num_classes)` for `seed`."""
    n, s = _check(n, seed)
    k = mix32(s ^ np.uint32(_LABEL_STREAM))
    h = mix32(mix32(np.arange(n, dtype=np.uint64).astype(np.uint32) ^ k)
              ^ mix32(k ^ np.uint32(_SALT)))
    return (h.astype(np.int64) % int(num_classes)).astype("int32")
