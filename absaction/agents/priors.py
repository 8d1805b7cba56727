"""What a skill model's prior does with no learning at all: the success of prior rollouts (a skill
``z ~ p(z | s)`` drawn every H steps, each executed closed loop) on a run's evaluation episodes.

Every skill run records it next to the success of random agent actions (``agent.json``:
``prior_rollouts``), so that a table can say how much of a skill agent's success its prior already
carries, and how much the learning adds.
"""

from __future__ import annotations

import math
from typing import Any

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
    try:
        result = prior_rollouts(model, episodes=int(config.eval_episodes or 1), seed=seed, env=env)
    finally:
        env.close()
    lengths = np.asarray(result["lengths"], dtype=np.float64)
    horizon = int(model.horizon)
    return EvalResult(
        success_rate=float(result["success_rate"]),
        mean_return=float(np.mean(result["returns"])),
        mean_length=float(lengths.mean()),
        mean_decisions=float(np.mean([math.ceil(n / horizon) for n in lengths])),
        returns=tuple(float(r) for r in result["returns"]),
        successes=tuple(bool(s) for s in result["successes"]),
    )


__all__ = ["evaluate_prior_rollouts"]
