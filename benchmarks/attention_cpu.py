"""Self-attention on the CPU: time and peak memory of forward + backward.

Compares, side by side in one run, `SelfAttention2D` (its default path,
which on a CPU is the explicit map with a float32 softmax), the layer
forced through `keras.ops.dot_product_attention` (`implementation="fused"`,
the value attended in query-sized chunks), the layer with 2x2-pooled keys
and values, and a naive implementation written as in the original SAGAN
code (explicit `softmax(Q K^T)` matrix, then `V`), at C = 256 channels on
feature maps of 16x16 and 32x32 (batch 64) and 64x64 (batch 8).

Each configuration runs in its own process, so that its peak resident
memory (`ru_maxrss`, which sees the framework's allocations) is its own; a
process killed for memory is recorded as "OOM". The step is a
`tf.function` on TensorFlow, `jax.jit` on JAX and eager on PyTorch.

    KERAS_BACKEND=tensorflow python benchmarks/attention_cpu.py

Writes `benchmarks/results/attention_cpu.json`.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _machine import cpu_model

CONFIGS = [  # (height = width, batch)
    (16, 64),
    (32, 64),
    (64, 8),
]
VARIANTS = ["layer", "layer_fused", "layer_pooled", "naive"]
CHANNELS = 256
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _naive_layer_class():
    import keras
    from keras import ops

    class NaiveSelfAttention(keras.layers.Layer):
        """SAGAN attention as in the reference code: the [B, N, N] energy
        matrix, its softmax, and a batched matrix product with V."""

        def build(self, input_shape):
            c = input_shape[-1]
            self.f = keras.layers.Conv2D(c // 8, 1, use_bias=False)
            self.g = keras.layers.Conv2D(c // 8, 1, use_bias=False)
            self.h = keras.layers.Conv2D(c // 2, 1, use_bias=False)
            self.v = keras.layers.Conv2D(c, 1, use_bias=False)
            for conv in (self.f, self.g, self.h):
                conv.build(input_shape)
            self.v.build(tuple(input_shape[:3]) + (c // 2,))
            self.gamma = self.add_weight(shape=(), initializer="zeros")

        def call(self, x):
            b, h, w, c = ops.shape(x)
            q = ops.reshape(self.f(x), (b, h * w, -1))
            k = ops.reshape(self.g(x), (b, h * w, -1))
            v = ops.reshape(self.h(x), (b, h * w, -1))
            energy = ops.matmul(q, ops.transpose(k, (0, 2, 1)))
            attention = ops.softmax(energy, axis=-1)
            out = ops.reshape(ops.matmul(attention, v), (b, h, w, -1))
            return x + self.gamma * self.v(out)

    return NaiveSelfAttention


def _make_step(layer, x, r):
    """A compiled function computing the loss and all weight gradients."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(layer(x) * r)
            return loss, tape.gradient(loss, layer.trainable_variables)

        return lambda: [t.numpy() for t in tf.nest.flatten(step())]
    if backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        @jax.jit
        def step(tv, ntv, x, r):
            def loss_fn(tv):
                y, _ = layer.stateless_call(tv, ntv, x)
                return (y * r).sum()

            return jax.value_and_grad(loss_fn)(tv)

        def run():
            out = step(trainable, non_trainable, x, r)
            jax.block_until_ready(out)
            return out

        return run
    import torch

    def run():
        for v in layer.trainable_variables:
            v.value.grad = None
        loss = (layer(x) * r).sum()
        loss.backward()
        return float(loss)

    return run


def worker(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import keras

    from keras_gan_stable.layers.self_attention import SelfAttention2D

    keras.utils.set_random_seed(0)
    shape = (args.batch, args.size, args.size, args.channels)
    if args.variant == "naive":
        layer = _naive_layer_class()()
    else:
        layer = SelfAttention2D(
            pool_keys_values=args.variant == "layer_pooled",
            implementation=("fused" if args.variant == "layer_fused"
                            else "auto"))
    layer.build(shape)
    layer.gamma.assign(0.5)
    rng = np.random.default_rng(0)
    x = keras.ops.convert_to_tensor(rng.standard_normal(shape).astype("float32"))
    r = keras.ops.convert_to_tensor(rng.standard_normal(shape).astype("float32"))
    step = _make_step(layer, x, r)
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    step()  # compile + first run
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print("RESULT " + json.dumps({
        "first_call_s": first,
        "times_s": times,
        "median_ms": 1000 * float(np.median(times)),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "peak_minus_before_mb": peak - rss_before,
    }), flush=True)



def main(args):
    import keras

    backend = keras.backend.backend()
    rows = []
    for size, batch in CONFIGS:
        if args.sizes and size not in args.sizes:
            continue
        for variant in VARIANTS:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker",
                   "--variant", variant, "--size", str(size), "--batch",
                   str(batch), "--channels", str(args.channels), "--reps",
                   str(args.reps)]
            t0 = time.time()
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  timeout=args.timeout)
            row = {"size": f"{size}x{size}", "batch": batch,
                   "variant": variant, "channels": args.channels}
            lines = [l for l in proc.stdout.splitlines()
                     if l.startswith("RESULT ")]
            if proc.returncode == 0 and lines:
                row.update(json.loads(lines[-1][len("RESULT "):]))
                row["status"] = "ok"
            else:
                text = proc.stderr[-2000:]
                oom = proc.returncode in (-9, 137) or any(
                    s in text for s in ("ResourceExhausted", "MemoryError",
                                        "out of memory", "OOM"))
                row["status"] = "OOM" if oom else f"error rc={proc.returncode}"
                row["stderr_tail"] = text[-500:]
            row["wall_s"] = time.time() - t0
            rows.append(row)
            _print_row(row)
    naive = {(r["size"], r["batch"]): r for r in rows
             if r["variant"] == "naive" and r["status"] == "ok"}
    for r in rows:
        ref = naive.get((r["size"], r["batch"]))
        if r["status"] == "ok" and ref is not None:
            r["time_vs_naive"] = r["median_ms"] / ref["median_ms"]
            r["memory_vs_naive"] = (r["peak_minus_before_mb"]
                                    / max(ref["peak_minus_before_mb"], 1e-9))
    print()
    print(f"{'map':>7} {'batch':>5} {'variant':>13} {'ms':>9} {'x naive':>8} "
          f"{'peak MB':>8} {'+MB':>8} {'x naive':>8}")
    for r in rows:
        if r["status"] != "ok":
            print(f"{r['size']:>7} {r['batch']:>5} {r['variant']:>13} "
                  f"{r['status']}")
            continue
        print(f"{r['size']:>7} {r['batch']:>5} {r['variant']:>13} "
              f"{r['median_ms']:9.1f} {r.get('time_vs_naive', float('nan')):8.2f} "
              f"{r['peak_rss_mb']:8.0f} {r['peak_minus_before_mb']:8.0f} "
              f"{r.get('memory_vs_naive', float('nan')):8.2f}")
    out = {
        "benchmark": "attention_cpu",
        "backend": backend,
        "keras": keras.__version__,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average_at_end": os.getloadavg(),
        "reps": args.reps,
        "rows": rows,
    }
    os.makedirs(RESULTS, exist_ok=True)
    path = os.path.join(RESULTS, "attention_cpu.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {path}")


def _print_row(r):
    if r["status"] == "ok":
        print(f"  {r['size']} b{r['batch']} {r['variant']}: "
              f"{r['median_ms']:.1f} ms, peak RSS {r['peak_rss_mb']:.0f} MB "
              f"(+{r['peak_minus_before_mb']:.0f} MB)", flush=True)
    else:
        print(f"  {r['size']} b{r['batch']} {r['variant']}: {r['status']}",
              flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=VARIANTS, default="layer")
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--channels", type=int, default=CHANNELS)
    parser.add_argument("--reps", type=int, default=3,
                        help="timed repetitions after one warm-up call")
    parser.add_argument("--sizes", type=int, nargs="*",
                        help="only these feature-map sizes")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if args.worker:
        worker(args)
    else:
        main(args)
