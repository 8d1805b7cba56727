"""What a skill model's prior does with no learning at all: the success of prior rollouts (a skill
``z ~ p(z | s)`` drawn every H steps, each executed closed loop) on a run's evaluation episodes.

Every skill run records it next to the success of random agent actions (``agent.json``:
``prior_rollouts``), so that a table can say how much of a skill agent's success its prior already
carries, and how much the learning adds. On an env that reports no ``info["is_success"]`` (Pendulum,
MuJoCo locomotion) the success rate is NaN, as in every other evaluation, and the return tells instead.
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from absaction.analysis.skills import prior_rollouts

from .config import AgentConfig
from .environments import make_task_env
from .evaluation import EVAL_SEED_OFFSET, EvalResult


def evaluate_prior_rollouts(config: AgentConfig, model: Any) -> EvalResult | None:
    """Prior rollouts of the skill ``model`` on the evaluation episodes of ``config`` (the task env and
    its reset seeds, ``config.eval_episodes`` of them); None when ``config`` does not act in skills.

    The draws are seeded by the run's seed, so a run and its resumed twin record the same numbers.
    """
    if config.actions != "skill":
        return None
    seed = config.seed + EVAL_SEED_OFFSET  # the evaluation episodes' reset seeds (evaluate())
    env = make_task_env(config)
    reports = SuccessReports(env)
    try:
        result = prior_rollouts(model, episodes=int(config.eval_episodes or 1), seed=seed, env=reports)
    finally:
        env.close()
    lengths = np.asarray(result["lengths"], dtype=np.float64)
    horizon = int(model.horizon)
    # the rollouts count an episode without info["is_success"] as a failure; evaluate() calls it unknown
    successes = tuple(
        bool(s) if reported else None
        for s, reported in zip(result["successes"], reports.reported, strict=True)
    )
    known = [s for s in successes if s is not None]
    return EvalResult(
        success_rate=float(np.mean(known)) if known else math.nan,
        mean_return=float(np.mean(result["returns"])),
        mean_length=float(lengths.mean()),
        mean_decisions=float(np.mean([math.ceil(n / horizon) for n in lengths])),
        returns=tuple(float(r) for r in result["returns"]),
        successes=successes,
    )


class SuccessReports(gym.Wrapper[Any, Any, Any, Any]):
    """Records, per finished episode, whether its last step's ``info`` held ``is_success``.

    >>> env = SuccessReports(gym.make("Pendulum-v1", max_episode_steps=2))
    >>> _ = env.reset(seed=0)
    >>> for _ in range(2):
    ...     _ = env.step(env.action_space.sample())
    >>> env.reported
    [False]
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.reported: list[bool] = []

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            self.reported.append("is_success" in info)
        return obs, reward, terminated, truncated, info


__all__ = ["SuccessReports", "evaluate_prior_rollouts"]
