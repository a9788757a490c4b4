"""Hyper-parameter robustness of the recipes on MNIST (Kurach et al. 2019).

For each recipe (default: `recommended` and the plain `dcgan`), 16 settings
-- learning rate {1e-4, 2e-4, 5e-4, 1e-3} (both optimisers) x Adam beta1
{0, 0.5} (both) x n_critic {1, 5} -- each train a short run through the
user's path (`keras_gan_stable.run.Run`, the CLI's code, with its default
callbacks; final metrics and export off) on the data of
`benchmarks/mnist_quality.py`: MNIST test images 0-4999 padded to 32x32,
with their labels, as a user's `.npz` (`recommended` is class-conditional
there, as a user gets it). Each runs `--steps` generator steps at the
recipe's batch size, every other setting as the recipe has it, and is
scored by the classifier FID of 2,000 samples (EMA generator where the
recipe keeps one) against the held-out images 5000-9999, in the features of
the same classifier as `mnist_quality.py` (pass the same
`--classifier-cache` to share it exactly).

Convergence criterion, fixed before any run: a setting converges when no
logged loss and no sample is ever non-finite, and its classifier FID is at
most `--fid-threshold`. When that is not given, the threshold is 25% of the
classifier FID of the untrained `dcgan` generator (seed 0) in the same
features; its value is printed first and stored in the JSON. Reported per
recipe: the share of settings that converge, and the median, minimum,
maximum and interquartile range of the FIDs (diverged settings count as
infinite and are left out of the spread).

    python benchmarks/robustness_sweep.py                 # 2 x 16 runs
    python benchmarks/robustness_sweep.py --steps 100 --recipes recommended
    python benchmarks/robustness_sweep.py --limit 4                  # sitting 1
    python benchmarks/robustness_sweep.py --first-setting 4 --limit 4 --append
    # two parallel processes on 2 cores, one classifier, then one table:
    python benchmarks/robustness_sweep.py --threads 1 --recipes dcgan \\
        --classifier-cache /tmp/clf.keras --out a.json
    python benchmarks/robustness_sweep.py --threads 1 --recipes recommended \\
        --settings 0,2,4,6 --classifier-cache /tmp/clf.keras --out b.json
    python benchmarks/robustness_sweep.py --out a.json --merge b.json

A sweep can be built over several sittings: `--first-setting` and `--limit`
pick the settings, `--append` keeps the rows already written and the
threshold fixed before the first sitting. Without `--classifier-cache` the
feature classifier is retrained each sitting from the same seed and data
(keep `--classifier-epochs` equal); with it, every sitting and parallel
process loads the one saved classifier, so their FIDs share one feature
space exactly and `--merge` can join their files.

Writes `benchmarks/results/robustness_sweep.json`.
"""

import argparse
import itertools
import json
import os
import shutil
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _machine import run_metadata  # noqa: E402
from mnist_quality import (NUM_SAMPLES, RESULTS, Scorer,  # noqa: E402
                           load_mnist32, newest_step)

LEARNING_RATES = (1e-4, 2e-4, 5e-4, 1e-3)
BETA1 = (0.0, 0.5)
N_CRITIC = (1, 5)


def settings():
    return [{"learning_rate": lr, "beta_1": b1, "n_critic": nc}
            for lr, b1, nc in itertools.product(LEARNING_RATES, BETA1,
                                                N_CRITIC)]


def run_setting(recipe, setting, data_path, scorer, steps, work, seed=0,
                extra=()):
    """One setting trained through the run API (`Run`, the CLI's code, with
    its default callbacks) for `steps` generator steps, then scored."""
    import numpy as np
    import keras

    from keras_gan_stable.recipes import get_recipe
    from keras_gan_stable.run import Run, load_gan, resolve_config

    nc = setting["n_critic"]
    batch = get_recipe(recipe)["train"]["batch_size"]
    out = os.path.join(work, f"{recipe}_lr{setting['learning_rate']:g}"
                             f"_b{setting['beta_1']:g}_nc{nc}")
    shutil.rmtree(out, ignore_errors=True)
    overrides = [f"train.seed={seed}", f"train.n_critic={nc}",
                 f"train.images={steps * nc * batch}",
                 "output.fid_samples=0", "output.export=false", *extra]
    for opt in ("d_optimizer", "g_optimizer"):
        overrides += [f"train.{opt}.learning_rate={setting['learning_rate']}",
                      f"train.{opt}.beta_1={setting['beta_1']}"]
    keras.backend.clear_session()
    config = resolve_config(recipe=recipe, data=data_path, out=out,
                            overrides=overrides)
    c0, t0 = time.process_time(), time.perf_counter()
    summary = Run(config, out_dir=out, verbose=0).fit()
    cpu, seconds = time.process_time() - c0, time.perf_counter() - t0
    history_path = os.path.join(out, "history.json")
    history = {}
    if os.path.exists(history_path):
        with open(history_path) as f:
            history = json.load(f)
    finite_logs = all(np.all(np.isfinite(np.asarray(v, "float64")))
                      for v in history.values()
                      if isinstance(v, list) and v
                      and not isinstance(v[0], (str, dict, list)))
    keras.backend.clear_session()
    gan, _ = load_gan(out)
    score = scorer(gan.generate(NUM_SAMPLES, seed=1234))
    g_steps = newest_step(out)
    keras.backend.clear_session()
    return {"recipe": recipe, **setting, "steps": g_steps,
            "seconds": seconds, "cpu_seconds": cpu,
            "finite_logs": bool(finite_logs),
            "final_logs": summary["final_logs"], **score}


def untrained_score(scorer, work, data_path, seed=0):
    """The classifier FID of the untrained `dcgan` generator of a run."""
    import keras

    from keras_gan_stable.run import Run, resolve_config

    out = os.path.join(work, "untrained_dcgan")
    keras.backend.clear_session()
    config = resolve_config(recipe="dcgan", data=data_path, out=out,
                            overrides=[f"train.seed={seed}",
                                       "train.epochs=1"])
    gan = Run(config, out_dir=out, verbose=0).gan
    score = scorer(gan.generate(NUM_SAMPLES, seed=1234))
    keras.backend.clear_session()
    return score


def summarize(rows, threshold):
    import numpy as np

    out = {}
    for recipe in sorted({r["recipe"] for r in rows}):
        rs = [r for r in rows if r["recipe"] == recipe]
        for r in rs:
            r["diverged"] = not (r["finite_logs"] and r["finite"])
            r["converged"] = (not r["diverged"]
                              and r["classifier_fid"] <= threshold)
        fids = np.array([r["classifier_fid"] for r in rs
                         if not r["diverged"]])
        q = (np.percentile(fids, [0, 25, 50, 75, 100]).tolist()
             if len(fids) else [None] * 5)
        out[recipe] = {"settings": len(rs),
                       "converged": int(sum(r["converged"] for r in rs)),
                       "converged_share": float(np.mean([r["converged"]
                                                         for r in rs])),
                       "diverged": int(sum(r["diverged"] for r in rs)),
                       **{f"converged_n_critic_{nc}": [
                           int(sum(r["converged"] for r in rs
                                   if r["n_critic"] == nc)),
                           int(sum(r["n_critic"] == nc for r in rs))]
                          for nc in N_CRITIC},
                       "fid_min": q[0], "fid_q25": q[1], "fid_median": q[2],
                       "fid_q75": q[3], "fid_max": q[4]}
    return out


def _check_compatible(p, path, old, steps, epochs):
    if old.get("classifier_epochs", epochs) != epochs:
        p.error(f"{path} was scored by a classifier of "
                f"{old['classifier_epochs']} epochs; pass "
                f"--classifier-epochs {old['classifier_epochs']}")
    if old.get("steps") != steps:
        p.error(f"{path} holds {old.get('steps')}-step runs, not {steps}; "
                f"pass --steps {old.get('steps')} or another --out")


def _key(recipe, setting):
    return (recipe, setting["learning_rate"], setting["beta_1"],
            setting["n_critic"])


def _merge_rows(rows, new_rows):
    """`rows` with each of `new_rows` replacing the row of its recipe and
    setting (later rows win)."""
    merged = {_key(r["recipe"], r): r for r in rows}
    for r in new_rows:
        merged[_key(r["recipe"], r)] = r
    return list(merged.values())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default="recommended,dcgan")
    p.add_argument("--steps", type=int, default=1000,
                   help="generator steps per setting (default 1000)")
    p.add_argument("--fid-threshold", type=float, default=None)
    p.add_argument("--limit", type=int, default=None,
                   help="run only N settings (partial sweeps)")
    p.add_argument("--first-setting", type=int, default=0,
                   help="skip the first K of the 16 settings (with --limit "
                        "and --append, a sweep built over several sittings)")
    p.add_argument("--settings", default=None,
                   help="comma-separated indices of the settings to run "
                        "(0-15, in the order lr x beta1 x n_critic, n_critic "
                        "fastest: even indices are n_critic 1); replaces "
                        "--first-setting/--limit")
    p.add_argument("--append", action="store_true",
                   help="keep the rows already in --out (same --steps) and "
                        "their threshold; rerun settings replace their rows")
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="train nothing: add the rows of these files (written "
                        "by parallel processes with the same --steps, "
                        "classifier and threshold) to --out")
    p.add_argument("--classifier-epochs", type=int, default=3)
    p.add_argument("--classifier-cache", default=None, metavar="PATH.keras",
                   help="load the feature classifier from this file, or "
                        "train and save it there: parallel processes and "
                        "later sittings then score in identical features")
    p.add_argument("--threads", type=int, default=None,
                   help="TensorFlow threads per op (e.g. 1 for each of two "
                        "parallel processes on 2 cores)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   dest="overrides", help="a run setting for every run of "
                   "this call (repeatable), e.g. train.augment=ada")
    p.add_argument("--work", default="/tmp/robustness_sweep",
                   help="folder for the data file and the run folders")
    p.add_argument("--out", default=os.path.join(RESULTS,
                                                 "robustness_sweep.json"))
    args = p.parse_args()
    if args.settings is not None:
        try:
            picked = [int(i) for i in args.settings.split(",") if i.strip()]
        except ValueError:
            p.error(f"--settings should be comma-separated integers; "
                    f"received {args.settings!r}")
        bad = [i for i in picked if not 0 <= i < len(settings())]
        if bad:
            p.error(f"--settings: indices {bad} are outside 0-"
                    f"{len(settings()) - 1}")
    if args.merge:
        return _merge(p, args)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    previous = []
    threshold, untrained = args.fid_threshold, None
    if args.append and os.path.exists(args.out):
        with open(args.out) as f:
            old = json.load(f)
        _check_compatible(p, args.out, old, args.steps,
                          args.classifier_epochs)
        # The threshold was fixed before the first sitting: keep it.
        previous, threshold = old["rows"], old["fid_threshold"]
        untrained = old.get("untrained_dcgan_score")
        args.threshold_rule = old.get("threshold_rule")
    import numpy as np

    images, labels = load_mnist32()
    os.makedirs(args.work, exist_ok=True)
    data_path = os.path.join(args.work, "mnist32_train.npz")
    np.savez(data_path, images=images[:5000],
             labels=labels[:5000].astype("int64"))
    scorer = Scorer(images[5000:], labels[5000:],
                    epochs=args.classifier_epochs,
                    cache=args.classifier_cache)
    if threshold is None:
        untrained = untrained_score(scorer, args.work, data_path)
        threshold = 0.25 * untrained["classifier_fid"]
    real = scorer(images[:NUM_SAMPLES])  # training images
    print(f"convergence threshold: classifier FID <= {threshold:.2f} "
          f"(untrained dcgan G: "
          f"{untrained and untrained['classifier_fid']}; real images: "
          f"{real['classifier_fid']:.2f}), and no non-finite value",
          flush=True)
    rows = list(previous)
    if args.settings is not None:
        grid = [settings()[i] for i in picked]
    else:
        first = args.first_setting
        grid = settings()[first:None if args.limit is None
                          else first + args.limit]
    for recipe in [r for r in args.recipes.split(",") if r]:
        for setting in grid:
            row = run_setting(recipe, setting, data_path, scorer,
                              args.steps, args.work, extra=args.overrides)
            row["overrides"] = list(args.overrides)
            row["tf_threads"] = args.threads  # None: TensorFlow's default
            rows = _merge_rows(rows, [row])
            print(f"  {recipe:12s} lr {setting['learning_rate']:.0e} beta1 "
                  f"{setting['beta_1']} n_critic {setting['n_critic']}: FID "
                  f"{row['classifier_fid']:.2f}, modes {row['modes']}, "
                  f"finite {row['finite_logs'] and row['finite']} "
                  f"({row['seconds']:.0f} s)", flush=True)
            _write(args, threshold, untrained, real, rows)  # partial
    _report(args, _write(args, threshold, untrained, real, rows), rows)


def _merge(p, args):
    if not os.path.exists(args.out):
        p.error(f"--merge: {args.out} does not exist; pass as --out the "
                "file of one part and the others to --merge")
    with open(args.out) as f:
        base = json.load(f)
    rows = base["rows"]
    for path in args.merge:
        with open(path) as f:
            part = json.load(f)
        _check_compatible(p, path, part, base["steps"],
                          base["classifier_epochs"])
        if abs(part["fid_threshold"] - base["fid_threshold"]) > 1e-6:
            p.error(f"{path} has threshold {part['fid_threshold']}, "
                    f"{args.out} {base['fid_threshold']}: score both with "
                    "the same --classifier-cache or pass --fid-threshold")
        rows = _merge_rows(rows, part["rows"])
    args.steps, args.classifier_epochs = base["steps"], base[
        "classifier_epochs"]
    args.threshold_rule = base.get("threshold_rule")
    _report(args, _write(args, base["fid_threshold"],
                         base.get("untrained_dcgan_score"),
                         base.get("real_images_score"), rows), rows)


def _report(args, summary, rows):
    recipes = sorted(summary)
    print("\n| lr | beta1 | n_critic | " + " | ".join(recipes) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in recipes) + " |")
    by_key = {_key(r["recipe"], r): r for r in rows}
    for st in settings():
        cells = []
        for recipe in recipes:
            r = by_key.get(_key(recipe, st))
            cells.append("-" if r is None else (
                "diverged" if r["diverged"] else
                f"{r['classifier_fid']:.2f}{' *' if r['converged'] else ''}"
                f" ({r['modes']} modes)"))
        print(f"| {st['learning_rate']:.0e} | {st['beta_1']} | "
              f"{st['n_critic']} | " + " | ".join(cells) + " |")
    print("(* converged)")
    print(f"\n{'recipe':12s} {'converged':>10s} {'diverged':>8s} "
          f"{'FID median':>10s} {'IQR':>17s} {'min':>7s} {'max':>7s}")
    fmt = lambda v: f"{v:.2f}" if v is not None else "-"
    for recipe, s in summary.items():
        print(f"{recipe:12s} {s['converged']:>4d}/{s['settings']:<5d} "
              f"{s['diverged']:8d} {fmt(s['fid_median']):>10s} "
              f"{fmt(s['fid_q25']):>8s}-{fmt(s['fid_q75']):<8s} "
              f"{fmt(s['fid_min']):>7s} {fmt(s['fid_max']):>7s}  "
              f"(n_critic 1: {'/'.join(map(str, s['converged_n_critic_1']))}"
              f", n_critic 5: "
              f"{'/'.join(map(str, s['converged_n_critic_5']))})")
    print(f"wrote {args.out}")


def _write(args, threshold, untrained, real, rows):
    summary = summarize(rows, threshold)
    from keras_gan_stable.export import write_json_atomic

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    # A complete file or none: written aside, then renamed into place.
    write_json_atomic(args.out, {
        "benchmark": "robustness_sweep", "steps": args.steps,
        "classifier_epochs": args.classifier_epochs,
        "fid_threshold": threshold,
        "threshold_rule": getattr(args, "threshold_rule", None) or (
            "given" if args.fid_threshold
            else "25% of the untrained dcgan G's"),
        "untrained_dcgan_score": untrained,
        "real_images_score": real, "summary": summary,
        **run_metadata(), "rows": rows})
    return summary


if __name__ == "__main__":
    main()
