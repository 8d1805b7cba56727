"""Goal-conditioned batches from an OGBench dataset: hindsight goals drawn from the current state, a future
state of the same trajectory or a random dataset state, with OGBench's reward and mask.

This is OGBench's ``GCDataset`` (``impls/utils/datasets.py``) written once for every offline agent here.
The dataset is held as *transitions* ``(s, a, s')`` the way ``ogbench.load_dataset`` makes them: an
episode of ``T`` rows gives ``T - 1`` transitions, and ``terminals`` marks the last transition of each
trajectory. For a transition at index ``i`` whose trajectory's last transition is ``f``:

- **current**: the goal is ``s_i`` itself;
- **future**, geometric: ``s_min(i + k, f)`` with ``k ~ Geometric(1 - discount)`` in ``{1, 2, ...}``;
- **future**, uniform: ``s_j`` with ``j = round(min(i + 1, f) * u + f * (1 - u))``, ``u ~ U[0, 1)``;
- **random**: ``s_j`` for ``j`` uniform over all transitions.

Each batch draws one goal for the value function and one for the actor, each from its own
:class:`GoalMix`. A transition *succeeds* when its value goal is its own state (``j == i``); then the
reward is 0 and the mask 0 (no bootstrapping), else the reward is -1 and the mask 1 (``gc_negative``,
OGBench's default; without it the rewards are 1 and 0).

    >>> obs = np.arange(6, dtype=np.float32)[:, None]             # one episode of 6 rows: 5 transitions
    >>> data = Transitions.from_rows(obs, np.zeros((6, 1), np.float32), np.r_[[False] * 5, [True]])
    >>> data.observations[:, 0].tolist(), data.next_observations[:, 0].tolist()
    ([0.0, 1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> goals, source = sample_goals(data, np.array([0, 4]), GoalMix(1.0, 0.0, 0.0, False), 0.99,
    ...                              np.random.default_rng(0))
    >>> goals.tolist(), source.tolist()                            # the current state, for sure
    ([0, 4], [0, 0])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from absaction.errors import AbsactionError

CURRENT, FUTURE, RANDOM = 0, 1, 2
"""Where a goal came from, as :func:`sample_goals` reports it."""


@dataclass(frozen=True)
class GoalMix:
    """Where the goals of one network come from (OGBench's ``p_curgoal``, ``p_trajgoal``,
    ``p_randomgoal``, ``geom_sample``)."""

    p_current: float
    """probability that the goal is the current state"""
    p_future: float
    """probability that the goal is a future state of the same trajectory"""
    p_random: float
    """probability that the goal is a random state of the dataset"""
    geometric: bool
    """future goals ``k ~ Geometric(1 - discount)`` steps ahead (True) or uniform up to the end (False)"""

    def __post_init__(self) -> None:
        probabilities = (self.p_current, self.p_future, self.p_random)
        if not all(0.0 <= p <= 1.0 for p in probabilities) or not np.isclose(sum(probabilities), 1.0):
            shown = ", ".join(f"{p:g}" for p in probabilities)
            raise AbsactionError(
                f"goal probabilities (current, future, random) = ({shown}) are not a distribution",
                "give three numbers in [0, 1] that sum to 1",
            )


@dataclass(eq=False)
class Transitions:
    """An OGBench dataset as transitions (``ogbench.load_dataset(..., compact_dataset=False)``)."""

    observations: np.ndarray
    """``(N, D)`` float32, the state before each transition."""
    actions: np.ndarray
    """``(N, A)`` float32."""
    next_observations: np.ndarray
    """``(N, D)`` float32, the state after it."""
    terminals: np.ndarray
    """``(N,)`` bool, True on the last transition of each trajectory."""

    def __post_init__(self) -> None:
        ends = np.flatnonzero(self.terminals)
        if len(ends) == 0 or ends[-1] != len(self.terminals) - 1:
            raise AbsactionError(
                "the transitions do not end on a trajectory's last transition", "pass whole trajectories"
            )
        # (N,) index of the last transition of every transition's trajectory
        self.final_index = ends[np.searchsorted(ends, np.arange(len(self.terminals)))]

    @classmethod
    def from_rows(cls, observations: np.ndarray, actions: np.ndarray, terminals: np.ndarray) -> Transitions:
        """Transitions of rows in OGBench's file layout (``terminals`` True on each episode's last row,
        whose action leads nowhere and is dropped)."""
        keep = ~np.asarray(terminals, dtype=bool)  # rows that have a next row in the same episode
        after = np.r_[False, keep[:-1]]  # rows that follow such a row
        return cls(
            observations=np.ascontiguousarray(observations[keep], dtype=np.float32),
            actions=np.ascontiguousarray(actions[keep], dtype=np.float32),
            next_observations=np.ascontiguousarray(observations[after], dtype=np.float32),
            terminals=np.r_[np.asarray(terminals[1:], dtype=bool), True][keep],
        )

    def __len__(self) -> int:
        return len(self.terminals)


def sample_goals(
    data: Transitions, index: np.ndarray, mix: GoalMix, discount: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One goal per transition in ``index``: ``(goal indices (B,), sources (B,))``, each source one of
    :data:`CURRENT`, :data:`FUTURE`, :data:`RANDOM`. Always draws the same numbers from ``rng`` for a
    given batch size, whatever the mix."""
    size = len(index)
    random_goal = rng.integers(len(data), size=size)
    final = data.final_index[index]
    if mix.geometric:
        offsets = rng.geometric(p=1.0 - discount, size=size)  # in {1, 2, ...}
        future_goal = np.minimum(index + offsets, final)
    else:
        u = rng.random(size)  # in [0, 1): from the next state (u -> 1) to the last one (u = 0)
        future_goal = np.round(np.minimum(index + 1, final) * u + final * (1.0 - u)).astype(np.int64)
    pick_future = rng.random(size)
    pick_current = rng.random(size)
    if mix.p_current >= 1.0:
        return index.copy(), np.full(size, CURRENT)
    future = pick_future < mix.p_future / (1.0 - mix.p_current)
    current = pick_current < mix.p_current
    goal = np.where(current, index, np.where(future, future_goal, random_goal))
    source = np.where(current, CURRENT, np.where(future, FUTURE, RANDOM))
    return goal, source


@dataclass(eq=False)
class GoalBatch:
    """One batch of goal-conditioned transitions (all float32 numpy arrays)."""

    observations: np.ndarray
    """``(B, D)``"""
    actions: np.ndarray
    """``(B, A)``"""
    next_observations: np.ndarray
    """``(B, D)``"""
    value_goals: np.ndarray
    """``(B, D)`` goals of the value function (and the reward)"""
    actor_goals: np.ndarray
    """``(B, D)`` goals of the actor"""
    rewards: np.ndarray
    """``(B,)`` 0 where the value goal is the current state, else -1 (``gc_negative``; 1 and 0 without)"""
    masks: np.ndarray
    """``(B,)`` 0 where the value goal is the current state (the episode ends there), else 1"""


class GoalSampler:
    """Batches of :class:`GoalBatch` from ``data``, drawn with a caller's ``numpy.random.Generator``.

    Args:
        data: the dataset's transitions.
        value_goals: where the value function's goals come from.
        actor_goals: where the actor's goals come from.
        discount: the agents' discount, also the geometric future goals' ``1 - p``.
        gc_negative: rewards 0 / -1 (True, OGBench's default) or 1 / 0.
    """

    def __init__(
        self,
        data: Transitions,
        value_goals: GoalMix,
        actor_goals: GoalMix,
        discount: float,
        gc_negative: bool = True,
    ) -> None:
        if not 0.0 <= discount < 1.0:
            raise AbsactionError(f"discount must lie in [0, 1), got {discount}", "pass e.g. discount=0.99")
        self.data = data
        self.value_goals = value_goals
        self.actor_goals = actor_goals
        self.discount = discount
        self.gc_negative = gc_negative

    def sample(self, batch_size: int, rng: np.random.Generator) -> GoalBatch:
        data = self.data
        index = rng.integers(len(data), size=batch_size)
        value_goal, _ = sample_goals(data, index, self.value_goals, self.discount, rng)
        actor_goal, _ = sample_goals(data, index, self.actor_goals, self.discount, rng)
        success = (index == value_goal).astype(np.float32)
        return GoalBatch(
            observations=data.observations[index],
            actions=data.actions[index],
            next_observations=data.next_observations[index],
            value_goals=data.observations[value_goal],
            actor_goals=data.observations[actor_goal],
            rewards=success - 1.0 if self.gc_negative else success,
            masks=1.0 - success,
        )
