"""What each macro action space of the RL study can express: the lookahead ceiling.

For every (task, agent) whose chunk is a function of the action alone
(:func:`~.agents.lookahead_applies`), a greedy one-decision lookahead planner
(:func:`~absaction.agents.evaluation.evaluate_lookahead`) runs on the evaluation episodes of the agent's
first seed, next to random actions on the same episodes. It reads the simulator, so it is not an agent:
it bounds what the action space allows one decision at a time. Results are cached in
``OUT/lookahead.json`` keyed by the run's config, so a resumed or re-reported sweep does not pay again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from absaction.agents.environments import make_env
from absaction.agents.evaluation import evaluate_lookahead, evaluate_random_actions
from absaction.bench.runs import RunSpec
from absaction.files import atomic_write_json, json_safe

from .agents import lookahead_applies

LOOKAHEAD_FILE = "lookahead.json"


@dataclasses.dataclass(frozen=True)
class Ceiling:
    """What one (task, agent) macro action space can express: the success of a greedy one-decision
    lookahead planner (:func:`~absaction.agents.evaluation.lookahead_policy`) on the evaluation episodes
    of the agent's first seed, next to random actions on the same episodes."""

    task: str
    agent: str
    seed: int
    episodes: int
    candidates: int
    """candidate actions tried per decision"""
    success_rate: float
    mean_return: float
    random_success_rate: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_lookahead_cache(out: Path) -> dict[str, Any]:
    """``out/lookahead.json`` (``{"task/agent": {"settings": ..., "ceiling": ...}}``), or ``{}`` when
    it is missing or unreadable: it is a cache, recomputed rather than trusted."""
    path = out / LOOKAHEAD_FILE
    try:
        cache = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def lookahead_ceilings(
    runs: Sequence[RunSpec], out: Path, candidates: int, log: Callable[[str], None] | None = None
) -> list[Ceiling]:
    """:class:`Ceiling` of every (task, agent) with a previewable macro action space, on its first
    seed. Results are kept in ``out/lookahead.json`` keyed by the run's config and reused when the
    config and ``candidates`` are unchanged (a resumed or re-reported sweep does not pay again)."""
    if candidates < 1:
        return []
    cache = read_lookahead_cache(out)
    first: dict[tuple[str, str], RunSpec] = {}
    for run in sorted(runs, key=lambda r: r.seed):
        if lookahead_applies(run.config.actions, run.config.plan_phase, run.config.fixed):
            first.setdefault((run.task, run.agent), run)
    found: list[Ceiling] = []
    fresh: dict[str, Any] = {}
    # agents that share another's runs come last and copy its ceiling (the same action space)
    for (task, agent), run in sorted(
        first.items(), key=lambda item: (item[1].shared_with is not None, item[1].env_id, item[1].agent)
    ):
        key = f"{task}/{agent}"
        if run.shared_with is not None and f"{task}/{run.shared_with}" in fresh:
            same = fresh[f"{task}/{run.shared_with}"]
            fresh[key] = {**same, "ceiling": {**same["ceiling"], "agent": agent}}
            found.append(Ceiling(**fresh[key]["ceiling"]))
            continue
        # paths relative to out: the key of a resumed or moved sweep still matches, and names no machine
        settings = {"config": run.config.to_record(out), "candidates": candidates}
        entry = cache.get(key)
        if entry is None or entry.get("settings") != settings:
            if log is not None:
                log(f"bench rl: lookahead ceiling of {key} ({candidates} candidates per decision)")
            started = time.perf_counter()
            assert run.config.eval_episodes is not None  # a sweep sets it for every run
            env = make_env(run.config)
            try:
                plan = evaluate_lookahead(env, run.config.eval_episodes, run.config.seed, candidates)
                rand = evaluate_random_actions(env, run.config.eval_episodes, run.config.seed)
            finally:
                env.close()
            entry = {
                "settings": settings,
                "ceiling": Ceiling(
                    task,
                    agent,
                    run.config.seed,
                    run.config.eval_episodes,
                    candidates,
                    plan.success_rate,
                    plan.mean_return,
                    rand.success_rate,
                    time.perf_counter() - started,
                ).to_dict(),
            }
        fresh[key] = entry
        found.append(Ceiling(**entry["ceiling"]))
    atomic_write_json(out / LOOKAHEAD_FILE, json_safe(fresh))
    return found


def ceiling_lines(ceilings: Sequence[Ceiling], tasks: Sequence[str], agents: Sequence[str]) -> list[str]:
    """The markdown table of :func:`lookahead_ceilings`: one row per agent that has one (in the order of
    ``agents``), ``random / lookahead`` per task."""
    if not ceilings:
        return []
    agents = [agent for agent in agents if any(c.agent == agent for c in ceilings)]
    by_key = {(c.task, c.agent): c for c in ceilings}
    header = ["agent", *[f"{task}: random / lookahead" for task in tasks]]
    rows = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for agent in agents:
        cells = []
        for task in tasks:
            c = by_key.get((task, agent))
            cells.append("n/a" if c is None else f"{c.random_success_rate:.2f} / {c.success_rate:.2f}")
        rows.append(f"| `{agent}` | " + " | ".join(cells) + " |")
    return rows
