"""Results of a sweep: every finished run read back from its folder (``eval.csv``, ``agent.json``) and
reduced to a few numbers (:class:`RunResult`, ``results.csv``), and the statistics of each agent on each
task over its seeds (:class:`CellStats`, ``summary.csv``).

Each task is scored by one metric: the success rate, or, where the env reports no success (every success
value of every run on the task NaN), the mean return (:func:`score_tasks`, :class:`~.stats.ReturnScale`):
steps to the threshold, the AUC and the cells' before / random / prior / final values are then of the
return. ``metric`` in both tables says which.

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

from .runs import RunSpec
from .stats import (
    SUCCESS_THRESHOLD,
    Estimate,
    ReturnScale,
    curve_at,
    iqm_intervals,
    normalised_auc,
    return_scale,
    steps_to_threshold,
)

ALL_TASKS = "all"
"""The task name of the pooled rows (every task, stratified bootstrap)."""

METRICS: dict[str, str] = {
    "success": "success rate",
    "return": "mean return",
    "normalised": "normalised score",
}
"""What a task's (or the pooled cells') statistics score -> its name in the report. ``return``: the env
reports no success; ``normalised``: the pooled cells of a sweep with such a task (the success rate on
tasks with success, the min-max normalised return on the others)."""


# ------------------------------------------------------------------------------------------ per run
@dataclasses.dataclass
class RunResult:
    """One finished run, read back from its folder."""

    task: str
    """the task's name (its run folder)"""
    agent: str
    family: str
    """the agent's label (:attr:`~.definition.SweepAgent.label`)"""
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
    """primitive env steps of the first evaluation with success >= 0.8, or (``metric`` ``return``) with
    a mean return at the task's threshold (:class:`~.stats.ReturnScale`); the budget when censored"""
    censored: bool
    """True: the run never reached the threshold (``steps_to_80`` is the budget, a lower bound)"""
    auc: float
    """area under the success curve (``metric`` ``return``: the normalised return curve) over the
    budget, divided by the budget, in [0, 1]"""
    train_seconds: float
    """wall-clock seconds of training (evaluations excluded)"""
    decode_ms: float = math.nan
    """mean milliseconds per decision the latent wrapper spent decoding (NaN for other agents)"""
    success_prior: float = math.nan
    """skill agents: success rate of the skill model's prior rollouts (z ~ p(z | s) every H steps, no
    learning) on the same evaluation episodes; NaN for other agents"""
    return_random: float = math.nan
    """mean return of uniformly random agent actions on the evaluation episodes"""
    return_prior: float = math.nan
    """skill agents: mean return of the skill model's prior rollouts (NaN for other agents)"""
    metric: str = "success"
    """what ``steps_to_80``, ``censored`` and ``auc`` score: ``success`` or ``return`` (:data:`METRICS`)"""
    return_scale: ReturnScale | None = None
    """``metric`` ``return``: the task's threshold and normalisation"""

    @property
    def primitive_steps(self) -> int:
        return self.steps[-1]

    def metric_values(self, normalised: bool = False) -> tuple[list[float], list[float]]:
        """The run in its task's metric: ``([before, random, prior, final], curve)`` (``curve``: one value
        per evaluation). Success rates, or mean returns (``normalised``: on the task's 0-1 scale)."""
        if self.metric == "success":
            point = [self.success_before, self.success_random, self.success_prior, self.success_final]
            return point, list(self.success)
        point = [self.returns[0], self.return_random, self.return_prior, self.final_return]
        if not normalised:
            return point, list(self.returns)
        assert self.return_scale is not None  # set with metric "return" (score_tasks)
        scale = self.return_scale
        return [float(v) for v in scale.normalise(point)], [float(v) for v in scale.normalise(self.returns)]


def read_run(run: RunSpec, budget: int) -> RunResult:
    """Read ``run``'s ``eval.csv`` and reduce its learning curve."""
    rows = read_eval_csv(run.out_dir / "eval.csv")
    record = read_agent_json(run.out_dir)
    steps = np.array([r.primitive_steps for r in rows])
    success = np.array([r.success_rate for r in rows])
    to_80, censored = steps_to_threshold(steps, success, budget)
    random_success, random_return = random_action_eval(run.out_dir, record)
    prior_success, prior_return = prior_rollout_eval(run.out_dir, record)
    return RunResult(
        task=run.task,
        agent=run.agent,
        family=run.family,
        seed=run.seed,
        out_dir=str(run.out_dir),
        steps=[int(s) for s in steps],
        success=[float(s) for s in success],
        returns=[r.mean_return for r in rows],
        decisions=rows[-1].decisions,
        success_before=float(success[0]),
        success_random=random_success,
        success_final=float(success[-1]),
        final_return=rows[-1].mean_return,
        steps_to_80=to_80,
        censored=censored,
        auc=normalised_auc(steps, success, budget),
        train_seconds=rows[-1].seconds,
        decode_ms=math.nan
        if record.get("decode_overhead_ms") is None
        else float(record["decode_overhead_ms"]),
        success_prior=prior_success,
        return_random=random_return,
        return_prior=prior_return,
    )


def score_tasks(results: Sequence[RunResult], budget: int) -> list[RunResult]:
    """``results`` with every task whose runs report no success (every success value NaN) scored by the
    mean return: its :class:`~.stats.ReturnScale` from all its runs (every agent and seed), then each
    run's steps to the return threshold and the AUC of its normalised return curve. Tasks with success
    keep their runs as they are."""
    out = list(results)
    for task in dict.fromkeys(r.task for r in results):
        runs = [r for r in results if r.task == task]
        if any(not math.isnan(v) for r in runs for v in r.success):
            continue
        # one curve per run folder: an agent sharing another's runs does not count them twice
        scale = return_scale([r.returns for r in {r.out_dir: r for r in runs}.values()])
        for i, r in enumerate(out):
            if r.task != task:
                continue
            to_threshold, censored = steps_to_threshold(r.steps, r.returns, budget, scale.threshold)
            out[i] = dataclasses.replace(
                r,
                metric="return",
                return_scale=scale,
                steps_to_80=to_threshold,
                censored=censored,
                auc=normalised_auc(r.steps, scale.normalise(r.returns), budget),
            )
    return out


def _stored(stored: dict[str, Any], key: str) -> float:
    """A number of an ``agent.json`` evaluation record (JSON null: NaN)."""
    value = stored.get(key)
    return math.nan if value is None else float(value)


def random_action_eval(run_dir: Path, record: dict[str, Any] | None = None) -> tuple[float, float]:
    """``(success rate, mean return)`` of uniformly random agent actions, from the run's ``agent.json``
    (written by ``train_agent``). A run folder from before that record existed is evaluated here once, on
    the same evaluation episodes and in the same action interface (rebuilt from the saved config)."""
    if record is None:
        record = read_agent_json(Path(run_dir))
    stored = record.get("random_actions")
    if stored is not None:
        return _stored(stored, "success_rate"), _stored(stored, "mean_return")
    config = AgentConfig.from_dict(record["config"])
    assert config.eval_episodes is not None  # a run's record holds its resolved configuration
    env = make_env(config)
    try:
        result = evaluate_random_actions(env, config.eval_episodes, config.seed)
    finally:
        env.close()
    return result.success_rate, result.mean_return


def random_action_success(run_dir: Path, record: dict[str, Any] | None = None) -> float:
    """Success rate of uniformly random agent actions (:func:`random_action_eval`)."""
    return random_action_eval(run_dir, record)[0]


def prior_rollout_eval(run_dir: Path, record: dict[str, Any] | None = None) -> tuple[float, float]:
    """``(success rate, mean return)`` of the skill model's prior rollouts on a skill run's evaluation
    episodes, from its ``agent.json`` (NaN for agents that do not act in skills). A skill run folder from
    before that record existed is evaluated here once per (task, model, seed), the same way
    ``train_agent`` does."""
    if record is None:
        record = read_agent_json(Path(run_dir))
    if "prior_rollouts" in record:
        stored = record["prior_rollouts"]
        if stored is None:
            return math.nan, math.nan
        return _stored(stored, "success_rate"), _stored(stored, "mean_return")
    config = AgentConfig.from_record(record["config"], Path(run_dir))
    if config.actions != "skill":
        return math.nan, math.nan
    # what the rollouts depend on: runs of several agents share a task, a model and their seeds
    key = (
        config.env_id,
        json.dumps(config.env_kwargs, sort_keys=True),
        str(config.model_path()),
        config.seed,
        int(config.eval_episodes or 1),
    )
    if key not in _PRIOR_ROLLOUTS:
        result = evaluate_prior_rollouts(config, load_model_for(config))
        _PRIOR_ROLLOUTS[key] = (
            (math.nan, math.nan) if result is None else (result.success_rate, result.mean_return)
        )
    return _PRIOR_ROLLOUTS[key]


def prior_rollout_success(run_dir: Path, record: dict[str, Any] | None = None) -> float:
    """Success rate of the skill model's prior rollouts (:func:`prior_rollout_eval`)."""
    return prior_rollout_eval(run_dir, record)[0]


_PRIOR_ROLLOUTS: dict[tuple[str, str, str, int, int], tuple[float, float]] = {}
"""Prior-rollout (success, return) of older skill runs, computed once per process."""


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
    "return_before",
    "return_random",
    "return_prior",
    "metric",
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
        _g(r.returns[0]),
        _g(r.return_random),
        _g(r.return_prior),
        r.metric,
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
            f"cannot read {path}: {err.strerror or err}", "pass the folder of an absaction bench sweep"
        ) from err
    for row in rows:
        run_dir = Path(row["run_dir"])
        row["run_dir"] = str(run_dir if run_dir.is_absolute() else Path(folder) / run_dir)
    return rows


# ----------------------------------------------------------------------------------- per agent x task
@dataclasses.dataclass
class CellStats:
    """One agent on one task (or on all tasks pooled): IQM over seeds with 95 % bootstrap intervals.

    Every value is of the cell's ``metric`` (:data:`METRICS`): the success rate, the mean return (a task
    without success) or, pooled over such tasks, the normalised score.
    """

    task: str
    agent: str
    family: str
    runs: int
    before: Estimate
    """``metric`` before learning (after a BC warm start)"""
    random: Estimate
    """``metric`` of uniformly random agent actions (random z for latent agents)"""
    prior: Estimate
    """skill agents: ``metric`` of the skill model's prior rollouts (NaN for other agents)"""
    steps_to_80: Estimate
    """primitive env steps to the threshold (80 % success, or the task's return threshold); censored runs
    count as the budget"""
    censored: int
    """runs that never reached the threshold (their value is the budget)"""
    auc: Estimate
    """normalised area under the success (or normalised return) curve"""
    final: Estimate
    """``metric`` at the end of the budget"""
    curve_steps: list[int]
    curve: list[Estimate]
    """``metric`` on the common grid of primitive env steps"""
    metric: str = "success"
    """what the values score: a key of :data:`METRICS`"""
    threshold: float = SUCCESS_THRESHOLD
    """the threshold of ``steps_to_80`` in the values' units (the task's return threshold for ``return``;
    NaN for ``normalised``: each task has its own)"""

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


def grid_of(steps: int, eval_every: int) -> np.ndarray:
    """The common x axis (primitive env steps): 0, every ``eval_every`` steps, and the budget ``steps``."""
    return np.unique(np.r_[np.arange(0, steps, eval_every), steps])


def cell_stats(
    task: str, agent: str, family: str, strata: Sequence[Sequence[RunResult]], grid: np.ndarray, reps: int
) -> CellStats:
    """Statistics of the runs of one agent, grouped by task (one group: per-task statistics over seeds;
    several: pooled over tasks, bootstrap stratified by task; every task needs the same number of runs).
    Every interval comes from the same ``reps`` resamples of the runs (seed
    :data:`~.stats.BOOTSTRAP_SEED`)."""

    metrics = {r.metric for group in strata for r in group}
    # pooled over tasks scored by return: each task's returns on its own 0-1 scale
    normalised = len(strata) > 1 and metrics != {"success"}

    def row(r: RunResult) -> list[float]:
        (before, random, prior, final), curve = r.metric_values(normalised)
        return [before, random, prior, r.steps_to_80, r.auc, final, *curve_at(r.steps, curve, grid)]

    # every statistic of a run side by side, so that one rliable bootstrap (the arch loop dominates its
    # cost) resamples them all: (n_s, 6 + P) per task
    fields = 6
    columns = [
        np.array([row(r) for r in group], dtype=np.float64).reshape(len(group), fields + len(grid))
        for group in strata
    ]
    value, low, high = iqm_intervals(columns, reps=reps)  # (6 + P,) each
    ests = [Estimate(float(v), float(lo), float(hi)) for v, lo, hi in zip(value, low, high, strict=True)]
    if normalised:
        metric, threshold = "normalised", math.nan
    elif metrics == {"success"}:
        metric, threshold = "success", SUCCESS_THRESHOLD
    else:  # one task scored by return (its runs share its scale)
        scale = strata[0][0].return_scale
        metric, threshold = "return", math.nan if scale is None else scale.threshold
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
        curve=ests[fields:],
        metric=metric,
        threshold=threshold,
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
    "metric",
    "threshold",
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
        row += [c.metric, _g(c.threshold)]
        rows.append(row)
    return _csv(rows)


def _g(value: float) -> str:
    return "nan" if isinstance(value, float) and math.isnan(value) else f"{value:.6g}"


def _csv(rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows(rows)
    return buffer.getvalue()
