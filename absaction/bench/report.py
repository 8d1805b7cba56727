"""The RL benchmark's report: the 3x target check, the "where latent actions do not help" verdicts,
the ablation lines, learning curves and one JSON with everything.

Files (in the bench folder):

- ``results.csv``: one row per run (task, agent, seed, success before/after, steps to 80 %, AUC, ...,
  the run folder relative to the bench folder), see :mod:`.results`;
- ``summary.csv``: one row per agent and task (and task ``all``: every task pooled, bootstrap
  stratified over tasks), each statistic as IQM, low, high;
- ``summary.md``: the table (rows = agents; per task: success before learning, steps to 80 % and AUC,
  each IQM [95 % CI]), the target check and the verdicts, in words;
- ``learning_curves.png``: success rate against primitive env steps, IQM line and 95 % band per agent,
  one panel per task;
- ``summary.json``: settings, stage-1 artefacts, timings, every run's curve, every statistic.
"""

from __future__ import annotations

import dataclasses
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_safe

from .catalogue import AGENTS, TARGET_TASKS, TASKS, RLBenchConfig, Stage1, task_name
from .lookahead import Ceiling, ceiling_lines, lookahead_ceilings
from .results import (
    ALL_TASKS,
    CellStats,
    RunResult,
    cell_stats,
    grid_of,
    read_run,
    relative_run_dir,
    results_csv,
    summary_csv,
)
from .runs import RunSpec
from .stats import CONFIDENCE, SUCCESS_THRESHOLD, Estimate

TARGET_RATIO = 3.0
"""Issue 5's target: the best latent agent needs at least this many times fewer env steps to 80 %."""


# -------------------------------------------------------------------------------------- verdicts
@dataclasses.dataclass
class TargetCheck:
    """Best latent vs best primitive agent (BC included) on one task, by steps to 80 % success."""

    task: str
    target_task: bool
    """a task whose solution the demonstrations do not show (issue 5's target applies)"""
    latent: CellStats
    primitive: CellStats
    ratio: float
    """primitive IQM / latent IQM (inf when only the latent agent was at 80 % before learning, 1 when
    both were)"""
    ratio_lower_bound: bool
    """the primitive IQM includes censored runs, so the true ratio is at least ``ratio``"""
    overlap: bool
    """the two 95 % intervals overlap"""
    met: bool
    """ratio >= 3, the latent IQM exact (reached 80 % in enough runs) and the intervals disjoint"""

    def line(self, budget: int) -> str:
        lat, prim = self.latent, self.primitive
        head = (
            f"{self.task}{' (target task)' if self.target_task else ''}: best latent {lat.agent} "
            f"{_steps_cell(lat, budget)} vs best primitive {prim.agent} {_steps_cell(prim, budget)}"
        )
        if not lat.steps_exact:  # the latent IQM is itself censored: no ratio can be claimed
            return f"{head} -> the latent agent does not reach 80 % within the budget -> 3x target met: no"
        if lat.steps_to_80.value == 0 and prim.steps_to_80.value == 0:
            return f"{head} -> both are at 80 % before any RL -> 3x target met: no"
        ratio = "inf" if math.isinf(self.ratio) else f"{self.ratio:.2f}x"
        return (
            f"{head} -> {'>= ' if self.ratio_lower_bound else ''}{ratio} fewer steps, intervals overlap: "
            f"{'yes' if self.overlap else 'no'} -> 3x target met: {'yes' if self.met else 'no'}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "target_task": self.target_task,
            "latent_agent": self.latent.agent,
            "latent_steps_to_80": self.latent.steps_to_80.to_dict(),
            "primitive_agent": self.primitive.agent,
            "primitive_steps_to_80": self.primitive.steps_to_80.to_dict(),
            "ratio": None if math.isinf(self.ratio) else self.ratio,
            "ratio_lower_bound": self.ratio_lower_bound,
            "overlap": self.overlap,
            "met": self.met,
        }


def _best(cells: Sequence[CellStats], by: str) -> CellStats:
    if by == "steps":  # fewest steps to 80 %, ties (e.g. all censored) broken by the larger AUC
        return min(cells, key=lambda c: (c.steps_to_80.value, -c.auc.value))
    return max(cells, key=lambda c: (c.auc.value, -c.steps_to_80.value))


def target_check(task: str, cells: Sequence[CellStats]) -> TargetCheck | None:
    """The 3x check on one task, or None without both a latent and a primitive agent."""
    latent = [c for c in cells if c.family == "latent"]
    primitive = [c for c in cells if c.family == "primitive"]
    if not latent or not primitive:
        return None
    lat, prim = _best(latent, "steps"), _best(primitive, "steps")
    if lat.steps_to_80.value == 0:  # at 80 % before any RL: as fast as the primitive agent or infinitely
        ratio = 1.0 if prim.steps_to_80.value == 0 else math.inf
    else:
        ratio = prim.steps_to_80.value / lat.steps_to_80.value
    overlap = lat.steps_to_80.overlaps(prim.steps_to_80)
    return TargetCheck(
        task=task,
        target_task=task in TARGET_TASKS,
        latent=lat,
        primitive=prim,
        ratio=ratio,
        ratio_lower_bound=not prim.steps_exact,
        overlap=overlap,
        met=ratio >= TARGET_RATIO and lat.steps_exact and not overlap,
    )


@dataclasses.dataclass
class HelpVerdict:
    """Whether latent actions help on one task, judged by the area under the success curve."""

    task: str
    verdict: str
    """helps (best latent AUC interval above the best primitive's) | hurts (below) | no clear difference"""
    latent: CellStats
    primitive: CellStats
    bc_solves: bool
    """a BC-warm-started agent is at >= 80 % success before any RL"""

    def reason(self) -> str:
        lat, prim = self.latent, self.primitive
        text = (
            f"{self.task} ({self.verdict}: best primitive {prim.agent} AUC {_est(prim.auc)} vs best latent "
            f"{lat.agent} AUC {_est(lat.auc)}"
        )
        return text + ("; BC alone solves it before RL)" if self.bc_solves else ")")

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "verdict": self.verdict,
            "latent_agent": self.latent.agent,
            "latent_auc": self.latent.auc.to_dict(),
            "primitive_agent": self.primitive.agent,
            "primitive_auc": self.primitive.auc.to_dict(),
            "bc_solves": self.bc_solves,
        }


def help_verdict(task: str, cells: Sequence[CellStats], bc_agents: set[str]) -> HelpVerdict | None:
    """Best latent vs best primitive agent (BC included) on one task by AUC intervals, or None without
    both kinds of agent. ``bc_agents``: the names of the BC-warm-started agents."""
    latent = [c for c in cells if c.family == "latent"]
    primitive = [c for c in cells if c.family == "primitive"]
    if not latent or not primitive:
        return None
    lat, prim = _best(latent, "auc"), _best(primitive, "auc")
    verdict = {"above": "helps", "below": "latent is worse"}.get(
        compare_auc(lat, prim), "no clear difference"
    )
    bc_solves = any(c.agent in bc_agents and c.before.value >= SUCCESS_THRESHOLD for c in cells)
    return HelpVerdict(task, verdict, lat, prim, bc_solves)


def no_help_line(verdicts: Sequence[HelpVerdict]) -> str:
    """The plain sentence the summary needs: where latent actions do not help."""
    if not verdicts:
        return (
            "Where latent actions help cannot be judged: the sweep needs at least one latent and one "
            "primitive agent."
        )
    without = [v for v in verdicts if v.verdict != "helps"]
    if not without:
        return (
            "Latent actions help on every task of this sweep: the best latent agent's AUC interval lies "
            "above the best primitive/BC agent's."
        )
    return "Latent actions do not help on: " + "; ".join(v.reason() for v in without) + "."


def compare_auc(a: CellStats, b: CellStats) -> str:
    """``above`` / ``below`` when ``a``'s AUC interval lies entirely above / below ``b``'s, else
    ``no clear difference``."""
    if a.auc.low > b.auc.high:
        return "above"
    if a.auc.high < b.auc.low:
        return "below"
    return "no clear difference"


def ablation_lines(task: str, cells: Sequence[CellStats]) -> list[str]:
    """Best latent agent vs every ablation on one task, by AUC (is the gain the trained decoder's, or
    just temporal extension?)."""
    latent = [c for c in cells if c.family == "latent"]
    if not latent:
        return []
    lat = _best(latent, "auc")
    outcome = {"above": f"{lat.agent} is better", "below": "the ablation is better"}
    return [
        f"{task}: best latent {lat.agent} AUC {_est(lat.auc)} vs {ab.agent} {_est(ab.auc)}: "
        f"{outcome.get(compare_auc(lat, ab), 'no clear difference')}"
        for ab in cells
        if ab.family == "ablation"
    ]


# ------------------------------------------------------------------------------------------- report
@dataclasses.dataclass
class Report:
    """Everything :func:`write_report` computed and wrote."""

    runs: list[RunResult]
    cells: list[CellStats]
    """per task and agent, then (task ``all``) per agent pooled over tasks"""
    targets: list[TargetCheck]
    verdicts: list[HelpVerdict]
    no_help: str
    ablations: list[str]
    """best latent agent vs each ablation, by AUC, one line per task and ablation"""
    files: dict[str, Path]
    ceilings: list[Ceiling] = dataclasses.field(default_factory=list)
    """what each macro action space can express (:func:`lookahead_ceilings`)"""
    shared: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    """(agent, the agent whose runs it shares) -> the tasks where the two are identical"""

    def cell(self, task: str, agent: str) -> CellStats:
        return next(c for c in self.cells if c.task == task and c.agent == agent)


def build_report(
    config: RLBenchConfig,
    results: Sequence[RunResult],
    ceilings: Sequence[Ceiling] = (),
    shared: dict[tuple[str, str], list[str]] | None = None,
) -> Report:
    """The statistics, the target check, the verdicts and the ablation lines of a sweep's runs.

    Args:
        config: the sweep.
        results: every run, ordered by (task env id, agent, seed) (the bootstrap resamples in this order).
        ceilings: the lookahead ceilings (:func:`~.lookahead.lookahead_ceilings`).
        shared: (agent, the agent whose runs it shares) -> the tasks where the two are identical.
    """
    grid = grid_of(config)
    tasks = [task_name(t) for t in config.tasks]
    cells: list[CellStats] = []
    by_task: dict[str, list[CellStats]] = {}
    for task in tasks:
        for agent in config.agents:
            group = [r for r in results if r.task == task and r.agent == agent]
            cell = cell_stats(task, agent, AGENTS[agent].family, [group], grid, config.bootstrap_reps)
            by_task.setdefault(task, []).append(cell)
            cells.append(cell)
    if len(tasks) > 1:
        for agent in config.agents:
            strata = [[r for r in results if r.task == task and r.agent == agent] for task in tasks]
            cells.append(
                cell_stats(ALL_TASKS, agent, AGENTS[agent].family, strata, grid, config.bootstrap_reps)
            )
    targets = [t for t in (target_check(task, by_task[task]) for task in tasks) if t is not None]
    bc_agents = {name for name in config.agents if AGENTS[name].bc}
    verdicts = [v for v in (help_verdict(task, by_task[task], bc_agents) for task in tasks) if v is not None]
    ablations = [line for task in tasks for line in ablation_lines(task, by_task[task])]
    return Report(
        list(results),
        cells,
        targets,
        verdicts,
        no_help_line(verdicts),
        ablations,
        {},
        list(ceilings),
        dict(shared or {}),
    )


def write_report(
    config: RLBenchConfig,
    stage1: Stage1,
    runs: Sequence[RunSpec],
    out: Path,
    timing: dict[str, Any],
    log: Callable[[str], None] | None = None,
) -> Report:
    """Read every run of the sweep, compute the statistics (and the lookahead ceilings, see
    :func:`lookahead_ceilings`) and write the report files into ``out``."""
    results = [
        read_run(run, config.steps) for run in sorted(runs, key=lambda r: (r.task, r.agent.name, r.seed))
    ]
    ceilings = lookahead_ceilings(runs, out, config.lookahead, log)
    shared: dict[tuple[str, str], list[str]] = {}
    for task in config.tasks:  # in the sweep's task order
        for agent in config.agents:
            same = next((r.shared_with for r in runs if r.task == task and r.agent.name == agent), None)
            if same is not None:
                shared.setdefault((agent, same), []).append(task_name(task))
    report = build_report(config, results, ceilings, shared)
    tasks = [task_name(t) for t in config.tasks]
    cells, targets, verdicts, ablations = report.cells, report.targets, report.verdicts, report.ablations

    files = {
        name: out / name
        for name in ("results.csv", "summary.csv", "summary.md", "summary.json", "learning_curves.png")
    }
    atomic_write_text(files["results.csv"], results_csv(results, out))
    atomic_write_text(files["summary.csv"], summary_csv(cells))
    atomic_write_text(files["summary.md"], summary_markdown(config, report, tasks))
    atomic_write_bytes(files["learning_curves.png"], plot_curves(config, cells, tasks))
    atomic_write_json(
        files["summary.json"],
        json_safe(
            {
                # folders relative to out: the committed summary names no folder of the machine
                "config": config.to_record(out),
                "stage1": stage1.to_record(out),
                "timing": timing,
                "agents": {name: dataclasses.asdict(AGENTS[name]) for name in config.agents},
                "confidence": CONFIDENCE,
                "success_threshold": SUCCESS_THRESHOLD,
                "runs": [
                    {**dataclasses.asdict(r), "out_dir": relative_run_dir(r.out_dir, out)} for r in results
                ],
                "cells": [c.to_dict() for c in cells],
                "target_check": [t.to_dict() for t in targets],
                "verdicts": [v.to_dict() for v in verdicts],
                "no_help": report.no_help,
                "ablations": ablations,
                "lookahead": [c.to_dict() for c in ceilings],
                "shared": [
                    {"agent": agent, "same_as": same, "tasks": tasks_}
                    for (agent, same), tasks_ in shared.items()
                ],
            }
        ),
    )
    report.files = files
    return report


def summary_markdown(config: RLBenchConfig, report: Report, tasks: Sequence[str]) -> str:
    """``summary.md``: settings, the table, the 3x target check and where latent actions do not help."""
    budget = config.steps
    lines = [
        "# absaction bench rl: primitive vs latent actions",
        "",
        f"{config.seeds} seeds per agent and task; budget {_k(budget)} primitive env steps per run; "
        f"evaluation every {_k(config.eval_every)} steps over {config.eval_episodes} episodes "
        "(deterministic policy). Every cell: interquartile mean (IQM) over seeds "
        "[95 % percentile-bootstrap interval, "
        f"{config.bootstrap_reps} replicates]; the pooled column resamples seeds within each task "
        "(stratified bootstrap).",
        "",
        "Columns per task: **before** = success rate of the deterministic policy before learning (after "
        "the BC warm start for `-bc` agents) / **random** = of uniformly random agent actions (a random z "
        "for latent agents: what the decoder's prior gives with no learning); **steps to 80 %** = "
        "primitive env steps to the first evaluation with >= 80 % success, "
        f"runs that never get there count as the budget ({_k(budget)}) and are listed as `k/n never`; "
        "**AUC** = area under the success curve over the budget, divided by the budget.",
        "",
    ]
    header = ["agent"]
    for task in tasks:
        header += [f"{task}: before / random", f"{task}: steps to 80 %", f"{task}: AUC"]
    pooled = len(tasks) > 1
    if pooled:
        header.append("all tasks: AUC")
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for agent in config.agents:
        row = [f"`{agent}` ({AGENTS[agent].family})"]
        for task in tasks:
            cell = report.cell(task, agent)
            row += [
                f"{cell.before.value:.2f} / {cell.random.value:.2f}",
                _steps_cell(cell, budget),
                _est(cell.auc),
            ]
        if pooled:
            row.append(_est(report.cell(ALL_TASKS, agent).auc))
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "## 3x target: best latent vs best primitive agent (BC included), steps to 80 % success",
        "",
    ]
    if report.targets:
        lines += [f"- {t.line(budget)}" for t in report.targets]
        on_targets = [t for t in report.targets if t.target_task]
        if on_targets:
            met = [t.task for t in on_targets if t.met]
            lines += [
                "",
                f"Target tasks met: {len(met)}/{len(on_targets)}"
                + (f" ({', '.join(met)})" if met else "")
                + ". The target: >= 3x fewer steps with non-overlapping intervals.",
            ]
    else:
        lines.append("- not checked: the sweep needs at least one latent and one primitive agent.")
    lines += ["", "## Where latent actions do not help", "", report.no_help, ""]
    # one value per run folder: an agent sharing another's runs (see "Identical agents") adds nothing
    decode = list({r.out_dir: r.decode_ms for r in report.runs if math.isfinite(r.decode_ms)}.values())
    if decode:
        lines += [
            "## Decode overhead",
            "",
            f"Latent wrapper, per decision (map z, decode, clip), over {len(decode)} latent runs: median "
            f"{np.median(decode):.3f} ms, max {max(decode):.3f} ms (target: <= 1 ms on CPU: "
            f"{'met' if max(decode) <= 1.0 else 'NOT met'}).",
            "",
        ]
    if report.ablations:
        lines += [
            "## Ablations: the trained decoder, or just temporal extension? (AUC)",
            "",
            *[f"- {line}" for line in report.ablations],
            "",
        ]
    if report.ceilings:
        lines += [
            "## What each macro action space can express: random actions / a one-decision lookahead",
            "",
            f"Success rate on the first seed's {config.eval_episodes} evaluation episodes. **lookahead** "
            f"tries {config.lookahead} candidate actions at every decision on a copy of the env and takes "
            "one that ends on success, else the best macro reward: not an agent (it reads the simulator) "
            "but what the action space allows one decision at a time. Where it succeeds and the agents "
            "do not, learning is the bottleneck, not the action space; where it fails on a task of one "
            "decision per episode, none of the candidates solves it. Finitely many candidates can "
            "miss a small goal region: a 0 says that none of them succeeded, not that no action could.",
            "",
            *ceiling_lines(report.ceilings, tasks, config.agents),
            "",
        ]
    if report.shared:
        lines += [
            "## Identical agents",
            "",
            *[
                f"- `{agent}` is `{same}` on {', '.join(tasks_)}: the same latents exposed and every other "
                f"setting equal, so its rows are `{same}`'s runs (not trained twice)."
                for (agent, same), tasks_ in report.shared.items()
            ],
            "",
        ]
    lines += [
        "## Agents",
        "",
        *[f"- `{name}`: {AGENTS[name].description} ({AGENTS[name].family})" for name in config.agents],
        "",
        "## Notes",
        "",
        "- x axis: PRIMITIVE env steps for every agent; a latent or repeat agent decides once per chunk.",
        "- Latent agents act through the TCVLAE trained on the demonstrations; the `top` agents control "
        "only its most abstract ladder with active units, the others fix nothing (all active units).",
        "- BC warm starts clone the Reach2D-v0 demonstrations on every task: the observation layout (x, y, "
        "goal x, goal y, time, progress) and the action space are shared by the Reach2D family, but `time` "
        "is elapsed steps / the task's horizon (32 in the demonstrations, 64 on sparse and obstacle, 128 on "
        "chain), and chain goals beyond the first lie outside the demonstrated positions.",
        "- Target tasks (the demonstrations do not show their solution): "
        + ", ".join(t for t in TASKS if t in TARGET_TASKS)
        + ".",
        "",
        "Files: `results.csv` (per run), `summary.csv` (these statistics), `summary.json` (everything), "
        "`learning_curves.png`, `runs/<task>/<agent>/seed<k>/` (each run's eval.csv, agent.zip, ...).",
    ]
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------------------- plot
_FAMILY_STYLE = {"primitive": "--", "latent": "-", "ablation": ":"}


def plot_curves(config: RLBenchConfig, cells: Sequence[CellStats], tasks: Sequence[str]) -> bytes:
    """PNG bytes: one panel per task (and one pooled), success-rate IQM and 95 % band per agent."""
    # lazy: matplotlib is only needed for the figure, and costs ~0.5 s to import
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [*tasks, ALL_TASKS] if len(tasks) > 1 else list(tasks)
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(4.6 * columns, 3.4 * rows + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colours = {agent: f"C{i % 10}" for i, agent in enumerate(config.agents)}
    for ax, task in zip(axes, panels, strict=False):
        for cell in (c for c in cells if c.task == task):
            x = np.array(cell.curve_steps) / 1000.0
            value = [e.value for e in cell.curve]
            ax.plot(
                x, value, _FAMILY_STYLE.get(cell.family, "-"), color=colours[cell.agent], label=cell.agent
            )
            ax.fill_between(
                x,
                [e.low for e in cell.curve],
                [e.high for e in cell.curve],
                color=colours[cell.agent],
                alpha=0.15,
                linewidth=0,
            )
        ax.axhline(SUCCESS_THRESHOLD, color="0.6", linewidth=0.8)
        ax.set(
            title="all tasks (pooled)" if task == ALL_TASKS else task,
            xlabel="primitive env steps (k)",
            ylabel="success rate (IQM)",
            ylim=(-0.03, 1.03),
        )
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 6), frameon=False)
    fig.suptitle(f"Success rate vs primitive env steps: IQM over {config.seeds} seeds, 95 % bootstrap band")
    fig.tight_layout(rect=(0, 0.08 if rows == 1 else 0.05, 1, 1))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ format
def _k(steps: float) -> str:
    """12500 -> '12.5k'."""
    if steps >= 1000:
        return f"{steps / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{steps:.0f}"


def _est(e: Estimate) -> str:
    return f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]"


def _steps_cell(cell: CellStats, budget: int) -> str:
    est = cell.steps_to_80
    prefix = "" if cell.steps_exact else ">= "
    never = f" ({cell.censored}/{cell.runs} never)" if cell.censored else ""
    return f"{prefix}{_k(est.value)} [{_k(est.low)}, {_k(est.high)}]{never}"
