"""``absaction collect``: record expert rollouts into a Minari dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

from absaction.cli._args import (
    KEY_VALUE_SEMANTICS,
    add_force,
    field_default,
    field_docs,
    field_help,
    key_value,
    non_negative_float,
    non_negative_int,
    positive_int,
    show_default,
)
from absaction.data.collect import CollectConfig, collect, print_summary
from absaction.data.ogbench_collect import (
    ORACLE_EXPERT_HELP,
    OracleCollectConfig,
    collect_oracle,
    is_oracle_expert,
    print_data_check,
)
from absaction.errors import AbsactionError

EPILOG = (
    """\
experts:
  scripted   the env's scripted expert (absaction/Reach2D-v0 and its variants); records factors
  random     uniform random actions; any env with a Box action space
  paths:FILE.npz
             track recorded way-points (N, P, 2) from FILE, e.g. the public FAVAE "2D Reaching"
             paths: each episode draws a path that ends on the env's goal, resampled to the
             episode length; records the same factors as scripted (measured from the paths)
  PATH.zip   a saved stable-baselines3 policy (PPO, SAC, TD3, A2C or DDPG), deterministic actions;
             an `absaction rl` run folder stands for its agent.zip (primitive-action agents only)
  waypoint[:navigate|stitch]
             PointMaze (pip install 'absaction[maze]'): grid planner + PD controller, as D4RL;
             navigate = long episodes to random goals (a new goal on each arrival), stitch =
             episodes to a goal at most 4 cells away, ending on arrival; Gaussian action
             noise with --noise (e.g. 0.5)
"""
    + ORACLE_EXPERT_HELP
    + """
examples:
  absaction collect --env absaction/Reach2D-v0 --episodes 200 --seed 0 --out data/reach2d
  absaction collect --env Pendulum-v1 --expert random --episodes 20 --out data/pendulum
  absaction collect --env absaction/Reach2D-v0 --expert paths:reaching_100.npz --noise 0.02 --out data/favae
  absaction collect --env Pendulum-v1 --expert sac_pendulum.zip --episodes 50 --out data/pendulum-sac
  absaction collect --env PointMaze_Medium-v3 --expert waypoint:stitch --noise 0.5 --episodes 1500 \
      --out data/maze-stitch
  absaction collect --env ogbench:pointmaze-large-v0 --expert oracle:stitch --seed 0 --out ~/.ogbench/data

The output folder is a Minari dataset (data/main_data.hdf5, data/metadata.json) plus collect.json
(oracle experts: OGBench's npz files, above).
Episode i is reset with seed S+i, so the same command writes the same data.
"""
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "collect",
        help="record expert rollouts into a Minari dataset",
        description="Roll out an expert in a gymnasium environment and write the episodes (observations, "
        "actions, rewards, ground-truth factors) as a Minari dataset.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c = CollectConfig  # defaults and their text live in its fields
    o = OracleCollectConfig  # those of the oracle (OGBench's recipe)
    parser.add_argument("--env", required=True, metavar="ID", help=field_docs(c)["env_id"])
    parser.add_argument(
        "--expert", default=field_default(c, "expert"),
        metavar="scripted|random|paths:FILE.npz|waypoint[:MODE]|oracle[:TYPE]|PATH.zip",
        help=field_help(c, "expert", "who acts, see below"),
    )  # fmt: skip
    parser.add_argument(
        "--episodes", type=positive_int, default=None, metavar="N",
        help=field_help(c, "episodes", default=f"{show_default(c, 'episodes')}; oracle: OGBench's count"),
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=non_negative_int, default=field_default(c, "seed"), metavar="S",
        help=field_help(c, "seed"),
    )  # fmt: skip
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output dataset folder")
    add_force(parser)
    parser.add_argument(
        "--max-steps", type=positive_int, default=field_default(c, "max_steps"), metavar="M",
        help=field_help(c, "max_steps", "time limit per episode", "the env's own; oracle: OGBench's"),
    )  # fmt: skip
    parser.add_argument(
        "--noise", type=non_negative_float, default=None, metavar="X",
        help=field_help(c, "noise", default=f"{show_default(c, 'noise')}; oracle {show_default(o, 'noise')}"),
    )  # fmt: skip
    parser.add_argument(
        "--env-kwarg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="gymnasium.make argument, e.g. --env-kwarg success_radius=0.02 (recorded with the dataset; "
        "pass the same to absaction rl). " + KEY_VALUE_SEMANTICS,
    )  # fmt: skip
    parser.add_argument(
        "--dataset-id", default=field_default(c, "dataset_id"), metavar="NAME",
        help=field_help(
            c, "dataset_id", "Minari dataset id [namespace/]name-vN (oracle: OGBench's dataset name, e.g. "
            "pointmaze-large-stitch-v0)", "derived, e.g. reach2d-scripted-v0"
        ),
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if is_oracle_expert(args.expert):
        return run_oracle(args)
    config = CollectConfig(
        env_id=args.env,
        out=args.out,
        expert=args.expert,
        episodes=args.episodes if args.episodes is not None else field_default(CollectConfig, "episodes"),
        seed=args.seed,
        force=args.force,
        max_steps=args.max_steps,
        noise=args.noise if args.noise is not None else field_default(CollectConfig, "noise"),
        dataset_id=args.dataset_id,
        env_kwargs=dict(args.env_kwarg),
    )
    print_summary(collect(config))
    return 0


# ------------------------------------------------------------------ --expert oracle[:TYPE] (OGBench files)
def run_oracle(args: argparse.Namespace) -> int:
    """OGBench's pointmaze recipe, written as OGBench's npz files (:mod:`absaction.data.ogbench_collect`)."""
    if args.env_kwarg:
        raise AbsactionError(
            "--env-kwarg does not apply to --expert oracle: OGBench's recipe fixes the env's settings",
            "leave --env-kwarg out",
        )
    o = OracleCollectConfig
    config = o(
        env_id=args.env,
        out=args.out,
        expert=args.expert,
        dataset_name=args.dataset_id,
        episodes=args.episodes,
        max_steps=args.max_steps,
        noise=args.noise if args.noise is not None else field_default(o, "noise"),
        seed=args.seed,
        force=args.force,
    )
    print_data_check(collect_oracle(config))
    return 0
