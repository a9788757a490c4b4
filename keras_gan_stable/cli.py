"""The `keras-gan-stable` command: train, sample, evaluate, export, apply,
recipes (usage in docs/cli.md).

It only parses arguments and calls `keras_gan_stable.run`. Bad input: one
line, exit status 2, nothing written; no backend is imported until needed.
"""

import os
import subprocess
import sys

from keras_gan_stable.cli_args import (  # noqa: F401
    BACKENDS, PROG, UsageError, _build_parser)


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
              "recipes": cmd_recipes, "apply": cmd_apply}[args.command](args)
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
        fixed = [f for f in ("recipe", "config", "data", "name", "task")
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
        extra += [f"task.name={args.task}"] if args.task else []
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

    if args.caption is not None:
        return _sample_captions(args)
    args.num = 64 if args.num is None else args.num
    _check_num(args.num)
    path = _usage(write_samples, args.source, args.out, args.num, args.seed,
                  truncation_psi=args.truncation_psi,
                  style_mixing=args.style_mixing)
    what = ("the style-mixing grid" if args.style_mixing else
            "the w-space walk" if path.lower().endswith(".gif") else
            f"{args.num} samples")
    print(f"Wrote {what} to {path}")
    return 0


def _sample_captions(args):
    """`sample RUN --caption ...`: a row per caption, -n seeds."""
    import warnings

    from keras_gan_stable.text_run import TOKENIZER_FILE
    from keras_gan_stable.text_run import load_tokenizer
    from keras_gan_stable.text_run import text_dir
    from keras_gan_stable.text_run import unknown_words
    from keras_gan_stable.text_run import write_caption_samples

    if args.truncation_psi is not None or args.style_mixing is not None:
        raise UsageError("--truncation-psi and --style-mixing apply to "
                         "StyleGAN2 runs, not with --caption. Drop them.")
    num = 1 if args.num is None else args.num
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = _usage(write_caption_samples, args.source, args.caption,
                      args.out, num=num, seed=args.seed)
    for w in caught:
        if issubclass(w.category, UserWarning):  # e.g. a caption truncated
            print(f"{PROG}: warning: {' '.join(str(w.message).split())}",
                  file=sys.stderr)
    tokenizer = load_tokenizer(os.path.join(text_dir(args.source),
                                            TOKENIZER_FILE))
    unknown = unknown_words(tokenizer, args.caption)
    if unknown:
        print(f"{PROG}: note: not in the run's vocabulary, read as [UNK]: "
              f"{', '.join(unknown)}", file=sys.stderr)
    print(f"Wrote {len(args.caption)} caption(s) x {num} seed(s) to {path}")
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


def cmd_apply(args):
    from keras_gan_stable.task_apply import apply_run

    written = _usage(apply_run, args.source, args.input, args.out,
                     seed=args.seed)
    print(f"Wrote {len(written)} image(s) to {args.out}")
    return 0


def cmd_recipes(args):
    from keras_gan_stable import recipes

    if args.name is None:
        for name in recipes.recipe_names():
            print(f"{name:13s} {recipes.RECIPES[name]['doc']}")
            if name in recipes.MEASURED:
                print(f"{'':13s} measured: {recipes.MEASURED[name]}")
        return 0
    if args.name not in recipes.RECIPES:
        raise UsageError(f"Unknown recipe {args.name!r}. Use one of: "
                         f"{', '.join(recipes.recipe_names())}.")
    import yaml

    print(f"# {args.name}: {recipes.RECIPES[args.name]['doc']}")
    if args.name in recipes.MEASURED:
        print(f"# measured: {recipes.MEASURED[args.name]}")
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
