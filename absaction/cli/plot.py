"""``absaction plot``: draw a dataset's 2-D paths coloured by a factor (the paper's Fig. 3), or its actions
over time when they are not 2-D."""

from __future__ import annotations

import argparse
from pathlib import Path

from absaction.analysis.paths import SERIES_EPISODES
from absaction.cli._args import add_force, positive_int
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.files import check_new_output

EPILOG = f"""\
positions:
  auto          observations for Reach2D datasets, else actions
  observations  the (x, y) columns of Reach2D observations: the true path
  actions       start + step_size * cumsum(actions); step_size is the env's own when it declares one
                (Reach2D does), else 1 (action units); needs 2-D actions

Actions that are not 2-D trace no path: they are drawn over time instead, one panel per action
dimension, for the first {SERIES_EPISODES} episodes (--max-episodes to change).

examples:
  absaction plot --data data/reach2d --out reach2d.png --color-by target
  absaction plot --data data/pendulum --out pendulum.png --max-episodes 4
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a dataset's paths (the paper's Fig. 3) or its actions over time as a PNG",
        description="Draw each episode of a dataset as a 2-D path, coloured by a ground-truth factor, "
        "with start, end and goal markers; a dataset whose actions are not 2-D gets its actions over time, "
        "one panel per action dimension.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset folder or Minari dataset id")
    parser.add_argument("--out", type=Path, required=True, metavar="FIG.png", help="output PNG file")
    parser.add_argument(
        "--max-episodes", type=positive_int, default=None, metavar="N",
        help=f"draw only the first N episodes (default: all paths, or {SERIES_EPISODES} episodes of actions "
        "over time)",
    )  # fmt: skip
    parser.add_argument(
        "--color-by", default=None, metavar="FACTOR",
        help="factor that colours the paths, or 'episode' (default: the first factor, else episode)",
    )  # fmt: skip
    parser.add_argument(
        "--positions", choices=("auto", "observations", "actions"), default="auto",
        help="where positions come from, see below (default: %(default)s)",
    )  # fmt: skip
    add_force(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from absaction.analysis.paths import plot_dataset

    out = check_new_output(args.out, args.force, "figure", figure=True, inputs=[args.data])
    if out.suffix.lower() != ".png":
        raise AbsactionError(f"the figure {out} must be a .png file", "pass --out NAME.png")
    dataset = load_dataset(args.data)
    info = plot_dataset(dataset, out, args.max_episodes, args.color_by, args.positions)
    if info["kind"] == "actions over time":
        print(
            f"wrote {info['out']}: actions over time of {info['episodes']} episodes, one panel per action "
            f"dimension ({info['panels']}), coloured by {info['color_by']}"
        )
    else:
        print(
            f"wrote {info['out']}: {info['episodes']} episodes coloured by {info['color_by']} "
            f"(positions from {info['positions']})"
        )
    return 0
