"""A whole sweep of the RL benchmark: :func:`run_bench` checks the sweep before it writes anything
(:func:`check_sweep`: names and sizes, the output folder, whether the inputs fit the agents and tasks),
prints the plan and its estimate (:func:`describe_sweep`), builds stage 1, trains every run in the worker
processes and writes the report.

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

Example (the quick preset: about a minute on two cores)::

    from absaction.bench.catalogue import RLBenchConfig
    from absaction.bench.sweep import run_bench

    result = run_bench(RLBenchConfig.from_preset("quick"), "bench-quick")
    print(result.summary_md.read_text())
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from absaction import __version__
from absaction.errors import AbsactionError
from absaction.files import atomic_write_json, check_new_output
from absaction.train.metrics import check_tensorboard

from .agents import Stage1
from .catalogue import RESUME_KEYS, RLBenchConfig, same_setting, task_name
from .estimate import (
    duration,
    estimate_lookahead_seconds,
    estimate_run_seconds,
    estimate_seconds,
)
from .executors import ExecutorSpec, make_executor
from .inputs import check_inputs
from .lookahead import read_lookahead_cache
from .maze_figure import plot_maze_rollouts
from .report import Report, write_report
from .runs import (
    plan_runs,
    preflight,
    prepare_stage1,
    run_finished,
    share_identical_runs,
    train_job,
)


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
    check_out(config, out, force, resume)
    check_inputs(config)


def check_out(config: RLBenchConfig, out: Path, force: bool, resume: bool) -> None:
    """Refuse, in one line and touching nothing, an ``out`` that :func:`prepare_out` would refuse: a resume
    of no sweep or with other settings, an existing folder without ``--resume``/``--force``, or ``--force``
    on a folder that is not a bench folder."""
    if force and resume:
        raise AbsactionError("--force and --resume contradict each other", "pass one of them")
    marker = out / "bench.json"
    if resume:
        if not marker.is_file():
            raise AbsactionError(
                f"{out} holds no sweep to resume", f"start one without --resume (--out {out})"
            )
        saved = _saved_config(marker)
        for key in RESUME_KEYS:
            now = getattr(config, key)
            if not (
                same_setting(saved.get(key), now, out) if key in config.paths() else saved.get(key) == now
            ):
                raise AbsactionError(
                    f"{out} was swept with {key}={saved.get(key)!r}, now {key}={now!r}",
                    "pass the same settings to --resume, or use another --out (or --force to start over)",
                )
        return
    if not out.exists():
        return
    if not force:
        raise AbsactionError(
            f"bench folder {out} already exists",
            "pass --resume to continue its sweep, --force to start over, or choose another --out",
        )
    empty_dir = out.is_dir() and not any(out.iterdir())
    if not marker.is_file() and not empty_dir:
        raise AbsactionError(
            f"{out} exists and is not an absaction bench folder (no bench.json)",
            "choose another --out (--force only replaces a bench folder)",
        )


def _saved_config(marker: Path) -> dict[str, Any]:
    """The settings a sweep recorded in its ``bench.json``; an unreadable or damaged one is one line."""
    record: Any = None
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        pass  # refused below, as a record of the wrong shape is
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise AbsactionError(
            f"{marker} is damaged (not a sweep's settings), so the sweep cannot be resumed",
            "restore it, or start over with --force (or another --out)",
        )
    return record["config"]


def prepare_out(config: RLBenchConfig, out: Path, force: bool, resume: bool) -> None:
    """Check ``out`` (:func:`check_out`) for a new sweep, a resumed one (same settings) or a forced restart
    (``--force`` deletes an existing *bench* folder, never anything else), then make it ready."""
    check_out(config, out, force, resume)
    if resume:
        _remove_stale_temporaries(out)
        return
    if out.exists():
        shutil.rmtree(out)
    check_new_output(out, False, "bench folder")  # a writable parent


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary folders of runs killed without cleanup (SIGKILL, power loss) are ours to remove."""
    for tmp in list((out / "runs").glob("*/*/.seed*.tmp-*")) + list((out / "stage1").glob(".*.tmp-*")):
        shutil.rmtree(tmp, ignore_errors=True)


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
    prepare_out(config, out, force, resume)
    out.mkdir(parents=True, exist_ok=True)
    record = {"absaction_version": __version__, "config": config.to_record(out)}  # folders relative to out
    atomic_write_json(out / "bench.json", record)
    plan, expected = describe_sweep(config, out)
    say(plan)
    with make_executor(executor, config.workers, config.threads) as runner:
        stage1 = prepare_stage1(config, out, runner, say)
        runs = plan_runs(config, stage1, out)
        signatures = preflight(runs, stage1)
        runs = share_identical_runs(runs, signatures, config.agents)
        shared = sorted({(task_name(r.task), r.agent.name, r.shared_with) for r in runs if r.shared_with})
        for task, agent, same in shared:
            say(f"bench rl: {task}/{agent} is the same agent as {task}/{same} (same latents): runs shared")
        todo = [run for run in runs if not run_finished(run)]
        n_shared = sum(1 for run in runs if run.shared_with)
        skipped = len(runs) - len(todo) - n_shared
        if skipped:
            say(f"bench rl: {skipped} finished run(s) found in {out}, {len(todo)} to go")
        jobs = [
            {
                "config": run.config.to_dict(),
                "out_dir": str(run.out_dir.resolve()),  # absolute: a Ray worker's directory differs
                "label": run.label,
                "tensorboard": tensorboard,
                "threads": config.threads,
            }
            for run in todo
        ]
        bar = tqdm(
            total=len(runs) - n_shared,
            initial=skipped,
            desc="bench rl",
            unit="run",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            for job, summary in runner.imap_unordered(train_job, jobs):
                bar.set_postfix_str(f"{job['label']}: success {summary['success_rate']:.2f}", refresh=False)
                bar.update(1)
        finally:
            bar.close()
    # every run has finished: a temporary folder left now is a killed attempt that Ray retried
    _remove_stale_temporaries(out)
    seconds = time.perf_counter() - started
    timing = {
        "estimate_seconds": expected,
        "seconds": seconds,
        "runs_trained": len(todo),
        "runs_skipped": skipped,
        "runs_shared": n_shared,
    }
    report = write_report(config, stage1, runs, out, timing, say)
    if config.suite == "pointmaze":  # final-policy rollouts drawn over the maze, on the first task
        figure = plot_maze_rollouts(runs, config.tasks[0], out)
        if figure is not None:
            say(f"bench rl: rollouts over the maze: {figure}")
    seconds = time.perf_counter() - started  # with the report (lookahead ceilings included)
    return BenchResult(out, config, stage1, len(runs), skipped, expected, seconds, report, n_shared)


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return None
