"""Text-to-image recipes side by side, as a user runs them: the CLI.

Runs `keras-gan-stable train --recipe R --out WORK/R --quiet --set
output.tensorboard=false` for each recipe (default `stackgan`, `attngan`,
`dmgan`) at its recipe budget, each in its own process with one thread
(the runs may go side by side: budgets are G steps, so the machine's load
changes wall time only), then reads each run's `summary.json`: attribute
accuracy per attribute on single-object captions (all, and those whose
colour/shape pair is not held out), two-object captions and held-out
colour/shape combinations, R-precision, FID (in the R-precision
DAMSM's image features; runs without it show "-"), the same on real
held-out images (the ceiling), and the run's training CPU-seconds (and
the whole process's, DAMSM pretraining and metrics included, for runs it
started: `WORK/R.cpu.json`). Prints
a table and writes `benchmarks/results/text_to_image_cli.json`.

    python benchmarks/text_to_image_cli.py --work runs/t2i
    python benchmarks/text_to_image_cli.py --work runs/t2i --collect  # read only

With `--collect`, `--recipes` names run folders under `--work` (any runs,
e.g. variants made with `--set`); the JSON records each folder's recipe and
the settings its config changes from it.

`--set KEY=VALUE` (repeatable) goes to every run; `--jobs N` runs N at once.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._machine import run_metadata  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
GROUPS = ("single_object", "single_object_seen", "two_objects", "heldout")
ATTRS = ("colour", "shape", "size", "position")


def command(recipe, out, sets):
    cmd = ["keras-gan-stable", "train", "--recipe", recipe, "--out", out,
           "--quiet", "--set", "output.tensorboard=false"]
    for item in sets:
        cmd += ["--set", item]
    return cmd


def run_all(recipes, work, sets, jobs):
    env = dict(os.environ, OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1",
               TF_NUM_INTEROP_THREADS="1")
    pending, running = list(recipes), []
    while pending or running:
        while pending and len(running) < jobs:
            recipe = pending.pop(0)
            out = os.path.join(work, recipe)
            log = open(os.path.join(work, recipe + ".log"), "w")
            running.append((recipe, log, subprocess.Popen(
                command(recipe, out, sets), env=env, stdout=log,
                stderr=subprocess.STDOUT)))
        time.sleep(5)
        for item in list(running):
            recipe, log, proc = item
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                log.close()
                running.remove(item)
                code = os.waitstatus_to_exitcode(status)
                if code:
                    sys.exit(f"{recipe}: the run failed (exit {code}); see "
                             f"{log.name}")
                # The whole process: DAMSM pretraining, training, metrics.
                with open(os.path.join(work, recipe + ".cpu.json"), "w") as f:
                    json.dump({"process_cpu_s": round(
                        usage.ru_utime + usage.ru_stime, 1)}, f)


def settings(folder):
    """What a run folder's config changes from its recipe, as flat
    `KEY=VALUE` strings (the `--set`s that would make it)."""
    import yaml

    from keras_gan_stable.run import RunConfig
    from keras_gan_stable.utils.config import DEFAULT_CONFIG

    with open(os.path.join(folder, "config.yaml")) as f:
        config = yaml.safe_load(f)
    base = RunConfig.from_recipe(config["recipe"]).to_dict()
    out = []
    for section, values in base.items():
        if not isinstance(values, dict) or section == "output":
            continue
        for key, value in values.items():
            # A key the run's config lacks had the library default then.
            run = config.get(section, {}).get(key, DEFAULT_CONFIG[section][key])
            if run != value:
                out.append(f"{section}.{key}={_yaml(run)}")
    return config["recipe"], sorted(out)


def _yaml(value):
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def seen_pairs(folder):
    """`single_object_seen_*` (and `real_*`) of a run scored before that
    group existed: the library's `text_metrics` on the run's own held-out
    captions, attribute accuracy only (its cached classifier, no
    R-precision DAMSM), images from seed 0 as in the run."""
    from keras_gan_stable import text_run

    gan, tokenizer, config = text_run.load_text_run(folder)
    _, _, test = text_run.load_captioned(config)
    config["text"]["eval_damsm_steps"] = 0
    m = text_run.text_metrics(gan, tokenizer, test, config, folder)
    return {k: v for k, v in m.items() if "single_object_seen_" in k}


def row(recipe, work):
    with open(os.path.join(work, recipe, "summary.json")) as f:
        summary = json.load(f)
    m = summary["metrics"]
    if "single_object_seen_shape" not in m and "single_object_shape" in m:
        m.update(seen_pairs(os.path.join(work, recipe)))
    cpu = os.path.join(work, recipe + ".cpu.json")
    if os.path.exists(cpu):
        with open(cpu) as f:
            summary["process_cpu_s"] = json.load(f)["process_cpu_s"]
    out = {"recipe": recipe, "train_cpu_s": summary["train_cpu_seconds"],
           "process_cpu_s": summary.get("process_cpu_s"),
           "epochs": summary["epochs"],
           "holdout_captions": m["holdout_captions"],
           "r_precision": m.get("r_precision"),
           "real_r_precision": m.get("real_r_precision"),
           "fid": m.get("fid"), "real_fid": m.get("real_fid")}
    for g in GROUPS:
        for a in ATTRS:
            # Runs scored before a group existed lack it (None).
            out[f"{g}_{a}"] = m.get(f"{g}_{a}")
            out[f"real_{g}_{a}"] = m.get(f"real_{g}_{a}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipes", default="stackgan,attngan,dmgan")
    ap.add_argument("--work", required=True)
    ap.add_argument("--set", action="append", default=[], dest="sets")
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--collect", action="store_true",
                    help="only read the runs already in --work")
    ap.add_argument("--out", default="text_to_image_cli.json")
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    os.makedirs(args.work, exist_ok=True)
    if not args.collect:
        run_all(recipes, args.work, args.sets, args.jobs)
    rows = [row(r, args.work) for r in recipes]
    real = {"recipe": "real images"}
    for g in GROUPS:
        for a in ATTRS:
            real[f"{g}_{a}"] = rows[0][f"real_{g}_{a}"]
    real["r_precision"] = rows[0]["real_r_precision"]
    real["fid"] = rows[0]["real_fid"]

    def fmt(v):
        return "-" if v is None else f"{v:.3f}"

    print("| recipe | train CPU-s | process CPU-s | single: colour / shape / "
          "size / position | single, seen pairs: colour / shape "
          "| two objects: colour / shape | held-out pairs: colour / shape "
          "| R-precision | FID |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows + [real]:
        single = " / ".join(fmt(r[f"single_object_{a}"]) for a in ATTRS)
        seen = " / ".join(fmt(r[f"single_object_seen_{a}"])
                          for a in ATTRS[:2])
        two = " / ".join(fmt(r[f"two_objects_{a}"]) for a in ATTRS[:2])
        held = " / ".join(fmt(r[f"heldout_{a}"]) for a in ATTRS[:2])
        print(f"| {r['recipe']} | {r.get('train_cpu_s', '-')} | "
              f"{r.get('process_cpu_s') or '-'} | {single} | {seen} | "
              f"{two} | {held} | {fmt(r['r_precision'])} | "
              f"{fmt(r.get('fid'))} |")
    meta = run_metadata()
    meta["command"] = " ".join(["python"] + sys.argv)
    if args.collect:  # folders of any runs: their recipe and settings
        meta["runs"] = {}
        for r in recipes:
            name, sets = settings(os.path.join(args.work, r))
            meta["runs"][r] = " ".join(command(
                name, os.path.join(args.work, r), sets))
    else:
        meta["runs"] = {r: " ".join(command(r, os.path.join(args.work, r),
                                            args.sets)) for r in recipes}
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, args.out), "w") as f:
        json.dump({"meta": meta, "rows": rows, "real": real}, f, indent=1)


if __name__ == "__main__":
    main()
