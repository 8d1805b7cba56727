"""``python -m benchmarks.rl``: the RL study's command line (primitive vs latent-chunk vs skill agents on
the Reach2D family or PointMaze), over :func:`.sweep.run_bench`. Run it from a checkout of the
repository; every committed result under ``benchmarks/results/rl*`` names the command that made it
(``benchmarks/rl/README.md``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from absaction.bench.estimate import duration
from absaction.cli import run_command
from absaction.cli._args import add_executor_args, executor_spec, non_negative_int, positive_int
from absaction.models.configs import SKILL_FRAMES

from .agents import AGENTS
from .catalogue import SKILL_AGENTS, TASKS, RLBenchConfig, presets_of
from .suites import MAZE_TASKS
from .sweep import BenchResult, check_sweep, describe_sweep, run_bench

PROG = "python -m benchmarks.rl"

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
  python -m benchmarks.rl --out bench-rl                     # the default sweep, under an hour on 2 cores
  python -m benchmarks.rl --quick --out bench-quick          # smoke test, under a minute
  python -m benchmarks.rl --tasks obstacle chain --agents ppo ppo-bc ppo-latent --seeds 10 --out bench-2
  python -m benchmarks.rl --full --workers 16 --out bench-full    # every agent, 200k steps: a bigger machine
  python -m benchmarks.rl --out bench-rl --resume            # continue an interrupted sweep
  python -m benchmarks.rl --skills --out bench-skills        # + the skill agents (about 4 h)
  python -m benchmarks.rl --suite pointmaze --dry-run --out bench-maze   # PointMaze: the plan, 2.5 h

Run it from a checkout of the repository (the studies are not part of the installed package); the
committed results and the command behind each are listed in benchmarks/rl/README.md.
"""


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown (except None: the preset decides), description and epilog kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def _preset_text(name: str, suite: str = "reach2d") -> str:
    p = presets_of(suite)[name]
    return (
        f"{len(p.tasks)} task(s), {len(p.agents)} agents ({', '.join(p.agents)}), {p.seeds} seeds, "
        f"{p.steps:,} steps, {p.eval_points} evaluations x {p.eval_episodes} episodes"
    )


def epilog() -> str:
    """The agent table, the tasks and the presets, from the catalogue."""
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


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m benchmarks.rl``."""
    rl = argparse.ArgumentParser(
        prog=PROG, description=RL_DESCRIPTION, epilog=epilog(), formatter_class=_Formatter
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
    return rl


def config_from_args(args: argparse.Namespace) -> RLBenchConfig:
    """The sweep the flags ask for: the preset's sizes, overridden by given flags."""
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
    """Run the sweep the parsed flags ask for (or its dry run), print the check lines; 0 on success."""
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
            f"{PROG}: interrupted; finished runs are kept in {args.out}: continue with "
            f"`{PROG} ... --out {args.out} --resume`",
            file=sys.stderr,
        )
        return 130
    _print_summary(result)
    return 0


def _print_summary(result: BenchResult) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line) and run the study; the exit status (2: a one-line
    error for bad input)."""
    args = build_parser().parse_args(argv)
    return run_command(PROG, lambda: run_rl(args))
