"""Goal-conditioned offline agents (GCBC, GCIVL, GCIQL, as OGBench defines them) trained on OGBench's
pointmaze datasets and evaluated as OGBench does: every task of the maze, 50 episodes each,
deterministic actions, batched across envs.

>>> from absaction.offline import OfflineConfig, train_offline
>>> config = OfflineConfig(dataset="pointmaze-medium-stitch-v0", agent="gcivl", preset="cpu")
>>> result = train_offline(config, "runs/gcivl-medium")                           # doctest: +SKIP
>>> result.final_success, sorted(p.name for p in result.run_dir.iterdir())     # doctest: +SKIP

Importing this package is light: the configurations need no torch; the agents, the trainer and the
evaluation are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from absaction.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "AGENTS": "absaction.offline.configs",
    "PRESETS": "absaction.offline.configs",
    "AgentConfig": "absaction.offline.configs",
    "GCBCConfig": "absaction.offline.configs",
    "GCIVLConfig": "absaction.offline.configs",
    "GCIQLConfig": "absaction.offline.configs",
    "OfflineConfig": "absaction.offline.configs",
    "agent_config": "absaction.offline.configs",
    "GCBC": "absaction.offline.gcbc",
    "GCIVL": "absaction.offline.gcivl",
    "GCIQL": "absaction.offline.gciql",
    "OfflineAgent": "absaction.offline.agent",
    "EvalResult": "absaction.offline.evaluation",
    "Evaluator": "absaction.offline.evaluation",
    "evaluate": "absaction.offline.evaluation",
    "build_agent": "absaction.offline.persistence",
    "load_agent": "absaction.offline.persistence",
    "OfflineResult": "absaction.offline.runs",
    "evaluate_agent": "absaction.offline.runs",
    "resume_offline": "absaction.offline.runs",
    "train_offline": "absaction.offline.runs",
}

__all__ = [
    "AGENTS",
    "GCBC",
    "GCIQL",
    "GCIVL",
    "PRESETS",
    "AgentConfig",
    "EvalResult",
    "Evaluator",
    "GCBCConfig",
    "GCIQLConfig",
    "GCIVLConfig",
    "OfflineAgent",
    "OfflineConfig",
    "OfflineResult",
    "agent_config",
    "build_agent",
    "evaluate",
    "evaluate_agent",
    "load_agent",
    "resume_offline",
    "train_offline",
]

if TYPE_CHECKING:  # pragma: no cover - static names for type checkers and IDEs
    from absaction.offline.agent import OfflineAgent
    from absaction.offline.configs import (
        AGENTS,
        PRESETS,
        AgentConfig,
        GCBCConfig,
        GCIQLConfig,
        GCIVLConfig,
        OfflineConfig,
        agent_config,
    )
    from absaction.offline.evaluation import EvalResult, Evaluator, evaluate
    from absaction.offline.gcbc import GCBC
    from absaction.offline.gciql import GCIQL
    from absaction.offline.gcivl import GCIVL
    from absaction.offline.persistence import build_agent, load_agent
    from absaction.offline.runs import OfflineResult, evaluate_agent, resume_offline, train_offline

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
