"""A sweep's report: every finished run read back, the statistics of every agent on every task (and pooled
over tasks), the probability that each agent beats the baseline (the first agent), the performance
profiles, the figures, and one JSON with everything.

Files (in the sweep's folder):

- ``results.csv``: one row per run (task, agent, seed, success before/after, steps to 80 %, AUC, ...,
  the run folder relative to the sweep's folder), see :mod:`.results`;
- ``summary.csv``: one row per agent and task (and task ``all``: every task pooled, bootstrap
  stratified over tasks), each statistic as IQM, low, high;
- ``summary.md``: the table (rows = agents; per task: before learning, steps to the threshold and AUC,
  each IQM [95 % CI]) and the sections below, in words;
- ``learning_curves.png``: the metric against primitive env steps, IQM line and 95 % band per agent, one
  panel per task (and one pooled);
- ``performance_profiles.png``: per agent, the fraction of its runs (all tasks pooled) whose AUC exceeds
  each threshold tau in [0, 1], with 95 % stratified-bootstrap bands (rliable's score distributions);
- ``probability_of_improvement.png``: P(a run of the agent > a run of the baseline) by AUC, per task and
  pooled over tasks, with 95 % intervals (two agents or more);
- ``summary.json``: the sweep, timings, every run's curve and every statistic.

Every statistic over seeds comes from rliable (:mod:`.stats`). The performance profiles and the
probability of improvement score a run by its normalised AUC: it lies in [0, 1] on every task, counts
both how fast and how well a run learns, and is defined for every run (steps to 80 % is censored). A task
whose env reports no success (every success value NaN) is scored by its mean return instead
(:func:`~.results.score_tasks`); the table and the sections name the metric they use.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_safe

from .definition import Sweep
from .figures import PROFILE_TAUS, plot_curves, plot_probabilities, plot_profiles
from .markdown import (
    Improvement,
    auc_heading,
    improvement_lines,
    profile_lines,
    results_table,
    return_metric_lines,
    settings_lines,
    shared_lines,
    success_column_lines,
)
from .results import (
    ALL_TASKS,
    CellStats,
    RunResult,
    cell_stats,
    grid_of,
    read_run,
    relative_run_dir,
    results_csv,
    score_tasks,
    summary_csv,
)
from .runs import MARKER, RunSpec, plan_runs, preflight, run_finished, saved_settings, share_identical_runs
from .stats import (
    CONFIDENCE,
    RETURN_FRACTION,
    SUCCESS_THRESHOLD,
    Profile,
    ReturnScale,
    performance_profiles,
    probability_of_improvement,
)


# --------------------------------------------------------------------------------------- statistics
def build_cells(
    results: Sequence[RunResult],
    tasks: Sequence[str],
    agents: Sequence[str],
    families: Mapping[str, str],
    grid: np.ndarray,
    reps: int,
) -> list[CellStats]:
    """:class:`~.results.CellStats` of every agent on every task, then (several tasks) of every agent
    pooled over the tasks (task ``all``, bootstrap stratified by task). ``results`` are scored
    (:func:`~.results.score_tasks`) and ordered by seed within each (task, agent)."""
    cells: list[CellStats] = []
    for task in tasks:
        for agent in agents:
            group = [r for r in results if r.task == task and r.agent == agent]
            cells.append(cell_stats(task, agent, families[agent], [group], grid, reps))
    if len(tasks) > 1:
        for agent in agents:
            strata = [[r for r in results if r.task == task and r.agent == agent] for task in tasks]
            cells.append(cell_stats(ALL_TASKS, agent, families[agent], strata, grid, reps))
    return cells


def aucs(results: Sequence[RunResult], task: str, agent: str) -> np.ndarray:
    """``(n,)`` the AUC of every run of ``agent`` on ``task``, in seed order."""
    return np.array([r.auc for r in results if r.task == task and r.agent == agent])


def improvement(
    tasks: Sequence[str], results: Sequence[RunResult], agent: str, baseline: str, reps: int, metric: str
) -> Improvement:
    """P(a run of ``agent`` has a larger AUC than a run of ``baseline``) over ``tasks`` (one task, or all
    of them: the task is ``all``, the probability averaged over tasks, the bootstrap stratified)."""
    probability = probability_of_improvement(
        [aucs(results, t, agent) for t in tasks], [aucs(results, t, baseline) for t in tasks], reps=reps
    )
    task = tasks[0] if len(tasks) == 1 else ALL_TASKS
    return Improvement(task, agent, baseline, probability, metric)


def baseline_improvements(
    tasks: Sequence[str],
    agents: Sequence[str],
    cells: Sequence[CellStats],
    results: Sequence[RunResult],
    reps: int,
) -> list[Improvement]:
    """Every agent after the first against the first (the baseline), per task and (several tasks)
    pooled."""
    metric = {c.task: c.metric for c in cells}
    out = []
    for task in [*tasks, ALL_TASKS] if len(tasks) > 1 else list(tasks):
        over = list(tasks) if task == ALL_TASKS else [task]
        for agent in agents[1:]:
            out.append(improvement(over, results, agent, agents[0], reps, metric[task]))
    return out


def auc_profiles(
    tasks: Sequence[str], agents: Sequence[str], results: Sequence[RunResult], reps: int
) -> dict[str, Profile]:
    """Performance profile of each agent's AUC over all its runs (every task), at :data:`PROFILE_TAUS`."""
    scores = {agent: [aucs(results, t, agent) for t in tasks] for agent in agents}
    return performance_profiles(scores, PROFILE_TAUS, reps=reps)


def read_results(runs: Sequence[RunSpec], steps: int) -> list[RunResult]:
    """Every run read back (:func:`~.results.read_run`) in the order the statistics resample them (env
    id, agent, seed), each task scored by its metric (:func:`~.results.score_tasks`)."""
    ordered = sorted(runs, key=lambda r: (r.env_id, r.agent, r.seed))
    return score_tasks([read_run(run, steps) for run in ordered], steps)


def shared_tasks(
    runs: Sequence[RunSpec], tasks: Sequence[str], agents: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    """(agent, the agent whose runs it shares) -> the tasks where the two are identical, in sweep order."""
    shared: dict[tuple[str, str], list[str]] = {}
    for task in tasks:
        for agent in agents:
            same = next((r.shared_with for r in runs if r.task == task and r.agent == agent), None)
            if same is not None:
                shared.setdefault((agent, same), []).append(task)
    return shared


# --------------------------------------------------------------------------------------------- report
@dataclasses.dataclass
class SweepReport:
    """Everything :func:`write_report` computed and wrote."""

    runs: list[RunResult]
    """every run, scored by its task's metric"""
    cells: list[CellStats]
    """per task and agent, then (task ``all``) per agent pooled over tasks"""
    improvements: list[Improvement]
    """every agent vs the baseline (the first agent) by AUC: P(improvement) per task, then pooled"""
    profiles: dict[str, Profile]
    """agent -> performance profile of its AUC over all tasks"""
    shared: dict[tuple[str, str], list[str]]
    """(agent, the agent whose runs it shares) -> the tasks where the two are identical"""
    files: dict[str, Path] = dataclasses.field(default_factory=dict)

    def cell(self, task: str, agent: str) -> CellStats:
        return next(c for c in self.cells if c.task == task and c.agent == agent)

    def metric(self, task: str) -> str:
        """The metric of ``task``'s statistics (:data:`~.results.METRICS`)."""
        return next(c.metric for c in self.cells if c.task == task)

    @property
    def return_scales(self) -> dict[str, ReturnScale]:
        """Task -> its return scale, for the tasks scored by return."""
        return {r.task: r.return_scale for r in self.runs if r.return_scale is not None}


def build_report(sweep: Sweep, runs: Sequence[RunSpec]) -> SweepReport:
    """The statistics of a sweep's finished ``runs`` (nothing written)."""
    tasks, agents = list(sweep.task_ids), list(sweep.agent_table)
    families = {name: agent.label for name, agent in sweep.agent_table.items()}
    results = read_results(runs, sweep.steps)
    grid = grid_of(sweep.steps, sweep.eval_every)
    cells = build_cells(results, tasks, agents, families, grid, sweep.bootstrap_reps)
    return SweepReport(
        results,
        cells,
        baseline_improvements(tasks, agents, cells, results, sweep.bootstrap_reps),
        auc_profiles(tasks, agents, results, sweep.bootstrap_reps),
        shared_tasks(runs, tasks, agents),
    )


def summary_markdown(sweep: Sweep, report: SweepReport) -> str:
    """``summary.md``: the sizes, the table, the probability of improvement over the baseline, the
    performance profiles and the agents."""
    tasks, agents, budget = list(sweep.task_ids), list(sweep.agent_table), sweep.steps
    metrics = [report.metric(task) for task in tasks]
    by_return = [task for task, metric in zip(tasks, metrics, strict=True) if metric == "return"]
    lines = [
        f"# absaction bench: {len(agents)} agent(s) on {len(tasks)} task(s)",
        "",
        *settings_lines(sweep.seeds, budget, sweep.eval_every, sweep.eval_episodes, sweep.bootstrap_reps),
    ]
    if len(by_return) < len(tasks):
        lines += success_column_lines(budget)
    lines += return_metric_lines(report.return_scales, by_return, budget, pooled=len(tasks) > 1)
    lines += results_table(report.cells, tasks, agents, budget)
    lines.append("")
    auc = auc_heading(metrics)
    lines += improvement_lines(
        report.improvements,
        sweep.bootstrap_reps,
        auc,
        f"every agent vs the baseline `{agents[0]}`",
        f"a run of agent X has a larger AUC than a run of the baseline `{agents[0]}` (Y) on the same task "
        "(ties count one half; pooled: averaged over tasks)",
    )
    lines += profile_lines(report.profiles, sweep.bootstrap_reps, auc)
    lines += shared_lines(report.shared)
    lines += [
        "## Agents",
        "",
        *[f"- `{name}`: {agent.text} ({agent.label})" for name, agent in sweep.agent_table.items()],
        "",
        "x axis: PRIMITIVE env steps for every agent; a latent, skill or repeat agent decides once per macro "
        "action. Files: `results.csv` (per run), `summary.csv` (these statistics), `summary.json` "
        "(everything), `learning_curves.png`, `performance_profiles.png`"
        + (", `probability_of_improvement.png`" if report.improvements else "")
        + ", `runs/<task>/<agent>/seed<k>/` (each run's eval.csv, agent.zip, ...).",
    ]
    return "\n".join(lines) + "\n"


def improvement_rows(items: Sequence[Improvement]) -> list[tuple[str, str, Any]]:
    """The rows of ``probability_of_improvement.png``: ``(task: agent, baseline, P)``."""
    return [
        (f"{'all tasks' if i.task == ALL_TASKS else i.task}: {i.agent}", i.baseline, i.probability)
        for i in items
    ]


def write_figures(
    report: SweepReport,
    out: Path,
    tasks: Sequence[str],
    families: Mapping[str, str],
    seeds: int,
    pairs: tuple[str, str, str] = ("P(run of the agent > run of the baseline), by AUC", "agent", "baseline"),
) -> dict[str, Path]:
    """``learning_curves.png``, ``performance_profiles.png`` and (with any pair) the probability of
    improvement of ``report``'s pairs into ``out``; returns them by name.

    Args:
        report: the statistics.
        out: the sweep's folder.
        tasks: the task names, in the sweep's order.
        families: agent -> family, in the sweep's order (colours and line styles).
        seeds: runs per agent and task (the titles).
        pairs: what the probabilities are and what the left and right axes name (X and Y).
    """
    agents = list(families)
    files = {name: out / name for name in ("learning_curves.png", "performance_profiles.png")}
    atomic_write_bytes(files["learning_curves.png"], plot_curves(report.cells, tasks, agents, seeds))
    figure = plot_profiles(report.profiles, agents, families, seeds, len(tasks))
    atomic_write_bytes(files["performance_profiles.png"], figure)
    if report.improvements:
        files["probability_of_improvement.png"] = out / "probability_of_improvement.png"
        figure = plot_probabilities(improvement_rows(report.improvements), *pairs)
        atomic_write_bytes(files["probability_of_improvement.png"], figure)
    return files


def summary_record(report: SweepReport, tasks: Sequence[str], out: Path) -> dict[str, Any]:
    """The statistics as ``summary.json`` keeps them (run folders relative to ``out``)."""
    return {
        "confidence": CONFIDENCE,
        "success_threshold": SUCCESS_THRESHOLD,
        "metrics": {task: report.metric(task) for task in tasks},
        "return_fraction": RETURN_FRACTION,
        "return_scales": {task: scale.to_dict() for task, scale in report.return_scales.items()},
        "runs": [{**dataclasses.asdict(r), "out_dir": relative_run_dir(r.out_dir, out)} for r in report.runs],
        "cells": [c.to_dict() for c in report.cells],
        "performance_profiles": {
            "score": "auc",
            "metrics": sorted({report.metric(task) for task in tasks}),
            "profiles": {agent: p.to_dict() for agent, p in report.profiles.items()},
        },
        "shared": [
            {"agent": agent, "same_as": same, "tasks": tasks_}
            for (agent, same), tasks_ in report.shared.items()
        ],
    }


def write_report(
    sweep: Sweep, runs: Sequence[RunSpec], out: Path, timing: Mapping[str, Any] | None = None
) -> SweepReport:
    """Read every run of the sweep, compute the statistics and write the report files into ``out``."""
    report = build_report(sweep, runs)
    files = {name: out / name for name in ("results.csv", "summary.csv", "summary.md", "summary.json")}
    atomic_write_text(files["results.csv"], results_csv(report.runs, out))
    atomic_write_text(files["summary.csv"], summary_csv(report.cells))
    atomic_write_text(files["summary.md"], summary_markdown(sweep, report))
    families = {name: agent.label for name, agent in sweep.agent_table.items()}
    files.update(write_figures(report, out, list(sweep.task_ids), families, sweep.seeds))
    record = {
        "sweep": sweep.to_record(out),
        "timing": dict(timing or {}),
        **summary_record(report, list(sweep.task_ids), out),
        "probability_of_improvement": [i.to_dict() for i in report.improvements],
    }
    atomic_write_json(files["summary.json"], json_safe(record))
    report.files = files
    return report


def read_sweep(out: str | Path) -> Sweep:
    """The :class:`~.definition.Sweep` a folder of :func:`~.sweep.run_sweep` (or ``absaction bench``)
    recorded in its ``bench.json``."""
    folder = Path(out)
    marker = folder / MARKER
    if not marker.is_file():
        raise AbsactionError(
            f"{folder} holds no sweep (no {MARKER})", "pass the --out of an absaction bench run"
        )
    settings = saved_settings(marker)
    if "agents" not in settings or "tasks" not in settings:
        raise AbsactionError(
            f"{marker} is not the record of an absaction bench sweep",
            "pass the --out of an absaction bench run",
        )
    return Sweep.from_record(settings, folder)


def report(out: str | Path) -> SweepReport:
    """Rewrite the report of the sweep in ``out`` from its finished runs (after more runs finished, or to
    read its statistics in Python); refuses a sweep with runs missing, in one line."""
    folder = Path(out)
    sweep = read_sweep(folder)
    runs = plan_runs(sweep, folder, cost=lambda run: 0.0)
    runs = share_identical_runs(runs, preflight(runs), list(sweep.agent_table))
    missing = [run.label for run in runs if not run_finished(run)]
    if missing:
        raise AbsactionError(
            f"{folder} misses {len(missing)} run(s) (first: {missing[0]})",
            "finish the sweep with --resume, then report",
        )
    return write_report(sweep, runs, folder, _recorded_timing(folder))


def _recorded_timing(folder: Path) -> dict[str, Any]:
    """The timings of the sweep's last report (none before its first)."""
    try:
        return dict(json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("timing", {}))
    except (OSError, ValueError, AttributeError):
        return {}
