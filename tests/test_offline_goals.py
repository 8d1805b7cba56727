"""Goal sampling of the offline agents (absaction.data.goals): the sources drawn at their probabilities,
geometric and uniform future goals at their exact distributions (chi-square on fixed seeds), OGBench's
reward and mask, and transitions laid out as ``ogbench.load_dataset`` lays them out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from absaction.data.goals import CURRENT, FUTURE, RANDOM, GoalMix, GoalSampler, Transitions, sample_goals
from absaction.data.ogbench import write_ogbench
from absaction.envs.ogbench_maze import require_ogbench
from absaction.errors import AbsactionError

CHI2_CRITICAL = {2: 13.82, 6: 22.46, 9: 27.88, 20: 45.31}
"""Chi-square critical values at p = 0.001 per degrees of freedom (a fixed seed passes or fails for good;
a correct sampler fails one in a thousand seeds)."""


def chi_square(counts: np.ndarray, probabilities: np.ndarray) -> float:
    expected = probabilities * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


def episodes(lengths: list[int], dim: int = 2) -> Transitions:
    """Rows in OGBench's file layout, episodes of ``lengths`` rows; row r's observation is (r, r, ...)."""
    rows = sum(lengths)
    obs = np.repeat(np.arange(rows, dtype=np.float32)[:, None], dim, axis=1)
    terminals = np.zeros(rows, dtype=bool)
    terminals[np.cumsum(lengths) - 1] = True
    return Transitions.from_rows(obs, np.ones((rows, 2), np.float32), terminals)


def test_transitions_drop_each_episode_last_row_as_ogbench_does(tmp_path: Path) -> None:
    ogbench = require_ogbench()
    lengths = [4, 3, 5]
    data = episodes(lengths)
    arrays = {
        "observations": np.repeat(np.arange(12, dtype=np.float32)[:, None], 2, axis=1),
        "actions": np.ones((12, 2), np.float32),
        "terminals": np.isin(np.arange(12), np.cumsum(lengths) - 1),
    }
    write_ogbench(tmp_path, "pointmaze-medium-stitch-v0", arrays, arrays, {})
    theirs = ogbench.load_dataset(str(tmp_path / "pointmaze-medium-stitch-v0.npz"))
    np.testing.assert_array_equal(data.observations, theirs["observations"])
    np.testing.assert_array_equal(data.next_observations, theirs["next_observations"])
    np.testing.assert_array_equal(data.terminals, theirs["terminals"].astype(bool))
    # 3 + 2 + 4 transitions; row 3 (an episode's last) is never a state
    assert data.observations[:, 0].tolist() == [0, 1, 2, 4, 5, 7, 8, 9, 10]
    assert data.final_index.tolist() == [2, 2, 2, 4, 4, 8, 8, 8, 8]


def test_goal_sources_follow_their_probabilities() -> None:
    data = episodes([200] * 50)
    mix = GoalMix(0.2, 0.5, 0.3, True)
    index = np.random.default_rng(1).integers(len(data), size=20_000)
    goals, source = sample_goals(data, index, mix, 0.99, np.random.default_rng(0))
    counts = np.bincount(source, minlength=3)
    assert chi_square(counts, np.array([0.2, 0.5, 0.3])) < CHI2_CRITICAL[2], counts
    # each source is what it says: the current state, later in the same trajectory, anywhere
    assert (goals[source == CURRENT] == index[source == CURRENT]).all()
    future = source == FUTURE
    final = data.final_index[index[future]]
    assert ((goals[future] > index[future]) | (index[future] == final)).all()
    assert (goals[future] <= final).all()
    random = goals[source == RANDOM]
    assert (
        chi_square(np.bincount(random * 10 // len(data), minlength=10), np.full(10, 0.1)) < CHI2_CRITICAL[9]
    )


def test_geometric_future_goals_are_geometric_with_the_discount() -> None:
    data = episodes([5000])  # far from the end: min(i + k, f) never cuts k
    index = np.zeros(30_000, dtype=np.int64)
    goals, _ = sample_goals(data, index, GoalMix(0.0, 1.0, 0.0, True), 0.9, np.random.default_rng(0))
    k = goals - index  # in {1, 2, ...}
    assert k.min() == 1
    bins = np.minimum(k, 21) - 1  # k = 1..20, and > 20 together
    p = 0.1 * 0.9 ** np.arange(20)
    probabilities = np.r_[p, 1.0 - p.sum()]
    assert chi_square(np.bincount(bins, minlength=21), probabilities) < CHI2_CRITICAL[20]


def test_uniform_future_goals_cover_the_rest_of_the_trajectory() -> None:
    data = episodes([12])  # 11 transitions, the last one is index 10
    index = np.full(40_000, 3)
    goals, _ = sample_goals(data, index, GoalMix(0.0, 1.0, 0.0, False), 0.99, np.random.default_rng(0))
    # j = round(f - (f - i - 1) u) with f = 10, i = 3: 6 units of u over 4..10, the ends half as likely
    values = np.arange(4, 11)
    probabilities = np.array([0.5, 1, 1, 1, 1, 1, 0.5]) / 6.0
    counts = np.array([(goals == v).sum() for v in values])
    assert counts.sum() == len(goals)
    assert chi_square(counts, probabilities) < CHI2_CRITICAL[6]
    assert chi_square(counts, np.full(7, 1 / 7)) > CHI2_CRITICAL[6]  # the test tells the ends apart
    # the last transition's only future goal is itself
    last, _ = sample_goals(
        data, np.array([10, 10]), GoalMix(0.0, 1.0, 0.0, False), 0.99, np.random.default_rng(1)
    )
    assert last.tolist() == [10, 10]


def test_rewards_and_masks_mark_the_goal_reached() -> None:
    data = episodes([6, 6])
    rng = np.random.default_rng(0)
    at_goal = GoalSampler(data, GoalMix(1.0, 0.0, 0.0, False), GoalMix(0.0, 1.0, 0.0, False), 0.99)
    batch = at_goal.sample(64, rng)
    np.testing.assert_array_equal(batch.value_goals, batch.observations)
    assert (batch.rewards == 0).all() and (batch.masks == 0).all()
    ahead = GoalSampler(data, GoalMix(0.0, 1.0, 0.0, True), GoalMix(0.0, 1.0, 0.0, False), 0.99)
    batch = ahead.sample(256, rng)
    reached = (batch.value_goals == batch.observations).all(axis=1)  # only a trajectory's last transition
    assert reached.any() and not reached.all()
    np.testing.assert_array_equal(batch.rewards, np.where(reached, 0.0, -1.0))
    np.testing.assert_array_equal(batch.masks, np.where(reached, 0.0, 1.0))
    np.testing.assert_array_equal(batch.next_observations, batch.observations + 1)  # same episode
    positive = GoalSampler(data, GoalMix(1.0, 0.0, 0.0, False), GoalMix(0.0, 1.0, 0.0, False), 0.99, False)
    assert (positive.sample(8, rng).rewards == 1).all()


def test_the_same_seed_draws_the_same_batch() -> None:
    data = episodes([30] * 4)
    sampler = GoalSampler(data, GoalMix(0.2, 0.5, 0.3, True), GoalMix(0.0, 0.5, 0.5, False), 0.99)
    first, second = sampler.sample(32, np.random.default_rng(7)), sampler.sample(32, np.random.default_rng(7))
    for name in ("observations", "value_goals", "actor_goals", "rewards"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


@pytest.mark.parametrize("probabilities", [(0.5, 0.5, 0.5), (-0.1, 0.6, 0.5), (0.0, 0.0, 0.0)])
def test_a_mix_that_is_no_distribution_is_refused(probabilities: tuple[float, float, float]) -> None:
    with pytest.raises(AbsactionError, match="not a distribution"):
        GoalMix(*probabilities, geometric=False)
