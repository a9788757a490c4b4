"""Self-attention on one GPU with JAX: fused core vs the whole layer, bf16.

Measures forward + backward time and XLA temporary memory (from the
compiled executable's `memory_analysis()`) of

- `core`: the bare attention core, `jax.nn.dot_product_attention` with
  `implementation="cudnn"` where available (else XLA's), batch 16, one
  head, head size 128, bfloat16;
- `naive`: the same core written out (`softmax(Q K^T) V`, the `[B, N, N]`
  map materialised; softmax in float32);
- `layer`: the whole `SelfAttention2D` (C = 256, so query and key 32 and
  value 128, attended as four 32-wide value chunks) under `mixed_bfloat16`,
  gradients w.r.t. its weights and its input;

at 32x32, 64x64 and 128x128 positions, checks that the layer needs at most
2x the core's temporary memory at 64x64, and runs one SAGAN training step
(hinge, TTUR, mixed bfloat16) on 128x128 images with attention on the
128x128 feature map of G. JAX only: TensorFlow is never imported.

    python benchmarks/gpu_attention_jax.py            # GPU, < 5 min on H100
    python benchmarks/gpu_attention_jax.py --smoke    # CPU, small sizes

Writes `benchmarks/results/gpu_attention_jax.json` (`..._smoke.json` with
`--smoke`).
"""

import argparse
import json
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"
# The GPU machine has no TensorFlow; make sure nothing here depends on it.
if "tensorflow" in sys.modules:
    raise RuntimeError("Run this script in a fresh process (JAX only).")


class _NoTensorFlow:
    """Import hook: behave as if TensorFlow were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"{name} is blocked: this benchmark is JAX only")
        return None


sys.meta_path.insert(0, _NoTensorFlow())

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from keras_gan_stable.layers.self_attention import SelfAttention2D  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
MB = 1024.0 ** 2


def _compile(fn, *args):
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    temp = getattr(mem, "temp_size_in_bytes", None) if mem is not None else None
    return compiled, compile_s, temp


def _time(compiled, args, reps, warmup=2):
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t0)
    return 1000.0 * float(np.median(times))


def _memory_limit():
    try:
        stats = jax.devices()[0].memory_stats()
        return stats.get("bytes_limit") if stats else None
    except Exception:  # CPU devices have no memory stats
        return None


def _core_loss(implementation):
    def loss(q, k, v, r):
        out = jax.nn.dot_product_attention(q, k, v, scale=1.0,
                                           implementation=implementation)
        return jnp.sum(out.astype(jnp.float32) * r)

    return jax.value_and_grad(loss, argnums=(0, 1, 2))


def _naive_loss():
    def loss(q, k, v, r):
        logits = jnp.einsum("bnhd,bmhd->bhnm", q, k)
        p = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
        out = jnp.einsum("bhnm,bmhd->bnhd", p.astype(q.dtype), v)
        return jnp.sum(out.astype(jnp.float32) * r)

    return jax.value_and_grad(loss, argnums=(0, 1, 2))


def _layer_loss(layer):
    def loss(tv, ntv, x, r):
        y, _ = layer.stateless_call(tv, ntv, x)
        return jnp.sum(y.astype(jnp.float32) * r)

    return jax.value_and_grad(loss, argnums=(0, 2))


def bench_attention(side, batch, dim, reps, limit):
    n = side * side
    key = jax.random.PRNGKey(0)
    kq, kk, kv, kr, kx = jax.random.split(key, 5)
    shape = (batch, n, 1, dim)
    q = jax.random.normal(kq, shape, jnp.bfloat16)
    k = jax.random.normal(kk, shape, jnp.bfloat16) * 0.1
    v = jax.random.normal(kv, shape, jnp.bfloat16)
    r = jax.random.normal(kr, shape, jnp.float32)
    rows = []

    # Bare core: cuDNN where it compiles, XLA otherwise.
    core = None
    for impl in ("cudnn", "xla"):
        try:
            core = _compile(_core_loss(impl), q, k, v, r)
            core_impl = impl
            break
        except Exception as e:  # no cuDNN kernel (CPU, old GPU, dtype)
            err = f"{type(e).__name__}: {str(e)[:120]}"
            print(f"  core implementation={impl!r} unavailable ({err})")
    compiled, compile_s, temp = core
    rows.append({"variant": "core", "implementation": core_impl,
                 "compile_s": compile_s, "temp_mb": temp / MB,
                 "ms": _time(compiled, (q, k, v, r), reps)})

    compiled, compile_s, temp = _compile(_naive_loss(), q, k, v, r)
    row = {"variant": "naive", "implementation": "materialised",
           "compile_s": compile_s, "temp_mb": temp / MB}
    if limit is not None and temp > 0.6 * limit:
        row["ms"] = None
        row["note"] = "not run: temp memory above 60% of the device"
    else:
        row["ms"] = _time(compiled, (q, k, v, r), reps)
    rows.append(row)

    # The whole layer: C = 2 * dim channels, mixed bfloat16.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        layer = SelfAttention2D()
        x_shape = (batch, side, side, 2 * dim)
        layer.build(x_shape)
        layer.gamma.assign(0.5)
        x = jax.random.normal(kx, x_shape, jnp.bfloat16)
        rx = jax.random.normal(kr, x_shape, jnp.float32)
        tv = [v_.value for v_ in layer.trainable_variables]
        ntv = [v_.value for v_ in layer.non_trainable_variables]
        path = "fused" if layer._use_fused(x) else "materialized"
        compiled, compile_s, temp = _compile(_layer_loss(layer), tv, ntv, x,
                                             rx)
        rows.append({"variant": "layer", "implementation": path,
                     "compile_s": compile_s, "temp_mb": temp / MB,
                     "ms": _time(compiled, (tv, ntv, x, rx), reps)})
    finally:
        keras.config.set_dtype_policy(previous)
    for row in rows:
        row.update({"positions": f"{side}x{side}", "batch": batch,
                    "head_dim": dim})
        ms = "-" if row["ms"] is None else f"{row['ms']:.3f}"
        print(f"{row['positions']:>9} {row['variant']:>6} "
              f"{row['implementation']:>13} {row['temp_mb']:11.1f} MB "
              f"{ms:>10} ms  (compile {row['compile_s']:.1f} s)", flush=True)
    return rows


def gan_step(image_size, width, batch, reps):
    from keras_gan_stable import GAN
    from keras_gan_stable.architectures.sagan import sagan_compile_kwargs
    from keras_gan_stable.architectures.sagan import sagan_discriminator
    from keras_gan_stable.architectures.sagan import sagan_generator

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        shape = (image_size, image_size, 3)
        g = sagan_generator(128, shape, width=width,
                            attention_resolutions=(image_size,))
        d = sagan_discriminator(shape, width=width,
                                attention_resolutions=(image_size // 2,))
        gan = GAN(g, d, latent_dim=128, seed=0)
        gan.compile(**sagan_compile_kwargs())
        images = np.random.default_rng(0).uniform(
            -1, 1, (batch,) + shape).astype("float32")
        t0 = time.perf_counter()
        logs = gan.train_on_batch(images, return_dict=True)
        first_s = time.perf_counter() - t0
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            logs = gan.train_on_batch(images, return_dict=True)
            times.append(time.perf_counter() - t0)
        logs = {k: float(v) for k, v in logs.items()}
        if not all(np.isfinite(list(logs.values()))):
            raise AssertionError(f"non-finite SAGAN losses: {logs}")
        gammas = [float(keras.ops.convert_to_numpy(l.gamma))
                  for m in (g, d) for l in m._flatten_layers()
                  if isinstance(l, SelfAttention2D)]
    finally:
        keras.config.set_dtype_policy(previous)
    row = {"image_size": image_size, "width": width, "batch": batch,
           "attention_positions": f"{image_size}x{image_size} (G), "
                                  f"{image_size // 2}x{image_size // 2} (D)",
           "first_step_s": first_s, "step_ms": 1000 * float(np.median(times)),
           "logs": logs, "attention_gammas": gammas,
           "iterations": [int(keras.ops.convert_to_numpy(o.iterations))
                          for o in (gan.d_optimizer, gan.g_optimizer)]}
    print(f"SAGAN step at {image_size}x{image_size}, batch {batch}: "
          f"{row['step_ms']:.1f} ms (first call {first_s:.1f} s), "
          f"logs {logs}", flush=True)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="small sizes, runs on the CPU in a few minutes")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args()
    t_start = time.perf_counter()
    device = jax.devices()[0]
    if args.smoke:
        sides, batch, dim, check_side = (8, 16, 32), 2, 32, 16
        gan_cfg = (32, 2, 4)
        reps = args.reps or 3
    else:
        sides, batch, dim, check_side = (32, 64, 128), 16, 128, 64
        gan_cfg = (128, 16, 16)
        reps = args.reps or 20
    limit = _memory_limit()
    print(f"device: {device.device_kind} ({device.platform}), jax "
          f"{jax.__version__}, keras {keras.__version__}, "
          f"memory limit "
          f"{'n/a' if limit is None else f'{limit / MB:.0f} MB'}")
    print(f"{'positions':>9} {'what':>6} {'implementation':>13} "
          f"{'XLA temp':>14} {'fwd+bwd':>13}")
    rows = []
    for side in sides:
        rows += bench_attention(side, batch, dim, reps, limit)

    def pick(side, variant):
        return next(r for r in rows if r["positions"] == f"{side}x{side}"
                    and r["variant"] == variant)

    core, layer = pick(check_side, "core"), pick(check_side, "layer")
    ratio = layer["temp_mb"] / max(core["temp_mb"], 1e-9)
    fused = core["implementation"] == "cudnn"
    print(f"layer / core temp memory at {check_side}x{check_side}: "
          f"{ratio:.2f}x ({'cuDNN core' if fused else 'no fused kernel'})")
    step = gan_step(*gan_cfg, reps=3)
    out = {
        "benchmark": "gpu_attention_jax",
        "smoke": args.smoke,
        "device": f"{device.device_kind} ({device.platform})",
        "jax": jax.__version__,
        "keras": keras.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
        "layer_over_core_temp_memory": {"positions": f"{check_side}x"
                                        f"{check_side}", "ratio": ratio},
        "sagan_step": step,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "total_s": time.perf_counter() - t_start,
    }
    os.makedirs(RESULTS, exist_ok=True)
    path = args.out or os.path.join(
        RESULTS, "gpu_attention_jax_smoke.json" if args.smoke
        else "gpu_attention_jax.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path} ({out['total_s']:.0f} s)")
    if fused and ratio > 2.0:
        raise SystemExit(
            f"FAIL: the layer needs {ratio:.2f}x the fused core's temporary "
            f"memory at {check_side}x{check_side} positions (limit 2x).")


if __name__ == "__main__":
    main()
