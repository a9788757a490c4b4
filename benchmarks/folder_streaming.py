"""Peak memory of training on a large image folder: streamed vs decoded in memory.

Writes a folder of 20,000 generated 64x64 RGB PNGs (10 class sub-folders)
under /tmp, then trains a tiny DCGAN (width 4, n_critic 1, batch 64) for one
epoch on it, once per loader, each in a fresh process:

- `tf_data_stream`: `load_dataset(folder, stream=True)`: shuffled file
  names, PIL decoding on the fly in a parallel `tf.data` map;
- `pydataset_stream`: `ImageFolderDataset(folder)`, the `keras.utils.PyDataset`
  loader for backends without TensorFlow;
- `in_memory`: `load_dataset(folder, stream=False)`: the folder decoded into
  a uint8 array first (the pre-streaming behaviour, for contrast);
- `run_api_stream`: the run API / CLI path, `Run` with `data.stream=auto`
  (the folder is above 128 MiB decoded, so it is streamed: a `FolderImages`
  view indexed batch by batch by `ResumableBatches`), the same tiny DCGAN
  through config overrides, checkpoints and one sample grid included;
- `run_api_memory`: the same with `data.stream=false` (the run API before
  streaming: the folder decoded into a float32 array).

Peak RSS growth is the process's high-water mark (`VmHWM`) at the end minus
its resident size (`VmRSS`) after imports and model building, before the
loader is made; it includes the tracing of the train step, so it bounds the
loader's own cost from above. Target: < 500 MB for the streamed loaders,
against the folder's decoded size (uint8 and the float32 `load_arrays`
would return).

    python benchmarks/folder_streaming.py            # ~3 CPU-minutes
    python benchmarks/folder_streaming.py --images 2000 --modes tf_data_stream

Writes `benchmarks/results/folder_streaming.json`. Never gates CI.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

SIZE = 64
MODES = ("tf_data_stream", "pydataset_stream", "in_memory", "run_api_stream",
         "run_api_memory")


def make_folder(folder, images, seed=0):
    """Smooth random RGB images (8x8 noise upsampled), 10 classes."""
    from PIL import Image

    done = os.path.join(folder, f".complete-{images}")
    if os.path.exists(done):
        return
    rng = np.random.default_rng(seed)
    for i in range(images):
        cls = os.path.join(folder, f"class_{i % 10}")
        os.makedirs(cls, exist_ok=True)
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img = Image.fromarray(small, "RGB").resize((SIZE, SIZE),
                                                  Image.BILINEAR)
        img.save(os.path.join(cls, f"{i:06d}.png"))
    open(done, "w").close()


def _status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # kB -> bytes
    raise RuntimeError(field)


def child(mode, folder, batch_size):
    """One training epoch in this process; prints a JSON line."""
    import keras

    import keras_gan_stable as kgs
    from keras_gan_stable.data import ImageFolderDataset, load_dataset

    keras.utils.set_random_seed(0)
    gan = kgs.GAN(kgs.dcgan_generator(16, (SIZE, SIZE, 3), width=4),
                  kgs.dcgan_discriminator((SIZE, SIZE, 3), width=4),
                  latent_dim=16)
    gan.compile(n_critic=1)
    base = _status("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    if mode.startswith("run_api"):
        import tempfile

        from keras_gan_stable.run import Run, RunConfig

        stream = "auto" if mode == "run_api_stream" else "false"
        config = RunConfig.from_recipe("dcgan", overrides=[
            f"data.source={folder}", f"data.stream={stream}",
            "model.width=4", "model.latent_dim=16",
            f"train.batch_size={batch_size}", "train.epochs=1",
            "output.samples=4", "output.fid_samples=0",
            "output.tensorboard=false", "output.plots=false",
            "output.export=false"])
        with tempfile.TemporaryDirectory() as out:
            run = Run(config, out_dir=os.path.join(out, "run"), verbose=0)
            loader = type(run.batches.x).__name__
            t_load = time.perf_counter() - t0
            run.fit()
            gan = run.gan
    else:
        if mode == "pydataset_stream":
            data = ImageFolderDataset(folder, batch_size=batch_size, seed=0)
        else:
            data = load_dataset(folder, batch_size=batch_size, seed=0,
                                stream=(mode == "tf_data_stream"))
        loader = type(data).__name__
        t_load = time.perf_counter() - t0
        gan.fit(data, epochs=1, verbose=0)
    steps = int(keras.ops.convert_to_numpy(gan.g_optimizer.iterations))
    print(json.dumps({
        "mode": mode, "loader": loader, "steps": steps,
        "rss_before_mb": base / 1e6,
        "peak_rss_mb": _status("VmHWM") / 1e6,
        "peak_growth_mb": (_status("VmHWM") - base) / 1e6,
        "loader_setup_s": t_load,
        "wall_s": time.perf_counter() - t0,
        "process_cpu_s": time.process_time() - c0,
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--folder", default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=os.path.join(HERE, "results",
                                                 "folder_streaming.json"))
    args = p.parse_args()
    folder = args.folder or f"/tmp/kgs_folder_{args.images}_{SIZE}px"
    if args.child:
        child(args.child, folder, args.batch_size)
        return
    t0 = time.perf_counter()
    make_folder(folder, args.images)
    t_make = time.perf_counter() - t0
    disk = sum(os.path.getsize(os.path.join(r, f))
               for r, _, fs in os.walk(folder) for f in fs)
    decoded_u8 = args.images * SIZE * SIZE * 3
    rows = []
    for mode in args.modes.split(","):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", mode,
             "--folder", folder, "--images", str(args.images),
             "--batch-size", str(args.batch_size)],
            capture_output=True, text=True,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if proc.returncode != 0:
            sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["child_cpu_s"] = (after.ru_utime + after.ru_stime
                              - before.ru_utime - before.ru_stime)
        rows.append(row)
    from _machine import run_metadata

    result = {
        "images": args.images, "image_size": [SIZE, SIZE, 3],
        "batch_size": args.batch_size, "folder": folder,
        "folder_disk_mb": disk / 1e6,
        "decoded_uint8_mb": decoded_u8 / 1e6,
        "decoded_float32_mb": 4 * decoded_u8 / 1e6,
        "make_folder_s": t_make, "target_growth_mb": 500, "runs": rows,
        "machine": run_metadata(backend=False),
    }
    print(f"{args.images} PNGs {SIZE}x{SIZE}x3: {disk / 1e6:.0f} MB on disk, "
          f"{decoded_u8 / 1e6:.0f} MB decoded uint8, "
          f"{4 * decoded_u8 / 1e6:.0f} MB as float32")
    print(f"| loader | steps | peak RSS growth (MB) | growth / uint8 size "
          f"| wall (s) | CPU (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['mode']} | {r['steps']} | {r['peak_growth_mb']:.0f} | "
              f"{r['peak_growth_mb'] / (decoded_u8 / 1e6):.2f} | "
              f"{r['wall_s']:.1f} | {r['child_cpu_s']:.1f} |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    from keras_gan_stable.export import write_json_atomic

    write_json_atomic(args.out, result)
    print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
