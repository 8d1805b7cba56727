"""The verdicts of the RL benchmark, from the per-cell statistics: the target check (3x fewer steps on
Reach2D, 5x on PointMaze), where abstract
actions help or not (by AUC intervals), the ablations, the probability of improvement and the performance
profiles. :mod:`.report` writes them into ``summary.md`` and ``summary.json``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .catalogue import TARGET_TASKS
from .figures import PROFILE_TAUS
from .results import ALL_TASKS, CellStats, RunResult
from .stats import SUCCESS_THRESHOLD, Estimate, Profile, performance_profiles, probability_of_improvement

TARGET_RATIO = 3.0
"""Issue 5's target on Reach2D: the best latent agent needs at least this many times fewer env steps to
80 % (a suite sets its own: :attr:`~.suites.SuiteData.target_ratio`)."""


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
    """ratio >= target_ratio, the latent IQM exact (reached 80 % in enough runs) and the intervals
    disjoint"""
    target_ratio: float = TARGET_RATIO
    """how many times fewer steps the target asks for"""

    def line(self, budget: int) -> str:
        lat, prim = self.latent, self.primitive
        goal = f"{self.target_ratio:g}x target"
        head = (
            f"{self.task}{' (target task)' if self.target_task else ''}: best latent {lat.agent} "
            f"{steps_cell(lat, budget)} vs best primitive {prim.agent} {steps_cell(prim, budget)}"
        )
        if not lat.steps_exact:  # the latent IQM is itself censored: no ratio can be claimed
            return f"{head} -> the latent agent does not reach 80 % within the budget -> {goal} met: no"
        if lat.steps_to_80.value == 0 and prim.steps_to_80.value == 0:
            return f"{head} -> both are at 80 % before any RL -> {goal} met: no"
        ratio = "inf" if math.isinf(self.ratio) else f"{self.ratio:.2f}x"
        return (
            f"{head} -> {'>= ' if self.ratio_lower_bound else ''}{ratio} fewer steps, intervals overlap: "
            f"{'yes' if self.overlap else 'no'} -> {goal} met: {'yes' if self.met else 'no'}"
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
            "target_ratio": self.target_ratio,
        }


MACRO_FAMILIES: tuple[str, ...] = ("latent", "skill")
"""The abstract-action families the checks below compare with the primitive one: latent chunks and
skills. In the report's wording, "latent" means either."""


def _best(cells: Sequence[CellStats], by: str) -> CellStats:
    if by == "steps":  # fewest steps to 80 %, ties (e.g. all censored) broken by the larger AUC
        return min(cells, key=lambda c: (c.steps_to_80.value, -c.auc.value))
    return max(cells, key=lambda c: (c.auc.value, -c.steps_to_80.value))


def target_check(
    task: str, cells: Sequence[CellStats], target_ratio: float = TARGET_RATIO, target_task: bool | None = None
) -> TargetCheck | None:
    """The target check on one task (``target_ratio`` times fewer steps), or None without both a latent
    and a primitive agent. ``target_task`` None: the Reach2D target tasks (:data:`TARGET_TASKS`)."""
    latent = [c for c in cells if c.family in MACRO_FAMILIES]
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
        target_task=task in TARGET_TASKS if target_task is None else target_task,
        latent=lat,
        primitive=prim,
        ratio=ratio,
        ratio_lower_bound=not prim.steps_exact,
        overlap=overlap,
        met=ratio >= target_ratio and lat.steps_exact and not overlap,
        target_ratio=target_ratio,
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
            f"{self.task} ({self.verdict}: best primitive {prim.agent} AUC {fmt_est(prim.auc)} "
            f"vs best latent {lat.agent} AUC {fmt_est(lat.auc)}"
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
    latent = [c for c in cells if c.family in MACRO_FAMILIES]
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
    latent = [c for c in cells if c.family in MACRO_FAMILIES]
    if not latent:
        return []
    lat = _best(latent, "auc")
    outcome = {"above": f"{lat.agent} is better", "below": "the ablation is better"}
    return [
        f"{task}: best latent {lat.agent} AUC {fmt_est(lat.auc)} "
        f"vs {ab.agent} {fmt_est(ab.auc)}: "
        f"{outcome.get(compare_auc(lat, ab), 'no clear difference')}"
        for ab in cells
        if ab.family == "ablation"
    ]


@dataclasses.dataclass
class Improvement:
    """P(a run of the best latent agent has a larger AUC than a run of the best primitive agent)."""

    task: str
    """a task, or ``all`` (every task: the probability averaged over tasks, bootstrap stratified)"""
    latent: str
    primitive: str
    probability: Estimate

    def line(self) -> str:
        where = "all tasks (pooled)" if self.task == ALL_TASKS else self.task
        return f"{where}: P({self.latent} > {self.primitive}) = {fmt_est(self.probability)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "latent_agent": self.latent,
            "primitive_agent": self.primitive,
            "probability": self.probability.to_dict(),
        }


def improvements(
    tasks: Sequence[str], cells: Sequence[CellStats], results: Sequence[RunResult], reps: int
) -> list[Improvement]:
    """Best latent vs best primitive agent (BC included; each the best by AUC IQM), per task, and with
    several tasks pooled (the best by pooled AUC IQM); none without both kinds of agent."""

    def aucs(task: str, agent: str) -> np.ndarray:
        return np.array([r.auc for r in results if r.task == task and r.agent == agent])

    out = []
    for task in [*tasks, ALL_TASKS] if len(tasks) > 1 else list(tasks):
        latent = [c for c in cells if c.task == task and c.family in MACRO_FAMILIES]
        primitive = [c for c in cells if c.task == task and c.family == "primitive"]
        if not latent or not primitive:
            continue
        lat, prim = _best(latent, "auc").agent, _best(primitive, "auc").agent
        over = list(tasks) if task == ALL_TASKS else [task]
        probability = probability_of_improvement(
            [aucs(t, lat) for t in over], [aucs(t, prim) for t in over], reps=reps
        )
        out.append(Improvement(task, lat, prim, probability))
    return out


def auc_profiles(
    tasks: Sequence[str], agents: Sequence[str], results: Sequence[RunResult], reps: int
) -> dict[str, Profile]:
    """Performance profile of each agent's AUC over all its runs (every task), at :data:`PROFILE_TAUS`."""
    scores = {
        agent: [np.array([r.auc for r in results if r.task == t and r.agent == agent]) for t in tasks]
        for agent in agents
    }
    return performance_profiles(scores, PROFILE_TAUS, reps=reps)


# ------------------------------------------------------------------------------------------ format
def fmt_steps(steps: float) -> str:
    """12500 -> '12.5k'."""
    if steps >= 1000:
        return f"{steps / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{steps:.0f}"


def fmt_est(e: Estimate) -> str:
    return f"{e.value:.2f} [{e.low:.2f}, {e.high:.2f}]"


def steps_cell(cell: CellStats, budget: int) -> str:
    est = cell.steps_to_80
    prefix = "" if cell.steps_exact else ">= "
    never = f" ({cell.censored}/{cell.runs} never)" if cell.censored else ""
    return f"{prefix}{fmt_steps(est.value)} [{fmt_steps(est.low)}, {fmt_steps(est.high)}]{never}"
