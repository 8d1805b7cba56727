"""``absaction bench``: compare agents on tasks over seeds with the sweep engine (:mod:`absaction.bench`).

Every agent is a name and the flags of ``absaction rl`` that define it, read by ``absaction rl``'s own
parser (``--agent "sac-latent=--algo sac --actions latent --model runs/vae"``); the sweep sets the task,
the seed and the budget of every run. The report is the engine's: IQM over seeds with stratified-bootstrap
intervals, performance profiles and the probability that each agent beats the first.

This module imports no engine code at start-up: the engine pulls in torch and SB3, which
``absaction --help`` must not wait for, so it is imported inside the functions that run it."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction.cli import rl as rl_cli
from absaction.cli._args import add_executor_args, executor_spec, field_default, field_help, positive_int
from absaction.errors import AbsactionError

if TYPE_CHECKING:  # annotations only: importing them at start-up would load torch and SB3
    from absaction.agents import AgentConfig
    from absaction.bench import Sweep, SweepResult

DESCRIPTION = """\
Compare RL agents on your tasks: every agent on every task for every seed, trained in parallel (a
local process pool or Ray), finished runs kept (--resume), the statistics computed with rliable (IQM
over seeds with 95% stratified-bootstrap intervals, performance profiles, the probability that each
agent beats the first). Each agent is a NAME=FLAGS pair: FLAGS are `absaction rl` flags (algorithm,
action kind, action model, BC warm start, --set hyperparameters, --device, ...), read by its own
parser; the sweep sets --env, --seed, --steps and the evaluations of every run. Tasks without a
success signal (is_success) are scored by their mean return."""

EPILOG = """\
outputs (in --out): results.csv (per run: success or return before learning, steps to the
threshold, AUC, ...), summary.csv + summary.md (rows = agents; per task IQM [95% CI]; P(agent >
first agent); performance profiles), learning_curves.png, performance_profiles.png,
probability_of_improvement.png, summary.json (everything), bench.json (the sweep's settings),
runs/<task>/<agent>/seed<k>/ (each run's `absaction rl` folder).

examples:
  absaction bench --tasks Pendulum-v1 --agent "ppo=--algo ppo" --agent "sac=--algo sac" \\
      --seeds 3 --steps 20000 --out bench-pendulum
  absaction bench --tasks absaction/Reach2DObstacle-v0 --agent "ppo=--algo ppo" \\
      --agent "latent=--algo ppo --actions latent --model runs/tcvlae" --seeds 10 --out bench-latent
  absaction bench ... --out bench-pendulum --resume          # continue, or add seeds, agents, tasks
  absaction bench ... --dry-run                              # check everything, print the plan, stop
  absaction bench ... --executor ray --ray-address auto      # every run a Ray task (--device cuda: a GPU)

The project's own studies (primitive vs latent vs skill agents on Reach2D and PointMaze, the VAE
benchmark) run from a checkout of the repository: python -m benchmarks.rl | benchmarks.vae."""

SWEEP_FLAGS: dict[str, str] = {
    "env": "--tasks",
    "seed": "--seeds",
    "steps": "--steps",
    "eval_every": "--eval-points",
    "eval_episodes": "--eval-episodes",
    "out": "--out",
    "resume": "--resume",
    "force": "--force",
    "checkpoint_every": "",
    "threads": "--threads",
    "no_progress": "--no-progress",
    "tensorboard": "--tensorboard",
}
"""``absaction rl`` options that the sweep sets for every run -> the ``absaction bench`` flag that does."""

STUDIES: tuple[str, ...] = ("rl", "vae", "skills")
"""The project's studies, which `absaction bench rl|vae` once ran: now ``python -m benchmarks.NAME``."""

AGENT = re.compile(r"(?P<name>[^=\s]+)=(?P<flags>.*)", re.S)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (not for None or switches: the help says what happens then), the description and
    epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool) or action.default == []:
            return action.help
        return super()._get_help_string(action)


def register(subparsers: Any) -> None:
    from absaction.bench.definition import Sweep  # light (no torch): the sweep's defaults for the help

    parser = subparsers.add_parser(
        "bench",
        help="compare agents on tasks over seeds: the sweep engine (IQM, intervals, profiles)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    s = Sweep
    what = parser.add_argument_group("what to compare")
    what.add_argument(
        "study", nargs=argparse.REMAINDER, help=argparse.SUPPRESS
    )  # `absaction bench rl ...`, the studies' former place (their flags too): refused with where they are
    what.add_argument(
        "--tasks", nargs="+", metavar="ENV_ID",
        help="env ids (any registered id, or module:EnvId); the run folders are their path-safe names",
    )  # fmt: skip
    what.add_argument(
        "--agent", dest="agents", action="append", default=[], metavar="NAME=FLAGS",
        help="an agent: its name (the run folder) and its `absaction rl` flags, e.g. "
        "'sac=--algo sac --set learning_rate=1e-3'; repeatable, the first is the baseline",
    )  # fmt: skip
    size = parser.add_argument_group("size")
    size.add_argument(
        "--seeds", type=positive_int, default=field_default(s, "seeds"), help=field_help(s, "seeds")
    )
    size.add_argument(
        "--steps", type=positive_int, default=field_default(s, "steps"), help=field_help(s, "steps")
    )
    size.add_argument(
        "--eval-points", type=positive_int, default=field_default(s, "eval_points"), metavar="N",
        help=field_help(s, "eval_points"),
    )  # fmt: skip
    size.add_argument(
        "--eval-episodes", type=positive_int, default=field_default(s, "eval_episodes"), metavar="N",
        help=field_help(s, "eval_episodes"),
    )  # fmt: skip
    run = parser.add_argument_group("running")
    run.add_argument(
        "--workers", type=positive_int, default=field_default(s, "workers"), metavar="N",
        help=field_help(s, "workers"),
    )  # fmt: skip
    run.add_argument(
        "--threads", type=positive_int, default=field_default(s, "threads"), metavar="N",
        help=field_help(s, "threads"),
    )  # fmt: skip
    run.add_argument(
        "--bootstrap-reps", type=positive_int, default=field_default(s, "bootstrap_reps"), metavar="N",
        help=field_help(s, "bootstrap_reps"),
    )  # fmt: skip
    run.add_argument("--out", metavar="DIR", help="the sweep's folder (required)")
    again = run.add_mutually_exclusive_group()
    again.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out, skipping finished runs"
    )
    again.add_argument(
        "--force", action="store_true", help="delete an existing sweep folder (with bench.json); start over"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="check the inputs, print the plan and estimate, stop"
    )
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument(
        "--tensorboard", action="store_true",
        help="log every run's SB3 training metrics to its tensorboard/ folder "
        "(pip install absaction[tensorboard])",
    )  # fmt: skip
    add_executor_args(parser)
    parser.set_defaults(func=run_bench)


def agent_config(text: str) -> tuple[str, AgentConfig]:
    """``NAME=FLAGS`` -> the agent's name and its :class:`~absaction.agents.AgentConfig` template, the
    flags read by ``absaction rl``'s parser (the sweep's own options refused, in one line).

    >>> name, config = agent_config("sac=--algo sac --set learning_rate=1e-3")
    >>> name, config.algo, config.hyperparams
    ('sac', 'sac', {'learning_rate': 0.001})
    """
    match = AGENT.fullmatch(text.strip())
    if match is None:
        raise AbsactionError(
            f"--agent {text!r} is not NAME=FLAGS",
            "pass e.g. --agent 'ppo=--algo ppo' (FLAGS: absaction rl flags)",
        )
    name, flags = match["name"], match["flags"]
    try:
        argv = shlex.split(flags)
    except ValueError as err:
        raise AbsactionError(f"--agent {name}: cannot split its flags ({err})", "close every quote") from None
    parser = argparse.ArgumentParser(prog="absaction", add_help=False)
    rl_cli.register(parser.add_subparsers(dest="command"))
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = parser.parse_args(["rl", *argv])
    except SystemExit:
        said = errors.getvalue().strip().splitlines()
        reason = said[-1].split("error: ", 1)[-1] if said else "not `absaction rl` flags"
        raise AbsactionError(
            f"--agent {name}: {reason}", "pass `absaction rl` flags (see absaction rl --help)"
        ) from None
    defaults = args.resume_defaults
    for key, flag in SWEEP_FLAGS.items():
        if getattr(args, key) != defaults[key]:
            given = "--" + key.replace("_", "-")
            where = f"pass {flag} to absaction bench" if flag else "drop it: a sweep keeps no checkpoints"
            raise AbsactionError(f"--agent {name}: {given} is the sweep's, not an agent's", where)
    return name, rl_cli.config_from_args(args)


def sweep_from_args(args: argparse.Namespace) -> Sweep:
    """The :class:`~absaction.bench.Sweep` the flags ask for (unchecked:
    :func:`~absaction.bench.sweep.check_sweep` checks it)."""
    if args.study:
        word = args.study[0]
        if word in STUDIES:
            raise AbsactionError(
                f"`absaction bench {word}` is not a command: the project's studies are not in the package",
                f"run `python -m benchmarks.{word} ...` from a checkout of the repository (same flags), or "
                "compare your own agents with absaction bench --tasks ... --agent NAME=FLAGS",
            )
        raise AbsactionError(
            f"unexpected argument {word!r}", "pass --tasks ENV_ID ... --agent NAME=FLAGS ... --out DIR"
        )
    missing = [
        flag
        for flag, value in (("--tasks", args.tasks), ("--agent", args.agents), ("--out", args.out))
        if not value
    ]
    if missing:
        raise AbsactionError(
            f"missing {', '.join(missing)}",
            "pass --tasks ENV_ID ... --agent NAME=FLAGS (one or more) --out DIR",
        )
    agents: dict[str, Any] = {}
    for text in args.agents:
        name, config = agent_config(text)
        if name in agents:
            raise AbsactionError(f"the agent {name} is given twice", "give every --agent its own name")
        agents[name] = config
    from absaction.bench.definition import Sweep  # light, but only needed when a sweep runs

    return Sweep(
        tasks=list(args.tasks),
        agents=agents,
        seeds=args.seeds,
        steps=args.steps,
        eval_points=args.eval_points,
        eval_episodes=args.eval_episodes,
        workers=args.workers,
        threads=args.threads,
        bootstrap_reps=args.bootstrap_reps,
    )


def run_bench(args: argparse.Namespace) -> int:
    """Run the sweep the flags ask for (or its dry run), print where its report is; 0 on success."""
    from absaction.bench.sweep import check_sweep, describe_sweep, run_sweep  # lazy: torch and SB3

    sweep = sweep_from_args(args)
    out = Path(args.out)
    if args.dry_run:
        check_sweep(sweep, out, args.force, args.resume)  # what the real run would refuse
        print(describe_sweep(sweep, out if args.resume else None)[0])
        return 0
    try:
        result = run_sweep(
            sweep,
            out,
            executor=executor_spec(args),
            force=args.force,
            resume=args.resume,
            progress=not args.no_progress,
            tensorboard=args.tensorboard,
        )
    except KeyboardInterrupt:
        print(
            f"absaction bench: interrupted; finished runs are kept in {out}: continue with the same command "
            "and --resume",
            file=sys.stderr,
        )
        return 130
    _print_summary(result)
    return 0


def _print_summary(result: SweepResult) -> None:
    from absaction.bench.estimate import duration  # lazy: imports torch and SB3
    from absaction.bench.markdown import fmt_est

    report = result.report
    for item in report.improvements:
        print(f"  {item.line()}")
    shared = f", {result.runs_shared} shared by identical agents" if result.runs_shared else ""
    print(
        f"{result.runs_trained} run(s) trained, {result.runs_skipped} reused{shared}, in "
        f"{duration(result.seconds)} (estimated {duration(result.estimate_seconds)}); "
        f"table: {result.summary_md}"
    )
    last = [c for c in report.cells if c.task == report.cells[-1].task]  # pooled, or the only task
    best = max(last, key=lambda c: c.auc.value)
    where = "all tasks" if len(result.sweep.task_ids) > 1 else best.task
    print(f"highest AUC on {where}: {best.agent} {fmt_est(best.auc)}")
