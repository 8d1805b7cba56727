"""Evaluate a policy the same way for every kind of agent: primitive return, success, primitive length."""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError

from .environments import find_macro_wrapper

if TYPE_CHECKING:  # annotations only: importing this module stays light
    from stable_baselines3.common.base_class import BaseAlgorithm

    from absaction.wrappers import MacroActionWrapper

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


def sb3_policy(
    agent: BaseAlgorithm, obs_transform: Callable[[np.ndarray], np.ndarray] | None = None
) -> Policy:
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


def candidate_actions(space: gym.Space[Any], n: int, seed: int = 0) -> np.ndarray:
    """At most ``n`` actions ``(M, d)`` spread over a bounded Box: a full grid of ``floor(n ** (1/d))``
    evenly spaced values per dimension (corners included) when that is at least 3 values, else ``n``
    uniform draws (seeded). The grid makes small searches exhaustive and reproducible; random draws keep
    the count bounded for many dimensions."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise AbsactionError(f"candidate actions need a 1-D Box action space, got {space}", "use a Box")
    if n < 1:
        raise AbsactionError(f"the number of candidates must be >= 1, got {n}", "pass e.g. 256")
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise AbsactionError(f"candidate actions need finite bounds, got {space}", "rescale the action space")
    dims = space.shape[0]
    per_dim = int(np.floor(n ** (1.0 / dims) + 1e-9))  # at most n grid points
    if per_dim >= 3:
        axes = [np.linspace(lo, hi, per_dim) for lo, hi in zip(low, high, strict=True)]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, dims)  # (per_dim**d, d)
        return grid.astype(space.dtype)
    rng = np.random.default_rng([int(seed), 0xCA7D])
    return rng.uniform(low, high, size=(n, dims)).astype(space.dtype)


def lookahead_policy(env: gym.Env[Any, Any], candidates: np.ndarray) -> Policy:
    """A greedy one-decision planner for a macro-action env: at every decision it simulates each
    candidate action's chunk on a copy of the inner env and returns the best: a chunk that ends on
    ``info["is_success"]`` first, then the largest macro reward, then the first candidate. Success comes
    first because a reward can prefer other paths (Reach2D's dense reward pays for being close early,
    not for ending on the goal). It ignores the observation and needs the env to be deep-copyable.

    Not an agent (it reads the simulator): it measures what a macro action space *can* express. Where it
    succeeds and a learning agent does not, the bottleneck is learning, not the decoder. Where it fails
    on a task that takes one decision per episode, no candidate solves it; with several decisions, a
    plan that looks further ahead than one chunk might still.
    """

    macro = find_macro_wrapper(env)
    if macro is None:
        raise AbsactionError(
            "the lookahead planner needs a macro-action env (LatentActionWrapper or ActionRepeatWrapper)",
            "wrap the env first",
        )
    options = np.asarray(candidates, dtype=np.float32)
    shape = tuple(env.action_space.shape or ())
    if options.ndim != 2 or options.shape[1:] != shape:
        raise AbsactionError(
            f"candidates must be (M, {', '.join(map(str, shape))}) actions, got {options.shape}",
            "build them with candidate_actions(env.action_space, n)",
        )
    chunks = [macro.preview_chunk(option) for option in options]  # (k, A) each; fixed per candidate

    def act(obs: np.ndarray) -> np.ndarray:
        scores = [_simulate(macro, chunk) for chunk in chunks]
        best = max(range(len(scores)), key=lambda i: scores[i])  # max keeps the first of equal scores
        return options[best]

    return act


def _simulate(macro: MacroActionWrapper, chunk: np.ndarray) -> tuple[bool, float]:
    """(ended on success, macro reward) of ``chunk`` (k, A) run on a deep copy of ``macro``'s inner env
    (the real one is untouched)."""
    sim = copy.deepcopy(macro.env)
    rewards: list[float] = []
    info: dict[str, Any] = {}
    for primitive_action in chunk:
        _, reward, terminated, truncated, info = sim.step(primitive_action)
        rewards.append(float(reward))
        if terminated or truncated:
            break
    return bool(info.get("is_success", False)), float(macro.chunk_return(np.asarray(rewards)))


def evaluate_lookahead(
    env: gym.Env[Any, Any], n_episodes: int, seed: int, n_candidates: int = 256
) -> EvalResult:
    """:func:`evaluate` of :func:`lookahead_policy` over :func:`candidate_actions` on the evaluation
    episodes of a run with ``seed``: the success a macro action space allows one decision at a time."""
    policy = lookahead_policy(env, candidate_actions(env.action_space, n_candidates, seed))
    return evaluate(policy, env, n_episodes, seed + EVAL_SEED_OFFSET)
