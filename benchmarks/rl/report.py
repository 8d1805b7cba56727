"""The RL study's report: the engine's statistics and figures (:mod:`absaction.bench.summary`) with the
study's verdicts: the target check (3x; 5x on PointMaze), the "where latent actions do not help"
verdicts, the ablation lines, the ingredient comparisons and the lookahead ceilings.

Files (in the bench folder):

- ``results.csv``: one row per run (task, agent, seed, success before/after, steps to 80 %, AUC, ...,
  the run folder relative to the bench folder), see :mod:`absaction.bench.results`;
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

A task whose env reports no success (every success value NaN) is scored by its mean return instead
(:func:`~absaction.bench.results.score_tasks`): steps to the task's return threshold, the AUC of the
min-max normalised return, the IQM of the final return; the table, the checks and the verdicts name the
metric they use. The target ratio is judged only on the suite's own tasks; on any other the steps are
compared and no target is claimed.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.bench.figures import plot_probabilities
from absaction.bench.markdown import (
    auc_heading,
    compared_steps,
    improvement_lines,
    profile_lines,
    results_table,
    return_metric_lines,
    settings_lines,
    shared_lines,
    success_column_lines,
)
from absaction.bench.results import (
    CellStats,
    RunResult,
    grid_of,
    read_run,
    results_csv,
    score_tasks,
    summary_csv,
)
from absaction.bench.runs import RunSpec
from absaction.bench.summary import (
    SweepReport,
    auc_profiles,
    build_cells,
    shared_tasks,
    summary_record,
    write_figures,
)
from absaction.files import atomic_write_bytes, atomic_write_json, atomic_write_text, json_safe

from . import ingredients
from .agents import AGENTS, Stage1
from .catalogue import TARGET_TASKS, TASKS, RLBenchConfig, task_name
from .ingredients import Comparison as IngredientComparison
from .lookahead import Ceiling, ceiling_lines, lookahead_ceilings
from .suites import MAZE_TASKS, SUITE_DATA
from .verdicts import (
    HelpVerdict,
    TargetCheck,
    ablation_lines,
    help_verdict,
    improvement_record,
    improvements,
    no_help_line,
    target_check,
)


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
class Report(SweepReport):
    """Everything :func:`write_report` computed and wrote: the engine's statistics (``improvements``: the
    best latent vs the best primitive agent by AUC, per task, then pooled) and the study's verdicts."""

    targets: list[TargetCheck] = dataclasses.field(default_factory=list)
    verdicts: list[HelpVerdict] = dataclasses.field(default_factory=list)
    no_help: str = ""
    ablations: list[str] = dataclasses.field(default_factory=list)
    """best latent agent vs each ablation, by AUC, one line per task and ablation"""
    ceilings: list[Ceiling] = dataclasses.field(default_factory=list)
    """what each macro action space can express (:func:`lookahead_ceilings`)"""
    ingredients: list[IngredientComparison] = dataclasses.field(default_factory=list)
    """pairs of agents that differ in one ingredient, per task (:mod:`.ingredients`)"""
    check_heading: str = ""
    """what the target check compares, and by which metric (the CLI prints it above the lines)"""


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
            tasks without success are scored by return here (:func:`~absaction.bench.results.score_tasks`).
        ceilings: the lookahead ceilings (:func:`~.lookahead.lookahead_ceilings`).
        shared: (agent, the agent whose runs it shares) -> the tasks where the two are identical.
    """
    results = score_tasks(results, config.steps)
    grid = grid_of(config.steps, config.eval_every)
    tasks = [task_name(t) for t in config.tasks]
    families = {agent: AGENTS[agent].family for agent in config.agents}
    cells = build_cells(results, tasks, config.agents, families, grid, config.bootstrap_reps)
    by_task = {task: [c for c in cells if c.task == task] for task in tasks}
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
    report = Report(
        runs=list(results),
        cells=cells,
        improvements=improvements(tasks, cells, results, config.bootstrap_reps),
        profiles=auc_profiles(tasks, config.agents, results, config.bootstrap_reps),
        shared=dict(shared or {}),
        targets=targets,
        verdicts=verdicts,
        no_help=no_help_line(verdicts),
        ablations=[line for task in tasks for line in ablation_lines(task, by_task[task])],
        ceilings=list(ceilings),
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
    read = [read_run(run, config.steps) for run in sorted(runs, key=lambda r: (r.env_id, r.agent, r.seed))]
    ceilings = lookahead_ceilings(runs, out, config.lookahead, log)
    tasks = [task_name(t) for t in config.tasks]
    report = build_report(config, read, ceilings, shared_tasks(runs, tasks, config.agents))
    files = {name: out / name for name in ("results.csv", "summary.csv", "summary.md", "summary.json")}
    atomic_write_text(files["results.csv"], results_csv(report.runs, out))
    atomic_write_text(files["summary.csv"], summary_csv(report.cells))
    atomic_write_text(files["summary.md"], summary_markdown(config, report, tasks))
    families = {agent: AGENTS[agent].family for agent in config.agents}
    pairs = ("P(best latent run > best primitive run), by AUC", "latent", "primitive")
    files.update(write_figures(report, out, tasks, families, config.seeds, pairs))
    if report.ingredients:
        files["ingredients.png"] = out / "ingredients.png"
        figure = plot_probabilities(
            ingredients.figure_rows(report.ingredients),
            "P(run with the ingredient > run without), by AUC",
            "with",
            "without",
        )
        atomic_write_bytes(files["ingredients.png"], figure)
    record = {
        # folders relative to out: the committed summary names no folder of the machine
        "config": config.to_record(out),
        "stage1": stage1.to_record(out),
        "timing": timing,
        "agents": {name: dataclasses.asdict(AGENTS[name]) for name in config.agents},
        **summary_record(report, tasks, out),
        "target_check": [t.to_dict() for t in report.targets],
        "verdicts": [v.to_dict() for v in report.verdicts],
        "no_help": report.no_help,
        "ablations": report.ablations,
        "lookahead": [c.to_dict() for c in report.ceilings],
        "probability_of_improvement": [improvement_record(i) for i in report.improvements],
        "ingredients": [c.to_dict() for c in report.ingredients],
    }
    atomic_write_json(files["summary.json"], json_safe(record))
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
        "# The RL study: primitive vs latent actions",
        "",
        *settings_lines(config.seeds, budget, config.eval_every, config.eval_episodes, config.bootstrap_reps),
    ]
    metrics = {task: report.metric(task) for task in tasks}
    by_return = [task for task in tasks if metrics[task] == "return"]
    if len(by_return) < len(tasks):
        lines += success_column_lines(budget)
    lines += return_metric_lines(report.return_scales, by_return, budget, pooled=len(tasks) > 1)
    lines += _skill_model_lines(config)
    lines += results_table(report.cells, tasks, config.agents, budget)
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
    lines += improvement_lines(
        report.improvements,
        config.bootstrap_reps,
        auc,
        "best latent vs best primitive agent (BC included)",
        "a run of the best latent agent X has a larger AUC than a run of the best primitive agent Y on the "
        "same task (ties count one half; pooled: averaged over tasks, each agent the best by pooled AUC IQM)",
    )
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
    lines += shared_lines(report.shared)
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
