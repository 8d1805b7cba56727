"""A whole sweep of the RL study: :func:`run_bench` checks the sweep before it writes anything
(:func:`check_sweep`: names and sizes, the output folder, whether the inputs fit the agents and tasks),
prints the plan and its estimate (:func:`describe_sweep`), builds stage 1, hands the runs to the engine
(:mod:`absaction.bench.runs`: plan, preflight, resume, the executor) and writes the study's report.

Output folder::

    OUT/bench.json                     the sweep's settings (checked again by --resume)
    OUT/stage1/demos/                  scripted Reach2D-v0 expert demonstrations (unless --data)
    OUT/stage1/tcvlae/                 the ladder TCVLAE trained on them (unless --model)
    OUT/stage1/tcvae/                  the flat TCVAE (ablation)
    OUT/stage1/untrained/              the TCVLAE's architecture with untrained weights (ablation)
    OUT/runs/<task>/<agent>/seed<k>/   one train_agent output folder per run
    OUT/stage1/play/                   play data (Reach2DPlay-v0) for the -play skill agents
    OUT/stage1/skill/, skill-play/     flat skill models on the demonstrations and on the play data
    OUT/stage1/skill-ladder(-play)/    two-ladder skill models on the same data (ppo-skill-ladder agents)
    OUT/stage1/bc_relabelled.npz       PointMaze suite: goal-relabelled BC pairs of the stitch data
    OUT/results.csv, summary.csv, summary.md, summary.json, learning_curves.png, lookahead.json
    OUT/maze_rollouts.png              PointMaze suite: final policies drawn over the maze

Every run folder is written atomically, so a folder that exists is a finished run: ``--resume``
skips those and an interrupted sweep continues where it stopped.

Example (the quick preset: about a minute on two cores; run from a checkout of the repository)::

    from benchmarks.rl.catalogue import RLBenchConfig
    from benchmarks.rl.sweep import run_bench

    result = run_bench(RLBenchConfig.from_preset("quick"), "bench-quick")
    print(result.summary_md.read_text())
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from absaction import __version__
from absaction.bench.definition import Sweep
from absaction.bench.estimate import duration
from absaction.bench.executors import ExecutorSpec, make_executor
from absaction.bench.runs import (
    MARKER,
    RunSpec,
    check_out,
    plan_runs,
    preflight,
    prepare_out,
    remove_stale_temporaries,
    run_jobs,
    share_identical_runs,
)
from absaction.bench.runs import train_job as engine_train_job
from absaction.files import atomic_write_json
from absaction.train.metrics import check_tensorboard

from .agents import AGENTS, Stage1
from .catalogue import RESUME_KEYS, RLBenchConfig, same_setting, task_name
from .estimate import estimate_lookahead_seconds, estimate_run_seconds, estimate_seconds
from .inputs import check_inputs
from .lookahead import read_lookahead_cache
from .maze_figure import plot_maze_rollouts
from .report import Report, write_report
from .stage1 import prepare_stage1


def describe_sweep(config: RLBenchConfig, out: Path | None = None) -> tuple[str, float]:
    """A one-line plan of the sweep (runs, budget, workers, estimated duration) and the estimate (s).

    With ``out`` (a sweep being resumed), runs whose folders exist and a stage 1 already there are not
    counted in the estimate.
    """
    costs: list[float] = []
    lookahead = 0.0
    cached = {} if out is None else read_lookahead_cache(out)
    for task in config.tasks:
        for agent in config.agent_table():
            if f"{task_name(task)}/{agent.name}" not in cached:
                lookahead += estimate_lookahead_seconds(agent, task, config)
            cost = estimate_run_seconds(agent, task, config)
            for seed in range(config.seeds):
                if out is None or not (out / "runs" / task_name(task) / agent.name / f"seed{seed}").exists():
                    costs.append(cost)
    stage1_cached = (out is not None and (out / "stage1").exists()) or (
        config.data is not None and config.model is not None
    )
    expected = estimate_seconds(config, costs, stage1_cached, lookahead)
    runs = len(config.tasks) * len(config.agents) * config.seeds
    text = (
        f"bench rl: {len(config.tasks)} task(s) x {len(config.agents)} agent(s) x {config.seeds} seed(s)"
        f" = {runs} runs of {config.steps:,} primitive steps on {config.workers} worker(s)"
        + (f" ({runs - len(costs)} finished)" if len(costs) < runs else "")
        + f"; estimated {duration(expected)} with {config.workers} free core(s)"
    )
    load, cores = _load_average(), os.cpu_count() or 1
    if load is not None and load > 0.5 * cores:  # other jobs compete for the cores the estimate assumes
        text += f" (the machine is busy now: load {load:.1f} on {cores} cores, expect longer)"
    return text, expected


@dataclasses.dataclass
class BenchResult:
    """What :func:`run_bench` produced."""

    out: Path
    config: RLBenchConfig
    stage1: Stage1
    runs_total: int
    runs_skipped: int
    """finished runs found in ``out`` (by --resume) and not rerun"""
    estimate_seconds: float
    seconds: float
    """wall-clock seconds of this call"""
    report: Report
    """statistics, target check, files"""
    runs_shared: int = 0
    """runs of agents identical to another agent of the sweep, read from that agent's folders"""

    @property
    def summary_md(self) -> Path:
        return self.out / "summary.md"


def check_sweep(config: RLBenchConfig, out: Path, force: bool = False, resume: bool = False) -> None:
    """Everything a sweep refuses before it writes anything, each in one line: names and sizes
    (:meth:`RLBenchConfig.validate`), the output folder (:func:`check_out`) and the inputs, with whether
    every agent's demonstrations and action model fit every task (:func:`.inputs.check_inputs`). The real
    run (:func:`run_bench`) and the dry run call it, so both refuse the same inputs in the same words."""
    config.validate()
    check_study_out(config, out, force, resume)
    check_inputs(config)


def check_study_out(config: RLBenchConfig, out: Path, force: bool, resume: bool) -> None:
    """The engine's check of the bench folder (:func:`absaction.bench.runs.check_out`) with the study's
    settings that a resumed sweep must keep (:data:`~.catalogue.RESUME_KEYS`; ``data`` and ``model``
    compared as folders)."""
    paths = config.paths()

    def same(key: str, saved: Any, now: Any) -> bool:
        return same_setting(saved, now, out) if key in paths else bool(saved == now)

    check_out(out, force, resume, {key: getattr(config, key) for key in RESUME_KEYS}, same)


def study_sweep(config: RLBenchConfig, stage1: Stage1) -> Sweep:
    """The engine's :class:`~absaction.bench.Sweep` of the study's runs, once stage 1 is built: every
    agent of the table an :class:`~absaction.agents.AgentConfig` on the stage-1 models and data."""
    first = config.tasks[0]
    return Sweep(
        tasks={task_name(t): t for t in config.tasks},
        agents={
            agent.name: agent.sweep_agent(
                first, config.steps, config.eval_every, config.eval_episodes, stage1
            )
            for agent in config.agent_table()
        },
        seeds=config.seeds,
        steps=config.steps,
        eval_points=config.eval_points,
        eval_episodes=config.eval_episodes,
        workers=config.workers,
        threads=config.threads,
        bootstrap_reps=config.bootstrap_reps,
    )


def plan_study_runs(config: RLBenchConfig, stage1: Stage1, out: Path) -> list[RunSpec]:
    """Every (task, agent, seed) run (the engine's :func:`~absaction.bench.runs.plan_runs`), most expensive
    first by the study's estimate."""
    return plan_runs(
        study_sweep(config, stage1),
        out,
        cost=lambda run: estimate_run_seconds(AGENTS[run.agent], run.env_id, config),
    )


def train_job(job: dict[str, Any]) -> dict[str, Any]:
    """Worker: the engine's run (:func:`absaction.bench.runs.train_job`) in a process that knows the study's
    task ids (importing this module registers the PointMaze suite's tasks, :mod:`.suites`)."""
    return engine_train_job(job)


def run_bench(
    config: RLBenchConfig,
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    executor: ExecutorSpec | None = None,
    tensorboard: bool = False,
) -> BenchResult:
    """Run the whole sweep into ``out`` and write the report.

    Args:
        config: the sweep.
        out: the bench folder.
        force: replace an existing bench folder (deleted once the inputs are checked).
        resume: continue the sweep in ``out`` (same settings), skipping finished runs.
        progress: tqdm bar over runs on stderr.
        log: receives one-line progress messages (default: print to stderr).
        executor: where the runs execute (default: the local process pool of ``config.workers``). The
            results do not depend on it: a sweep can be resumed under the other executor.
        tensorboard: also log every run's SB3 training metrics to ``<run>/tensorboard``.
    """
    started = time.perf_counter()
    say = log or (lambda text: print(text, file=sys.stderr))
    out = Path(out)
    check_sweep(config, out, force, resume)  # nothing is written before this
    executor = executor or ExecutorSpec()
    executor.validate()  # e.g. Ray asked for but not installed: before anything is written
    if tensorboard:
        check_tensorboard()
    prepare_out(out, resume)
    if resume:  # stage-1 models killed half-way left their temporary folders
        for tmp in (out / "stage1").glob(".*.tmp-*"):
            shutil.rmtree(tmp, ignore_errors=True)
    record = {"absaction_version": __version__, "config": config.to_record(out)}  # folders relative to out
    atomic_write_json(out / MARKER, record)
    plan, expected = describe_sweep(config, out)
    say(plan)
    with make_executor(executor, config.workers, config.threads) as runner:
        stage1 = prepare_stage1(config, out, runner, say)
        runs = plan_study_runs(config, stage1, out)
        runs = share_identical_runs(runs, preflight(runs), config.agents)
        counts = run_jobs(
            runs,
            runner,
            threads=config.threads,
            tensorboard=tensorboard,
            progress=progress,
            log=say,
            name="bench rl",
            job=train_job,
        )
    # every run has finished: a temporary folder left now is a killed attempt that Ray retried
    remove_stale_temporaries(out)
    seconds = time.perf_counter() - started
    timing = {
        "estimate_seconds": expected,
        "seconds": seconds,
        "runs_trained": counts.trained,
        "runs_skipped": counts.skipped,
        "runs_shared": counts.shared,
    }
    report = write_report(config, stage1, runs, out, timing, say)
    if config.suite == "pointmaze":  # final-policy rollouts drawn over the maze, on the first task
        figure = plot_maze_rollouts(runs, config.tasks[0], out)
        if figure is not None:
            say(f"bench rl: rollouts over the maze: {figure}")
    seconds = time.perf_counter() - started  # with the report (lookahead ceilings included)
    return BenchResult(
        out, config, stage1, len(runs), counts.skipped, expected, seconds, report, counts.shared
    )


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None
