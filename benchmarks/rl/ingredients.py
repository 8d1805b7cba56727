"""Where each gain comes from: the sweep's agents paired so that the two agents of a pair differ in one
ingredient, and each pair compared per task (steps to 80 % and, for the verdict, the probability that a
run with the ingredient has a larger AUC than a run without it). :mod:`.report` writes the result into
``summary.md`` ("Ingredients"), ``summary.json`` (``ingredients``) and ``ingredients.png``.

Pairs come from the :class:`~.agents.BenchAgent` fields, never from agent names. Every agent is reduced
to its *settings* (:func:`settings`); the model kind string is read token by token, so new kinds pair
without a change here: a ``-play`` token means the model was trained on the play data, a ``-ladder``
token means a ladder model, the rest (``skill``, ``tcvlae``, ...) is the model's family. The BC data
counts only for an agent with a BC warm start (the field means nothing without one).

An ingredient names the settings it covers; two agents form its pair when they differ in those settings
in the way the rule says and are equal in every other setting:

- **prior**: ``prior`` reparam or kl (with) vs none (without);
- **residual**: ``residual`` True vs False;
- **ladder**: ``ladders`` top (with: control only the top ladder) vs all;
- **BC**: ``bc`` True vs False, with the BC data (demonstrations or play) part of the ingredient, so
  ``ppo-bc-play`` pairs with ``ppo``; any family;
- **data**: the play data vs the demonstrations: every data source the agent uses (its model's and, with
  BC, what it clones) is play vs every one is demonstrations (e.g. ``skill-play`` vs ``skill``, a
  ``-play`` BC agent vs its demonstrations twin);
- **ladder model**: a ``-ladder`` skill (or other) model vs the flat one of the same family and data;
- **algorithm**: SAC (with) vs PPO (without), the hyperparameter overrides equal (so ``sac-u8`` pairs
  with no PPO agent).
- **closed loop**: a skill agent (closed-loop decoder, re-deciding every H steps) vs the open-loop
  latent-chunk agent it replaces: ``actions`` skill vs latent, the latent agent of family ``latent`` (the
  trained TCVLAE, not an ablation) with no re-decision inside a chunk (``closed_loop`` None, no plan
  phase); the skill agent's model trained on the demonstrations (as the chunk model is), no residual;
  same algorithm, BC and BC data, ladders and hyperparameters. The skill agent acts without a prior
  (``prior`` none) where the sweep has such an agent; where it has none, the skill agent that acts
  through its prior is paired instead and the ingredient is named **closed loop + prior**: the pair then
  differs in both, and the report says so rather than crediting the closed loop alone.

Per task where both agents ran (and their runs are not the same folders, see "Identical agents"): the
IQM [95 % CI] of steps to 80 % of each (the engine's :class:`~absaction.bench.results.CellStats`), the
ratio without / with (> 1: fewer steps with the ingredient), and P(with > without) by AUC with its 95 %
interval from rliable (:func:`~absaction.bench.stats.probability_of_improvement`). The verdict:
**helps** when that interval lies entirely above 0.5, **hurts** when entirely below, else **no clear
difference**.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from absaction.bench.markdown import fmt_est, steps_cell
from absaction.bench.results import CellStats, RunResult
from absaction.bench.stats import Estimate, probability_of_improvement

from .agents import BenchAgent

CLOSED_LOOP = "closed loop"
CLOSED_LOOP_PRIOR = "closed loop + prior"


# --------------------------------------------------------------------------------------- settings
def settings(agent: BenchAgent) -> dict[str, Any]:
    """The settings of ``agent`` that pairs compare (hashable values)."""
    tokens = (agent.model or "").split("-")
    return {
        "algo": agent.algo,
        "actions": agent.actions,
        "model": "-".join(t for t in tokens if t not in ("play", "ladder")) or None,
        "ladder_model": "ladder" in tokens,
        "model_data": None if agent.model is None else ("play" if "play" in tokens else "demos"),
        "ladders": agent.ladders,
        "bc": agent.bc,
        "bc_data": agent.data if agent.bc else None,  # the field only means something with BC
        "closed_loop": agent.closed_loop,
        "plan_phase": agent.plan_phase,
        "prior": agent.prior,
        "residual": agent.residual,
        "family": agent.family,
        "hyperparams": agent.hyperparams,
    }


def _data_kind(s: dict[str, Any]) -> str | None:
    """play / demos when every data source the agent uses is that; None for mixed or no data."""
    used = {d for d in (s["model_data"], s["bc_data"]) if d is not None}
    return next(iter(used)) if len(used) == 1 else None


@dataclasses.dataclass(frozen=True)
class Rule:
    """One ingredient: the settings it covers and which agent of a differing pair has it."""

    name: str
    covers: tuple[str, ...]
    has: Callable[[dict[str, Any]], bool | None]
    """True: the agent has the ingredient; False: it is the comparison without; None: neither side"""


RULES: tuple[Rule, ...] = (
    Rule("prior", ("prior",), lambda s: s["prior"] != "none"),
    Rule("residual", ("residual",), lambda s: s["residual"]),
    Rule("ladder", ("ladders",), lambda s: {"top": True, "all": False}.get(s["ladders"])),
    Rule("BC", ("bc", "bc_data"), lambda s: s["bc"]),
    Rule(
        "data", ("model_data", "bc_data"), lambda s: {"play": True, "demos": False}.get(_data_kind(s) or "")
    ),
    Rule("ladder model", ("ladder_model",), lambda s: s["ladder_model"] if s["model"] else None),
    Rule("algorithm", ("algo",), lambda s: {"sac": True, "ppo": False}.get(s["algo"])),
)
"""The one-setting ingredients, in the order the report lists them (the closed loop is
:func:`closed_loop_pairs`: it spans several settings)."""


@dataclasses.dataclass(frozen=True)
class Pair:
    """Two agents of the sweep that differ in one ingredient."""

    ingredient: str
    with_agent: str
    without_agent: str


def _rest(s: dict[str, Any], covers: Sequence[str]) -> tuple[Any, ...]:
    return tuple(v for k, v in s.items() if k not in covers)


def pairs(agents: Sequence[BenchAgent]) -> list[Pair]:
    """Every ingredient pair among ``agents`` (in the rule order, then the agents' order)."""
    found: list[Pair] = []
    table = [(a.name, settings(a)) for a in agents]
    for rule in RULES:
        for name_a, a in table:
            for name_b, b in table:
                if (
                    rule.has(a) is True
                    and rule.has(b) is False
                    and _rest(a, rule.covers) == _rest(b, rule.covers)
                ):
                    found.append(Pair(rule.name, name_a, name_b))
    return [*closed_loop_pairs(table), *found]


_LOOP_COVERS = (
    "actions",
    "model",
    "ladder_model",
    "model_data",
    "closed_loop",
    "plan_phase",
    "prior",
    "family",
)


def closed_loop_pairs(table: Sequence[tuple[str, dict[str, Any]]]) -> list[Pair]:
    """Skill agents vs the open-loop latent-chunk agents they replace (see the module docstring)."""
    chunks = [
        (n, s)
        for n, s in table
        if s["actions"] == "latent"
        and s["family"] == "latent"
        and s["closed_loop"] is None
        and not s["plan_phase"]
    ]
    skills = [
        (n, s)
        for n, s in table
        if s["actions"] == "skill" and s["model_data"] == "demos" and not s["residual"]
    ]
    found = []
    for chunk, c in chunks:
        twins = [(n, s) for n, s in skills if _rest(s, _LOOP_COVERS) == _rest(c, _LOOP_COVERS)]
        plain = [n for n, s in twins if s["prior"] == "none"]
        if plain:
            found += [Pair(CLOSED_LOOP, n, chunk) for n in plain]
        else:
            found += [Pair(CLOSED_LOOP_PRIOR, n, chunk) for n, _ in twins]
    return found


# ------------------------------------------------------------------------------------ comparisons
@dataclasses.dataclass
class Comparison:
    """One pair on one task."""

    ingredient: str
    task: str
    with_cell: CellStats
    without_cell: CellStats
    ratio: float
    """steps to 80 %: IQM without / IQM with (> 1: fewer steps with the ingredient; inf when only the
    run with it starts at 80 %, 1 when both do)"""
    ratio_bound: str
    """``>=`` / ``<=`` when a censored IQM makes the ratio a bound, ``?`` when both are censored, else ''"""
    probability: Estimate
    """P(a run with the ingredient has a larger AUC than a run without it) [95 % CI]"""

    @property
    def verdict(self) -> str:
        if self.probability.low > 0.5:
            return "helps"
        if self.probability.high < 0.5:
            return "hurts"
        return "no clear difference"

    def ratio_text(self) -> str:
        if self.ratio_bound == "?":
            return "? (neither reaches 80 % in enough runs)"
        if math.isinf(self.ratio):  # whatever the other agent's censoring: it needs steps, this one none
            return "inf (at 80 % before RL)"
        return f"{self.ratio_bound} {self.ratio:.2f}x" if self.ratio_bound else f"{self.ratio:.2f}x"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ingredient": self.ingredient,
            "task": self.task,
            "with_agent": self.with_cell.agent,
            "without_agent": self.without_cell.agent,
            "with_steps_to_80": self.with_cell.steps_to_80.to_dict(),
            "without_steps_to_80": self.without_cell.steps_to_80.to_dict(),
            "ratio": None if math.isinf(self.ratio) else self.ratio,
            "ratio_bound": self.ratio_bound,
            "probability": self.probability.to_dict(),
            "verdict": self.verdict,
        }


def _ratio(with_: CellStats, without: CellStats) -> tuple[float, str]:
    w, wo = with_.steps_to_80.value, without.steps_to_80.value
    ratio = (1.0 if wo == 0 else math.inf) if w == 0 else wo / w
    # a censored IQM is a lower bound on the true one: without's makes the ratio a lower bound,
    # with's an upper bound, both no bound at all
    bound = {(True, True): "", (True, False): ">=", (False, True): "<=", (False, False): "?"}
    return ratio, bound[(with_.steps_exact, without.steps_exact)]


def compare(
    agents: Sequence[BenchAgent],
    tasks: Sequence[str],
    cells: Sequence[CellStats],
    results: Sequence[RunResult],
    reps: int,
) -> list[Comparison]:
    """Every pair of ``agents`` on every task where both ran, with their own (not shared) runs.

    Args:
        agents: the sweep's agents.
        tasks: short task names, in the sweep's order.
        cells: the per-task statistics of the report (:func:`~absaction.bench.results.cell_stats`).
        results: every run.
        reps: bootstrap replicates of the probability's interval.
    """
    out = []
    for pair in pairs(agents):
        for task in tasks:
            runs_with = [r for r in results if r.task == task and r.agent == pair.with_agent]
            runs_without = [r for r in results if r.task == task and r.agent == pair.without_agent]
            if not runs_with or not runs_without:
                continue
            if {r.out_dir for r in runs_with} == {r.out_dir for r in runs_without}:
                continue  # the same runs (an agent identical to the other on this task): nothing to compare
            cell = {c.agent: c for c in cells if c.task == task}
            probability = probability_of_improvement(
                [np.array([r.auc for r in runs_with])], [np.array([r.auc for r in runs_without])], reps=reps
            )
            ratio, bound = _ratio(cell[pair.with_agent], cell[pair.without_agent])
            out.append(
                Comparison(
                    pair.ingredient,
                    task,
                    cell[pair.with_agent],
                    cell[pair.without_agent],
                    ratio,
                    bound,
                    probability,
                )
            )
    return out


# ------------------------------------------------------------------------------------------ report
def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summary_sentences(items: Sequence[Comparison]) -> str:
    """The plain-words paragraph: per pair, where its ingredient helps, hurts or makes no clear difference."""
    by_pair: dict[tuple[str, str, str], list[Comparison]] = {}
    for c in items:
        by_pair.setdefault((c.ingredient, c.with_cell.agent, c.without_cell.agent), []).append(c)
    sentences = []
    for (ingredient, with_agent, without_agent), group in by_pair.items():
        parts = []
        for verdict, text in (
            ("helps", "helps"),
            ("hurts", "hurts"),
            ("no clear difference", "makes no clear difference"),
        ):
            tasks = [c.task for c in group if c.verdict == verdict]
            neither = [c.task for c in group if c.verdict == verdict and c.ratio_bound == "?"]
            if tasks:
                # "anywhere" only for no difference: "helps anywhere" would read as a claim beyond the tasks
                everywhere = verdict == "no clear difference" and len(tasks) == len(group) > 1
                where = "anywhere" if everywhere else f"on {_join(tasks)}"
                if neither:  # judged by AUC alone: neither IQM of steps to 80 % is exact there
                    where += (
                        " (neither reaches 80 % in enough runs)"
                        if len(neither) == len(tasks)
                        else f" (on {_join(neither)} neither reaches 80 % in enough runs)"
                    )
                parts.append(f"{text} {where}")
        subject = ingredient if ingredient == "BC" else f"the {ingredient}"
        sentences.append(
            f"{subject[0].upper()}{subject[1:]} (`{with_agent}` vs `{without_agent}`) {_join(parts)}."
        )
    return " ".join(sentences)


def markdown_lines(items: Sequence[Comparison], reps: int, budget: int) -> list[str]:
    """The summary.md section (nothing without any pair)."""
    if not items:
        return []
    lines = [
        "## Ingredients: where each gain comes from",
        "",
        "Pairs of agents of this sweep that differ in one ingredient, everything else equal (the rules: "
        "`benchmarks/rl/ingredients.py`). **ratio** = steps-to-80 % IQM without / with (> 1: fewer steps "
        "with the ingredient; `>=`/`<=`: a bound, one IQM being censored); **P(with > without)** = the "
        "probability that a run with the ingredient has a larger AUC than a run without it [95 % "
        f"independent-bootstrap interval, {reps} replicates]; **helps** / **hurts**: that interval lies "
        "entirely above / below 0.5. *closed loop + prior*: the sweep has no skill agent without a prior "
        "to pair with the latent chunks, so that pair differs in both. Figure: `ingredients.png`.",
        "",
        "| ingredient | with -> without | task | steps to 80 % with | steps to 80 % without | ratio | "
        "P(with > without) | verdict |",
        "|" + " --- |" * 8,
    ]
    for c in items:
        lines.append(
            f"| {c.ingredient} | `{c.with_cell.agent}` -> `{c.without_cell.agent}` | {c.task} | "
            f"{steps_cell(c.with_cell, budget)} | {steps_cell(c.without_cell, budget)} | {c.ratio_text()} | "
            f"{fmt_est(c.probability)} | {c.verdict} |"
        )
    return [*lines, "", summary_sentences(items), ""]


def figure_rows(items: Sequence[Comparison]) -> list[tuple[str, str, Estimate]]:
    """The rows of ``ingredients.png``: (ingredient, task: with agent; without agent; P)."""
    return [
        (f"{c.ingredient}, {c.task}: {c.with_cell.agent}", c.without_cell.agent, c.probability) for c in items
    ]
