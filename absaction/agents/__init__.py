"""Stable-baselines3 agents on primitive or latent actions (installed as ``absaction.agents``).

One run = one :class:`AgentConfig` (env, algorithm, kind of action, budget in PRIMITIVE env steps,
seed) -> :func:`train_agent` -> an output folder with ``eval.csv``, ``learning_curve.png``,
``agent.zip`` and ``agent.json``. Hyperparameters come from ``hyperparams/<algo>.yml`` (rl_zoo3 style).

Example::

    >>> from absaction.agents import AgentConfig, train_agent
    >>> config = AgentConfig("absaction/Reach2D-v0", algo="ppo", actions="latent", model="runs/tcvlae",
    ...                      ladders=[3], steps=256, eval_episodes=2, seed=0)  # a real run: 50_000 steps
    >>> result = train_agent(config, "runs/ppo-latent", progress=False)
    >>> result.before_learning.primitive_steps, result.final.primitive_steps, result.final.mean_length
    (0, 256, 32.0)
    >>> 0.0 <= result.final.success_rate <= 1.0
    True
    >>> sorted(path.name for path in result.out_dir.iterdir())
    ['.absaction-output.json', 'agent.json', 'agent.zip', 'config.json', 'eval.csv',
     'learning_curve.png', 'sb3']

The modules, in the order a run uses them: :mod:`.config`, :mod:`.hyperparams`, :mod:`.environments`,
:mod:`.bc`, :mod:`.callbacks`, :mod:`.evaluation`, :mod:`.training`, :mod:`.persistence`, :mod:`.plots`.
"""

from __future__ import annotations

from .bc import BCResult, bc_pretrain, demonstration_pairs
from .callbacks import EVAL_COLUMNS, EvalRow, PrimitiveStepCallback, read_eval_csv
from .config import ACTION_KINDS, ALGOS, AgentConfig
from .environments import make_env, make_vec_env
from .evaluation import EvalResult, evaluate
from .hyperparams import HYPERPARAMS_DIR, load_hyperparams, parse_policy_kwargs
from .persistence import LoadedAgent, load_agent
from .plots import plot_learning_curve
from .training import TrainResult, resume_agent, train_agent

__all__ = [
    "ACTION_KINDS",
    "ALGOS",
    "EVAL_COLUMNS",
    "HYPERPARAMS_DIR",
    "AgentConfig",
    "BCResult",
    "EvalResult",
    "EvalRow",
    "LoadedAgent",
    "PrimitiveStepCallback",
    "TrainResult",
    "bc_pretrain",
    "demonstration_pairs",
    "evaluate",
    "load_agent",
    "load_hyperparams",
    "make_env",
    "make_vec_env",
    "parse_policy_kwargs",
    "plot_learning_curve",
    "read_eval_csv",
    "resume_agent",
    "train_agent",
]
