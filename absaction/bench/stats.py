"""Statistics of both benchmarks, on plain numpy (no scipy, no rliable).

Across-seed summaries follow Agarwal et al. (2021, "Deep RL at the edge of the statistical precipice"):

- the **interquartile mean** (IQM): the mean of the middle 50 % of the scores, trimming
  ``floor(n / 4)`` scores from each end (the convention of ``scipy.stats.trim_mean(x, 0.25)``, which
  rliable uses), so 5 seeds keep the middle 3 and 8 seeds the middle 4;
- **95 % percentile bootstrap intervals** of that statistic; when several tasks are aggregated the
  bootstrap is *stratified*: every replicate resamples the runs of each task (stratum) with
  replacement, within that task, so every replicate still holds the same number of runs per task.

Per run (one agent, one task, one seed) the benchmark reduces a learning curve (success rate at
evaluation points, x = primitive env steps) to:

- ``steps_to_threshold``: the primitive env steps of the first evaluation with success >= 0.8;
  a run that never gets there is *censored* at the budget (its value is the budget, and it is
  counted as censored, so an IQM equal to the budget means "not reached within the budget");
- ``normalised_auc``: the area under the success curve over [0, budget], divided by the budget
  (1 = solved from the first step, 0 = never any success).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike

CONFIDENCE = 0.95
"""Coverage of the bootstrap intervals."""
BOOTSTRAP_REPS = 2000
"""Bootstrap replicates per interval (rliable's default is 2000 too)."""
SUCCESS_THRESHOLD = 0.8
"""Success rate a run must reach for ``steps_to_threshold``."""

Statistic = Callable[[np.ndarray], np.ndarray]
"""``scores (..., n) -> (...)``: reduces the last axis (the runs); must accept leading batch axes."""


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


def iqm(scores: ArrayLike, axis: int = -1) -> np.ndarray:
    """Interquartile mean along ``axis``: sort, drop ``floor(n / 4)`` values at each end, average.

    >>> float(iqm([0.0, 1.0, 2.0, 3.0, 100.0]))   # drops 0 and 100
    2.0
    """
    x = np.sort(np.asarray(scores, dtype=np.float64), axis=axis)
    n = x.shape[axis]
    if n == 0:
        raise ValueError("the interquartile mean of no scores is undefined")
    cut = n // 4
    kept = np.take(x, np.arange(cut, n - cut), axis=axis)
    return np.mean(kept, axis=axis)


def bootstrap_resample(strata: Sequence[np.ndarray], reps: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified bootstrap replicates of the runs.

    Args:
        strata: one array per stratum (task), shape ``(n_s, ...)``: the ``n_s`` runs of that task, each
            with the same trailing shape (e.g. one score, or a curve of P points).
        reps: number of replicates.
        rng: the generator of the resampling.

    Returns:
        ``(reps, sum_s n_s, ...)``: replicate ``r`` holds, for every stratum in order, ``n_s`` runs drawn
        with replacement from that stratum only.
    """
    parts = []
    for runs in strata:
        runs = np.asarray(runs, dtype=np.float64)
        if len(runs) == 0:
            raise ValueError("every stratum needs at least one run")
        index = rng.integers(0, len(runs), size=(reps, len(runs)))  # (reps, n_s)
        parts.append(runs[index])  # (reps, n_s, ...)
    return np.concatenate(parts, axis=1)


def bootstrap_ci(
    strata: Sequence[np.ndarray] | np.ndarray,
    statistic: Statistic = iqm,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimate and percentile-bootstrap interval of ``statistic`` over runs.

    Args:
        strata: runs grouped by stratum (a list of ``(n_s, ...)`` arrays; one task = one stratum), or a
            single ``(n, ...)`` array (one stratum: the ordinary bootstrap over seeds).
        statistic: reduces the runs axis; it is applied to the runs axis moved last, so trailing axes
            (curve points) are handled in one vectorised call.
        reps: bootstrap replicates.
        confidence: coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
        seed: seed of the resampling (the same data and seed give the same interval).

    Returns:
        ``(value, low, high)``, each of the trailing shape (a 0-d array for scalar scores).
    """
    if isinstance(strata, np.ndarray):
        strata = [strata]
    strata = [np.asarray(s, dtype=np.float64) for s in strata]
    pooled = np.concatenate(strata, axis=0)  # (n, ...)
    value = statistic(np.moveaxis(pooled, 0, -1))
    replicates = bootstrap_resample(strata, reps, np.random.default_rng(seed))  # (reps, n, ...)
    stats = statistic(np.moveaxis(replicates, 1, -1))  # (reps, ...)
    alpha = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(stats, [alpha, 100.0 - alpha], axis=0)
    return value, low, high


def estimate(
    strata: Sequence[np.ndarray] | np.ndarray,
    *,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Estimate:
    """:func:`bootstrap_ci` of the IQM of scalar scores, as an :class:`Estimate`."""
    value, low, high = bootstrap_ci(strata, iqm, reps=reps, confidence=confidence, seed=seed)
    return Estimate(float(value), float(low), float(high))


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
# Student-t intervals over seeds (the VAE benchmark): mean ± t_{0.975, n-1} * s / sqrt(n)

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
