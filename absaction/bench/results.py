"""Results of the RL benchmark: every finished run read back from its folder and reduced to a few
numbers (:class:`RunResult`, ``results.csv``), and the statistics of each agent on each task over its
seeds (:class:`CellStats`, ``summary.csv``).

``results.csv`` stores each run's folder relative to the results folder (``runs/<task>/<agent>/seed<k>``),
so a committed or moved sweep still finds its runs; :func:`read_results_csv` resolves them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.agents.callbacks import read_eval_csv
from absaction.agents.config import AgentConfig
from absaction.agents.environments import load_model_for, make_env
from absaction.agents.evaluation import evaluate_random_actions
from absaction.agents.persistence import read_agent_json
from absaction.agents.priors import evaluate_prior_rollouts
from absaction.errors import AbsactionError

from .catalogue import RLBenchConfig, task_name
from .runs import RunSpec
from .stats import Estimate, curve_at, iqm_intervals, normalised_auc, steps_to_threshold

ALL_TASKS = "all"
"""The task name of the pooled rows (every task, stratified bootstrap)."""


# ------------------------------------------------------------------------------------------ per run
@dataclasses.dataclass
class RunResult:
    """One finished run, read back from its folder."""

    task: str
    """short task name"""
    agent: str
    family: str
    seed: int
    out_dir: str
    steps: list[int]
    """primitive env steps of every evaluation (the first is 0: before learning)"""
    success: list[float]
    """success rate at every evaluation"""
    returns: list[float]
    """mean primitive return at every evaluation"""
    decisions: int
    success_before: float
    success_random: float
    """success rate of uniformly random agent actions on the evaluation episodes (random z for a latent
    agent): what the action interface gives with no learning"""
    success_final: float
    final_return: float
    steps_to_80: float
    """primitive env steps of the first evaluation with success >= 0.8 (the budget when censored)"""
    censored: bool
    """True: the run never reached 80 % success (``steps_to_80`` is the budget, a lower bound)"""
    auc: float
    """area under the success curve over the budget, divided by the budget, in [0, 1]"""
    train_seconds: float
    """wall-clock seconds of training (evaluations excluded)"""
    decode_ms: float = math.nan
    """mean milliseconds per decision the latent wrapper spent decoding (NaN for other agents)"""
    success_prior: float = math.nan
    """skill agents: success rate of the skill model's prior rollouts (z ~ p(z | s) every H steps, no
    learning) on the same evaluation episodes; NaN for other agents"""

    @property
    def primitive_steps(self) -> int:
        return self.steps[-1]


def read_run(run: RunSpec, budget: int) -> RunResult:
    """Read ``run``'s ``eval.csv`` and reduce its learning curve."""
    rows = read_eval_csv(run.out_dir / "eval.csv")
    record = read_agent_json(run.out_dir)
    steps = np.array([r.primitive_steps for r in rows])
    success = np.array([r.success_rate for r in rows])
    to_80, censored = steps_to_threshold(steps, success, budget)
    return RunResult(
        task=task_name(run.task),
        agent=run.agent.name,
        family=run.agent.family,
        seed=run.seed,
        out_dir=str(run.out_dir),
        steps=[int(s) for s in steps],
        success=[float(s) for s in success],
        returns=[r.mean_return for r in rows],
        decisions=rows[-1].decisions,
        success_before=float(success[0]),
        success_random=random_action_success(run.out_dir, record),
        success_final=float(success[-1]),
        final_return=rows[-1].mean_return,
        steps_to_80=to_80,
        censored=censored,
        auc=normalised_auc(steps, success, budget),
        train_seconds=rows[-1].seconds,
        decode_ms=math.nan
        if record.get("decode_overhead_ms") is None
        else float(record["decode_overhead_ms"]),
        success_prior=prior_rollout_success(run.out_dir, record),
    )


def random_action_success(run_dir: Path, record: dict[str, Any] | None = None) -> float:
    """Success rate of uniformly random agent actions, from the run's ``agent.json`` (written by
    ``train_agent``). A run folder from before that record existed is evaluated here once, on the same
    evaluation episodes and in the same action interface (rebuilt from the saved config)."""
    if record is None:
        record = read_agent_json(Path(run_dir))
    stored = record.get("random_actions")
    if stored is not None:
        value = stored.get("success_rate")
        return math.nan if value is None else float(value)
    config = AgentConfig.from_dict(record["config"])
    assert config.eval_episodes is not None  # a run's record holds its resolved configuration
    env = make_env(config)
    try:
        result = evaluate_random_actions(env, config.eval_episodes, config.seed)
    finally:
        env.close()
    return result.success_rate


def prior_rollout_success(run_dir: Path, record: dict[str, Any] | None = None) -> float:
    """Success rate of the skill model's prior rollouts on a skill run's evaluation episodes, from its
    ``agent.json`` (NaN for agents that do not act in skills). A skill run folder from before that
    record existed is evaluated here once per (task, model, seed), the same way ``train_agent`` does."""
    if record is None:
        record = read_agent_json(Path(run_dir))
    if "prior_rollouts" in record:
        stored = record["prior_rollouts"]
        value = None if stored is None else stored.get("success_rate")
        return math.nan if value is None else float(value)
    config = AgentConfig.from_record(record["config"], Path(run_dir))
    if config.actions != "skill":
        return math.nan
    # what the rollouts depend on: runs of several agents share a task, a model and their seeds
    key = (
        config.env_id,
        json.dumps(config.env_kwargs, sort_keys=True),
        str(config.model_path()),
        config.seed,
        int(config.eval_episodes or 1),
    )
    if key not in _PRIOR_SUCCESS:
        result = evaluate_prior_rollouts(config, load_model_for(config))
        _PRIOR_SUCCESS[key] = math.nan if result is None else result.success_rate
    return _PRIOR_SUCCESS[key]


_PRIOR_SUCCESS: dict[tuple[str, str, str, int, int], float] = {}
"""Prior-rollout success of older skill runs, computed once per process."""


RESULT_COLUMNS: tuple[str, ...] = (
    "task",
    "agent",
    "family",
    "seed",
    "primitive_steps",
    "decisions",
    "success_before",
    "success_random",
    "success_prior",
    "success_final",
    "final_return",
    "steps_to_80",
    "reached_80",
    "auc",
    "train_seconds",
    "decode_ms",
    "run_dir",
)


def _result_row(r: RunResult, folder: Path) -> list[Any]:
    return [
        r.task,
        r.agent,
        r.family,
        r.seed,
        r.primitive_steps,
        r.decisions,
        _g(r.success_before),
        _g(r.success_random),
        _g(r.success_prior),
        _g(r.success_final),
        _g(r.final_return),
        "" if r.censored else int(r.steps_to_80),
        int(not r.censored),
        _g(r.auc),
        f"{r.train_seconds:.2f}",
        _g(r.decode_ms),
        relative_run_dir(r.out_dir, folder),
    ]


def relative_run_dir(run_dir: str | os.PathLike[str], folder: Path) -> str:
    """``run_dir`` as ``results.csv`` stores it: relative to the results ``folder`` (POSIX separators),
    so that the table still points at its runs when the folder is moved or committed; absolute only
    where no relative path exists (another drive)."""
    try:
        return Path(os.path.relpath(Path(run_dir).resolve(), Path(folder).resolve())).as_posix()
    except ValueError:  # Windows: run and results folder on different drives
        return str(Path(run_dir).resolve())


def results_csv(results: Sequence[RunResult], folder: Path) -> str:
    """The text of ``folder/results.csv``: :data:`RESULT_COLUMNS`, one row per run."""
    return _csv([RESULT_COLUMNS, *(_result_row(r, folder) for r in results)])


def read_results_csv(folder: Path) -> list[dict[str, str]]:
    """The rows of ``folder/results.csv`` (column -> text), with ``run_dir`` resolved against
    ``folder`` (tables written before paths were stored relative hold absolute ones: kept as they are)."""
    path = Path(folder) / "results.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as err:
        raise AbsactionError(
            f"cannot read {path}: {err.strerror or err}", "pass the folder of an absaction bench rl sweep"
        ) from err
    for row in rows:
        run_dir = Path(row["run_dir"])
        row["run_dir"] = str(run_dir if run_dir.is_absolute() else Path(folder) / run_dir)
    return rows


# ----------------------------------------------------------------------------------- per agent x task
@dataclasses.dataclass
class CellStats:
    """One agent on one task (or on all tasks pooled): IQM over seeds with 95 % bootstrap intervals."""

    task: str
    agent: str
    family: str
    runs: int
    before: Estimate
    """success rate before learning (after a BC warm start)"""
    random: Estimate
    """success rate of uniformly random agent actions (random z for latent agents)"""
    prior: Estimate
    """skill agents: success rate of the skill model's prior rollouts (NaN for other agents)"""
    steps_to_80: Estimate
    """primitive env steps to 80 % success; censored runs count as the budget"""
    censored: int
    """runs that never reached 80 % (their value is the budget)"""
    auc: Estimate
    """normalised area under the success curve"""
    final: Estimate
    """success rate at the end of the budget"""
    curve_steps: list[int]
    curve: list[Estimate]
    """success rate on the common grid of primitive env steps"""

    @property
    def steps_exact(self) -> bool:
        """Whether the steps-to-80 % IQM is exact: every censored run is among the trimmed top quarter
        (censored values are the largest, so their true size cannot move the interquartile mean)."""
        return self.censored <= self.runs // 4

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("curve", "curve_steps")}
        data["steps_to_80_exact"] = self.steps_exact
        data["curve"] = {
            "steps": self.curve_steps,
            "iqm": [e.value for e in self.curve],
            "low": [e.low for e in self.curve],
            "high": [e.high for e in self.curve],
        }
        return data


def grid_of(config: RLBenchConfig) -> np.ndarray:
    """The common x axis (primitive env steps): 0, every ``eval_every`` steps, and the budget."""
    return np.unique(np.r_[np.arange(0, config.steps, config.eval_every), config.steps])


def cell_stats(
    task: str, agent: str, family: str, strata: Sequence[Sequence[RunResult]], grid: np.ndarray, reps: int
) -> CellStats:
    """Statistics of the runs of one agent, grouped by task (one group: per-task statistics over seeds;
    several: pooled over tasks, bootstrap stratified by task; every task needs the same number of runs).
    Every interval comes from the same ``reps`` resamples of the runs (seed
    :data:`~.stats.BOOTSTRAP_SEED`)."""

    # every statistic of a run side by side, so that one rliable bootstrap (the arch loop dominates its
    # cost) resamples them all: (n_s, 6 + P) per task
    fields = ("success_before", "success_random", "success_prior", "steps_to_80", "auc", "success_final")
    columns = [
        np.array(
            [[getattr(r, f) for f in fields] + list(curve_at(r.steps, r.success, grid)) for r in group],
            dtype=np.float64,
        ).reshape(len(group), len(fields) + len(grid))
        for group in strata
    ]
    value, low, high = iqm_intervals(columns, reps=reps)  # (6 + P,) each
    ests = [Estimate(float(v), float(lo), float(hi)) for v, lo, hi in zip(value, low, high, strict=True)]
    return CellStats(
        task=task,
        agent=agent,
        family=family,
        runs=sum(len(g) for g in strata),
        before=ests[0],
        random=ests[1],
        prior=ests[2],
        steps_to_80=ests[3],
        censored=sum(int(r.censored) for g in strata for r in g),
        auc=ests[4],
        final=ests[5],
        curve_steps=[int(g) for g in grid],
        curve=ests[len(fields) :],
    )


SUMMARY_COLUMNS: tuple[str, ...] = (
    "task",
    "agent",
    "family",
    "runs",
    "before_iqm",
    "before_low",
    "before_high",
    "random_iqm",
    "random_low",
    "random_high",
    "prior_iqm",
    "prior_low",
    "prior_high",
    "steps_to_80_iqm",
    "steps_to_80_low",
    "steps_to_80_high",
    "steps_to_80_censored",
    "steps_to_80_exact",
    "auc_iqm",
    "auc_low",
    "auc_high",
    "final_iqm",
    "final_low",
    "final_high",
)


def summary_csv(cells: Sequence[CellStats]) -> str:
    """The text of ``summary.csv``: :data:`SUMMARY_COLUMNS`, one row per cell."""
    rows: list[Sequence[Any]] = [SUMMARY_COLUMNS]
    for c in cells:
        row: list[Any] = [c.task, c.agent, c.family, c.runs]
        for est in (c.before, c.random, c.prior, c.steps_to_80):
            row += [_g(est.value), _g(est.low), _g(est.high)]
        row += [c.censored, int(c.steps_exact)]
        for est in (c.auc, c.final):
            row += [_g(est.value), _g(est.low), _g(est.high)]
        rows.append(row)
    return _csv(rows)


def _g(value: float) -> str:
    return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()
