"""The `keras-gan-stable` command line's arguments: one sub-parser per
command, help text and defaults on each (the commands are in `cli.py`).

Importing it loads no backend.
"""

import argparse

BACKENDS = ("tensorflow", "jax", "torch")
TASKS = ("sr2", "sr4", "inpaint", "denoise")
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
    t.add_argument("--task", default=None, choices=TASKS,
                   help="train an image-to-image model on pairs made from "
                   "--data (super-resolution x2/x4, inpainting, denoising) "
                   "instead of a GAN on latent vectors; same as --set "
                   "task.name=TASK")
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
    s.add_argument("--out", required=True, help="output .png (grid), "
                   ".npy (array) or .gif (StyleGAN2: a w-space walk through "
                   "-n seeds)")
    s.add_argument("-n", "--num", type=int, default=None, dest="num",
                   help="samples, 1 to 100000 (default 64); with --caption, "
                   "images per caption, 1 to 64 (default 1)")
    s.add_argument("--caption", action="append", default=None,
                   metavar="TEXT", help="text-to-image runs: a caption "
                   "(repeatable; the grid has a row per caption and a column "
                   "per seed)")
    s.add_argument("--seed", type=int, default=0, help="latent seed")
    s.add_argument("--truncation-psi", type=float, default=None,
                   metavar="PSI", help="StyleGAN2: pull w toward its average "
                   "(0 to 1; 1 = no truncation)")
    s.add_argument("--style-mixing", default=None, metavar="STYLES",
                   choices=("coarse", "middle", "fine"), help="StyleGAN2: "
                   "write the style-mixing grid of -n row and -n column "
                   "seeds to a .png, columns' coarse/middle/fine layers")

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
    _add_apply_parser(sub, hidden)
    r = sub.add_parser("recipes", help="list the recipes, or print one's "
                       "full settings")
    r.add_argument("name", nargs="?", default=None, help="a recipe name")
    return p


def _add_apply_parser(sub, hidden):
    a = sub.add_parser("apply", help="apply an image-to-image run (train "
                       "--task) to one image or a folder of images")
    a.add_argument("source", metavar="RUN", help="run folder written by "
                   "`train --task ...`")
    a.add_argument("input", metavar="INPUT", help="a PNG/JPEG image or a "
                   "folder of them (inpainting: NAME_mask.png beside an "
                   "image gives its mask, nonzero = hole)")
    a.add_argument("--out", required=True, help="output folder (PNGs named "
                   "like the inputs), or a .png file for one image")
    a.add_argument("--seed", type=int, default=0, help="seed of the masks "
                   "drawn for images without a NAME_mask.png (inpainting)")
    a.add_argument("--backend", **hidden)
