"""Ingredient attribution of the RL study (benchmarks.rl.ingredients): which agents pair, the
statistics of a pair against known answers, and the summary.md section."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from synthetic_runs import synthetic_runs

from absaction.bench.figures import plot_probabilities
from absaction.bench.results import RunResult, cell_stats
from absaction.bench.stats import Estimate
from benchmarks.rl import ingredients, report
from benchmarks.rl.agents import BenchAgent
from benchmarks.rl.catalogue import TASKS, RLBenchConfig

BUDGET = 50_000
REPS = 300


def _agent(name: str, actions: str = "primitive", **fields: object) -> BenchAgent:
    family = {"primitive": "primitive", "latent": "latent", "skill": "skill"}[actions]
    return BenchAgent(
        name, str(fields.pop("family", family)), "", str(fields.pop("algo", "ppo")), actions, **fields
    )  # type: ignore[arg-type]


HAND_BUILT = [
    _agent("p"),
    _agent("p-bc", bc=True),
    _agent("p-bc-play", bc=True, data="play"),
    _agent("lat", "latent", model="tcvlae"),
    _agent("lat-phase", "latent", model="tcvlae", closed_loop=8, plan_phase=True),
    _agent("sk", "skill", model="skill"),
    _agent("sk-prior", "skill", model="skill", prior="reparam"),
    _agent("sk-prior-play", "skill", model="skill-play", prior="reparam", data="play"),
    _agent("sk-ladder", "skill", model="skill-ladder", prior="reparam"),
    # differs from sk-prior in two ingredients (algorithm and BC) and from every other agent in more
    _agent("sac-sk-bc", "skill", model="skill", prior="reparam", bc=True, algo="sac"),
]


def _pairs(agents: list[BenchAgent]) -> set[tuple[str, str, str]]:
    found = ingredients.pairs(agents)
    assert len(found) == len(set(found))  # no pair twice
    return {(p.ingredient, p.with_agent, p.without_agent) for p in found}


def test_pairs_differ_in_exactly_one_ingredient():
    assert _pairs(HAND_BUILT) == {
        ("closed loop", "sk", "lat"),  # the skill agent without a prior exists: only it replaces the chunks
        ("prior", "sk-prior", "sk"),
        ("BC", "p-bc", "p"),
        ("BC", "p-bc-play", "p"),  # the BC data belongs to the BC ingredient
        ("data", "p-bc-play", "p-bc"),
        ("data", "sk-prior-play", "sk-prior"),
        ("ladder model", "sk-ladder", "sk-prior"),
    }
    # names do not matter, only the fields
    renamed = [dataclasses.replace(a, name=f"x{i}") for i, a in enumerate(HAND_BUILT)]
    assert len(_pairs(renamed)) == 7


def test_closed_loop_pairs_with_a_prior_agent_only_under_its_own_name():
    without_plain = [a for a in HAND_BUILT if a.name != "sk"]
    loop = {p for p in _pairs(without_plain) if p[0].startswith("closed loop")}
    assert loop == {("closed loop + prior", "sk-prior", "lat"), ("closed loop + prior", "sk-ladder", "lat")}
    # a residual or a play-data skill agent never stands for the closed loop
    residual = _agent("sk-res", "skill", model="skill", residual=True)
    assert _pairs([HAND_BUILT[3], HAND_BUILT[7], residual]) == set()
    # top vs all ladders, residual, SAC vs PPO on otherwise equal agents
    more = [
        _agent("sk-top", "skill", model="skill", ladders="top"),
        _agent("sk-res", "skill", model="skill", residual=True),
        _agent("sac-sk", "skill", model="skill", algo="sac"),
        _agent("sac-sk-u8", "skill", model="skill", algo="sac", hyperparams=(("train_freq", 8),)),
    ]
    assert _pairs([HAND_BUILT[5], *more]) == {
        ("ladder", "sk-top", "sk"),
        ("residual", "sk-res", "sk"),
        ("algorithm", "sac-sk", "sk"),
    }


def _runs(task: str, agent: str, auc: list[float], steps: list[float], folder: str = "") -> list[RunResult]:
    return synthetic_runs(task, agent, "primitive", steps, auc, BUDGET, folder)


def _cells(results: list[RunResult]) -> list:
    keys = sorted({(r.task, r.agent) for r in results})
    return [
        cell_stats(task, agent, "primitive", [[r for r in results if (r.task, r.agent) == (task, agent)]],
                   np.array([0, BUDGET]), REPS)
        for task, agent in keys
    ]  # fmt: skip


def test_statistics_against_known_answers():
    bc, plain = _agent("p-bc", bc=True), _agent("p")
    results = [
        # obstacle: every BC run beats every plain run -> P = 1, helps; steps IQM 2000 vs 40000 -> 20x
        *_runs("obstacle", "p-bc", [0.9, 0.91, 0.92, 0.93, 0.94], [1000, 2000, 2000, 2000, 3000]),
        *_runs("obstacle", "p", [0.1, 0.11, 0.12, 0.13, 0.14], [30_000, 40_000, 40_000, 40_000, 45_000]),
        # sparse: the same AUCs -> P = 0.5 exactly, no clear difference
        *_runs("sparse", "p-bc", [0.5] * 5, [10_000] * 5),
        *_runs("sparse", "p", [0.5] * 5, [10_000] * 5),
        # chain: every plain run beats every BC run -> P = 0, hurts; BC never reaches 80 %
        *_runs("chain", "p-bc", [0.0] * 5, [BUDGET] * 5),
        *_runs("chain", "p", [0.6, 0.7, 0.8, 0.7, 0.6], [20_000] * 5),
        # dense: only one of the two ran -> no row
        *_runs("dense", "p", [0.5] * 5, [10_000] * 5),
    ]
    items = ingredients.compare(
        [bc, plain], ["obstacle", "sparse", "chain", "dense"], _cells(results), results, REPS
    )
    by_task = {c.task: c for c in items}
    assert list(by_task) == ["obstacle", "sparse", "chain"]
    assert all(c.ingredient == "BC" and c.with_cell.agent == "p-bc" for c in items)
    obstacle, sparse, chain = by_task["obstacle"], by_task["sparse"], by_task["chain"]
    assert obstacle.probability == Estimate(1.0, 1.0, 1.0) and obstacle.verdict == "helps"
    assert obstacle.ratio == pytest.approx(40_000 / 2000) and obstacle.ratio_text() == "20.00x"
    assert sparse.probability == Estimate(0.5, 0.5, 0.5) and sparse.verdict == "no clear difference"
    assert sparse.ratio == 1.0
    at_once = dataclasses.replace(sparse, ratio=math.inf, ratio_bound=">=")
    assert at_once.ratio_text() == "inf (at 80 % before RL)"
    assert chain.probability == Estimate(0.0, 0.0, 0.0) and chain.verdict == "hurts"
    # the BC IQM is censored at the budget: the ratio 20000 / 50000 is an upper bound
    assert chain.ratio_bound == "<=" and chain.ratio_text() == "<= 0.40x"
    # overlapping runs: P(X > Y) counted by hand over the 3 x 2 pairs of runs
    mixed = [
        *_runs("obstacle", "p-bc", [0.2, 0.4, 0.6], [BUDGET] * 3),
        *_runs("obstacle", "p", [0.3, 0.5], [BUDGET] * 2),
    ]
    (one,) = ingredients.compare([bc, plain], ["obstacle"], _cells(mixed), mixed, REPS)
    assert one.probability.value == pytest.approx(3 / 6)  # pairs won: 0.4>0.3, 0.6>0.3, 0.6>0.5
    assert one.ratio_bound == "?" and one.verdict == "no clear difference"
    assert ingredients.summary_sentences([one]).endswith(
        "no clear difference on obstacle (neither reaches 80 % in enough runs)."
    )
    # beside a task where the agents do reach 80 %, the note names only the task where neither does
    assert ingredients.summary_sentences([one, sparse]).endswith(
        "makes no clear difference anywhere (on obstacle neither reaches 80 % in enough runs)."
    )
    # runs shared with the other agent (the same folders): not compared
    shared = [
        *_runs("sparse", "p-bc", [0.5] * 3, [9] * 3, "same"),
        *_runs("sparse", "p", [0.5] * 3, [9] * 3, "same"),
    ]
    assert ingredients.compare([bc, plain], ["sparse"], _cells(shared), shared, REPS) == []

    text = ingredients.summary_sentences(items)
    assert (
        text
        == "BC (`p-bc` vs `p`) helps on obstacle, hurts on chain and makes no clear difference on sparse."
    )
    flat = [c for c in items if c.task == "sparse"] * 2
    assert "makes no clear difference anywhere" in ingredients.summary_sentences(flat)


def _config(agents: list[str], reps: int = REPS) -> RLBenchConfig:
    return RLBenchConfig(
        tasks=[TASKS["obstacle"], TASKS["chain"]], agents=agents, seeds=5, bootstrap_reps=reps
    )


def _sweep(agents: list[str]) -> list[RunResult]:
    aucs = {
        "ppo-bc": [0.9, 0.91, 0.92, 0.93, 0.94],
        "ppo": [0.1, 0.2, 0.3, 0.2, 0.1],
        "ppo-latent": [0.5] * 5,
    }
    return [
        r
        for task in ("obstacle", "chain")
        for agent in agents
        for r in _runs(task, agent, aucs[agent], [5000] * 5)
    ]


def test_summary_has_the_section_only_when_a_pair_exists(tmp_path):
    config = _config(["ppo-bc", "ppo", "ppo-latent"])
    built = report.build_report(config, _sweep(config.agents))
    assert [(c.ingredient, c.task) for c in built.ingredients] == [("BC", "obstacle"), ("BC", "chain")]
    text = report.summary_markdown(config, built, ["obstacle", "chain"])
    assert "## Ingredients: where each gain comes from" in text
    assert (
        "| BC | `ppo-bc` -> `ppo` | obstacle | 5k [5k, 5k] | 5k [5k, 5k] | 1.00x "
        "| 1.00 [1.00, 1.00] | helps |" in text
    )
    assert "BC (`ppo-bc` vs `ppo`) helps anywhere" not in text  # "anywhere" is only for no difference
    assert "BC (`ppo-bc` vs `ppo`) helps on obstacle and chain." in text
    assert "`ingredients.png`" in text

    alone = _config(["ppo-bc", "ppo-latent"])  # differ in actions and model, not in one ingredient
    built = report.build_report(alone, _sweep(alone.agents))
    assert built.ingredients == []
    text = report.summary_markdown(alone, built, ["obstacle", "chain"])
    assert "Ingredients" not in text and "ingredients.png" not in text


def test_the_figure_is_a_png_with_one_row_per_comparison():
    rows = [
        ("BC, obstacle: p-bc", "p", Estimate(0.9, 0.7, 1.0)),
        ("prior, chain: sk-prior", "sk", Estimate(0.4, 0.2, 0.6)),
    ]
    png = plot_probabilities(rows, "P(run with the ingredient > run without), by AUC", "with", "without")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
