"""MNIST sample quality per CPU-minute: the recipes, as a user runs them, beside
a plain PyTorch DCGAN.

Data: MNIST's test images padded with background to 32x32, split in two:
images 0-4999 (with their labels) are the training set, written to an
`.npz` that the run API reads as a user's file; images 5000-9999 are the
held-out real set that samples are scored against.

Each library recipe trains through the user's path: `keras_gan_stable.run`
(`Run`, the CLI's code, with its default callbacks: sample grids, curves,
TensorBoard, checkpoints) with `train.minutes` and `train.clock=cpu`, so a
budget is CPU-seconds of this process (all its threads), steadier than
wall-clock on a shared machine. A run stops at the first budget (e.g. 2
CPU-minutes), is scored, then is resumed (`Run.resume_from`, exact) for the
difference up to the next budget (3 more for 5), and so on: one training
run per recipe, scored at each budget. The recipes keep their own settings
(`recommended` is class-conditional because the file has labels); only the
length is opened (`train.images=null`, `train.epochs=100000`) so that the
budget ends the run, and the run's own final metrics are off
(`output.fid_samples=0`). `progan`'s growing schedule is set by the run's
length, so it cannot be stopped by a budget and resumed: each of its
budgets is a fresh run of as many G steps as a probe run (its whole
schedule in 300 steps) makes in that many CPU-seconds; the probe's
tracing makes these runs end somewhat under their budget (each row
records its own CPU-seconds).

A plain PyTorch DCGAN (the `dcgan` recipe written in `torch.nn`: the
generator of `benchmarks/reference/torch_dcgan.py`, a BatchNorm
discriminator, non-saturating loss, Adam(2e-4, 0.5, 0.999), batch 64)
trains on the same images for the same CPU-seconds (`time.process_time`).

Scores (2,000 samples, seed 1234; EMA generator where the recipe keeps one)
in the features of one classifier trained on the held-out images
(`keras_gan_stable.metrics.train_feature_classifier`, fixed seed):

- classifier FID against the held-out images (lower is better; comparable
  only within one run of this script);
- modes: classes predicted for at least 2% of the samples (10 is best), and
  the KL divergence of the predicted-class histogram from uniform.

StyleGAN2 runs can also be scored under truncation (`--truncation`: FID,
modes, precision and recall at psi 1.0, 0.7 and 0.5; `--figures DIR`
writes a sample grid per psi and a style-mixing grid); `--steps N` trains
each recipe for exactly N G steps instead of CPU budgets (equal-step
comparisons, e.g. `stylegan2` against `stylegan2-ada` on
`--train-images 2000`); `--continue-from JSON` extends an earlier call's
runs (same `--work`) to later budgets, keeping its rows.

    python benchmarks/mnist_quality.py                  # budgets 2,5,10
    python benchmarks/mnist_quality.py --budgets 1,2 --recipes dcgan,recommended
    python benchmarks/mnist_quality.py --budgets 10,20 --recipes stylegan2 \
        --truncation --figures /tmp/figures

Writes `benchmarks/results/mnist_quality.json` (rows appended per recipe as
they finish, so a long run can be read while it goes).
"""

import argparse
import json
import os
import sys
import time

from _machine import run_metadata, threads_from_argv

threads_from_argv()  # `--threads N` acts before TensorFlow or PyTorch start
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
NUM_SAMPLES = 2000




def load_mnist32(max_images=None):
    """MNIST test images padded to `[N, 32, 32, 1]` in [-1, 1], labels."""
    import numpy as np

    from keras_gan_stable.data.idx import load_mnist_test

    images, labels = load_mnist_test()
    if max_images:
        images, labels = images[:max_images], labels[:max_images]
    images = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)),
                    constant_values=-1.0)
    return images.astype("float32"), labels


def load_cifar10_split(per_class=1500, train_per_class=1000):
    """CIFAR-10 training images in [-1, 1], the first `per_class` of each
    class (by file name), shuffled with a fixed seed: the first
    `10 * train_per_class` for training, the rest held out."""
    import numpy as np

    from keras_gan_stable.data.cifar import load_cifar10_from_tar

    images, labels = load_cifar10_from_tar(max_per_class=per_class)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order]
    n = 10 * train_per_class
    return (images[:n], labels[:n]), (images[n:], labels[n:])


class Scorer:
    """Classifier FID and mode coverage against one set of real images."""

    def __init__(self, real, labels, epochs=3, cache=None):
        """`cache`: a `.keras` path. Loaded when it exists, else the
        classifier is trained and saved there, so that several processes or
        sittings score in exactly the same features."""
        import keras

        from keras_gan_stable.metrics import train_feature_classifier

        if cache and os.path.exists(cache):
            self.clf = keras.saving.load_model(cache)
        else:
            self.clf = train_feature_classifier(real, labels, epochs=epochs,
                                                seed=0, save_path=cache)
        self.features = keras.Model(self.clf.inputs,
                                    self.clf.get_layer("features").output)
        self.f_real = self.features.predict(real, verbose=0, batch_size=500)

    def __call__(self, fake):
        import numpy as np

        from keras_gan_stable.metrics import (frechet_distance_from_features,
                                              mode_coverage)

        fake = np.asarray(fake, "float32")
        if not np.all(np.isfinite(fake)):
            return {"classifier_fid": float("inf"), "modes": 0,
                    "mode_kl": float("inf"), "finite": False}
        f_fake = self.features.predict(fake, verbose=0, batch_size=500)
        probs = self.clf.predict(fake, verbose=0, batch_size=500)
        counts = np.bincount(probs.argmax(1), minlength=10) / len(fake)
        cover = mode_coverage(probs)
        return {"classifier_fid": float(frechet_distance_from_features(
                    self.f_real, f_fake)),
                "modes": int((counts >= 0.02).sum()),
                "mode_kl": float(cover.kl), "finite": True}


def newest_step(run_dir):
    """Generator steps of the run's newest checkpoint."""
    from keras_gan_stable.callbacks.checkpoint import list_checkpoints

    newest = list_checkpoints(os.path.join(run_dir, "checkpoints"))[0]
    with open(os.path.join(newest, "meta.json")) as f:
        return int(json.load(f)["step"])


def train_recipe_budgets(recipe, data_path, budgets_s, scorer, work,
                         seed=0, overrides=(), done_rows=()):
    """Trains `recipe` through the run API, scored at each CPU budget;
    `overrides`: extra `KEY=VALUE` settings (the `--set` of the CLI).

    `done_rows`: the rows of an earlier call on the same `work` folder (its
    run folder stopped at the last of them): those budgets are kept, and
    the run is resumed from there for the later ones."""
    import keras

    from keras_gan_stable.run import Run, load_gan, resolve_config

    out = os.path.join(work, recipe)
    rows = [dict(r, carried_over=True) for r in done_rows]
    spent = rows[-1]["budget_s"] if rows else 0.0
    for budget in budgets_s:
        if budget <= spent:
            continue
        minutes = (budget - spent) / 60.0
        keras.backend.clear_session()
        c0, w0 = time.process_time(), time.perf_counter()
        if spent == 0.0:
            config = resolve_config(
                recipe=recipe, data=data_path, out=out, overrides=[
                    f"train.seed={seed}", "train.images=null",
                    "train.epochs=100000", "train.clock=cpu",
                    f"train.minutes={minutes}", "output.fid_samples=0",
                    *overrides])
            job = Run(config, out_dir=out, verbose=0)
        else:
            job = Run.resume_from(out, overrides=[f"train.minutes={minutes}"],
                                  verbose=0)
        summary = job.fit()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        spent = budget
        keras.backend.clear_session()
        gan, _ = load_gan(out)
        fake = gan.generate(NUM_SAMPLES, seed=1234)
        rows.append({"budget_s": budget, "stage_cpu_s": cpu,
                     "stage_wall_s": wall,
                     "stopped_by_time_budget":
                         summary["stopped_by_time_budget"],
                     "g_steps": newest_step(out), **scorer(fake)})
        print(f"    {budget / 60:5g} CPU-min: {rows[-1]}", flush=True)
    return rows


def train_recipe_steps(recipe, data_path, steps, scorer, work, seed=0,
                       overrides=()):
    """One fresh run of `recipe` for exactly `steps` G steps (no time
    budget; the CPU-seconds it took are recorded), scored at its end."""
    import keras

    from keras_gan_stable.run import Run, load_gan, resolve_config

    t = resolve_config(recipe=recipe, data=data_path,
                       overrides=list(overrides))["train"]
    out = os.path.join(work, recipe + "".join(f"[{o}]" for o in overrides))
    keras.backend.clear_session()
    config = resolve_config(
        recipe=recipe, data=data_path, out=out, overrides=[
            f"train.seed={seed}",
            f"train.images={steps * t['batch_size'] * t['n_critic']}",
            "output.fid_samples=0", "output.export=false", *overrides])
    c0, w0 = time.process_time(), time.perf_counter()
    summary = Run(config, out_dir=out, verbose=0).fit()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    keras.backend.clear_session()
    gan, _ = load_gan(out)
    row = {"planned_g_steps": steps, "stage_cpu_s": cpu, "stage_wall_s": wall,
           "train_cpu_s": summary["train_cpu_seconds"],
           "g_steps": newest_step(out),
           **scorer(gan.generate(NUM_SAMPLES, seed=1234))}
    print(f"    {steps} G steps: {row}", flush=True)
    return [row]


def truncation_rows(recipe, work, scorer, figures=None):
    """StyleGAN2 runs: FID, modes, precision and recall (k = 3, in the
    scorer's features, against as many held-out images) at truncation psi
    1.0, 0.7 and 0.5 of the run's final generator; with `figures`, a
    folder, also writes its sample grid at each psi and a style-mixing
    grid there."""
    import keras
    import numpy as np

    from keras_gan_stable.metrics.precision_recall import precision_recall
    from keras_gan_stable.run import load_gan
    from keras_gan_stable.utils.style_figures import save_style_mixing_grid

    keras.backend.clear_session()
    gan, _ = load_gan(os.path.join(work, recipe))
    rows = []
    for psi in (1.0, 0.7, 0.5):
        fake = np.asarray(gan.generate(NUM_SAMPLES, seed=1234,
                                       truncation_psi=psi), "float32")
        f_fake = scorer.features.predict(fake, verbose=0, batch_size=500)
        precision, recall = precision_recall(
            scorer.f_real[:NUM_SAMPLES], f_fake, k=3)
        rows.append({"truncation_psi": psi, **scorer(fake),
                     "precision": float(precision), "recall": float(recall)})
        print(f"    psi {psi}: {rows[-1]}", flush=True)
        if figures:
            save_grid(fake[:64], os.path.join(
                figures, f"{recipe}_psi{psi:g}.png"))
    if figures:
        save_style_mixing_grid(gan, os.path.join(
            figures, f"{recipe}_style_mixing.png"), row_seeds=[1, 2, 3, 4, 5],
            col_seeds=[6, 7, 8, 9, 10, 11], scale=2)
    return rows


def save_grid(images, path, columns=8):
    """An 8-wide PNG grid of images in [-1, 1], pixels doubled."""
    import numpy as np
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    x = np.clip((np.asarray(images) + 1.0) * 127.5, 0, 255).astype("uint8")
    n, h, w, c = x.shape
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), "uint8")
    for i in range(n):
        r, col = divmod(i, columns)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = x[i]
    grid = grid.repeat(2, 0).repeat(2, 1)
    Image.fromarray(grid[..., 0] if c == 1 else grid).save(path)


# Recipes whose schedule follows the run's length (progressive growing: the
# resolution phases are fractions of `train.images`) cannot be stopped by a
# time budget and resumed: each budget is its own run, sized to it.
SIZED_RECIPES = ("progan",)


def train_sized_budgets(recipe, data_path, budgets_s, scorer, work, seed=0,
                        overrides=(), probe_steps=300):
    """One fresh run per budget, of as many G steps as a probe run (the
    whole schedule in `probe_steps` steps) makes in that many CPU-seconds.
    The probe's tracing cost makes the real runs end somewhat under their
    budget; each row records the CPU-seconds its run took."""
    import keras

    from keras_gan_stable.run import Run, load_gan, resolve_config

    # The recipe's batch size and n_critic, as the overrides leave them.
    t = resolve_config(recipe=recipe, data=data_path,
                       overrides=list(overrides))["train"]
    per_step = t["batch_size"] * t["n_critic"]

    def one_run(name, steps, cap_s):
        out = os.path.join(work, f"{recipe}_{name}")
        keras.backend.clear_session()
        config = resolve_config(
            recipe=recipe, data=data_path, out=out, overrides=[
                f"train.seed={seed}", f"train.images={steps * per_step}",
                "train.clock=cpu", f"train.minutes={cap_s / 60.0}",
                "output.fid_samples=0", "output.export=false", *overrides])
        c0, w0 = time.process_time(), time.perf_counter()
        summary = Run(config, out_dir=out, verbose=0).fit()
        return out, summary, (time.process_time() - c0,
                              time.perf_counter() - w0)

    _, probe, (probe_cpu, _) = one_run("probe", probe_steps, 1e9)
    rate = probe_steps / probe["train_cpu_seconds"]
    print(f"    probe: {probe_steps} steps in "
          f"{probe['train_cpu_seconds']:.0f} CPU-s", flush=True)
    rows = []
    for budget in budgets_s:
        steps = max(1, int(rate * budget))
        # The budget also stops a run that the probe underestimated.
        out, summary, (cpu, wall) = one_run(f"{budget:g}s", steps,
                                            1.25 * budget)
        keras.backend.clear_session()
        gan, _ = load_gan(out)
        fake = gan.generate(NUM_SAMPLES, seed=1234)
        rows.append({"budget_s": budget, "stage_cpu_s": cpu,
                     "stage_wall_s": wall,
                     "train_cpu_s": summary["train_cpu_seconds"],
                     "planned_g_steps": steps,
                     "stopped_by_time_budget":
                         summary["stopped_by_time_budget"],
                     "g_steps": newest_step(out), **scorer(fake)})
        print(f"    {budget / 60:5g} CPU-min: {rows[-1]}", flush=True)
    return rows


def train_torch_budgets(images, budgets_s, scorer, seed=0, batch=64,
                        threads=0):
    """The plain PyTorch DCGAN, scored at the same CPU-second budgets."""
    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, HERE)
    from reference.torch_dcgan import Generator

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    latent, width = 100, 32
    channels = images.shape[-1]
    g = Generator(latent, channels, width)
    d = nn.Sequential(  # the DCGAN discriminator: BatchNorm, LeakyReLU(0.2)
        nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(2 * width, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * width, 4 * width, 4, 2, 1, bias=False),
        nn.BatchNorm2d(4 * width, eps=1e-3, momentum=0.01), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(4 * width * 16, 1))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    data = torch.from_numpy(np.transpose(images, (0, 3, 1, 2)).copy())
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    trained, rows, steps = 0.0, [], 0
    gen = torch.Generator().manual_seed(seed)
    for budget in budgets_s:
        g.train(), d.train()
        while trained < budget:
            t0 = time.process_time()
            for _ in range(20):
                real = data[torch.randint(0, len(data), (batch,),
                                          generator=gen)]
                fake = g(torch.randn(batch, latent))
                loss_d = (bce(d(real), ones)
                          + bce(d(fake.detach()), zeros))
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                loss_g = bce(d(fake), ones)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
            trained += time.process_time() - t0
            steps += 20
        g.eval()
        with torch.no_grad():
            fake = g(torch.randn(NUM_SAMPLES, latent,
                                 generator=torch.Generator().manual_seed(1)))
        fake = np.transpose(fake.numpy(), (0, 2, 3, 1))
        rows.append({"budget_s": budget, "trained_s": trained,
                     "g_steps": steps, "real_images_seen": steps * batch,
                     **scorer(fake)})
        print(f"    {budget:5.0f} s: {rows[-1]}", flush=True)
    return rows


def write_json(path, payload):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budgets", default="2,5,10",
                   help="training budgets in CPU-minutes of this process")
    p.add_argument("--recipes",
                   default="recommended,dcgan,wgan-gp,sngan,sagan")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   dest="overrides", help="a setting for every recipe of "
                   "this call, e.g. data.labels=false (repeatable; the rows "
                   "are named recipe[KEY=VALUE])")
    p.add_argument("--classifier-epochs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dataset", default="mnist", choices=("mnist", "cifar10"),
                   help="mnist: test images 0-4999 train, 5000-9999 held "
                   "out; cifar10: 1,500 training images per class, 1,000 "
                   "train and 500 held out")
    p.add_argument("--train-images", type=int, default=None,
                   help="train on only the first N training images (small "
                   "data; the held-out set is unchanged)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads of TensorFlow and PyTorch (0: their "
                   "defaults). 1 wastes no CPU-second on idle spinning when "
                   "the cores are shared")
    p.add_argument("--classifier-cache", default=None,
                   help=".keras path: load the feature classifier from there "
                   "(trained and saved there first), so that several "
                   "processes score in the same features")
    p.add_argument("--continue-from", default=None, metavar="JSON",
                   help="an earlier result file of these recipes on the same "
                   "--work folder: its rows are kept and each run resumes "
                   "from its last budget for the later --budgets")
    p.add_argument("--steps", type=int, default=None,
                   help="instead of CPU budgets, one run of exactly this many "
                   "G steps per recipe (equal-step comparisons)")
    p.add_argument("--truncation", action="store_true",
                   help="StyleGAN2 recipes: also score truncation psi 1.0, "
                   "0.7, 0.5 with precision and recall at the last budget")
    p.add_argument("--figures", default=None,
                   help="with --truncation: a folder for sample grids at each "
                   "psi and a style-mixing grid")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="only join these result files into --out and print "
                   "the table")
    p.add_argument("--work", default="/tmp/mnist_quality",
                   help="folder for the data file and the run folders")
    p.add_argument("--out", default=os.path.join(RESULTS,
                                                 "mnist_quality.json"))
    args = p.parse_args()
    if args.merge:
        parts = [json.load(open(path)) for path in args.merge]
        payload = dict(parts[0], results=[r for part in parts
                                          for r in part["results"]],
                       merged_from=args.merge)
        write_json(args.out, payload)
        print_table(payload)
        return
    import numpy as np

    budgets = [60.0 * float(b) for b in args.budgets.split(",") if b]
    if args.dataset == "cifar10":
        (train_x, train_y), (held_x, held_y) = load_cifar10_split()
    else:
        images, labels = load_mnist32()
        train_x, train_y = images[:5000], labels[:5000]
        held_x, held_y = images[5000:], labels[5000:]
    if args.train_images:
        train_x, train_y = (train_x[:args.train_images],
                            train_y[:args.train_images])
    os.makedirs(args.work, exist_ok=True)
    data_path = os.path.join(args.work, f"{args.dataset}32_train.npz")
    np.savez(data_path, images=train_x, labels=train_y.astype("int64"))
    t0 = time.perf_counter()
    scorer = Scorer(held_x, held_y, epochs=args.classifier_epochs,
                    cache=args.classifier_cache)
    print(f"feature classifier trained in {time.perf_counter() - t0:.0f} s",
          flush=True)
    real_score = scorer(train_x[:NUM_SAMPLES])
    print(f"  real training images (first {NUM_SAMPLES}): {real_score}",
          flush=True)
    payload = {"benchmark": "mnist_quality", "dataset": args.dataset,
               "train_images": len(train_x), "held_out_images": len(held_x),
               "path": "run API (train.minutes,"
               " train.clock=cpu), default callbacks; resumed per budget",
               "budgets_cpu_min": [b / 60 for b in budgets],
               "samples": NUM_SAMPLES, "real_images_score": real_score,
               "threads": args.threads, **run_metadata(), "results": []}
    earlier = {}
    if args.continue_from:
        with open(args.continue_from) as f:
            earlier = {r["method"]: r["rows"] for r in json.load(f)["results"]}
        payload["continued_from"] = args.continue_from
    if args.steps:
        payload["path"] = ("run API, default callbacks; one run of "
                           f"{args.steps} G steps per recipe")
        payload["steps"] = args.steps
    for recipe in [r for r in args.recipes.split(",") if r]:
        print(f"  {recipe}", flush=True)
        name = recipe + "".join(f"[{o}]" for o in args.overrides)
        if args.steps:
            rows = train_recipe_steps(recipe, data_path, args.steps, scorer,
                                      args.work, args.seed, args.overrides)
        elif recipe in SIZED_RECIPES:
            rows = train_sized_budgets(recipe, data_path, budgets, scorer,
                                       args.work, args.seed, args.overrides)
        else:
            rows = train_recipe_budgets(recipe, data_path, budgets, scorer,
                                        args.work, args.seed, args.overrides,
                                        done_rows=earlier.get(name, ()))
        result = {"method": name, "rows": rows, "overrides": args.overrides}
        if args.truncation and recipe.startswith("stylegan2") \
                and not args.steps:
            result["truncation"] = truncation_rows(recipe, args.work, scorer,
                                                   args.figures)
        payload["results"].append(result)
        write_json(args.out, payload)
    if not args.no_torch:
        print("  plain PyTorch DCGAN", flush=True)
        payload["results"].append({"method": "pytorch_dcgan", "rows":
                                   train_torch_budgets(train_x, budgets,
                                                       scorer, args.seed,
                                                       threads=args.threads)})
        payload["threads"] = args.threads
        write_json(args.out, payload)
    print_table(payload)
    print(f"wrote {args.out}")


def print_table(payload):
    real_score = payload["real_images_score"]
    if payload.get("steps"):
        cols = [None]
        header = f" | {payload['steps']} G steps (CPU-s)"
    else:
        cols = sorted({r["budget_s"] for res in payload["results"]
                       for r in res["rows"]})
        header = "".join(f" | {b / 60:g} CPU-min" for b in cols)
    print(f"\n| method{header} |")
    print("| --- " * (len(cols) + 1) + "|")
    for res in payload["results"]:
        by = {r.get("budget_s"): r for r in res["rows"]}
        cells = "".join(
            f" | {by[b]['classifier_fid']:.2f} / {by[b]['modes']} / "
            f"{by[b]['g_steps'] if b else round(by[b]['train_cpu_s'])}"
            if b in by else " | -" for b in cols)
        print(f"| {res['method']}{cells} |")
    print(f"| real training images | {real_score['classifier_fid']:.2f} / "
          f"{real_score['modes']} |")
    for res in payload["results"]:
        if res.get("truncation"):
            print(f"\n{res['method']}: | psi | FID | modes | precision | "
                  "recall |")
            for r in res["truncation"]:
                print(f"| {r['truncation_psi']} | {r['classifier_fid']:.2f} "
                      f"| {r['modes']} | {r['precision']:.3f} | "
                      f"{r['recall']:.3f} |")


if __name__ == "__main__":
    main()
