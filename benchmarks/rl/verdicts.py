"""The verdicts of the RL study, from the engine's per-cell statistics: the target check (3x fewer steps
on Reach2D, 5x on PointMaze), where abstract actions help or not (by AUC intervals), the ablations and
the probability that the best abstract-action agent beats the best primitive one. :mod:`.report` writes
them into ``summary.md`` and ``summary.json``.

Each verdict speaks in its task's metric (the cells' ``metric``): steps to 80 % success and the success
AUC, or, on a task without success, steps to the return threshold and the return AUC. The target ratio
is the study's claim about its own suites' tasks; on any other task the check compares the steps and
states no target."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from absaction.bench.markdown import (
    Improvement,
    auc_name,
    fmt_est,
    steps_cell,
    threshold_text,
    threshold_words,
)
from absaction.bench.results import ALL_TASKS, CellStats, RunResult
from absaction.bench.summary import improvement

from .catalogue import TARGET_TASKS

TARGET_RATIO = 3.0
"""The study's target on Reach2D: the best latent agent needs at least this many times fewer env steps to
80 % (a suite sets its own: :attr:`~.suites.SuiteData.target_ratio`)."""


# -------------------------------------------------------------------------------------- verdicts
@dataclasses.dataclass
class TargetCheck:
    """Best latent vs best primitive agent (BC included) on one task, by steps to 80 % success."""

    task: str
    target_task: bool
    """a task whose solution the demonstrations do not show (the study's target applies)"""
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
    target_applies: bool = True
    """the task is one of the suite's own, for which the target is the study's claim; on another task
    (a user's) the steps are compared and no target is judged (``met`` is False)"""

    def line(self, budget: int) -> str:
        lat, prim = self.latent, self.primitive
        reach = threshold_words(lat)
        # a task of the suite: its target judged; any other: what was compared, and no target
        compared = "" if self.target_applies else f" (steps to {threshold_text(lat)}; no target set)"
        head = (
            f"{self.task}{' (target task)' if self.target_task else ''}{compared}: best latent {lat.agent} "
            f"{steps_cell(lat, budget)} vs best primitive {prim.agent} {steps_cell(prim, budget)}"
        )
        if not lat.steps_exact:  # the latent IQM is itself censored: no ratio can be claimed
            text, met = f"{head} -> the latent agent does not reach {reach} within the budget", False
        elif lat.steps_to_80.value == 0 and prim.steps_to_80.value == 0:
            text, met = f"{head} -> both are at {reach} before any RL", False
        else:
            ratio = "inf" if math.isinf(self.ratio) else f"{self.ratio:.2f}x"
            text = (
                f"{head} -> {'>= ' if self.ratio_lower_bound else ''}{ratio} fewer steps, intervals overlap: "
                f"{'yes' if self.overlap else 'no'}"
            )
            met = self.met
        if not self.target_applies:
            return text
        return f"{text} -> {self.target_ratio:g}x target met: {'yes' if met else 'no'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.latent.metric,
            "threshold": self.latent.threshold,
            "target_task": self.target_task,
            "latent_agent": self.latent.agent,
            "latent_steps_to_80": self.latent.steps_to_80.to_dict(),
            "primitive_agent": self.primitive.agent,
            "primitive_steps_to_80": self.primitive.steps_to_80.to_dict(),
            "ratio": None if math.isinf(self.ratio) else self.ratio,
            "ratio_lower_bound": self.ratio_lower_bound,
            "overlap": self.overlap,
            "met": self.met if self.target_applies else None,
            "target_ratio": self.target_ratio,
            "target_applies": self.target_applies,
        }


MACRO_FAMILIES: tuple[str, ...] = ("latent", "skill")
"""The abstract-action families the checks below compare with the primitive one: latent chunks and
skills. In the report's wording, "latent" means either."""


def _best(cells: Sequence[CellStats], by: str) -> CellStats:
    if by == "steps":  # fewest steps to 80 %, ties (e.g. all censored) broken by the larger AUC
        return min(cells, key=lambda c: (c.steps_to_80.value, -c.auc.value))
    return max(cells, key=lambda c: (c.auc.value, -c.steps_to_80.value))


def target_check(
    task: str,
    cells: Sequence[CellStats],
    target_ratio: float = TARGET_RATIO,
    target_task: bool | None = None,
    target_applies: bool = True,
) -> TargetCheck | None:
    """The target check on one task (``target_ratio`` times fewer steps), or None without both a latent
    and a primitive agent. ``target_task`` None: the Reach2D target tasks (:data:`TARGET_TASKS`).
    ``target_applies`` False (a task not of the suite): the steps compared, no target judged."""
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
        target_task=target_applies and (task in TARGET_TASKS if target_task is None else target_task),
        latent=lat,
        primitive=prim,
        ratio=ratio,
        ratio_lower_bound=not prim.steps_exact,
        overlap=overlap,
        met=target_applies and ratio >= target_ratio and lat.steps_exact and not overlap,
        target_ratio=target_ratio,
        target_applies=target_applies,
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
    """a BC-warm-started agent is at the threshold (>= 80 % success, or the return threshold) before any
    RL"""

    def reason(self) -> str:
        lat, prim = self.latent, self.primitive
        auc = auc_name(lat)
        text = (
            f"{self.task} ({self.verdict}: best primitive {prim.agent} {auc} {fmt_est(prim.auc)} "
            f"vs best latent {lat.agent} {auc} {fmt_est(lat.auc)}"
        )
        if not self.bc_solves:
            return text + ")"
        if lat.metric == "success":
            return text + "; BC alone solves it before RL)"
        return text + f"; BC alone reaches {threshold_words(lat)} before RL)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "metric": self.latent.metric,
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
    bc_solves = any(c.agent in bc_agents and c.before.value >= c.threshold for c in cells)
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
        metrics = {v.latent.metric for v in verdicts}
        auc = "return AUC" if metrics == {"return"} else "AUC"
        if len(metrics) > 1:
            auc = "AUC (of the return on tasks without success)"
        return (
            f"Latent actions help on every task of this sweep: the best latent agent's {auc} interval lies "
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
        f"{task}: best latent {lat.agent} {auc_name(lat)} {fmt_est(lat.auc)} "
        f"vs {ab.agent} {fmt_est(ab.auc)}: "
        f"{outcome.get(compare_auc(lat, ab), 'no clear difference')}"
        for ab in cells
        if ab.family == "ablation"
    ]


def improvements(
    tasks: Sequence[str], cells: Sequence[CellStats], results: Sequence[RunResult], reps: int
) -> list[Improvement]:
    """Best latent (X, ``agent``) vs best primitive agent (Y, ``baseline``; BC included; each the best by
    AUC IQM), per task, and with several tasks pooled (the best by pooled AUC IQM); none without both
    kinds of agent."""
    out = []
    for task in [*tasks, ALL_TASKS] if len(tasks) > 1 else list(tasks):
        latent = [c for c in cells if c.task == task and c.family in MACRO_FAMILIES]
        primitive = [c for c in cells if c.task == task and c.family == "primitive"]
        if not latent or not primitive:
            continue
        best = _best(latent, "auc")
        lat, prim = best.agent, _best(primitive, "auc").agent
        over = list(tasks) if task == ALL_TASKS else [task]
        out.append(improvement(over, results, lat, prim, reps, best.metric))
    return out


def improvement_record(item: Improvement) -> dict[str, Any]:
    """One of :func:`improvements` as ``summary.json`` keeps it."""
    return {
        "task": item.task,
        "metric": item.metric,
        "latent_agent": item.agent,
        "primitive_agent": item.baseline,
        "probability": item.probability.to_dict(),
    }
