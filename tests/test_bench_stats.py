"""The statistics module: rliable-backed IQM, stratified-bootstrap intervals, probability of improvement
and performance profiles against hand computations; the thin adapters (censored steps to 80 %, AUC, the
curve grid) by hand; repeatability of every interval for a seed."""

# ruff: noqa: NPY002 - rliable bootstraps from NumPy's legacy global state, which these tests seed and read

from __future__ import annotations

import numpy as np
import pytest

from absaction.bench.stats import (
    curve_at,
    estimate,
    iqm,
    iqm_columns,
    iqm_intervals,
    normalised_auc,
    performance_profiles,
    probability_of_improvement,
    score_matrix,
    seeded_numpy,
    steps_to_threshold,
)


# ----------------------------------------------------------------------------------- IQM
def test_iqm_trims_a_quarter_at_each_end():
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # n = 8: drop 1, 2 and 7, 8 -> mean(3, 4, 5, 6)
    assert iqm([0.0, 1.0, 2.0, 3.0, 100.0]) == pytest.approx(2.0)  # n = 5: drop one each side
    assert iqm([9.0, 1.0, 5.0, 3.0, 7.0, 2.0, 8.0, 4.0, 6.0]) == pytest.approx(5.0)  # n = 9: keep 3..7
    assert iqm([0.2, 0.9, 0.4]) == pytest.approx(0.5)  # n < 4 trims nothing: the plain mean
    # runs x tasks: the IQM of all 8 scores together (rliable's aggregate IQM)
    assert iqm([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]]) == pytest.approx((2 + 3 + 10 + 11) / 4)
    with pytest.raises(ValueError, match="no scores"):
        iqm([])


def test_vectorised_columns_equal_rliables_aggregate_iqm():
    from rliable import metrics

    rng = np.random.default_rng(0)
    for shape in [(5, 1, 7), (5, 5, 26), (8, 3, 2), (3, 2, 4)]:
        scores = rng.normal(size=shape)
        expected = [metrics.aggregate_iqm(scores[..., k]) for k in range(shape[-1])]
        np.testing.assert_allclose(iqm_columns(scores), expected, rtol=0, atol=1e-12)


def test_score_matrix_is_runs_by_tasks_and_needs_equal_runs():
    matrix = score_matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(matrix, [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]])  # (3 runs, 2 tasks)
    assert score_matrix([np.zeros((4, 5))]).shape == (4, 1, 5)  # curves: (runs, tasks, points)
    with pytest.raises(ValueError, match="same number of runs"):
        score_matrix([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="at least one run"):
        score_matrix([[]])


# ----------------------------------------------------------------------------------- intervals
def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_more_data():
    rng = np.random.default_rng(0)
    widths = []
    for n in (12, 1200):
        scores = rng.normal(0.5, 0.2, size=n)
        est = estimate([scores], reps=400, seed=1)
        assert est.value == iqm(scores)
        assert est.low <= est.value <= est.high
        widths.append(est.high - est.low)
    assert widths[1] < widths[0] / 4  # ~1/sqrt(100) of the width: at least 4x narrower
    constant = estimate([np.full(5, 0.7)], reps=200)
    assert (constant.value, constant.low, constant.high) == pytest.approx((0.7, 0.7, 0.7))


def test_intervals_repeat_for_a_seed_and_leave_the_global_state_alone():
    scores = [np.array([0.1, 0.5, 0.2, 0.9, 0.4]), np.array([0.3, 0.35, 0.8, 0.6, 0.7])]
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = estimate(scores, reps=300, seed=3)
    assert np.random.random() == before  # the caller's global state is restored
    assert estimate(scores, reps=300, seed=3) == first
    assert estimate(scores, reps=300, seed=4) != first  # another seed resamples differently
    x, y = [np.array([0.1, 0.5, 0.4])], [np.array([0.2, 0.45, 0.3])]
    assert probability_of_improvement(x, y, reps=200, seed=5) == probability_of_improvement(
        x, y, reps=200, seed=5
    )
    profiles = [performance_profiles({"a": scores}, [0.2, 0.5], reps=200, seed=6) for _ in range(2)]
    assert profiles[0] == profiles[1]
    with seeded_numpy(7):
        a = np.random.random(3)
    with seeded_numpy(7):
        np.testing.assert_array_equal(np.random.random(3), a)


def test_stratified_bootstrap_resamples_within_each_task():
    # Two tasks, one all failures and one all successes: every stratified replicate keeps 4 + 4 runs,
    # so the IQM of the 8 is exactly 0.5 in all of them.
    value, low, high = iqm_intervals([np.zeros(4), np.ones(4)], reps=300)
    assert (float(value), float(low), float(high)) == (0.5, 0.5, 0.5)
    # one stratum holding the same 8 runs: replicates vary in how many ones they draw
    _, low, high = iqm_intervals([np.r_[np.zeros(4), np.ones(4)]], reps=300)
    assert low < 0.5 < high


def test_bootstrap_of_curves_is_pointwise():
    curves = np.array([[0.0, 0.5, 1.0], [0.0, 0.25, 1.0], [0.0, 0.75, 1.0], [0.0, 0.0, 1.0]])  # (4 seeds, 3)
    value, low, high = iqm_intervals([curves], reps=300)
    assert value.shape == low.shape == high.shape == (3,)
    np.testing.assert_allclose(value, [0.0, 0.375, 1.0])  # n = 4: drop 0 and 0.75 -> mean(0.25, 0.5)
    assert low[0] == high[0] == 0.0 and low[2] == high[2] == 1.0
    assert low[1] <= value[1] <= high[1] and low[1] < high[1]


# ---------------------------------------------------------------------- probability of improvement
def test_probability_of_improvement_by_hand():
    low_runs, high_runs = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9])
    # clearly separated: every run of X beats every run of Y, in every resample too
    est = probability_of_improvement([high_runs], [low_runs], reps=200)
    assert (est.value, est.low, est.high) == (1.0, 1.0, 1.0)
    assert probability_of_improvement([low_runs], [high_runs], reps=200).value == 0.0
    # identical sets: 0.5, and the interval around it
    same = probability_of_improvement([low_runs], [low_runs.copy()], reps=200)
    assert same.value == 0.5 and same.low <= 0.5 <= same.high
    # by hand: X = (1, 3), Y = (2, 2): pairs 1>2 no, 1>2 no, 3>2 yes, 3>2 yes -> 2 / 4
    assert probability_of_improvement([[1.0, 3.0]], [[2.0, 2.0]], reps=50).value == 0.5
    # X = (1, 3, 5), Y = (2, 4): 1 beats none, 3 beats one, 5 beats two -> 3 / 6; ties count one half:
    # X = (2, 3), Y = (2, 1): 2=2 (1/2), 2>1, 3>2, 3>1 -> 3.5 / 4
    assert probability_of_improvement([[1.0, 3.0, 5.0]], [[2.0, 4.0]], reps=50).value == 0.5
    assert probability_of_improvement([[2.0, 3.0]], [[2.0, 1.0]], reps=50).value == pytest.approx(0.875)
    # pooled over two tasks: the mean of the per-task probabilities (1 on one, 0 on the other)
    pooled = probability_of_improvement([high_runs, low_runs], [low_runs, high_runs], reps=200)
    assert (pooled.value, pooled.low, pooled.high) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="tasks"):
        probability_of_improvement([high_runs], [low_runs, low_runs], reps=10)


# ------------------------------------------------------------------------------- performance profiles
def test_performance_profile_by_hand():
    # one task, 4 runs: the fraction of runs strictly above tau
    scores = {"a": [np.array([0.1, 0.5, 0.9, 0.9])], "b": [np.array([0.0, 0.0, 0.0, 1.0])]}
    profiles = performance_profiles(scores, [0.0, 0.25, 0.5, 0.9, 1.0], reps=200)
    assert profiles["a"].fraction == [1.0, 0.75, 0.5, 0.0, 0.0]
    assert profiles["b"].fraction == [0.25, 0.25, 0.25, 0.25, 0.0]
    for profile in profiles.values():
        assert all(
            lo <= f <= hi for f, lo, hi in zip(profile.fraction, profile.low, profile.high, strict=True)
        )
    # above every score: no run in any resample -> [0, 0]
    assert (profiles["a"].low[-1], profiles["a"].high[-1]) == (0.0, 0.0)
    # two tasks pooled: 2 of the 4 runs above 0.5; stratified, so every resample keeps 2 + 2 runs and
    # task 2 (all 1.0) always contributes exactly half
    two = performance_profiles({"c": [np.array([0.0, 0.2]), np.array([1.0, 1.0])]}, [0.5], reps=200)
    assert (two["c"].fraction, two["c"].low, two["c"].high) == ([0.5], [0.5], [0.5])


# ------------------------------------------------------------------------------- thin adapters
def test_steps_to_threshold_censors_runs_that_never_get_there():
    steps, budget = np.array([0, 100, 200, 300]), 300
    assert steps_to_threshold(steps, [0.1, 0.5, 0.85, 0.9], budget) == (200.0, False)
    assert steps_to_threshold(steps, [0.1, 0.8, 0.7, 0.9], budget) == (100.0, False)  # >= 0.8, the first
    assert steps_to_threshold(steps, [0.9, 0.0, 0.0, 0.0], budget) == (0.0, False)  # good before learning
    assert steps_to_threshold(steps, [0.0, 0.5, 0.75, 0.7], budget) == (300.0, True)  # censored: budget
    assert steps_to_threshold([0, 100, 332], [0.0, 0.0, 1.0], 320) == (320.0, False)  # overshoot clipped


def test_normalised_auc_by_hand():
    assert normalised_auc([0, 100, 200], [0.0, 1.0, 1.0], 200) == pytest.approx(0.75)  # 50 + 100 of 200
    # the last evaluation overshoots the budget (a macro agent's final decision): clipped to 200
    assert normalised_auc([0, 100, 232], [0.0, 0.5, 1.0], 200) == pytest.approx((25 + 75) / 200)
    assert normalised_auc([0, 50, 100], [1.0, 1.0, 1.0], 100) == pytest.approx(1.0)
    assert normalised_auc([0, 50, 100], [0.0, 0.0, 0.0], 100) == 0.0


def test_curve_at_reads_the_evaluation_made_when_the_grid_point_was_crossed():
    steps = [0, 80, 96, 160, 330]  # a macro agent crosses 80 exactly, 160 at 160, and ends past 320
    values = [0.0, 0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(curve_at(steps, values, [0, 80, 160, 240, 320]), [0.0, 0.1, 0.3, 0.4, 0.4])
