"""The words and tables of a sweep's ``summary.md``: numbers formatted, the table of every agent on every
task, the sections on the probability of improvement, the performance profiles and the tasks scored by
return. :mod:`.summary` assembles the generic report from them; a study adds its own sections around them.

Each section speaks in its tasks' metric (the cells' ``metric``): steps to 80 % success and the success
AUC, or, on a task without success, steps to the return threshold and the return AUC.

    >>> fmt_steps(12_500), fmt_est(Estimate(0.5, 0.25, 0.75))
    ('12.5k', '0.50 [0.25, 0.75]')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .results import ALL_TASKS, CellStats
from .stats import RETURN_FRACTION, SUCCESS_THRESHOLD, Estimate, Profile, ReturnScale

PROFILE_TABLE_TAUS = (0.25, 0.5, 0.75)
"""The thresholds summary.md lists in numbers."""


# ------------------------------------------------------------------------------------------ numbers
def fmt_steps(steps: float) -> str:
    """12500 -> '12.5k'."""
    if steps >= 1000:
        return f"{steps / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{steps:.0f}"


def fmt_est(e: Estimate, spec: str = ".2f") -> str:
    """``value [low, high]``, each formatted with ``spec`` (``.4g`` for returns)."""
    return f"{e.value:{spec}} [{e.low:{spec}}, {e.high:{spec}}]"


def number(value: float, spec: str) -> str:
    """A number of a table, ``-`` where it does not apply (NaN)."""
    return "-" if math.isnan(value) else f"{value:{spec}}"


def auc_name(cell: CellStats) -> str:
    """What the cell's AUC is called in a sentence: ``return AUC`` on a task scored by return, else
    ``AUC``."""
    return "return AUC" if cell.metric == "return" else "AUC"


def threshold_words(cell: CellStats) -> str:
    """The threshold as a sentence says it: ``80 %`` or ``the return threshold``."""
    return "80 %" if cell.metric == "success" else "the return threshold"


def threshold_text(cell: CellStats) -> str:
    """What the steps are counted to, with the number: ``80 % success`` or ``a mean return of -350``."""
    if cell.metric == "success":
        return f"{SUCCESS_THRESHOLD * 100:g} % success"
    if math.isnan(cell.threshold):
        return "each task's return threshold"
    return f"a mean return of {cell.threshold:.4g}"


def steps_cell(cell: CellStats, budget: int) -> str:
    """The cell's steps to the threshold, ``IQM [low, high]``, ``>=`` when censored runs decide the IQM,
    and how many runs never got there."""
    est = cell.steps_to_80
    prefix = "" if cell.steps_exact else ">= "
    never = f" ({cell.censored}/{cell.runs} never)" if cell.censored else ""
    return f"{prefix}{fmt_steps(est.value)} [{fmt_steps(est.low)}, {fmt_steps(est.high)}]{never}"


def compared_steps(metrics: Sequence[str], percent: str = "80 %") -> str:
    """The steps a comparison counts, for the tasks' metrics."""
    if set(metrics) == {"success"}:
        return f"steps to {percent} success"
    if set(metrics) == {"return"}:
        return "steps to the return threshold"
    return f"steps to {percent} success, or to the return threshold on tasks without success"


def auc_heading(metrics: Sequence[str]) -> str:
    """What the AUC of the sweep's tasks is called in a heading."""
    if set(metrics) == {"return"}:
        return "return AUC"
    if "return" in metrics:
        return "AUC: of the success rate, or of the return on tasks without success"
    return "AUC"


# ----------------------------------------------------------------------------------------- sections
def settings_lines(seeds: int, steps: int, eval_every: int, eval_episodes: int, reps: int) -> list[str]:
    """The paragraph under the title: the sweep's sizes and how every cell is computed."""
    return [
        f"{seeds} seeds per agent and task; budget {fmt_steps(steps)} primitive env steps per run; "
        f"evaluation every {fmt_steps(eval_every)} steps over {eval_episodes} episodes "
        "(deterministic policy). Every cell: interquartile mean (IQM) over seeds "
        "[95 % percentile-bootstrap interval, "
        f"{reps} replicates]; the pooled column resamples seeds within each task "
        "(stratified bootstrap). Statistics from rliable (Agarwal et al. 2021).",
        "",
    ]


def success_column_lines(budget: int) -> list[str]:
    """What the table's columns mean on a task with success."""
    return [
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


def return_metric_lines(
    scales: Mapping[str, ReturnScale], tasks: Sequence[str], budget: int, pooled: bool
) -> list[str]:
    """The summary.md paragraph on the ``tasks`` scored by return (nothing without any): what each column
    then means, and every such task's scale and threshold (``scales``: task -> its return scale)."""
    if not tasks:
        return []
    fraction = next(iter(scales.values())).fraction if scales else RETURN_FRACTION
    lines = [
        f"Scored by return: {', '.join(tasks)} (the env reports no success, `is_success`). There every "
        "statistic is of the **mean return** (primitive rewards, undiscounted) instead: **return before / "
        "random / prior** = of the deterministic policy before learning / of uniformly random agent "
        "actions / of the skill model's prior rollouts (`-` where it does not apply); **steps to return "
        "threshold** = primitive env steps to the first evaluation whose mean return reaches the task's "
        f"threshold, {fraction * 100:g} % of the way from its start return (the median over all its runs of "
        "the return before learning) to the best mean return any evaluation of any agent and seed reached "
        f"(so the best run reaches it); runs that never get there count as the budget ({fmt_steps(budget)}) "
        "and are listed as `k/n never`; **return AUC** = area under the return curve min-max normalised "
        "over every evaluation of every run on the task (0 = its lowest mean return, 1 = its highest), "
        "divided by the budget: in [0, 1], comparable across tasks like the success AUC; **final return** "
        "= the mean return at the end of the budget. The checks, the verdicts, the probability of "
        "improvement and the performance profiles below use these steps and this AUC there."
        + (" The pooled column's AUC is the success AUC or the return AUC of each task." if pooled else ""),
        "",
    ]
    for task in tasks:
        scale = scales[task]
        lines.append(
            f"- {task}: mean returns from {scale.low:.4g} (lowest evaluation) to {scale.high:.4g} (best); "
            f"start return {scale.start:.4g}; threshold {scale.threshold:.4g}."
        )
    return [*lines, ""]


def results_table(
    cells: Sequence[CellStats], tasks: Sequence[str], agents: Sequence[str], budget: int
) -> list[str]:
    """The table: one row per agent (in ``agents``' order), per task its before / random / prior values,
    steps to the threshold and AUC (and the final return on a task scored by return), then the pooled
    AUC when there are several tasks."""
    by_key = {(c.task, c.agent): c for c in cells}
    metrics = {task: by_key[(task, agents[0])].metric for task in tasks}
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
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for agent in agents:
        row = [f"`{agent}` ({by_key[(tasks[0], agent)].family})"]
        for task in tasks:
            cell = by_key[(task, agent)]
            if metrics[task] == "return":
                values = (cell.before.value, cell.random.value, cell.prior.value)
                row += [
                    " / ".join(number(v, ".4g") for v in values),
                    steps_cell(cell, budget),
                    fmt_est(cell.auc),
                    fmt_est(cell.final, ".4g"),
                ]
                continue
            row += [
                f"{cell.before.value:.2f} / {cell.random.value:.2f} / {number(cell.prior.value, '.2f')}",
                steps_cell(cell, budget),
                fmt_est(cell.auc),
            ]
        if pooled:
            row.append(fmt_est(by_key[(ALL_TASKS, agent)].auc))
        lines.append("| " + " | ".join(row) + " |")
    return lines


@dataclasses.dataclass
class Improvement:
    """P(a run of agent X has a larger AUC than a run of agent Y on the same task), with its interval."""

    task: str
    """a task, or ``all`` (every task: the probability averaged over tasks, bootstrap stratified)"""
    agent: str
    """X"""
    baseline: str
    """Y"""
    probability: Estimate
    metric: str = "success"
    """the metric whose AUC the runs are compared by (the cells' ``metric``)"""

    def line(self) -> str:
        where = "all tasks (pooled)" if self.task == ALL_TASKS else self.task
        return f"{where}: P({self.agent} > {self.baseline}) = {fmt_est(self.probability)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.metric,
            "agent": self.agent,
            "baseline": self.baseline,
            "probability": self.probability.to_dict(),
        }


def improvement_lines(
    items: Sequence[Improvement], reps: int, auc: str, title: str, meaning: str
) -> list[str]:
    """The summary.md section on the probability of improvement (nothing without any pair).

    Args:
        items: the pairs, each a line.
        reps: bootstrap replicates of the intervals.
        auc: what the AUC is of (:func:`auc_heading`).
        title: which pairs, e.g. ``every agent vs the baseline `ppo```.
        meaning: who X and Y are, completing "P(X > Y): the probability that ...".
    """
    if not items:
        return []
    return [
        f"## Probability of improvement: {title}, by {auc}",
        "",
        f"P(X > Y): the probability that {meaning} [95 % stratified independent-bootstrap interval, "
        f"{reps} replicates]. 0.5: neither is better; 1: every run of X beats every run of Y. "
        "Figure: `probability_of_improvement.png`.",
        "",
        *[f"- {item.line()}" for item in items],
        "",
    ]


def profile_lines(profiles: dict[str, Profile], reps: int, auc: str = "AUC") -> list[str]:
    """The summary.md section on the performance profiles: the fraction of runs above a few thresholds;
    ``auc``: what the AUC is of (:func:`auc_heading`)."""
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


def shared_lines(shared: Mapping[tuple[str, str], Sequence[str]]) -> list[str]:
    """The summary.md section on agents identical to another (nothing without any): (agent, the agent
    whose runs it shares) -> the tasks where the two are the same."""
    if not shared:
        return []
    return [
        "## Identical agents",
        "",
        *[
            f"- `{agent}` is `{same}` on {', '.join(tasks_)}: the same latents exposed and every other "
            f"setting equal, so its rows are `{same}`'s runs (not trained twice)."
            for (agent, same), tasks_ in shared.items()
        ],
        "",
    ]
