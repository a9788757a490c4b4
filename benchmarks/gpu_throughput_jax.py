"""SNGAN ResNet-32 train-step throughput on one GPU: library JAX vs minimal vs PyTorch.

Real images per second of the SNGAN CIFAR-10 ResNet step (Miyato et al.
2018: hinge loss, n_dis = 5 discriminator updates, each on its own real
batch, then one generator update; Adam(2e-4, 0.0, 0.9)) with the ResNet-32
networks (G width 256, D width 128) at batch 64 and 256 (per D update; one
step consumes 5 x batch real images), for

- `library`: `keras_gan_stable.GAN` under `fit()` on the JAX backend;
- `minimal`: a hand-written jitted Keras/JAX step on the same networks
  (`stateless_call` + `jax.value_and_grad` + `optimizer.stateless_apply`,
  the whole step in one `jax.jit` with donated state);
- `torch_eager` / `torch_compile`: the same networks and step in plain
  PyTorch (`benchmarks/reference/torch_sngan.py`), eager and with
  `torch.compile` on G and D, run in a child process that never imports
  JAX, before JAX claims the GPU;

in float32 and under the `mixed_bfloat16` policy (PyTorch: float32 only by
default; `--torch-dtypes float32,bfloat16` adds `torch.autocast`). JAX only
on the Keras side: TensorFlow is never imported (the GPU machine may not
have it). The configurations run in priority order and those that would
start after `--budget-s` (default 170 s; PyTorch gets the first 45%) are
recorded as skipped, so the run finishes in about 4 minutes on one H100;
pass a larger `--budget-s` to measure every configuration. XLA compiles
each step once (the warm-up column), which dominates short runs.

    python benchmarks/gpu_throughput_jax.py --out results/gpu.json   # GPU
    python benchmarks/gpu_throughput_jax.py --smoke                  # CPU, tiny

Writes `--out` (default `benchmarks/results/gpu_throughput_jax.json`,
`..._smoke.json` with `--smoke`).
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
LATENT, N_DIS, LR, BETAS = 128, 5, 2e-4, (0.0, 0.9)


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true",
                   help="tiny networks and batches on the CPU (a few minutes)")
    p.add_argument("--batches", default=None,
                   help="comma-separated batch sizes (default 64,256)")
    p.add_argument("--dtypes", default="float32,mixed_bfloat16",
                   help="Keras dtype policies (default: %(default)s)")
    p.add_argument("--torch-dtypes", default="float32",
                   help="PyTorch dtypes, float32 and/or bfloat16 (autocast)")
    p.add_argument("--no-torch-compile", action="store_true")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per configuration (default 20; smoke 2)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--budget-s", type=float, default=170.0,
                   help="start no configuration after this many seconds")
    p.add_argument("--out", default=None, help="JSON output path")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None,
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.smoke:
        args.g_width, args.d_width = 16, 16
        args.batches = args.batches or "8"
        args.steps = args.steps or 2
        args.warmup = min(args.warmup, 1)
        args.budget_s = 1e9  # the smoke run checks every configuration
    else:
        args.g_width, args.d_width = 256, 128
        args.batches = args.batches or "64,256"
        args.steps = args.steps or 20
    args.batch_list = [int(b) for b in args.batches.split(",") if b]
    return args


# ---------------------------------------------------------------------------
# PyTorch (child process; never imports JAX or Keras)
# ---------------------------------------------------------------------------
def torch_worker(args):
    import torch

    sys.path.insert(0, HERE)
    from reference.torch_sngan import HingeStep

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(0)
    else:
        name = "cpu"

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    configs = []
    for impl in ("torch_eager", "torch_compile"):  # eager first: cheap
        if impl == "torch_compile" and args.no_torch_compile:
            continue
        for batch in args.batch_list:
            for dtype in args.torch_dtypes.split(","):
                configs.append((impl, batch, dtype))
    rows = []
    for impl, batch, dtype in configs:
        row = {"impl": impl, "batch": batch, "dtype": dtype, "device": name}
        if time.time() > args.deadline:
            rows.append({**row, "skipped": "time budget"})
            continue
        try:
            torch.manual_seed(0)
            step = HingeStep(LATENT, 3, args.g_width, args.d_width, N_DIS,
                             LR, BETAS, device=device,
                             compile=impl == "torch_compile",
                             autocast_dtype=(torch.bfloat16
                                             if dtype == "bfloat16" else None))
            x = torch.rand(N_DIS * batch, 3, 32, 32, device=device) * 2 - 1
            t0 = time.perf_counter()
            for _ in range(args.warmup):
                step(x)
            sync()
            warm_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            for _ in range(args.steps):
                d_loss, g_loss = step(x)
            sync()
            seconds = time.perf_counter() - t0
            row.update(warmup_s=warm_s, seconds=seconds,
                       images_per_s=args.steps * N_DIS * batch / seconds,
                       d_loss=float(d_loss), g_loss=float(g_loss))
        except Exception as e:  # report, keep the other rows
            row["error"] = f"{type(e).__name__}: {e}"[:500]
        rows.append(row)
        print(f"  {impl:14s} batch {batch:4d} {dtype:15s} "
              f"{row.get('images_per_s', float('nan')):10.1f} images/s",
              file=sys.stderr, flush=True)
    print(json.dumps({"torch": torch.__version__, "rows": rows,
                      "torch_settings": {  # PyTorch's defaults, kept
                          "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
                          "matmul_allow_tf32":
                              torch.backends.cuda.matmul.allow_tf32}}))


def run_torch(args, deadline):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "torch",
           "--batches", args.batches, "--torch-dtypes", args.torch_dtypes,
           "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--deadline", str(deadline)]
    if args.smoke:
        cmd.append("--smoke")
    if args.no_torch_compile:
        cmd.append("--no-torch-compile")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    sys.stderr.write(out.stderr[-4000:])
    for line in out.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            return json.loads(line)
    return {"error": f"PyTorch worker failed (exit {out.returncode})",
            "rows": []}


# ---------------------------------------------------------------------------
# Keras / JAX
# ---------------------------------------------------------------------------
def _block_tensorflow():
    os.environ["KERAS_BACKEND"] = "jax"
    if "tensorflow" in sys.modules:
        raise RuntimeError("Run this script in a fresh process (JAX only).")

    class _NoTensorFlow:
        """Import hook: behave as if TensorFlow were not installed."""

        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"{name} is blocked: this benchmark is "
                                  "JAX only")
            return None

    sys.meta_path.insert(0, _NoTensorFlow())
    sys.path.insert(0, os.path.join(HERE, ".."))


def _networks(args):
    from keras_gan_stable.architectures.sngan import (
        sngan_resnet_discriminator, sngan_resnet_generator)

    g = sngan_resnet_generator(LATENT, (32, 32, 3), width=args.g_width)
    d = sngan_resnet_discriminator((32, 32, 3), width=args.d_width)
    return g, d


def _adam():
    import keras

    return keras.optimizers.Adam(LR, beta_1=BETAS[0], beta_2=BETAS[1])


def minimal_step(g, d, batch):
    """The hand-written jitted step: returns (step_fn, initial state)."""
    import jax
    import jax.numpy as jnp

    d_opt, g_opt = _adam(), _adam()
    d_opt.build(d.trainable_variables)
    g_opt.build(g.trainable_variables)

    def values(vs):
        return [v.value for v in vs]

    def d_loss_fn(d_tv, d_ntv, g_tv, g_ntv, real, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        fake = jax.lax.stop_gradient(fake)
        out_real, d_ntv = d.stateless_call(d_tv, d_ntv, real, training=True)
        out_fake, _ = d.stateless_call(d_tv, d_ntv, fake, training=True)
        loss = (jnp.mean(jax.nn.relu(1.0 - out_real.astype("float32")))
                + jnp.mean(jax.nn.relu(1.0 + out_fake.astype("float32"))))
        return loss, (d_ntv, g_ntv)

    def g_loss_fn(g_tv, g_ntv, d_tv, d_ntv, z):
        fake, g_ntv = g.stateless_call(g_tv, g_ntv, z, training=True)
        out, _ = d.stateless_call(d_tv, d_ntv, fake, training=True)
        return -jnp.mean(out.astype("float32")), g_ntv

    d_grad = jax.value_and_grad(d_loss_fn, has_aux=True)
    g_grad = jax.value_and_grad(g_loss_fn, has_aux=True)

    def step(state, images, key):
        d_tv, d_ntv, d_ov, g_tv, g_ntv, g_ov = state
        for i in range(N_DIS):
            key, k = jax.random.split(key)
            z = jax.random.normal(k, (batch, LATENT))
            (d_loss, (d_ntv, g_ntv)), grads = d_grad(
                d_tv, d_ntv, g_tv, g_ntv, images[i * batch:(i + 1) * batch], z)
            d_tv, d_ov = d_opt.stateless_apply(d_ov, grads, d_tv)
        key, k = jax.random.split(key)
        z = jax.random.normal(k, (batch, LATENT))
        (g_loss, g_ntv), grads = g_grad(g_tv, g_ntv, d_tv, d_ntv, z)
        g_tv, g_ov = g_opt.stateless_apply(g_ov, grads, g_tv)
        return (d_tv, d_ntv, d_ov, g_tv, g_ntv, g_ov), key, d_loss, g_loss

    state = (values(d.trainable_variables), values(d.non_trainable_variables),
             values(d_opt.variables), values(g.trainable_variables),
             values(g.non_trainable_variables), values(g_opt.variables))
    return jax.jit(step, donate_argnums=(0,)), state


def bench_minimal(args, batch, x):
    import jax

    g, d = _networks(args)
    step, state = minimal_step(g, d, batch)
    key = jax.random.PRNGKey(0)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        state, key, d_loss, g_loss = step(state, x, key)
    jax.block_until_ready(state)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(args.steps):
        state, key, d_loss, g_loss = step(state, x, key)
    jax.block_until_ready(state)
    seconds = time.perf_counter() - t0
    return warm_s, seconds, float(d_loss), float(g_loss)


def bench_library(args, batch, x):
    import numpy as np

    from keras_gan_stable.models.gan import GAN

    g, d = _networks(args)
    gan = GAN(g, d, latent_dim=LATENT, seed=0)
    gan.compile(_adam(), _adam(), loss="hinge", n_critic=N_DIS)
    per_step = N_DIS * batch
    data = np.concatenate([np.asarray(x)] * max(args.steps, args.warmup))
    t0 = time.perf_counter()
    gan.fit(data[:args.warmup * per_step], batch_size=per_step, epochs=1,
            shuffle=False, verbose=0)
    warm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    hist = gan.fit(data[:args.steps * per_step], batch_size=per_step,
                   epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - t0
    return (warm_s, seconds, float(hist.history["d_loss"][-1]),
            float(hist.history["g_loss"][-1]))


def main():
    args = _parse()
    if args.worker == "torch":
        return torch_worker(args)
    t_start = time.time()
    deadline = t_start + args.budget_s
    # PyTorch first, in its own process, before JAX claims GPU memory.
    torch_res = run_torch(args, t_start + 0.45 * args.budget_s)

    _block_tensorflow()
    import numpy as np
    import jax
    import keras

    device = jax.devices()[0]
    device_name = f"{device.device_kind} ({device.platform})"
    print(f"device: {device_name}, jax {jax.__version__}, keras "
          f"{keras.__version__}", flush=True)
    rows = []
    for batch in args.batch_list:
        x = jax.device_put(np.random.default_rng(0).uniform(
            -1, 1, (N_DIS * batch, 32, 32, 3)).astype("float32"))
        for dtype in args.dtypes.split(","):
            for impl in ("minimal", "library"):
                row = {"impl": impl, "batch": batch, "dtype": dtype,
                       "device": device_name}
                if time.time() > deadline:
                    rows.append({**row, "skipped": "time budget"})
                    continue
                keras.config.set_dtype_policy(dtype)
                keras.utils.set_random_seed(0)
                try:
                    fn = bench_minimal if impl == "minimal" else bench_library
                    warm_s, seconds, d_loss, g_loss = fn(args, batch, x)
                    row.update(warmup_s=warm_s, seconds=seconds,
                               images_per_s=args.steps * N_DIS * batch
                               / seconds, d_loss=d_loss, g_loss=g_loss)
                except Exception as e:  # report, keep the other rows
                    row["error"] = f"{type(e).__name__}: {e}"[:500]
                finally:
                    keras.config.set_dtype_policy("float32")
                    keras.backend.clear_session()
                rows.append(row)
                print(f"  {impl:14s} batch {batch:4d} {dtype:15s} "
                      f"{row.get('images_per_s', float('nan')):10.1f} "
                      f"images/s (warm-up {row.get('warmup_s', 0):.1f} s)",
                      flush=True)
    rows += torch_res.get("rows", [])

    def ips(impl, batch, dtype):
        for r in rows:
            if (r["impl"], r["batch"], r["dtype"]) == (impl, batch, dtype):
                return r.get("images_per_s")
        return None

    print(f"\nSNGAN ResNet-32 hinge step (n_dis {N_DIS}), {device_name}, "
          f"{args.steps} timed steps; real images/s")
    print(f"{'implementation':14s} {'batch':>5s} {'dtype':>15s} "
          f"{'images/s':>10s} {'vs minimal':>10s} {'vs torch':>9s}")
    for r in rows:
        ref_min = ips("minimal", r["batch"], r["dtype"])
        ref_t = ips("torch_eager", r["batch"], "float32")
        v = r.get("images_per_s")
        r["ratio_vs_minimal"] = v / ref_min if v and ref_min else None
        r["ratio_vs_torch_eager_float32"] = v / ref_t if v and ref_t else None
        fmt = lambda q: f"{q:.2f}x" if q else "-"
        shown = f"{v:10.1f}" if v else f"{r.get('skipped', 'error'):>10s}"
        print(f"{r['impl']:14s} {r['batch']:5d} {r['dtype']:>15s} {shown} "
              f"{fmt(r['ratio_vs_minimal']):>10s} "
              f"{fmt(r['ratio_vs_torch_eager_float32']):>9s}")
    out = {
        "benchmark": "gpu_throughput_jax", "smoke": args.smoke,
        "network": f"SNGAN ResNet-32 (G width {args.g_width}, D width "
                   f"{args.d_width}), hinge, n_dis {N_DIS}, Adam(2e-4, 0, 0.9)",
        "images_per_s_counts": "real images consumed (n_dis x batch per step)",
        "device": device_name, "jax": jax.__version__,
        "keras": keras.__version__, "torch": torch_res.get("torch"),
        "torch_error": torch_res.get("error"),
        "torch_settings": torch_res.get("torch_settings"),
        "jax_default_matmul_precision": str(
            jax.config.jax_default_matmul_precision),
        "steps": args.steps, "warmup": args.warmup,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": "python " + " ".join(sys.argv),
        "rows": rows, "tensorflow_imported": "tensorflow" in sys.modules,
        "total_s": time.time() - t_start,
    }
    path = args.out or os.path.join(
        RESULTS, "gpu_throughput_jax_smoke.json" if args.smoke
        else "gpu_throughput_jax.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {path} ({out['total_s']:.0f} s)")


if __name__ == "__main__":
    main()
