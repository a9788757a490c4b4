"""The `keras-gan-stable` command: train, sample, evaluate, export, recipes
(usage in docs/cli.md).

It only parses arguments and calls `keras_gan_stable.run`. Bad input: one
line, exit status 2, nothing written; no backend is imported until needed.
"""

import argparse
import os
import subprocess
import sys

BACKENDS = ("tensorflow", "jax", "torch")
PROG = "keras-gan-stable"


class UsageError(Exception):
    """A command-line usage error: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class",
                          argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _build_parser():
    from keras_gan_stable.version import __version__

    p = _Parser(prog=PROG, description="Stable GAN training with Keras 3. "
                "Without a command: `train` (recommended, bundled digits).")
    p.add_argument("--version", action="version",
                   version=f"{PROG} {__version__}", help="print the version")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="Keras backend (default: $KERAS_BACKEND or tensorflow)")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="CMD")
    hidden = dict(choices=BACKENDS, dest="sub_backend", help=argparse.SUPPRESS)

    t = sub.add_parser("train", help="train a GAN from a recipe")
    t.add_argument("--recipe", default=None, help="named recipe (default "
                   "recommended; see `keras-gan-stable recipes`)")
    t.add_argument("--config", default=None, help="YAML or JSON config file")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   dest="overrides", help="override a setting, e.g. "
                   "train.n_critic=5 (repeatable)")
    t.add_argument("--data", default=None, help="data source: digits, mnist, "
                   "cifar10, ring8, grid25, a folder, .npy/.npz, tfds:NAME "
                   "(default: digits)")
    t.add_argument("--out", default=None,
                   help="output folder (default: a new runs/<name>)")
    t.add_argument("--name", default=None, help="run name (default: the "
                   "recipe's)")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: the recipe's)")
    budget.add_argument("--images", type=int, default=None,
                        help="real images shown to the discriminator")
    t.add_argument("--resume", nargs="?", const=True, default=None,
                   metavar="RUN_DIR", help="continue the run in RUN_DIR "
                   "exactly from its newest checkpoint (default: --out)")
    t.add_argument("--download", action="store_true",
                   help="download data missing from the Keras/tfds cache")
    t.add_argument("--print-config", action="store_true",
                   help="print the resolved config as YAML and exit")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    s = sub.add_parser("sample", help="write samples from a run, a .keras "
                       "file or a SavedModel")
    s.add_argument("source", help="run folder, .keras file or SavedModel")
    s.add_argument("--out", required=True,
                   help="output .png (grid) or .npy (array)")
    s.add_argument("-n", "--num", type=int, default=64, dest="num",
                   help="samples, 1 to 100000")
    s.add_argument("--seed", type=int, default=0, help="latent seed")

    e = sub.add_parser("evaluate", help="metrics of a run or .keras file")
    e.add_argument("source", help="run folder or .keras file")
    e.add_argument("--data", default=None,
                   help="real data (default: the run's)")
    e.add_argument("-n", "--num", type=int, default=1000, dest="num",
                   help="generated samples, 1 to 100000")
    e.add_argument("--seed", type=int, default=0, help="latent seed")

    x = sub.add_parser("export", help="export the generator for serving")
    x.add_argument("source", help="run folder or .keras file")
    x.add_argument("--out", required=True, help="model base folder "
                   "(SavedModel) or file (.onnx, .tflite)")
    x.add_argument("--format", default="saved_model", help="export format",
                   choices=("saved_model", "onnx", "litert"))
    x.add_argument("--version", type=int, default=1,
                   help="TF Serving version number (a sub-folder)")
    x.add_argument("--overwrite", action="store_true",
                   help="replace an existing version folder")

    for command in (t, s, e, x):
        command.add_argument("--backend", **hidden)
    r = sub.add_parser("recipes", help="list the recipes, or print one's "
                       "full settings")
    r.add_argument("name", nargs="?", default=None, help="a recipe name")
    return p


def main(argv=None):
    """Runs the command line; raises SystemExit with the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no TF info lines
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = _build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            args = parser.parse_args(["train"] + argv)
        backend = getattr(args, "sub_backend", None) or args.backend
        if backend:
            rc = _switch_backend(backend, argv)
            if rc is not None:
                raise SystemExit(rc)
        rc = {"train": cmd_train, "sample": cmd_sample,
              "evaluate": cmd_evaluate, "export": cmd_export,
              "recipes": cmd_recipes}[args.command](args)
    except UsageError as e:
        print(f"{PROG}: error: {' '.join(str(e).split())}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(rc or 0)


def _switch_backend(backend, argv):
    """Sets KERAS_BACKEND, or re-runs the command when keras is loaded."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = backend
        return None
    if sys.modules["keras"].backend.backend() == backend:
        return None
    env = dict(os.environ, KERAS_BACKEND=backend)
    return subprocess.call([sys.executable, "-m", "keras_gan_stable", *argv],
                           env=env)


def _usage(fn, *args, **kwargs):
    """Runs `fn`; input errors (bad config, data, files) become one line."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, OSError) as e:
        raise UsageError(str(e) or type(e).__name__) from None


def cmd_train(args):
    from keras_gan_stable import run as runs
    verbose = 0 if args.quiet else "auto"
    if args.resume is not None:
        folder = args.out if args.resume is True else args.resume
        if not folder:
            raise UsageError("--resume needs the run folder: --resume "
                             "runs/<name> (or --out runs/<name> --resume).")
        fixed = [f for f in ("recipe", "config", "data", "name")
                 if getattr(args, f)]
        if fixed:
            raise UsageError(f"--{fixed[0]} cannot change a run being resumed"
                             " (--resume keeps its config.yaml); use --set, "
                             "--epochs or --images.")
        job = _usage(runs.Run.resume_from, folder, epochs=args.epochs,
                     images=args.images, overrides=args.overrides,
                     verbose=verbose)
    else:
        extra = ["data.download=true"] if args.download else []
        config = _usage(runs.resolve_config, recipe=args.recipe,
                        config_file=args.config,
                        overrides=args.overrides + extra,
                        data=args.data, epochs=args.epochs,
                        images=args.images, out=args.out, name=args.name)
        if args.print_config:
            print(__import__("yaml").safe_dump(config, sort_keys=False),
                  end="")
            return 0
        job = _usage(runs.Run, config, verbose=verbose)
    print(runs.format_summary(job.fit(), job.out_dir))
    return 0


def _check_num(num, flag="-n"):
    from keras_gan_stable.run import MAX_SAMPLES

    if not 1 <= num <= MAX_SAMPLES:
        raise UsageError(f"{flag} should be in [1, {MAX_SAMPLES}]. Received: "
                         f"{flag} {num}. Pass a count in that range.")


def cmd_sample(args):
    from keras_gan_stable.run import write_samples

    _check_num(args.num)
    path = _usage(write_samples, args.source, args.out, args.num, args.seed)
    print(f"Wrote {args.num} samples to {path}")
    return 0


def cmd_evaluate(args):
    import json

    from keras_gan_stable.run import evaluate_run

    _check_num(args.num)
    print(json.dumps(_usage(evaluate_run, args.source, data=args.data,
                            num=args.num, seed=args.seed), indent=2))
    return 0


def cmd_export(args):
    from keras_gan_stable.run import export_run

    path = _usage(export_run, args.source, args.out, version=args.version,
                  overwrite=args.overwrite, format=args.format)
    print(f"Exported the generator ({args.format}) to {path}")
    return 0


def cmd_recipes(args):
    from keras_gan_stable import recipes

    if args.name is None:
        print("\n".join(f"{name:12s} {recipes.RECIPES[name]['doc']}"
                        for name in recipes.recipe_names()))
        return 0
    if args.name not in recipes.RECIPES:
        raise UsageError(f"Unknown recipe {args.name!r}. Use one of: "
                         f"{', '.join(recipes.recipe_names())}.")
    import yaml

    print(f"# {args.name}: {recipes.RECIPES[args.name]['doc']}")
    print(yaml.safe_dump(recipes.recipe_config(args.name), sort_keys=False),
          end="")
    return 0


def __getattr__(name):
    """Former names: `cli.build_gan`, `cli.resolve_config`, `cli.train`..."""
    if name in ("build_gan", "resolve_config", "train", "final_metrics"):
        from keras_gan_stable import run

        return getattr(run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    main()
