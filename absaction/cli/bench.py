"""``absaction bench``: the packaged benchmarks, one sub-command each. ``absaction bench rl`` is the
primitive-vs-latent RL comparison (:mod:`absaction.bench.sweep`), ``absaction bench vae`` the action-VAE
comparison (:mod:`absaction.cli.bench_vae`).

This module imports no benchmark code at start-up: the benchmark modules pull in torch and SB3, which
``absaction --help`` must not wait for, so they are imported inside the functions that run them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from absaction.cli import bench_vae
from absaction.cli._args import add_executor_args, executor_spec, non_negative_int, positive_int
from absaction.models.configs import SKILL_FRAMES

if TYPE_CHECKING:  # annotations only: importing them at start-up would load torch and SB3
    from absaction.bench.catalogue import RLBenchConfig
    from absaction.bench.sweep import BenchResult

BENCH_DESCRIPTION = """\
Packaged benchmarks:

  rl    primitive vs latent actions: sample efficiency of SB3 agents on the Reach2D family
  vae   action VAEs: disentanglement, reconstruction and speed of the TCVLAE against its ablations

The smaller measurements are scripts in the repository's benchmarks/ folder (python
benchmarks/NAME.py --help): bench_env_speed.py (env throughput), bench_qrnn.py (QRNN speed),
bench_decoder_reach.py (where a decoder's paths can end); benchmarks/bench_rl.py and bench_vae.py are
the same as `absaction bench rl` and `absaction bench vae`."""

RL_DESCRIPTION = """\
Compare agents that act in primitive actions with agents that act in the latents of a TCVLAE
trained on expert demonstrations, on the Reach2D family (dense, sparse, obstacle, chain, new goals).

Stage 1 (cached in OUT/stage1): collect scripted Reach2D-v0 expert demonstrations (unless --data),
train the ladder TCVLAE and the flat TCVAE on them (unless --model gives the TCVLAE), build the
untrained-decoder ablation. Stage 2: every (task, agent, seed) run in parallel worker processes, one
torch thread each. Stage 3: IQM over seeds with 95% (stratified) bootstrap intervals, the target
check and where latent actions do not help, written to OUT."""

RL_EPILOG = """\
agents (--agents):
{agents}

tasks (--tasks): {tasks} (short names), or any registered env id;
  --suite pointmaze: {maze_tasks}

presets: default = {default}
         --quick = {quick}
         --full  = {full}
         --skills adds to the Reach2D preset: {skills}
--suite pointmaze: default = {maze_default}
         --quick = {maze_quick}
         --full  = {maze_full} (for a Ray cluster)
flags given explicitly override the preset's value.

Budgets count PRIMITIVE env steps for every agent. The estimated duration is printed before the
start. Every finished run is kept: after Ctrl-C or a failure, --resume continues the sweep (same
--steps/--eval-*/--data/--model; --tasks, --agents and --seeds may grow).

outputs (in --out): results.csv (per run), summary.csv + summary.md (rows = agents; per task: success
before learning, steps to 80% success, AUC, each IQM [95% CI]; the target check (3x; 5x on
PointMaze); where latent actions do not help), learning_curves.png, summary.json (everything),
bench.json (settings), stage1/, runs/<task>/<agent>/seed<k>/ (each run's eval.csv, agent.zip,
agent.json, config.json).

examples:
  absaction bench rl --out bench-rl                          # the default sweep, under an hour on 2 cores
  absaction bench rl --quick --out /tmp/bench-quick          # smoke test, under a minute
  absaction bench rl --tasks obstacle chain --agents ppo ppo-bc ppo-latent --seeds 10 --out bench-2
  absaction bench rl --full --workers 16 --out bench-full    # every agent, 200k steps: a bigger machine
  absaction bench rl --out bench-rl --resume                 # continue an interrupted sweep
  absaction bench rl --skills --out bench-skills             # + the skill agents (about 4 h)
  absaction bench rl --suite pointmaze --dry-run --out bench-maze   # PointMaze: the plan, 2.5 h
"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (except None: the preset decides), description and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _preset_text(name: str, suite: str = "reach2d") -> str:
    from absaction.bench.catalogue import presets_of  # lazy: imports torch and SB3 (see the module doc)

    p = presets_of(suite)[name]
    return (
        f"{len(p.tasks)} task(s), {len(p.agents)} agents ({', '.join(p.agents)}), {p.seeds} seeds, "
        f"{p.steps:,} steps, {p.eval_points} evaluations x {p.eval_episodes} episodes"
    )


class _LazyEpilogParser(argparse.ArgumentParser):
    """A parser that can fill its epilog only when help is printed (``lazy_epilog``): the agent table
    of ``bench rl`` comes from benchmark code that imports torch and SB3, which ``absaction --help``
    must not wait for. Without ``lazy_epilog`` it is a plain :class:`argparse.ArgumentParser`."""

    def __init__(self, *args: Any, lazy_epilog: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy_epilog = lazy_epilog

    def format_help(self) -> str:
        if self.epilog is None and self._lazy_epilog is not None:
            self.epilog = self._lazy_epilog()
        return super().format_help()


def _rl_epilog() -> str:
    from absaction.bench.agents import AGENTS  # lazy: imports torch and SB3
    from absaction.bench.catalogue import SKILL_AGENTS, TASKS
    from absaction.bench.suites import MAZE_TASKS  # lazy: as above

    agents = "\n".join(f"  {a.name:<24} {a.description} ({a.family})" for a in AGENTS.values())
    return RL_EPILOG.format(
        agents=agents,
        tasks=", ".join(TASKS),
        maze_tasks=", ".join(MAZE_TASKS),
        skills=", ".join(SKILL_AGENTS),
        maze_default=_preset_text("default", "pointmaze"),
        maze_quick=_preset_text("quick", "pointmaze"),
        maze_full=_preset_text("full", "pointmaze"),
        default=_preset_text("default"),
        quick=_preset_text("quick"),
        full=_preset_text("full"),
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="benchmarks: `bench rl` (primitive vs latent RL), `bench vae` (action VAE quality)",
        description=BENCH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    benches = parser.add_subparsers(
        dest="benchmark", metavar="BENCHMARK", required=True, parser_class=_LazyEpilogParser
    )
    register_rl(benches)
    bench_vae.register(benches)


def register_rl(benches: Any) -> None:
    """Add ``rl`` to the sub-commands of ``absaction bench`` (``benches``)."""
    rl = benches.add_parser(
        "rl",
        help="primitive vs latent actions: RL sample efficiency on the Reach2D family",
        description=RL_DESCRIPTION,
        formatter_class=_Formatter,
        lazy_epilog=_rl_epilog,
    )
    what = rl.add_argument_group("what to compare")
    what.add_argument("--tasks", nargs="+", metavar="TASK", help="tasks (default: the preset's)")
    what.add_argument("--agents", nargs="+", metavar="AGENT", help="agents (default: the preset's)")
    what.add_argument(
        "--suite", choices=("reach2d", "pointmaze"), default="reach2d",
        help="the world: the Reach2D family, or PointMaze's five tasks per maze (stitch data collected "
        "here; needs pip install 'absaction[maze]'; --full: the Large maze)",
    )  # fmt: skip
    what.add_argument(
        "--skills", action="store_true",
        help="Reach2D: add the skill agents (skill models on the demonstrations and on play data, "
        "H = 4) and the BC baseline on the play data to the preset's agents",
    )  # fmt: skip
    size = rl.add_argument_group("size (default: the preset's)")
    size.add_argument(
        "--seeds", type=positive_int, metavar="N", help="runs per agent and task (seeds 0..N-1)"
    )
    size.add_argument("--steps", type=positive_int, metavar="N", help="primitive env steps per run")
    size.add_argument("--eval-points", type=positive_int, metavar="N", help="evaluations after the first")
    size.add_argument("--eval-episodes", type=positive_int, metavar="N", help="episodes per evaluation")
    preset = size.add_mutually_exclusive_group()
    preset.add_argument("--quick", action="store_true", help="smoke test preset (see presets below)")
    preset.add_argument(
        "--full", action="store_true", help="the larger sweep: every agent (primitive SAC too), more steps"
    )
    stage1 = rl.add_argument_group("stage 1: demonstrations and action models")
    stage1.add_argument("--data", metavar="DIR", help="demonstrations instead of collecting scripted experts")
    stage1.add_argument("--model", metavar="RUN_DIR", help="a trained TCVLAE instead of training one")
    stage1.add_argument("--demo-episodes", type=positive_int, metavar="N", help="expert episodes to collect")
    stage1.add_argument("--vae-epochs", type=positive_int, metavar="N", help="epochs of the stage-1 VAEs")
    stage1.add_argument("--skill-epochs", type=positive_int, metavar="N", help="epochs of the skill models")
    stage1.add_argument(
        "--skill-horizon", type=positive_int, metavar="H",
        help="steps per skill (default: 4 on Reach2D, 10 on PointMaze)",
    )  # fmt: skip
    stage1.add_argument(
        "--skill-frame", choices=SKILL_FRAMES,
        help="what the skill models' posterior and decoder see: absolute s_t, or relative s_t - s_0, the "
        "change since the skill began (the same motion anywhere); the prior sees s_0 (default: absolute)",
    )  # fmt: skip
    stage1.add_argument(
        "--play-episodes", type=positive_int, metavar="N", help="play episodes to collect (the -play agents)"
    )
    stage1.add_argument(
        "--vae-progressive", type=non_negative_int, metavar="P", default=None,
        help="progressive training of the stage-1 TCVLAE, epochs per ladder (default: 20; 0 = the paper's)",
    )  # fmt: skip
    rl.add_argument("--workers", type=positive_int, default=2, help="parallel runs (one CPU core each)")
    rl.add_argument(
        "--threads", type=positive_int, default=1, metavar="N",
        help="torch threads per worker (default: 1, fastest for these small networks)",
    )  # fmt: skip
    rl.add_argument("--bootstrap-reps", type=positive_int, default=2000, help="bootstrap replicates")
    rl.add_argument(
        "--lookahead", type=non_negative_int, default=None, metavar="N",
        help="candidate actions per decision of each macro agent's lookahead ceiling: what its action "
        "space can express one decision at a time (0 skips it; default: 256 on Reach2D, 0 on PointMaze, "
        "where copying the MuJoCo env for every candidate takes ~80 ms)",
    )  # fmt: skip
    rl.add_argument("--out", required=True, metavar="DIR", help="the bench folder")
    rl.add_argument(
        "--resume", action="store_true", help="continue the sweep in --out, skipping finished runs"
    )
    rl.add_argument(
        "--dry-run", action="store_true", help="check the inputs, print the plan and estimate, stop"
    )
    rl.add_argument(
        "--force", action="store_true", help="delete an existing bench folder (with bench.json); start over"
    )
    rl.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rl.add_argument(
        "--tensorboard",
        action="store_true",
        help="log every run's SB3 training metrics to its tensorboard/ folder "
        "(pip install absaction[tensorboard])",
    )
    add_executor_args(rl)
    rl.set_defaults(func=run_rl)


def config_from_args(args: argparse.Namespace) -> RLBenchConfig:
    """The sweep ``absaction bench rl`` was asked for: the preset's sizes, overridden by given flags."""
    from absaction.bench.catalogue import RLBenchConfig  # lazy: imports torch and SB3

    name = "quick" if args.quick else "full" if args.full else "default"
    return RLBenchConfig.from_preset(
        name,
        suite=args.suite,
        skills=args.skills,
        skill_epochs=args.skill_epochs,
        skill_horizon=args.skill_horizon,
        skill_frame=args.skill_frame,
        play_episodes=args.play_episodes,
        tasks=args.tasks,
        agents=args.agents,
        seeds=args.seeds,
        steps=args.steps,
        eval_points=args.eval_points,
        eval_episodes=args.eval_episodes,
        workers=args.workers,
        threads=args.threads,
        data=args.data,
        model=args.model,
        demo_episodes=args.demo_episodes,
        vae_epochs=args.vae_epochs,
        vae_progressive=args.vae_progressive,
        bootstrap_reps=args.bootstrap_reps,
        lookahead=args.lookahead,
    )


def run_rl(args: argparse.Namespace) -> int:
    from absaction.bench.sweep import check_sweep, describe_sweep, run_bench  # lazy: imports torch and SB3

    config = config_from_args(args)
    if args.dry_run:
        check_sweep(config, Path(args.out), args.force, args.resume)  # what the real run would refuse
        print(describe_sweep(config, Path(args.out) if args.resume else None)[0])
        return 0
    try:
        result = run_bench(
            config,
            args.out,
            force=args.force,
            resume=args.resume,
            progress=not args.no_progress,
            executor=executor_spec(args),
            tensorboard=args.tensorboard,
        )
    except KeyboardInterrupt:
        print(
            f"absaction bench: interrupted; finished runs are kept in {args.out}: continue with "
            f"`absaction bench rl ... --out {args.out} --resume`",
            file=sys.stderr,
        )
        return 130
    _print_summary(result)
    return 0


def _print_summary(result: BenchResult) -> None:
    from rich.console import Console  # lazy: only needed once a sweep has finished
    from rich.markup import escape

    from absaction.bench.estimate import duration  # lazy: imports torch and SB3

    console = Console(soft_wrap=True)
    report = result.report
    console.print(f"[bold]{escape(report.check_heading)}[/]:")  # what is compared, by which metric
    for target in report.targets:
        console.print(f"  {target.line(result.config.steps)}")
    if not report.targets:
        console.print("  not checked: the sweep needs at least one latent and one primitive agent")
    console.print(report.no_help)
    trained = result.runs_total - result.runs_skipped - result.runs_shared
    shared = f", {result.runs_shared} shared by identical agents" if result.runs_shared else ""
    console.print(
        f"{trained} run(s) trained, {result.runs_skipped} reused{shared}, in {duration(result.seconds)} "
        f"(estimated {duration(result.estimate_seconds)}); table: {result.summary_md}"
    )
