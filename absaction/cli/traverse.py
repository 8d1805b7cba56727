"""``absaction traverse``: latent traversal figures of a trained model (the paper's Fig. 4)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from absaction.analysis.metrics import active_units
from absaction.cli._args import (
    add_allow_incomplete,
    add_force,
    non_negative_int,
    positive_float,
    positive_int,
)
from absaction.envs.reach2d import env_step_size
from absaction.errors import AbsactionError
from absaction.models.activity import ACTIVE_KL_THRESHOLD

EPILOG = """\
what it draws:
  One episode of the data (--index) is encoded; the chosen latent is set to each of --steps values in
  --range while every other latent keeps its encoded mean, and each decoded sequence is drawn as a 2-D
  path coloured by that value. The input is the solid black line, the plain reconstruction dashed.
  Positions are the cumulative sum of the actions from the start, times the env's step size when the
  model's (or data's) environment declares one (the axis label says which).

latents:
  ladders count from 1 (ladder 1 is nearest the input), dimensions inside a ladder from 0.
  --all draws one row per ladder with its active latents (mean KL above --active-threshold nats; the
  KL recorded at the end of training, else measured on the data), strongest first.

examples:
  absaction traverse --model runs/tcvlae --ladder 3 --dim 0 --out fig4.png
  absaction traverse --model runs/tcvlae --all --range -3 3 --steps 9 --out traversals.png
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:

    parser = subparsers.add_parser(
        "traverse",
        help="draw latent traversals of a trained model (the paper's Fig. 4)",
        description="Decode one sequence with a latent swept over a range and draw the 2-D paths.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model", required=True, metavar="RUN_DIR", help="a model folder from absaction train"
    )
    parser.add_argument(
        "--data", default=None, metavar="DIR",
        help="dataset to take the sequence from (default: the run's training data)",
    )  # fmt: skip
    parser.add_argument(
        "--index", type=non_negative_int, default=0, metavar="I",
        help="episode to encode; its first window of the model's length (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--ladder", type=positive_int, default=None, metavar="L", help="ladder of the latent (from 1)"
    )
    parser.add_argument(
        "--dim", type=non_negative_int, default=None, metavar="D", help="dimension in it (from 0)"
    )
    parser.add_argument("--all", action="store_true", help="a grid over the active latents of every ladder")
    parser.add_argument(
        "--range", type=float, nargs=2, default=(-2.0, 2.0), metavar=("LO", "HI"),
        help="values of the traversed latent (default: -2 2, as in the paper)",
    )  # fmt: skip
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=9,
        metavar="N",
        help="values in the range (default: %(default)s)",
    )
    parser.add_argument(
        "--active-threshold", type=positive_float, default=ACTIVE_KL_THRESHOLD, metavar="NATS",
        help="mean KL above which a latent counts as active, for --all (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, required=True, metavar="FIG.png", help="output figure (.png/.pdf/.svg)"
    )
    add_allow_incomplete(parser)
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    from absaction.analysis.report import encode_means, evaluation_data, load_data_of, pick_sequence
    from absaction.analysis.traversal import (
        active_grid,
        check_figure_path,
        check_latent,
        save_figure,
        traversal_figure,
    )
    from absaction.models import kl_normal, load, read_config

    if args.all and (args.ladder is not None or args.dim is not None):
        raise AbsactionError(
            "--all cannot be combined with --ladder/--dim", "pass either --all or --ladder L --dim D"
        )
    if not args.all and (args.ladder is None or args.dim is None):
        raise AbsactionError("no latent chosen", "pass --ladder L --dim D (both), or --all")
    low, high = args.range
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise AbsactionError(
            f"--range {low:g} {high:g} is not an increasing interval", "pass e.g. --range -2 2"
        )
    check_figure_path(args.out, args.force, inputs=[args.model])

    config = read_config(args.model)
    if config.get("model") == "skill":  # its encoder needs states: the Python error names methods
        raise AbsactionError(
            f"{args.model} holds a skill model; traverse draws the latents of action-sequence models",
            f"run `absaction evaluate --model {args.model} --out DIR`: its report draws the skill's "
            "traversal",
        )
    model = load(args.model, allow_incomplete=args.allow_incomplete)
    if not args.all:
        check_latent(model.ladder_dims, args.ladder, args.dim)
    dataset = load_data_of(args.model, args.data, config)
    actions = pick_sequence(model, dataset, args.index)  # (T, A)

    if model.kl_per_dim is not None:
        kl_per_dim, kl_source = [list(map(float, k)) for k in model.kl_per_dim], "train"
    else:  # an unfinished run: measure the KL on the data instead
        data = evaluation_data(model, dataset)
        means, logvars, _ = encode_means(model, data.actions, data.lengths)
        import torch

        kl = kl_normal(torch.as_tensor(means), torch.as_tensor(logvars)).mean(dim=0).numpy()
        bounds = np.cumsum([0, *model.ladder_dims])
        kl_per_dim = [kl[bounds[i] : bounds[i + 1]].tolist() for i in range(len(model.ladder_dims))]
        kl_source = "data"
    rows = active_grid(kl_per_dim, args.active_threshold) if args.all else [[(args.ladder, args.dim)]]
    if args.all and not any(rows):
        n_active = int(active_units(np.concatenate(kl_per_dim), args.active_threshold).sum())
        print(f"note: no latent has a mean KL above {args.active_threshold:g} nats ({n_active} active)")

    episode = dataset.episodes[args.index]
    factors = ", ".join(f"{k}={v}" for k, v in episode.factors.items())
    title = f"{Path(args.model).name}: episode {args.index}{f' ({factors})' if factors else ''}"
    step_size = env_step_size(model.env_id or dataset.env_id)
    values = np.linspace(low, high, args.steps)
    fig = traversal_figure(
        model, actions, rows, values, kl_per_dim, step_size, kl_source=kl_source, title=title
    )
    out = save_figure(fig, args.out, args.force)
    drawn = sum(len(r) for r in rows)
    print(f"wrote {out}: {drawn} latent(s) traversed over [{low:g}, {high:g}] in {args.steps} steps")
    return 0
