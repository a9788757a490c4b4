"""FID of 10,000 x 2,048 features against 10,000 x 2,048, side by side.

Times keras_gan_stable's Frechet distance (streaming float64 statistics +
symmetric eigen-decomposition square root) beside the straightforward
reference (np.mean / np.cov + scipy.linalg.sqrtm of S1 @ S2, as in the
common FID scripts) in the same run, on the same features, and checks that
the values agree.

    python benchmarks/fid.py [--n 10000] [--dim 2048] [--repeats 1]

Prints a table and writes benchmarks/results/fid.json. Never gates CI.
"""

import argparse
import json
import os
import time

import numpy as np
import scipy
import scipy.linalg
from _machine import cpu_model  # noqa: E402


def reference_fid(x, y):
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1 = np.cov(x, rowvar=False)
    s2 = np.cov(y, rowvar=False)
    t_stats = time.perf_counter()
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    value = float(diff.dot(diff) + np.trace(s1) + np.trace(s2)
                  - 2.0 * np.trace(covmean))
    return value, t_stats


def library_fid(x, y):
    from keras_gan_stable.metrics import FeatureStatistics
    from keras_gan_stable.metrics import frechet_distance

    a = FeatureStatistics.from_features(x)
    b = FeatureStatistics.from_features(y)
    mu1, s1, mu2, s2 = a.mean, a.covariance, b.mean, b.covariance
    t_stats = time.perf_counter()
    return frechet_distance(mu1, s1, mu2, s2), t_stats


def features(rng, n, dim, shift):
    # Correlated, non-negative features like Inception pool activations.
    mix = rng.standard_normal((dim, dim)).astype("float32") / np.sqrt(dim)
    z = rng.standard_normal((n, dim)).astype("float32")
    return np.maximum(z @ mix + shift, 0.0).astype("float32")




def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    x = features(rng, args.n, args.dim, 0.2)
    y = features(rng, args.n, args.dim, 0.3)
    import keras_gan_stable.metrics  # noqa: F401 - import cost not timed

    rows = {"keras_gan_stable": [], "numpy+scipy.sqrtm": []}
    values = {}
    for rep in range(args.repeats):
        # Alternate the order so neither side always runs first.
        order = list(rows) if rep % 2 == 0 else list(rows)[::-1]
        for name in order:
            fn = library_fid if name == "keras_gan_stable" else reference_fid
            t0 = time.perf_counter()
            value, t_stats = fn(x, y)
            t1 = time.perf_counter()
            rows[name].append({"stats_s": t_stats - t0,
                               "distance_s": t1 - t_stats,
                               "total_s": t1 - t0})
            values[name] = value

    def best(name, key):
        return min(r[key] for r in rows[name])

    ours, ref = "keras_gan_stable", "numpy+scipy.sqrtm"
    rel = abs(values[ours] - values[ref]) / abs(values[ref])
    print(f"FID of {args.n} x {args.dim} vs {args.n} x {args.dim} features "
          f"(best of {args.repeats}), {cpu_model()}, {os.cpu_count()} cores")
    print(f"{'method':<20}{'stats s':>10}{'sqrt+trace s':>14}{'total s':>10}"
          f"{'FID':>16}")
    for name in rows:
        print(f"{name:<20}{best(name, 'stats_s'):>10.2f}"
              f"{best(name, 'distance_s'):>14.2f}{best(name, 'total_s'):>10.2f}"
              f"{values[name]:>16.6f}")
    speedup_total = best(ref, "total_s") / best(ours, "total_s")
    speedup_dist = best(ref, "distance_s") / best(ours, "distance_s")
    print(f"speed-up (reference / ours): total {speedup_total:.2f}x, "
          f"matrix square root + trace {speedup_dist:.2f}x; relative "
          f"difference of the values {rel:.2e}")
    result = {
        "benchmark": "fid",
        "n": args.n, "dim": args.dim, "repeats": args.repeats,
        "cpu": cpu_model(), "cpu_count": os.cpu_count(),
        "numpy": np.__version__, "scipy": scipy.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "timings": rows, "values": values, "relative_difference": rel,
        "speedup_total": speedup_total, "speedup_sqrt_trace": speedup_dist,
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                       "fid.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
