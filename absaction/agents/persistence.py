"""A trained agent on disk: ``agent.zip`` (SB3) + ``agent.json`` (everything needed to rerun it).

``agent.json`` keys: ``format`` ("absaction-agent"), ``format_version`` (1), ``absaction_version``,
``config`` (the resolved :class:`AgentConfig`), ``hyperparams`` (as resolved from the YAML),
``agent_gamma`` (the discount per decision), ``steps_per_decision``, ``wrapper`` (the macro wrapper's
settings, ``{"wrapper": "none"}`` for primitive agents), ``model`` (absolute run folder + sha256 of its
``model.safetensors``, or null), ``normalization`` (``action_model``: the model's action normaliser;
``vec_normalize``: observation/return statistics, or null), ``observation_space`` / ``action_space``
(shape, bounds), ``primitive_steps``, ``decisions``, ``final`` (the last evaluation), ``bc`` (the
warm start, or null).

The wrapper settings are also stored inside ``agent.zip`` (attribute ``absaction_wrapper``) so that a
zip paired with the wrong ``agent.json``, or an env built with other settings, is caught on loading.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecNormalize

from absaction.errors import AbsactionError
from absaction.files import json_safe, read_versioned_json
from absaction.outputs import path_from_record, path_in_record
from absaction.wrappers.residual import find_residual

from .config import AgentConfig
from .environments import find_macro_wrapper, load_model_for, make_env, wrapper_settings
from .evaluation import EVAL_SEED_OFFSET, EvalResult, evaluate, sb3_policy
from .hyperparams import agent_class

if TYPE_CHECKING:  # annotations only
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

FORMAT = "absaction-agent"
FORMAT_VERSION = 1
AGENT_ZIP = "agent.zip"
AGENT_JSON = "agent.json"
ZIP_SETTINGS_ATTRIBUTE = "absaction_wrapper"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_fingerprint(run_dir: Path | None) -> dict[str, Any] | None:
    """``{"run_dir": absolute path, "sha256": of model.safetensors}`` or None."""
    if run_dir is None:
        return None
    weights = run_dir / "model.safetensors"
    return {"run_dir": str(run_dir), "sha256": file_sha256(weights) if weights.is_file() else None}


def space_record(space: gym.Space[Any]) -> dict[str, Any]:
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "low": space.low.tolist(),
            "high": space.high.tolist(),
        }
    return {"type": type(space).__name__, "repr": repr(space)}


def vec_normalize_stats(venv: VecEnv) -> dict[str, Any] | None:
    """Observation and return statistics of a VecNormalize (JSON-able), or None."""

    if not isinstance(venv, VecNormalize):
        return None
    stats: dict[str, Any] = {
        "norm_obs": venv.norm_obs,
        "norm_reward": venv.norm_reward,
        "clip_obs": venv.clip_obs,
        "clip_reward": venv.clip_reward,
        "epsilon": venv.epsilon,
        "gamma": venv.gamma,
    }
    for name in ("obs_rms", "ret_rms"):
        rms = getattr(venv, name)
        stats[name] = {
            "mean": np.asarray(rms.mean).tolist(),
            "var": np.asarray(rms.var).tolist(),
            "count": rms.count,
        }
    return stats


def obs_normalizer(stats: dict[str, Any] | None) -> Callable[[np.ndarray], np.ndarray] | None:
    """The observation transform a VecNormalize with ``stats`` applies at test time, or None."""
    if not stats or not stats.get("norm_obs"):
        return None
    mean = np.asarray(stats["obs_rms"]["mean"], dtype=np.float64)
    std = np.sqrt(np.asarray(stats["obs_rms"]["var"], dtype=np.float64) + float(stats["epsilon"]))
    clip = float(stats["clip_obs"])

    def transform(obs: np.ndarray) -> np.ndarray:
        return np.clip((obs - mean) / std, -clip, clip).astype(np.float32)

    return transform


def read_agent_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / AGENT_JSON
    if not run_dir.is_dir():
        raise AbsactionError(
            f"agent folder {run_dir} does not exist", "pass the --out folder of `absaction rl`"
        )
    if not path.is_file():
        raise AbsactionError(f"{run_dir} has no {AGENT_JSON}", "pass the --out folder of `absaction rl`")
    record = read_versioned_json(
        path, FORMAT, FORMAT_VERSION, "an absaction agent record", "retrain the agent"
    )
    return record_with_absolute_paths(record, run_dir)  # stored relative to the run folder


def zip_wrapper_settings(path: Path) -> dict[str, Any] | None:
    """The wrapper settings stored in an SB3 ``agent.zip`` (read as JSON: nothing is unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data").decode("utf-8"))
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise AbsactionError(f"{path} is not a readable SB3 agent ({err})", "retrain the agent") from None
    settings = data.get(ZIP_SETTINGS_ATTRIBUTE)
    return settings if isinstance(settings, dict) else None


def _comparable(settings: dict[str, Any]) -> dict[str, Any]:
    # the model folder is checked separately (by hash); an env built from a model object has no folder
    return {k: v for k, v in settings.items() if k != "model"}


def _describe_difference(found: dict[str, Any], expected: dict[str, Any]) -> str:
    keys = sorted(set(found) | set(expected))
    diffs = [
        f"{k}={found.get(k)!r} (agent.json: {expected.get(k)!r})"
        for k in keys
        if found.get(k) != expected.get(k)
    ]
    return ", ".join(diffs[:4])


@dataclasses.dataclass
class LoadedAgent:
    """A trained agent and the env it was trained for (rebuilt from ``agent.json``)."""

    agent: BaseAlgorithm
    """the SB3 algorithm"""
    env: gym.Env[Any, Any]
    """the single (unvectorised) env with the agent's wrappers"""
    record: dict[str, Any]
    """the parsed ``agent.json``"""
    obs_transform: Callable[[np.ndarray], np.ndarray] | None = None
    """observation normalisation of training (VecNormalize statistics), or None"""

    @property
    def config(self) -> AgentConfig:
        return AgentConfig.from_dict(self.record["config"])

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        if self.obs_transform is not None:
            obs = self.obs_transform(obs)
        action, _ = self.agent.predict(obs, deterministic=deterministic)
        return np.asarray(action)

    def evaluate(self, n_episodes: int = 10, seed: int | None = None) -> EvalResult:
        """Evaluate like training did (default: the same episode seeds as its evaluations)."""
        if seed is None:
            seed = int(self.record["config"]["seed"]) + EVAL_SEED_OFFSET
        return evaluate(sb3_policy(self.agent, self.obs_transform), self.env, n_episodes, seed)


def load_agent(run_dir: str | Path, env: gym.Env[Any, Any] | None = None, device: str = "cpu") -> LoadedAgent:
    """Load ``agent.zip`` + ``agent.json`` from an ``absaction rl`` output folder.

    Checks, each a one-line :class:`AbsactionError`: the action model's ``model.safetensors`` is the one
    the agent was trained with (sha256); the zip's stored wrapper settings equal ``agent.json``'s; and,
    when ``env`` is given, its macro wrapper (or its absence) has the same settings and spaces.
    """
    run_dir = Path(run_dir)
    record = read_agent_json(run_dir)
    config = AgentConfig.from_dict(record["config"])
    expected = record["wrapper"]
    zip_path = run_dir / AGENT_ZIP
    if not zip_path.is_file():
        raise AbsactionError(f"{zip_path} is missing", "retrain the agent")
    stored = zip_wrapper_settings(zip_path)
    if stored is None or _comparable(stored) != _comparable(expected):
        detail = "no wrapper settings" if stored is None else _describe_difference(stored, expected)
        raise AbsactionError(
            f"{zip_path} was saved with other wrapper settings than {AGENT_JSON} says ({detail})",
            "keep agent.zip and agent.json of the same run together, or retrain",
        )
    fingerprint = record.get("model")
    if fingerprint is not None:
        weights = Path(fingerprint["run_dir"]) / "model.safetensors"
        if not weights.is_file():
            raise AbsactionError(
                f"the agent's action model {weights} is missing",
                "restore the model folder or retrain the agent",
            )
        if file_sha256(weights) != fingerprint["sha256"]:
            raise AbsactionError(
                f"{weights} changed since the agent was trained (sha256 differs)",
                "restore the model the agent was trained with, or retrain the agent",
            )
    if env is None:
        env = make_env(config, model=load_model_for(config), hyperparams=record["hyperparams"])
    else:
        found = wrapper_settings(env)
        if _comparable(found) != _comparable(expected):
            difference = _describe_difference(found, expected)
            raise AbsactionError(
                f"the env's wrapper settings differ from the agent's: {difference}",
                "build the env with absaction.agents.make_env(loaded.config) or omit env",
            )
        env_model = getattr(find_macro_wrapper(env), "model_run_dir", None)
        if (
            expected.get("model")
            and env_model is not None
            and Path(env_model).resolve() != Path(expected["model"]).resolve()
        ):
            raise AbsactionError(
                f"the env decodes with {env_model}; the agent was trained with {expected['model']}",
                "wrap the env with the agent's model",
            )
    # compared as agent.json stores them (json_safe: an infinite bound, e.g. PointMaze's, is null there)
    if (
        json_safe(space_record(env.action_space)) != record["action_space"]
        or json_safe(space_record(env.observation_space)) != record["observation_space"]
    ):
        raise AbsactionError(
            f"the env's spaces ({env.observation_space}, {env.action_space}) differ from the agent's",
            f"use the env the agent was trained on ({config.env_id})",
        )
    agent = agent_class(config).load(zip_path, device=device)
    residual = find_residual(env)
    if residual is not None:  # act with the residual weight the agent ended training with
        residual.clock.steps = int(record.get("primitive_steps", 0))
    norm = (record.get("normalization") or {}).get("vec_normalize")
    return LoadedAgent(agent=agent, env=env, record=record, obs_transform=obs_normalizer(norm))


def record_with_relative_paths(record: dict[str, Any], folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``agent.json``'s content as kept in the run folder ``folder``: the action model's folder (config,
    fingerprint, wrapper settings) and the other paths of the config relative to ``folder``, so that the
    record names no folder of the machine it ran on and resolves from any working folder."""
    record = dict(record)
    record["config"] = AgentConfig.from_dict(record["config"]).to_record(folder)
    return _map_model_paths(record, lambda stored: path_in_record(stored, folder))


def record_with_absolute_paths(record: dict[str, Any], folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Inverse of :func:`record_with_relative_paths` for the record read from ``folder``."""
    record = dict(record)
    if "config" in record:  # a partial record (a figure's test data) has none to resolve
        record["config"] = AgentConfig.from_record(record["config"], folder).to_dict()
    return _map_model_paths(record, lambda stored: str(path_from_record(stored, folder)))


def _map_model_paths(record: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """``record`` with ``change`` applied to the model folder of its fingerprint and wrapper settings."""
    for section, key in (("model", "run_dir"), ("wrapper", "model")):
        entry = record.get(section)
        if isinstance(entry, dict) and entry.get(key):
            record[section] = {**entry, key: change(entry[key])}
    return record
