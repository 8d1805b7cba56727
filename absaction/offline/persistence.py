"""Agent folders: ``model.safetensors`` (every network's weights) + ``config.json`` (everything to rebuild
the agent, and the run that trained it). Loading never unpickles.

``config.json`` keys written here: ``format`` ("absaction-offline-agent"), ``format_version`` (1),
``agent`` (gcbc | gcivl | gciql), ``agent_config`` (its dataclass), ``obs_dim``, ``action_dim``, ``env_id``
(the OGBench env it was trained for); a training run adds the engine's entries (``train``: the run's
settings, ``data``, ``absaction_version``, ``steps_completed``, ``train_seconds``, ``complete``) and
``final_success``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from absaction.envs.ogbench_maze import point_maze_name
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, atomic_write_json, read_versioned_json
from absaction.models.io import describe_error, safetensors_bytes
from absaction.offline.agent import OfflineAgent
from absaction.offline.configs import AgentConfig, check_agent
from absaction.offline.gcbc import GCBC
from absaction.offline.gciql import GCIQL
from absaction.offline.gcivl import GCIVL

FORMAT = "absaction-offline-agent"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

AGENT_CLASSES: dict[str, type[OfflineAgent]] = {"gcbc": GCBC, "gcivl": GCIVL, "gciql": GCIQL}
"""Each agent's class, by name."""


def build_agent(config: AgentConfig, obs_dim: int, action_dim: int, seed: int) -> OfflineAgent:
    """A fresh agent of ``config``'s kind, its initial weights drawn from ``seed``."""
    check_agent(config.name)
    generator = torch.Generator().manual_seed(seed)
    return AGENT_CLASSES[config.name](config, obs_dim, action_dim, generator)


def agent_record(agent: OfflineAgent, env_id: str) -> dict[str, Any]:
    """The ``config.json`` entries that describe ``agent`` itself."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "agent": agent.name,
        "agent_config": agent.config.to_dict(),
        "obs_dim": agent.obs_dim,
        "action_dim": agent.action_dim,
        "env_id": env_id,
    }


def weights_bytes(agent: OfflineAgent) -> bytes:
    """The agent's state dict as safetensors bytes (the same weights always give the same bytes)."""
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in agent.state_dict().items()}
    return safetensors_bytes(tensors, {"format": FORMAT, "agent": agent.name})


def save_agent(
    agent: OfflineAgent, folder: str | os.PathLike[str], env_id: str, extra: dict[str, Any]
) -> None:
    """Write ``model.safetensors`` then ``config.json`` into ``folder`` (each atomically; the config always
    describes weights that are complete on disk)."""
    folder = Path(folder)
    record = agent_record(agent, env_id)
    atomic_write_bytes(folder / WEIGHTS_FILE, weights_bytes(agent))
    atomic_write_json(folder / CONFIG_FILE, {**extra, **record})


def read_agent_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of an agent folder, with one line for every way it can be wrong."""
    folder = Path(folder)
    fix = "pass a folder that absaction offline wrote"
    if not folder.is_dir():
        raise AbsactionError(f"agent folder {folder} does not exist or is not a folder", fix)
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise AbsactionError(f"{folder} has no {CONFIG_FILE}, so it is not an offline agent", fix)
    config = read_versioned_json(
        path, FORMAT, FORMAT_VERSION, "an absaction offline agent", "retrain the agent"
    )
    check_agent(str(config.get("agent")))
    return config


def load_agent(
    folder: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[OfflineAgent, str]:
    """``(agent in eval mode, the env id it was trained for)`` from an agent folder."""
    folder = Path(folder)
    config = read_agent_config(folder)
    cls = check_agent(config["agent"])
    agent_config = cls.from_dict(config["agent_config"])
    agent = build_agent(agent_config, int(config["obs_dim"]), int(config["action_dim"]), seed=0)
    try:
        agent.load_state_dict(safetensors.torch.load((folder / WEIGHTS_FILE).read_bytes()))
    except Exception as err:  # missing, truncated, or another agent's weights: safetensors' own error types
        raise AbsactionError(
            f"cannot read the weights in {folder / WEIGHTS_FILE} ({describe_error(err)})", "retrain the agent"
        ) from None
    return agent.to(device).eval(), str(config["env_id"])


def check_same_maze(agent_env_id: str, env_id: str) -> None:
    """Refuse to run an agent trained for one maze on another (observations of the same size, another
    world)."""
    trained, asked = point_maze_name(agent_env_id), point_maze_name(env_id)
    if trained != asked:
        raise AbsactionError(
            f"the agent was trained on the {trained} maze ({agent_env_id}); {env_id} is the {asked} maze",
            f"evaluate it on {agent_env_id}, or train an agent on a dataset of the {asked} maze",
        )
