"""How long a run takes: a cost model of one RL run (training, evaluations, a BC warm start), so that a
sweep prints its estimate before it starts (and ``--dry-run`` prints only that).

The costs are milliseconds per primitive env step of the packaged agents (small MLPs, one torch thread),
by algorithm and by whether the agent decides every step (primitive, a residual skill agent) or once per
macro action (latent chunks, repeat, skills). An env slower than Reach2D adds its own cost per step
(``env_ms``). A study adds what it builds before its runs (data, action models) on top.

Example::

    >>> from absaction.agents import AgentConfig
    >>> config = AgentConfig("absaction/Reach2D-v0", steps=10_000, eval_episodes=20)
    >>> round(config_seconds(config, eval_points=20), 1)  # PPO: train 9 s, 21 evaluations of 20 episodes
    15.1
    >>> duration(5400.0)
    '1.5 h'
"""

from __future__ import annotations

import math

import gymnasium as gym

from absaction.agents.config import AgentConfig
from absaction.envs.ids import resolve_env_id
from absaction.errors import AbsactionError

# Measured with train_agent on one core of a 2-core machine (other jobs running): milliseconds of
# training per PRIMITIVE env step. Macro agents (latent, repeat) decide every ~32 steps, so their networks
# see ~32x fewer samples per env step.
TRAIN_MS_PER_STEP: dict[tuple[str, str], float] = {
    ("ppo", "primitive"): 0.9,
    ("ppo", "macro"): 0.12,
    ("sac", "primitive"): 6.6,
    ("sac", "macro"): 1.3,
    ("td3", "primitive"): 5.0,
    ("td3", "macro"): 0.15,
}
SKILL_DECODE_MS_PER_STEP = 0.08
"""A skill agent's closed-loop decoder, per primitive step (one small MLP call; the prior per decision)."""
SAC_MS_PER_UPDATE = 6.6
"""One SAC gradient step of the packaged agents (64x64 nets, batch 256): primitive SAC's cost per step."""
SKILL_SAC_GRADIENT_STEPS = 4
"""Gradient steps per decision of a skill SAC agent (``gradient_steps`` of ``sac.yml``'s ``skill:``)."""
EVAL_MS_PER_STEP: dict[str, float] = {"primitive": 0.4, "macro": 0.03}
"""Milliseconds per primitive env step of evaluation (a deterministic policy, one observation at a time)."""
RUN_SETUP_SECONDS = 0.5
"""Building the env, the agent and the output folder of one run."""
BC_SECONDS_PER_EPISODE = 0.0075
"""A behaviour-cloning warm start (20 epochs), per demonstration episode (3 s for 400)."""
BC_EPISODES = 400
"""Demonstration episodes a BC warm start is assumed to clone when the caller does not know."""
SKILL_HORIZON = 10
"""Primitive steps per skill a skill agent is assumed to take when the caller does not know."""
WORKER_START_SECONDS = 6.0
"""Starting a worker process (a fresh interpreter importing torch and SB3); the workers start together."""


def episode_horizon(env_id: str) -> int:
    """The env's time limit in primitive steps (200 when it has none or is unknown)."""
    try:
        return int(gym.spec(resolve_env_id(env_id)).max_episode_steps or 200)
    except (gym.error.Error, AbsactionError):
        return 200


def train_ms_per_step(
    algo: str,
    actions: str,
    *,
    residual: bool = False,
    train_freq: int = 1,
    skill_horizon: int = SKILL_HORIZON,
) -> float:
    """Milliseconds of training per primitive env step (one core), without the env beyond Reach2D's.

    Skill agents decide every ``skill_horizon`` steps: the algorithm's per-decision cost divided by it (a
    residual agent decides every step), plus the decoder at every step. Primitive SAC is dominated by its
    gradient steps (one per ``train_freq`` env steps)."""
    if actions == "skill":
        per_decision = TRAIN_MS_PER_STEP[(algo, "primitive")]
        if algo == "sac":
            per_decision = SAC_MS_PER_UPDATE * SKILL_SAC_GRADIENT_STEPS
        steps = 1 if residual else skill_horizon
        return per_decision / steps + SKILL_DECODE_MS_PER_STEP
    kind = "primitive" if actions == "primitive" else "macro"
    if train_freq > 1:  # fewer gradient steps; acting (~0.5 ms) still happens at every step
        return (TRAIN_MS_PER_STEP[(algo, kind)] - 0.5) / train_freq + 0.5
    return TRAIN_MS_PER_STEP[(algo, kind)]


def run_seconds(
    algo: str,
    actions: str,
    env_id: str,
    steps: int,
    eval_points: int,
    eval_episodes: int,
    *,
    residual: bool = False,
    train_freq: int = 1,
    skill_horizon: int = SKILL_HORIZON,
    env_ms: float = 0.0,
    bc_episodes: int = 0,
) -> float:
    """Predicted seconds (one core) of one run: set-up + training + all evaluations (+ BC).

    Args:
        algo, actions: the agent's algorithm and action kind (``AgentConfig.algo``, ``.actions``).
        env_id: the task (its time limit sets the length of an evaluation episode).
        steps: the budget in primitive env steps.
        eval_points, eval_episodes: evaluations after the one before learning, episodes each.
        residual, train_freq, skill_horizon: a residual skill agent, SAC's ``train_freq``, H of a skill.
        env_ms: milliseconds per step the env costs beyond a Reach2D step (a MuJoCo env: ~0.2).
        bc_episodes: demonstration episodes of a BC warm start (0: none).
    """
    kind = "primitive" if actions == "primitive" or residual else "macro"
    horizon = episode_horizon(env_id)
    eval_ms = EVAL_MS_PER_STEP[kind] + env_ms + (SKILL_DECODE_MS_PER_STEP if actions == "skill" else 0)
    eval_seconds = (eval_points + 1) * eval_episodes * horizon * eval_ms / 1000
    train = train_ms_per_step(
        algo, actions, residual=residual, train_freq=train_freq, skill_horizon=skill_horizon
    )
    train_seconds = steps * (train + env_ms) / 1000
    random_seconds = eval_episodes * horizon * eval_ms / 1000  # the random-action evaluation
    bc_seconds = bc_episodes * BC_SECONDS_PER_EPISODE
    return RUN_SETUP_SECONDS + train_seconds + eval_seconds + random_seconds + bc_seconds


def config_seconds(config: AgentConfig, eval_points: int) -> float:
    """:func:`run_seconds` of one run's :class:`~absaction.agents.AgentConfig` (its ``steps`` and
    ``eval_episodes`` set), with ``eval_points`` evaluations after the first."""
    return run_seconds(
        config.algo,
        config.actions,
        config.env_id,
        int(config.steps or 0),
        eval_points,
        int(config.eval_episodes or 10),
        residual=config.residual,
        train_freq=int(config.hyperparams.get("train_freq", 1)),
        bc_episodes=BC_EPISODES if config.bc_dataset is not None else 0,
    )


def spread_seconds(costs: list[float], workers: int) -> float:
    """Wall-clock seconds of runs costing ``costs`` (one core each) on ``workers`` processes: the total
    shared out, at least the longest run, plus starting the workers."""
    runs = max(sum(costs) / workers, max(costs, default=0.0))
    return runs + (WORKER_START_SECONDS if workers > 1 else 0.0)


def duration(seconds: float) -> str:
    """Seconds as a short human duration: ``45 s``, ``30 min``, ``2.5 h``."""
    if seconds < 90:
        return f"{math.ceil(seconds)} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
