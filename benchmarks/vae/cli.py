"""``python -m benchmarks.vae``: the VAE study's command line (ladder TCVLAE vs flat TCVAE vs plain
beta-VAE, the capacity modes, the speed target), over :mod:`benchmarks.vae`. Run it from a checkout of
the repository.

The parser reads its choices and defaults from :mod:`benchmarks.vae.catalogue`, which is torch-free,
so ``--help`` answers without importing torch; the study itself is imported only when it runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absaction.cli import run_command
from absaction.cli._args import (
    KEY_VALUE_SEMANTICS,
    add_executor_args,
    executor_spec,
    key_value,
    non_negative_int,
    positive_float,
    positive_int,
)
from absaction.errors import AbsactionError

from .catalogue import (
    CURVES_CSV,
    DATASETS,
    DEFAULT_DATASETS,
    QUICK_SIZES,
    RESULTS_CSV,
    SUMMARY_JSON,
    SUMMARY_MD,
    VARIANTS,
    VAEBenchConfig,
    quick_config,
)

PROG = "python -m benchmarks.vae"

DESCRIPTION = """\
Train every model variant on scripted-expert Reach2D datasets for several seeds and measure what the
paper claims: reconstruction, KL and active units per ladder, MIG/SAP/DCI, the ladder that holds each
factor, whether a run is disentangled (target and bulge each in one active latent, active-unit MIG >=
0.9), the wall time of `absaction train` with the defaults (the speed target), and what each capacity
mode does to the KL. Every run uses the library's training defaults (TrainConfig) except its model and
capacity, and --set overrides."""

EPILOG_TEMPLATE = """\
models (--models; default: {default_models}):
{models}

datasets (--datasets; default: {default_datasets}, plus paths when --paths is given):
{datasets}

--quick sets {quick} (a smoke test, not a measurement).

outputs (in --out): results.csv (one row per run), capacity_curves.csv (per run and epoch), summary.json
(configuration, machine, means with 95 % t-intervals over seeds, claims, findings), summary.md (tables
for the README), capacity_<dataset>.png, traversals/<dataset>_<model>.png; OUT/work holds the cached
datasets and run folders (git-ignored). Existing results are refused unless --force or --resume.

examples:
  python -m benchmarks.vae --threads 1                         # the committed benchmarks/results/vae
  python -m benchmarks.vae --quick --out bench-vae-quick       # smoke test, about a minute
  python -m benchmarks.vae --datasets reach2d --models tcvlae --threads 1 --no-speed-check --set beta=50
  python -m benchmarks.vae --datasets paths --paths reaching_100.npz --noise 0.02 --threads 1
  python -m benchmarks.vae --resume                            # reuse the runs a broken call finished

The committed results and the command behind each: benchmarks/vae/README.md.
"""

DATASET_LINES = {
    "reach2d": "the paper's world (absaction/Reach2D-v0), 32-step episodes",
    "wavy": "absaction/WavyReach2D-v0: five goals, wavy paths, 64-step episodes",
    "paths": "recorded way-points of --paths FILE.npz tracked in absaction/Reach2D-v0",
}


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (not for switches, None or an empty list: the help says what happens then), the
    description and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def name_list(choices: tuple[str, ...], what: str) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: comma-separated names, each one of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        unknown = [n for n in names if n not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or text!r}; choose from {', '.join(choices)}"
            )
        return names

    return parse


def epilog() -> str:
    """The model and dataset tables of ``--help``, from the catalogue."""
    defaults = VAEBenchConfig()
    width = max(len(v.name) for v in VARIANTS)
    return EPILOG_TEMPLATE.format(
        default_models=",".join(defaults.models),
        models="\n".join(
            f"  {v.name:<{width}}  {v.description}{'' if v.default else ' (only when named)'}"
            for v in VARIANTS
        ),
        default_datasets=",".join(defaults.datasets),
        datasets="\n".join(
            f"  {key:<{width}}  {DATASET_LINES.get(key, spec.env_id)}" for key, spec in DATASETS.items()
        ),
        quick=", ".join(f"{k.replace('_', '-')} {v:g}" for k, v in QUICK_SIZES.items()),
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks.vae``."""
    defaults = VAEBenchConfig()
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=epilog(), formatter_class=_Formatter
    )
    what = parser.add_argument_group("what to compare")
    what.add_argument(
        "--models", type=name_list(tuple(v.name for v in VARIANTS), "model"), default=None,
        metavar="A,B", help="model variants, comma-separated (see models below)",
    )  # fmt: skip
    what.add_argument(
        "--datasets", type=name_list(tuple(DATASETS), "dataset"), default=None, metavar="A,B",
        help="datasets, comma-separated (see datasets below)",
    )  # fmt: skip
    what.add_argument(
        "--paths", type=Path, default=defaults.paths_file, metavar="FILE.npz",
        help="recorded way-points (N, P, 2) for the paths dataset, e.g. the public FAVAE 2D Reaching "
        "reaching_100.npz (tracked in absaction/Reach2D-v0)",
    )  # fmt: skip
    what.add_argument(
        "--set", dest="overrides", type=key_value, action="append", default=[], metavar="KEY=VALUE",
        help="a TrainConfig field for every run, e.g. beta=50 or lr=0.001; repeatable; not model, seed, "
        "capacity or threads (set per run). " + KEY_VALUE_SEMANTICS,
    )  # fmt: skip
    size = parser.add_argument_group("size")
    size.add_argument(
        "--seeds", type=positive_int, default=defaults.seeds, metavar="N",
        help="training seeds per model and dataset (seeds 0..N-1)",
    )  # fmt: skip
    size.add_argument(
        "--epochs", type=positive_int, default=defaults.epochs, metavar="N",
        help="training epochs (default: the library's, TrainConfig.epochs)",
    )  # fmt: skip
    size.add_argument(
        "--reach-episodes", type=positive_int, default=defaults.reach_episodes, metavar="N",
        help="episodes of the reach2d and paths datasets",
    )  # fmt: skip
    size.add_argument(
        "--wavy-episodes", type=positive_int, default=defaults.wavy_episodes, metavar="N",
        help="episodes of the wavy dataset",
    )  # fmt: skip
    size.add_argument(
        "--quick",
        action="store_true",
        help="smoke-test sizes (see below); they replace --seeds, --epochs, --*-episodes, --linear-cmax",
    )
    data = parser.add_argument_group("data and training")
    data.add_argument(
        "--data-seed", type=int, default=defaults.data_seed, metavar="S",
        help="seed of the data collection (episode i resets with S + i)",
    )  # fmt: skip
    data.add_argument(
        "--noise", type=float, default=defaults.noise, metavar="STD",
        help="std of the Gaussian noise added to every expert action, action units; not 0, which leaves "
        "only 20 distinct sequences and makes MIG measure its binning",
    )  # fmt: skip
    data.add_argument(
        "--linear-cmax", type=positive_float, default=defaults.linear_cmax, metavar="NATS",
        help="C_max of tcvlae-linear (total KL), ramped over the first half of the run",
    )  # fmt: skip
    data.add_argument(
        "--threads", type=positive_int, default=defaults.threads, metavar="N", help="torch threads per run"
    )
    extra = parser.add_argument_group("extra measurements and outputs")
    extra.add_argument(
        "--no-speed-check", dest="speed_check", action="store_false",
        help="skip timing `absaction train` with the defaults (one process per seed, reach2d)",
    )  # fmt: skip
    extra.add_argument(
        "--track-every", type=non_negative_int, default=defaults.track_every, metavar="K",
        help="score reach2d runs every K epochs to find the first disentangled epoch (0: never)",
    )  # fmt: skip
    extra.add_argument("--no-figures", dest="figures", action="store_false", help="skip the PNG figures")
    extra.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.add_argument("--out", type=Path, default=defaults.out, metavar="DIR", help="output folder")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--force", action="store_true", help="replace existing results, rerun every run")
    again.add_argument("--resume", action="store_true", help="reuse the finished runs whose settings match")
    add_executor_args(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> VAEBenchConfig:
    """The :class:`VAEBenchConfig` the parsed flags ask for (``--quick`` applied last)."""
    datasets = args.datasets or (DEFAULT_DATASETS + (("paths",) if args.paths else ()))
    if "paths" in datasets and args.paths is None:
        raise AbsactionError(
            "the paths dataset needs --paths FILE.npz",
            "pass the recorded way-points, e.g. the public FAVAE 2D Reaching reaching_100.npz",
        )
    config = VAEBenchConfig(
        out=args.out,
        seeds=args.seeds,
        datasets=datasets,
        paths_file=args.paths,
        models=args.models or VAEBenchConfig().models,
        epochs=args.epochs,
        reach_episodes=args.reach_episodes,
        wavy_episodes=args.wavy_episodes,
        data_seed=args.data_seed,
        noise=args.noise,
        linear_cmax=args.linear_cmax,
        threads=args.threads,
        overrides=dict(args.overrides),
        speed_check=args.speed_check,
        track_every=args.track_every,
        figures=args.figures,
        force=args.force,
        resume=args.resume,
        progress=args.progress,
    )
    return quick_config(config) if args.quick else config


def check_overrides(overrides: dict[str, Any], train_fields: set[str]) -> None:
    """Refuse ``--set`` keys that are not TrainConfig fields, or that the benchmark sets per run."""
    allowed = train_fields - {"model", "seed", "capacity", "threads"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise AbsactionError(
            f"--set {', '.join(unknown)}: not a training setting the benchmark lets you change",
            f"use one of {', '.join(sorted(allowed))}",
        )


def run_vae(args: argparse.Namespace) -> int:
    """Run the study the flags ask for, print its tables; 0 on success."""
    # the study's code imports torch: only when it runs, never for --help
    from absaction.train import TrainConfig

    from .sweep import run_benchmark
    from .tables import print_tables

    config = config_from_args(args)
    check_overrides(config.overrides, {f.name for f in dataclasses.fields(TrainConfig)})
    try:
        summary_doc = run_benchmark(config, executor_spec(args))
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; finished runs are kept in {config.out / 'work'}: continue with "
            "the same command and --resume",
            file=sys.stderr,
        )
        return 130
    print_tables(summary_doc)
    print(f"wrote {config.out / SUMMARY_MD}, {RESULTS_CSV}, {CURVES_CSV}, {SUMMARY_JSON}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the study; the exit status (2: a one-line
    error for bad input)."""
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda: run_vae(args))
