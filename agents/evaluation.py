"""Evaluate a policy the same way for every kind of agent: primitive return, success, primitive length."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episode ``i`` of a run with seed ``s`` is reset with seed ``s + EVAL_SEED_OFFSET + i``: the
same episodes (goals, starts) at every evaluation point, and none shared with training seeds."""


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Statistics over ``len(returns)`` evaluation episodes."""

    success_rate: float
    """fraction of episodes whose last step had ``info["is_success"]``; NaN if the env never reports it"""
    mean_return: float
    """mean undiscounted sum of PRIMITIVE rewards per episode"""
    mean_length: float
    """mean primitive steps per episode"""
    mean_decisions: float
    """mean agent decisions per episode (= mean_length for primitive agents)"""
    returns: tuple[float, ...]
    successes: tuple[bool | None, ...]


Policy = Callable[[np.ndarray], np.ndarray]
"""observation -> action (deterministic or not, as the caller chooses)"""


def evaluate(policy: Policy, env: gym.Env[Any, Any], n_episodes: int, seed: int) -> EvalResult:
    """Run ``n_episodes`` episodes of ``policy`` in ``env`` (reset with seeds ``seed + i``).

    Returns and lengths are summed over primitive steps (``info["primitive_rewards"]`` /
    ``info["primitive_steps"]`` of a macro wrapper, else the step's reward and 1), so a latent agent's
    discounted macro reward never leaks into the comparison.
    """
    returns: list[float] = []
    lengths: list[int] = []
    decisions: list[int] = []
    successes: list[bool | None] = []
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        total, length, count, done = 0.0, 0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            rewards = info.get("primitive_rewards")
            total += float(np.sum(rewards)) if rewards is not None else float(reward)
            length += int(info.get("primitive_steps", 1))
            count += 1
            done = bool(terminated or truncated)
        returns.append(total)
        lengths.append(length)
        decisions.append(count)
        successes.append(bool(info["is_success"]) if "is_success" in info else None)
    known = [s for s in successes if s is not None]
    return EvalResult(
        success_rate=float(np.mean(known)) if known else math.nan,
        mean_return=float(np.mean(returns)),
        mean_length=float(np.mean(lengths)),
        mean_decisions=float(np.mean(decisions)),
        returns=tuple(returns),
        successes=tuple(successes),
    )


def sb3_policy(agent: Any, obs_transform: Callable[[np.ndarray], np.ndarray] | None = None) -> Policy:
    """A deterministic :data:`Policy` from an SB3 algorithm (observations normalised if needed)."""

    def act(obs: np.ndarray) -> np.ndarray:
        if obs_transform is not None:
            obs = obs_transform(obs)
        action, _ = agent.predict(obs, deterministic=True)
        return np.asarray(action)

    return act


def evaluate_random_actions(env: gym.Env[Any, Any], n_episodes: int, seed: int) -> EvalResult:
    """:func:`evaluate` of :func:`random_policy` on the evaluation episodes of a run with ``seed`` (the
    same episodes as its policy evaluations): the success of the action interface before any learning."""
    return evaluate(random_policy(env.action_space, seed), env, n_episodes, seed + EVAL_SEED_OFFSET)


def random_policy(space: gym.Space[Any], seed: int) -> Policy:
    """Uniformly random actions in ``space`` (its own seeded generator): the agent's interface with no
    learning at all. For a latent agent that is a random z, which often succeeds already because the
    decoder carries the demonstrations' prior; for a primitive agent, random primitive actions."""
    if not isinstance(space, gym.spaces.Box):
        raise TypeError(f"random_policy needs a Box action space, got {space}")
    rng = np.random.default_rng([int(seed), 0x5EED])
    low, high = space.low, space.high

    def act(obs: np.ndarray) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)

    return act
