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

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

# Names are resolved on first access (PEP 562), as in absaction.analysis: a sub-module that needs no
# torch (the configuration, read by the CLI's parser) can be imported without importing torch.
_LAZY: dict[str, str] = {
    "BCResult": "absaction.agents.bc",
    "bc_pretrain": "absaction.agents.bc",
    "demonstration_pairs": "absaction.agents.bc",
    "EVAL_COLUMNS": "absaction.agents.callbacks",
    "EvalRow": "absaction.agents.callbacks",
    "PrimitiveStepCallback": "absaction.agents.callbacks",
    "read_eval_csv": "absaction.agents.callbacks",
    "ACTION_KINDS": "absaction.agents.config",
    "ALGOS": "absaction.agents.config",
    "AgentConfig": "absaction.agents.config",
    "make_env": "absaction.agents.environments",
    "make_vec_env": "absaction.agents.environments",
    "EvalResult": "absaction.agents.evaluation",
    "evaluate": "absaction.agents.evaluation",
    "HYPERPARAMS_DIR": "absaction.agents.hyperparams",
    "load_hyperparams": "absaction.agents.hyperparams",
    "parse_policy_kwargs": "absaction.agents.hyperparams",
    "LoadedAgent": "absaction.agents.persistence",
    "load_agent": "absaction.agents.persistence",
    "plot_learning_curve": "absaction.agents.plots",
    "TrainResult": "absaction.agents.training",
    "resume_agent": "absaction.agents.training",
    "train_agent": "absaction.agents.training",
}

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

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.agents.bc import BCResult, bc_pretrain, demonstration_pairs
    from absaction.agents.callbacks import EVAL_COLUMNS, EvalRow, PrimitiveStepCallback, read_eval_csv
    from absaction.agents.config import ACTION_KINDS, ALGOS, AgentConfig
    from absaction.agents.environments import make_env, make_vec_env
    from absaction.agents.evaluation import EvalResult, evaluate
    from absaction.agents.hyperparams import HYPERPARAMS_DIR, load_hyperparams, parse_policy_kwargs
    from absaction.agents.persistence import LoadedAgent, load_agent
    from absaction.agents.plots import plot_learning_curve
    from absaction.agents.training import TrainResult, train_agent


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
