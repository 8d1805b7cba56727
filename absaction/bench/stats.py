"""Statistics of a sweep: scores of runs grouped by task in, point estimates with intervals out.

Across-seed summaries of RL runs come from rliable (Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice"), imported lazily (it pulls in arch, scipy and pandas: ~2 s, which
``absaction --help`` does not pay):

- the **interquartile mean** (IQM, ``rliable.metrics.aggregate_iqm``): the mean of the middle 50 % of the
  scores, trimming ``floor(n / 4)`` scores from each end (5 seeds keep the middle 3, 8 seeds the middle 4);
- **95 % percentile stratified-bootstrap intervals** (``rliable.library.get_interval_estimates``): every
  replicate resamples the runs of each task (stratum) with replacement, within that task;
- **performance profiles** (``rliable.library.create_performance_profile``): the fraction of runs whose
  score exceeds each threshold tau;
- the **probability of improvement** (``rliable.metrics.probability_of_improvement``): P(X > Y) of a run
  of agent X against a run of agent Y on the same task (Mann-Whitney U / (n_x n_y)), averaged over tasks.

rliable draws its bootstrap indices from NumPy's *global* random state (its ``random_state`` argument
does not reach them), so every call here runs under :func:`seeded_numpy`: the same scores and seed give
the same interval, and the caller's global state is restored afterwards.

Thin adapters reduce a learning curve (success rate at evaluation points, x = primitive env steps) to
one number per run:

- ``steps_to_threshold``: the primitive env steps of the first evaluation with success >= 0.8;
  a run that never gets there is *censored* at the budget (its value is the budget, and it is
  counted as censored, so an IQM equal to the budget means "not reached within the budget");
- ``normalised_auc``: the area under the success curve over [0, budget], divided by the budget
  (1 = solved from the first step, 0 = never any success).

On a task whose env reports no success (every success value NaN: Pendulum, MuJoCo locomotion), the same
adapters read the mean return instead, on the task's :class:`ReturnScale` (from every evaluation of
every run on the task, all agents and seeds):

- the **threshold** lies :data:`RETURN_FRACTION` (80 %) of the way from the task's *start return* (the
  median over its runs of the return before learning) to the *best* mean return any evaluation reached;
  so every task has one, the best run reaches it, and 0 steps means "that good before learning";
- the **normalised return** is min-max scaled over the task's evaluations (0 = the lowest mean return
  of any evaluation, 1 = the highest), so its AUC lies in [0, 1] and compares across tasks like the
  success AUC does.

Student-t intervals of a mean over seeds (plain NumPy, for any per-run measurement) are at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

CONFIDENCE = 0.95
"""Coverage of the bootstrap intervals."""
BOOTSTRAP_REPS = 2000
"""Bootstrap replicates per interval (rliable's default for performance profiles is 2000 too)."""
BOOTSTRAP_SEED = 0
"""Seed of the bootstrap resampling (the same scores and seed give the same intervals)."""
SUCCESS_THRESHOLD = 0.8
"""Success rate a run must reach for ``steps_to_threshold``."""

RETURN_FRACTION = 0.8
"""On a task without success: the fraction of the way from the start return to the best return that a
run must reach for ``steps_to_threshold`` (:class:`ReturnScale`; 0.8, as 80 % success)."""

Strata = Sequence[ArrayLike]
"""Runs grouped by task: one ``(n, ...)`` array per task, the same ``n`` for every task."""


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float

    def overlaps(self, other: Estimate) -> bool:
        """Whether the two intervals share at least one point."""
        return self.low <= other.high and other.low <= self.high

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@contextlib.contextmanager
def seeded_numpy(seed: int) -> Iterator[None]:
    """Run the block with NumPy's global random state seeded by ``seed``, then restore the caller's state.

    rliable's bootstraps call ``np.random.choice`` on the global state, so this is what makes its
    intervals repeatable.
    """
    state = np.random.get_state()  # noqa: NPY002 - rliable samples from the legacy global state
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def score_matrix(strata: Strata) -> np.ndarray:
    """Stack runs grouped by task into rliable's layout.

    Args:
        strata: one ``(n, ...)`` array per task (task = stratum): its ``n`` runs, each a score or a
            vector of scores (e.g. a curve of P points).

    Returns:
        ``(n, tasks, ...)``: ``[run, task, ...]``.

    Raises:
        ValueError: a task without runs, or tasks with different numbers of runs (rliable's stratified
            bootstrap needs a full runs x tasks matrix).
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in strata]
    if not arrays or any(len(a) == 0 for a in arrays):
        raise ValueError("every task needs at least one run")
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"every task needs the same number of runs, got {[len(a) for a in arrays]}")
    return np.stack(arrays, axis=1)


def iqm(scores: ArrayLike) -> float:
    """rliable's interquartile mean of all the scores (runs x tasks, any shape).

    >>> iqm([0.0, 1.0, 2.0, 3.0, 100.0])   # drops 0 and 100
    2.0
    """
    from rliable import metrics  # lazy: rliable imports scipy and arch (~2 s)

    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        raise ValueError("the interquartile mean of no scores is undefined")
    return float(metrics.aggregate_iqm(x))


def iqm_columns(scores: np.ndarray) -> np.ndarray:
    """``(n, tasks, K) -> (K,)``: :func:`iqm` of each of the K columns over all runs and tasks at once.

    rliable's ``aggregate_iqm`` (scipy's ``trim_mean(x, 0.25)`` of the flattened scores) takes one column
    a call at ~1 ms each; a bootstrap of 2000 replicates over a cell's 26 columns then costs 16 s (2 s
    vectorised through ``trim_mean``, 0.3 s here). This is the same trimming (``floor(0.25 n)`` from each
    end of the sorted scores) in one vectorised sort; the tests hold it equal to ``aggregate_iqm``.
    """
    flat = np.sort(scores.reshape(-1, scores.shape[-1]), axis=0)  # (n * tasks, K)
    cut = int(0.25 * len(flat))
    return flat[cut : len(flat) - cut].mean(axis=0)


def iqm_intervals(
    strata: Strata,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over runs (and tasks) and its stratified percentile-bootstrap interval, via rliable.

    Args:
        strata: one ``(n, ...)`` array per task (a single task: the ordinary bootstrap over seeds).
            Trailing axes (e.g. curve points, or several statistics side by side) get one IQM each, all
            from the same resampled runs.
        reps: bootstrap replicates.
        confidence: coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
        seed: seed of the resampling.

    Returns:
        ``(value, low, high)``, each of the trailing shape (a 0-d array for scalar scores). ``value`` is
        ``rliable.metrics.aggregate_iqm`` of each column.
    """
    from rliable import library, metrics  # lazy: rliable imports scipy and arch (~2 s)

    matrix = score_matrix(strata)  # (n, tasks, ...)
    trailing = matrix.shape[2:]
    columns = matrix.reshape(*matrix.shape[:2], -1)  # (n, tasks, K)
    value = np.array([metrics.aggregate_iqm(columns[..., k]) for k in range(columns.shape[-1])])
    with seeded_numpy(seed):
        _, intervals = library.get_interval_estimates(
            {"scores": columns}, iqm_columns, reps=reps, confidence_interval_size=confidence
        )
    low, high = np.asarray(intervals["scores"], dtype=np.float64)  # (2, K)
    return value.reshape(trailing), low.reshape(trailing), high.reshape(trailing)


def estimate(
    strata: Strata,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """:func:`iqm_intervals` of scalar scores (one ``(n,)`` array per task), as an :class:`Estimate`."""
    value, low, high = iqm_intervals(strata, reps=reps, confidence=confidence, seed=seed)
    return Estimate(float(value), float(low), float(high))


def probability_of_improvement(
    x: Strata,
    y: Strata,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """P(X > Y): the probability that a run of X scores higher than a run of Y on the same task (ties
    count one half), averaged over tasks, with its stratified independent-bootstrap interval (the runs
    of X and of Y are resampled independently, within each task), via rliable.

    Args:
        x: the runs of agent X, one ``(n_x,)`` array of scores per task.
        y: the runs of agent Y, one ``(n_y,)`` array per task, the tasks in the same order.
        reps, confidence, seed: as in :func:`iqm_intervals`.
    """
    from rliable import library, metrics  # lazy: rliable imports scipy and arch (~2 s)

    scores_x, scores_y = score_matrix(x), score_matrix(y)  # (n_x, tasks), (n_y, tasks)
    if scores_x.shape[1] != scores_y.shape[1]:
        raise ValueError(f"X has {scores_x.shape[1]} tasks, Y {scores_y.shape[1]}")

    def improvement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.array([metrics.probability_of_improvement(a, b)])

    with seeded_numpy(seed):
        points, intervals = library.get_interval_estimates(
            {"pair": [scores_x, scores_y]}, improvement, reps=reps, confidence_interval_size=confidence
        )
    low, high = np.asarray(intervals["pair"], dtype=np.float64).ravel()
    return Estimate(float(np.asarray(points["pair"]).ravel()[0]), float(low), float(high))


@dataclasses.dataclass(frozen=True)
class Profile:
    """A performance profile: the fraction of runs with score > tau, at each tau, with its interval."""

    taus: list[float]
    fraction: list[float]
    low: list[float]
    high: list[float]

    def to_dict(self) -> dict[str, list[float]]:
        return dataclasses.asdict(self)


def performance_profiles(
    scores: Mapping[str, Strata],
    taus: ArrayLike,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, Profile]:
    """Score distributions (rliable's performance profiles) with stratified-bootstrap intervals.

    Args:
        scores: agent -> its runs, one ``(n,)`` array of scores per task (every agent the same tasks).
        taus: ``(T,)`` the thresholds.
        reps, confidence, seed: as in :func:`iqm_intervals`.

    Returns:
        agent -> :class:`Profile`: at each tau the fraction of the agent's runs (over all tasks) whose
        score is strictly above tau.
    """
    from rliable import library  # lazy: rliable imports scipy and arch (~2 s)

    tau_list = np.asarray(taus, dtype=np.float64)
    matrices = {agent: score_matrix(strata) for agent, strata in scores.items()}
    with seeded_numpy(seed):
        fractions, intervals = library.create_performance_profile(
            matrices, tau_list, reps=reps, confidence_interval_size=confidence
        )
    return {
        agent: Profile(
            taus=[float(t) for t in tau_list],
            fraction=[float(f) for f in fractions[agent]],
            low=[float(v) for v in intervals[agent][0]],
            high=[float(v) for v in intervals[agent][1]],
        )
        for agent in matrices
    }


def curve_at(steps: ArrayLike, values: ArrayLike, grid: ArrayLike) -> np.ndarray:
    """A run's evaluations read on a common grid of primitive env steps.

    The value at grid point ``g`` is that of the first evaluation at or after ``g`` (the evaluation the
    run made when it crossed ``g``; macro agents cross it by less than one decision), or the last
    evaluation if the run stopped before ``g``.

    Args:
        steps: ``(E,)`` primitive env steps of the run's evaluations, increasing.
        values: ``(E,)`` the evaluated quantity (e.g. success rate).
        grid: ``(P,)`` the common x axis.
    """
    x, y = np.asarray(steps), np.asarray(values, dtype=np.float64)
    index = np.searchsorted(x, np.asarray(grid), side="left")
    return y[np.minimum(index, len(x) - 1)]


def steps_to_threshold(
    steps: ArrayLike, success: ArrayLike, budget: int, threshold: float = SUCCESS_THRESHOLD
) -> tuple[float, bool]:
    """Primitive env steps of the first evaluation with ``success >= threshold``.

    Returns:
        ``(steps, censored)``: ``(budget, True)`` when no evaluation reaches the threshold (the run is
        censored at the budget: the true value is *at least* the budget). 0 means the policy was
        already that good before learning.
    """
    reached = np.flatnonzero(np.asarray(success, dtype=np.float64) >= threshold)
    if len(reached) == 0:
        return float(budget), True
    return float(min(np.asarray(steps)[reached[0]], budget)), False


@dataclasses.dataclass(frozen=True)
class ReturnScale:
    """How a sweep scores the mean returns of a task whose env reports no success.

    >>> scale = return_scale([[-1000.0, -600.0, -200.0], [-900.0, -900.0, -800.0]])
    >>> scale.start, scale.threshold   # median start -950; 80 % of the way to the best, -200
    (-950.0, -350.0)
    >>> scale.normalise([-1000.0, -200.0, -600.0]).tolist()
    [0.0, 1.0, 0.5]
    """

    low: float
    """the lowest mean return of any evaluation of any run on the task (normalised 0)"""
    high: float
    """the highest mean return of any evaluation of any run on the task (normalised 1): the best return"""
    start: float
    """the task's start return: the median over its runs of the mean return before learning"""
    fraction: float = RETURN_FRACTION
    """how far from ``start`` towards ``high`` the threshold lies"""

    @property
    def threshold(self) -> float:
        """The mean return a run must reach for ``steps_to_threshold``: ``start + fraction (high - start)``
        (at most ``high``, so the best run reaches it)."""
        return min(self.start + self.fraction * (self.high - self.start), self.high)

    def normalise(self, returns: ArrayLike) -> np.ndarray:
        """``(returns - low) / (high - low)``: in [0, 1] for the task's evaluations; all 0 when every
        evaluation returned the same (nothing to tell apart)."""
        x = np.asarray(returns, dtype=np.float64)
        span = self.high - self.low
        return (x - self.low) / span if span > 0 else np.zeros_like(x)

    def to_dict(self) -> dict[str, float]:
        return {**dataclasses.asdict(self), "threshold": self.threshold}


def return_scale(curves: Sequence[ArrayLike], fraction: float = RETURN_FRACTION) -> ReturnScale:
    """The :class:`ReturnScale` of a task from the mean-return curves of all its runs (every agent and
    seed; each curve's first value is the return before learning).

    Raises:
        ValueError: no run, or a run without evaluations.
    """
    arrays = [np.asarray(c, dtype=np.float64) for c in curves]
    if not arrays or any(a.size == 0 for a in arrays):
        raise ValueError("a return scale needs at least one run with evaluations")
    every = np.concatenate(arrays)
    start = float(np.median([a[0] for a in arrays]))
    return ReturnScale(low=float(every.min()), high=float(every.max()), start=start, fraction=fraction)


def normalised_auc(steps: ArrayLike, success: ArrayLike, budget: int) -> float:
    """Area under the piecewise-linear success curve on [0, budget], divided by the budget.

    Evaluations after the budget (a final evaluation overshoots by less than one decision) are clipped
    to it; before the first evaluation the curve holds its first value, after the last its last value.
    """
    evaluated = np.minimum(np.asarray(steps, dtype=np.float64), float(budget))
    values = np.asarray(success, dtype=np.float64)
    x = np.concatenate([[0.0], evaluated, [float(budget)]])
    y = np.concatenate([values[:1], values, values[-1:]])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0) / budget)


# --------------------------------------------------------------------------------------------------
# Student-t intervals over seeds: mean ± t_{0.975, n-1} * s / sqrt(n)

# two-sided 95 % Student-t critical values t_{0.975, df} for df = 1 .. 30
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)  # fmt: skip


def t_critical_975(df: int) -> float:
    """``t_{0.975, df}``: a table up to 30 degrees of freedom, then the Cornish-Fisher expansion around
    the normal quantile 1.95996 (error below 1e-3 there).

    >>> t_critical_975(4)
    2.776
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def mean_interval(values: Iterable[float | None]) -> dict[str, float | int]:
    """Mean and 95 % Student-t interval of the finite values (``lo = hi = half = nan`` for fewer than two).

    Returns:
        ``{"mean", "lo", "hi", "half", "n"}``: ``half`` is the interval's half-width, ``n`` the number of
        finite values used (None and NaN are left out).
    """
    x = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "half": math.nan, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "half": math.nan, "n": 1}
    half = t_critical_975(n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "half": half, "n": n}
