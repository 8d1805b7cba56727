"""The RL benchmark's report: the target check (3x; 5x on PointMaze), the "where latent actions do not
help" verdicts, the ablation lines, learning curves and one JSON with everything.

Files (in the bench folder):

- ``results.csv``: one row per run (task, agent, seed, success before/after, steps to 80 %, AUC, ...,
  the run folder relative to the bench folder), see :mod:`.results`;
- ``summary.csv``: one row per agent and task (and task ``all``: every task pooled, bootstrap
  stratified over tasks), each statistic as IQM, low, high;
- ``summary.md``: the table (rows = agents; per task: success before learning, steps to 80 % and AUC,
  each IQM [95 % CI]), the target check and the verdicts, in words;
- ``learning_curves.png``: success rate against primitive env steps, IQM line and 95 % band per agent,
  one panel per task;
- ``performance_profiles.png``: per agent, the fraction of its runs (all tasks pooled) whose AUC exceeds
  each threshold tau in [0, 1], with 95 % stratified-bootstrap bands (rliable's score distributions);
- ``probability_of_improvement.png``: P(best latent run > best primitive run) by AUC, per task and pooled
  over tasks, with 95 % intervals;
- ``ingredients.png``: per pair of agents that differ in one ingredient (closed loop, prior, residual,
  ladder, BC, data, ...; :mod:`.ingredients`) and task, P(run with it > run without it) by AUC with its
  95 % interval; written only when the sweep has such a pair;
- ``summary.json``: settings, stage-1 artefacts, timings, every run's curve, every statistic, the
  profiles, the probabilities of improvement and the ingredient comparisons (``ingredients``).

Every statistic over seeds comes from rliable (:mod:`.stats`). The performance profiles and the
probability of improvement score a run by its normalised AUC: it lies in [0, 1] on every task, counts
both how fast and how well a run learns, and is defined for every run (steps to 80 % is censored).

A task whose env reports no success (every success value NaN) is scored by its mean return instead
(:func:`~.results.score_tasks`): steps to the task's return threshold, the AUC of the min-max normalised
return, the IQM of the final return; the table, the checks and the verdicts name the metric they use.
The target ratio is judged only on the suite's own tasks; on any other the steps are compared and no
target is claimed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_safe

from . import ingredients
from .agents import AGENTS, Stage1
from .catalogue import TARGET_TASKS, TASKS, RLBenchConfig, task_name
from .figures import plot_curves, plot_improvements, plot_ingredients, plot_profiles
from .ingredients import Comparison as IngredientComparison
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
    score_tasks,
    summary_csv,
)
from .runs import RunSpec
from .stats import (
    CONFIDENCE,
    RETURN_FRACTION,
    SUCCESS_THRESHOLD,
    Estimate,
    Profile,
    ReturnScale,
)
from .suites import MAZE_TASKS, SUITE_DATA
from .verdicts import (
    HelpVerdict,
    Improvement,
    TargetCheck,
    ablation_lines,
    auc_heading,
    auc_profiles,
    compared_steps,
    fmt_est,
    fmt_steps,
    help_verdict,
    improvements,
    no_help_line,
    return_metric_lines,
    steps_cell,
    target_check,
)

PROFILE_TABLE_TAUS = (0.25, 0.5, 0.75)
"""The thresholds summary.md lists in numbers."""


def own_tasks(config: RLBenchConfig) -> set[str]:
    """Short names of the suite's own tasks: where its target ratio is this project's claim."""
    return set(MAZE_TASKS if config.suite == "pointmaze" else TASKS)


def _suite_notes(config: RLBenchConfig) -> list[str]:
    """The summary's notes that depend on the world and on which agents ran (the Reach2D family's only
    when the sweep has one of its tasks)."""
    notes = []
    if any(AGENTS[name].family == "skill" for name in config.agents):
        notes.append(
            "- Skill agents choose a closed-loop skill every H steps (`SkillWrapper`); in the target check, "
            "the verdicts and the probability of improvement above, 'latent' means any abstract-action "
            "agent: latent chunks or skills."
        )
    if config.suite == "pointmaze":
        notes.append(
            "- PointMaze: the demonstrations are waypoint-expert segments ending at most 4 cells from their "
            "start; BC warm starts clone them goal-conditioned, each transition's goal relabelled with a "
            "later position of its segment (hindsight); every task's goal is farther than any segment goes."
        )
        return notes
    if not own_tasks(config) & {task_name(t) for t in config.tasks}:
        return notes
    return [
        *notes,
        "- BC warm starts clone the Reach2D-v0 demonstrations on every task: the observation layout (x, y, "
        "goal x, goal y, time, progress) and the action space are shared by the Reach2D family, but `time` "
        "is elapsed steps / the task's horizon (32 in the demonstrations, 64 on sparse and obstacle, 128 on "
        "chain), and chain goals beyond the first lie outside the demonstrated positions.",
        "- Target tasks (the demonstrations do not show their solution): "
        + ", ".join(t for t in TASKS if t in TARGET_TASKS)
        + ".",
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
    improvements: list[Improvement] = dataclasses.field(default_factory=list)
    """best latent vs best primitive agent by AUC: P(improvement) per task, then pooled"""
    profiles: dict[str, Profile] = dataclasses.field(default_factory=dict)
    """agent -> performance profile of its AUC over all tasks"""
    ingredients: list[IngredientComparison] = dataclasses.field(default_factory=list)
    """pairs of agents that differ in one ingredient, per task (:mod:`.ingredients`)"""
    check_heading: str = ""
    """what the target check compares, and by which metric (the CLI prints it above the lines)"""

    def cell(self, task: str, agent: str) -> CellStats:
        return next(c for c in self.cells if c.task == task and c.agent == agent)

    def metric(self, task: str) -> str:
        """The metric of ``task``'s statistics (:data:`~.results.METRICS`)."""
        return next(c.metric for c in self.cells if c.task == task)

    @property
    def return_scales(self) -> dict[str, ReturnScale]:
        """Task -> its return scale, for the tasks scored by return."""
        return {r.task: r.return_scale for r in self.runs if r.return_scale is not None}


def build_report(
    config: RLBenchConfig,
    results: Sequence[RunResult],
    ceilings: Sequence[Ceiling] = (),
    shared: dict[tuple[str, str], list[str]] | None = None,
) -> Report:
    """The statistics, the target check, the verdicts and the ablation lines of a sweep's runs.

    Args:
        config: the sweep.
        results: every run, ordered by (task env id, agent, seed) (the bootstrap resamples in this order);
            tasks without success are scored by return here (:func:`~.results.score_tasks`).
        ceilings: the lookahead ceilings (:func:`~.lookahead.lookahead_ceilings`).
        shared: (agent, the agent whose runs it shares) -> the tasks where the two are identical.
    """
    results = score_tasks(results, config.steps)
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
    suite = SUITE_DATA[config.suite]
    own = own_tasks(config)
    checks = (
        target_check(
            task,
            by_task[task],
            suite.target_ratio,
            True if suite.all_targets else None,
            target_applies=task in own,
        )
        for task in tasks
    )
    targets = [t for t in checks if t is not None]
    bc_agents = {name for name in config.agents if AGENTS[name].bc}
    verdicts = [v for v in (help_verdict(task, by_task[task], bc_agents) for task in tasks) if v is not None]
    ablations = [line for task in tasks for line in ablation_lines(task, by_task[task])]
    report = Report(
        list(results),
        cells,
        targets,
        verdicts,
        no_help_line(verdicts),
        ablations,
        {},
        list(ceilings),
        dict(shared or {}),
        improvements(tasks, cells, results, config.bootstrap_reps),
        auc_profiles(tasks, config.agents, results, config.bootstrap_reps),
    )
    report.ingredients = _ingredients(config, tasks, cells, results)
    report.check_heading = check_heading(config, tasks, [report.metric(t) for t in tasks])
    return report


def check_heading(config: RLBenchConfig, tasks: Sequence[str], metrics: Sequence[str]) -> str:
    """The line above the target check's lines: the target where the sweep has a task of the suite, else
    the comparison it makes instead."""
    what = compared_steps(metrics, "80%")
    own = own_tasks(config)
    others = [t for t in tasks if t not in own]
    if len(others) < len(tasks):
        note = f"; no target on {', '.join(others)}" if others else ""
        return f"{_ratio(config)} target check (best latent vs best primitive incl. BC, {what}{note})"
    return (
        f"Steps-to-threshold check (best latent vs best primitive incl. BC, {what}; no target: the "
        f"{_ratio(config)} target is set for the {config.suite} suite's own tasks)"
    )


def _ingredients(
    config: RLBenchConfig, tasks: Sequence[str], cells: Sequence[CellStats], results: Sequence[RunResult]
) -> list[IngredientComparison]:
    """The ingredient comparisons of the sweep's agents (:func:`.ingredients.compare`)."""
    agents = [AGENTS[name] for name in config.agents]
    return ingredients.compare(agents, tasks, cells, results, config.bootstrap_reps)


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
    read = [read_run(run, config.steps) for run in sorted(runs, key=lambda r: (r.task, r.agent.name, r.seed))]
    ceilings = lookahead_ceilings(runs, out, config.lookahead, log)
    shared: dict[tuple[str, str], list[str]] = {}
    for task in config.tasks:  # in the sweep's task order
        for agent in config.agents:
            same = next((r.shared_with for r in runs if r.task == task and r.agent.name == agent), None)
            if same is not None:
                shared.setdefault((agent, same), []).append(task_name(task))
    report = build_report(config, read, ceilings, shared)
    results = report.runs  # scored by each task's metric
    tasks = [task_name(t) for t in config.tasks]
    cells, targets, verdicts, ablations = report.cells, report.targets, report.verdicts, report.ablations

    files = {
        name: out / name
        for name in (
            "results.csv",
            "summary.csv",
            "summary.md",
            "summary.json",
            "learning_curves.png",
            "performance_profiles.png",
        )
    }
    if report.improvements:
        files["probability_of_improvement.png"] = out / "probability_of_improvement.png"
    if report.ingredients:
        files["ingredients.png"] = out / "ingredients.png"
        atomic_write_bytes(
            files["ingredients.png"], plot_ingredients(ingredients.figure_rows(report.ingredients))
        )
    atomic_write_text(files["results.csv"], results_csv(results, out))
    atomic_write_text(files["summary.csv"], summary_csv(cells))
    atomic_write_text(files["summary.md"], summary_markdown(config, report, tasks))
    atomic_write_bytes(files["learning_curves.png"], plot_curves(config, cells, tasks))
    atomic_write_bytes(files["performance_profiles.png"], plot_profiles(config, report.profiles))
    if report.improvements:
        rows = [
            (f"{'all tasks' if i.task == ALL_TASKS else i.task}: {i.latent}", i.primitive, i.probability)
            for i in report.improvements
        ]
        atomic_write_bytes(files["probability_of_improvement.png"], plot_improvements(rows))
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
                "metrics": {task: report.metric(task) for task in tasks},
                "return_fraction": RETURN_FRACTION,
                "return_scales": {task: scale.to_dict() for task, scale in report.return_scales.items()},
                "runs": [
                    {**dataclasses.asdict(r), "out_dir": relative_run_dir(r.out_dir, out)} for r in results
                ],
                "cells": [c.to_dict() for c in cells],
                "target_check": [t.to_dict() for t in targets],
                "verdicts": [v.to_dict() for v in verdicts],
                "no_help": report.no_help,
                "ablations": ablations,
                "lookahead": [c.to_dict() for c in ceilings],
                "probability_of_improvement": [i.to_dict() for i in report.improvements],
                "ingredients": [c.to_dict() for c in report.ingredients],
                "performance_profiles": {
                    "score": "auc",
                    "metrics": sorted({report.metric(task) for task in tasks}),
                    "profiles": {agent: p.to_dict() for agent, p in report.profiles.items()},
                },
                "shared": [
                    {"agent": agent, "same_as": same, "tasks": tasks_}
                    for (agent, same), tasks_ in shared.items()
                ],
            }
        ),
    )
    report.files = files
    return report


def _skill_model_lines(config: RLBenchConfig) -> list[str]:
    """One sentence on the stage-1 skill models (horizon, latent size, frame) when skill agents ran."""
    if not any(AGENTS[agent].actions == "skill" for agent in config.agents):
        return []
    horizon, z_dim, frame = config.skill_model_settings
    seen = "s_t - s_0, the change since the skill began" if frame == "relative" else "s_t"
    columns = ", ".join(f"`{name}`" for name in SUITE_DATA[config.suite].skill_obs)
    return [
        f"Skill models (stage 1): H = {horizon} primitive steps per skill, z of {z_dim}, skill observation "
        f"{columns}; **{frame}** frame (the posterior and decoder see {seen}; the prior sees s_0).",
        "",
    ]


def summary_markdown(config: RLBenchConfig, report: Report, tasks: Sequence[str]) -> str:
    """``summary.md``: settings, the table, the target check and where latent actions do not help."""
    budget = config.steps
    lines = [
        "# absaction bench rl: primitive vs latent actions",
        "",
        f"{config.seeds} seeds per agent and task; budget {fmt_steps(budget)} primitive env steps per run; "
        f"evaluation every {fmt_steps(config.eval_every)} steps over {config.eval_episodes} episodes "
        "(deterministic policy). Every cell: interquartile mean (IQM) over seeds "
        "[95 % percentile-bootstrap interval, "
        f"{config.bootstrap_reps} replicates]; the pooled column resamples seeds within each task "
        "(stratified bootstrap). Statistics from rliable (Agarwal et al. 2021).",
        "",
    ]
    metrics = {task: report.metric(task) for task in tasks}
    by_return = [task for task in tasks if metrics[task] == "return"]
    if len(by_return) < len(tasks):
        lines += [
            "Columns per task: **before** = success rate of the deterministic policy before learning (after "
            "the BC warm start for `-bc` agents) / **random** = of uniformly random agent actions (a random "
            "z for latent agents: what the decoder's prior gives with no learning) / **prior** = of the "
            "skill model's prior rollouts (skill agents: z ~ p(z | s) every H steps, no learning; `-` for "
            "the others); **steps to 80 %** = "
            "primitive env steps to the first evaluation with >= 80 % success, "
            f"runs that never get there count as the budget ({fmt_steps(budget)}) and are listed as "
            "`k/n never`; **AUC** = area under the success curve over the budget, divided by the budget.",
            "",
        ]
    lines += return_metric_lines(report.return_scales, by_return, budget, pooled=len(tasks) > 1)
    lines += _skill_model_lines(config)
    header = ["agent"]
    for task in tasks:
        if metrics[task] == "return":
            header += [
                f"{task}: return before / random / prior",
                f"{task}: steps to return threshold",
                f"{task}: return AUC",
                f"{task}: final return",
            ]
        else:
            header += [f"{task}: before / random / prior", f"{task}: steps to 80 %", f"{task}: AUC"]
    pooled = len(tasks) > 1
    if pooled:
        header.append("all tasks: AUC")
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for agent in config.agents:
        row = [f"`{agent}` ({AGENTS[agent].family})"]
        for task in tasks:
            cell = report.cell(task, agent)
            if metrics[task] == "return":
                values = (cell.before.value, cell.random.value, cell.prior.value)
                row += [
                    " / ".join(_number(v, ".4g") for v in values),
                    steps_cell(cell, budget),
                    fmt_est(cell.auc),
                    fmt_est(cell.final, ".4g"),
                ]
                continue
            row += [
                f"{cell.before.value:.2f} / {cell.random.value:.2f} / {_rate(cell.prior.value)}",
                steps_cell(cell, budget),
                fmt_est(cell.auc),
            ]
        if pooled:
            row.append(fmt_est(report.cell(ALL_TASKS, agent).auc))
        lines.append("| " + " | ".join(row) + " |")
    own = own_tasks(config)
    if any(task in own for task in tasks):
        others = [task for task in tasks if task not in own]
        lines += [
            "",
            f"## {_ratio(config)} target: best latent vs best primitive agent (BC included), "
            f"{compared_steps(list(metrics.values()))}",
            "",
        ]
        if others:
            lines += [f"No target is judged on {', '.join(others)} (not a task of the suite).", ""]
    else:
        lines += [
            "",
            "## Steps to threshold: best latent vs best primitive agent (BC included)",
            "",
            f"The {_ratio(config)} target is this project's claim about the {config.suite} suite's own "
            "tasks, so none is judged here: each line compares the "
            f"{compared_steps(list(metrics.values()))} of the best latent and the best primitive agent "
            "(IQM [95 % CI]), their ratio and whether the intervals overlap.",
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
                + f". The target: >= {_ratio(config)} fewer steps with non-overlapping intervals.",
            ]
    else:
        lines.append("- not checked: the sweep needs at least one latent and one primitive agent.")
    lines += ["", "## Where latent actions do not help", "", report.no_help, ""]
    auc = auc_heading(list(metrics.values()))
    lines += improvement_lines(report.improvements, config.bootstrap_reps, auc)
    lines += ingredients.markdown_lines(report.ingredients, config.bootstrap_reps, budget)
    lines += profile_lines(report.profiles, config.bootstrap_reps, auc)
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
    # the lookahead measures success: a task scored by return has none to show
    with_success = [task for task in tasks if metrics[task] == "success"]
    ceilings = [c for c in report.ceilings if c.task in with_success]
    if ceilings:
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
            *ceiling_lines(ceilings, with_success, config.agents),
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
        *_suite_notes(config),
        "",
        "Files: `results.csv` (per run), `summary.csv` (these statistics), `summary.json` (everything), "
        "`learning_curves.png`, `performance_profiles.png`"
        + (", `probability_of_improvement.png`" if report.improvements else "")
        + (", `ingredients.png`" if report.ingredients else "")
        + ", `runs/<task>/<agent>/seed<k>/` (each run's eval.csv, agent.zip, ...).",
    ]
    return "\n".join(lines) + "\n"


def _ratio(config: RLBenchConfig) -> str:
    """The suite's target as the report says it: ``3x`` (Reach2D) or ``5x`` (PointMaze)."""
    return f"{SUITE_DATA[config.suite].target_ratio:g}x"


def _rate(value: float) -> str:
    """A success rate of the table, ``-`` where it does not apply (NaN)."""
    return _number(value, ".2f")


def _number(value: float, spec: str) -> str:
    """A number of the table, ``-`` where it does not apply (NaN)."""
    return "-" if math.isnan(value) else f"{value:{spec}}"


def improvement_lines(items: Sequence[Improvement], reps: int, auc: str = "AUC") -> list[str]:
    """The summary.md section on the probability of improvement (nothing without any pair); ``auc``: what
    the AUC is of (:func:`~.verdicts.auc_heading`)."""
    if not items:
        return []
    return [
        f"## Probability of improvement: best latent vs best primitive agent (BC included), by {auc}",
        "",
        "P(X > Y): the probability that a run of the best latent agent X has a larger AUC than a run of the "
        "best primitive agent Y on the same task (ties count one half; pooled: averaged over tasks, each "
        "agent the best by pooled AUC IQM) [95 % stratified independent-bootstrap interval, "
        f"{reps} replicates]. 0.5: neither is better; 1: every latent run beats every primitive run. "
        "Figure: `probability_of_improvement.png`.",
        "",
        *[f"- {item.line()}" for item in items],
        "",
    ]


def profile_lines(profiles: dict[str, Profile], reps: int, auc: str = "AUC") -> list[str]:
    """The summary.md section on the performance profiles: the fraction of runs above a few thresholds;
    ``auc``: what the AUC is of (:func:`~.verdicts.auc_heading`)."""
    if not profiles:
        return []
    header = ["agent", *[f"AUC > {tau:g}" for tau in PROFILE_TABLE_TAUS]]
    lines = [
        f"## Performance profiles ({auc}, all tasks pooled)",
        "",
        "Fraction of an agent's runs, over every task, whose AUC exceeds tau [95 % stratified-bootstrap "
        f"interval, {reps} replicates]; the whole curve over tau in [0, 1] is `performance_profiles.png`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + " --- |" * len(header),
    ]
    for agent, profile in profiles.items():
        taus = np.asarray(profile.taus)
        row = [f"`{agent}`"]
        for tau in PROFILE_TABLE_TAUS:
            i = int(np.argmin(np.abs(taus - tau)))
            row.append(fmt_est(Estimate(profile.fraction[i], profile.low[i], profile.high[i])))
        lines.append("| " + " | ".join(row) + " |")
    return [*lines, ""]


# ------------------------------------------------------------------------------------------ format
