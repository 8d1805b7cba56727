"""What a run's inputs must share with its task, read from metadata alone (nothing is loaded or trained):
the spaces of an env (made once), of a dataset (its ``metadata.json``) and of an action model, and
whether demonstrations or a model fit a task (:func:`misfit`) in the aspects an agent needs.

A sweep (or a study) checks these before it writes anything, so that a misfit is refused in one line
instead of failing after hours of other runs::

    >>> source = env_spaces("absaction/Reach2D-v0", "the Reach2D demonstrations")
    >>> misfit(source, env_spaces("Pendulum-v1", "Pendulum-v1"), BC_ASPECTS)   # 6 vs 3 observations
    True
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from absaction.agents.config import AgentConfig
from absaction.agents.environments import make_task_env
from absaction.data.dataset import resolve_dataset_path
from absaction.data.layout import ENV_ID_KEY, METADATA_FILE
from absaction.data.skill_windows import box_layout
from absaction.envs.obs_layout import ObsLayout
from absaction.errors import AbsactionError


@dataclasses.dataclass(frozen=True)
class Spaces:
    """The observation and action spaces of an env, a dataset or an action model, as the checks compare
    them."""

    name: str
    """what they belong to, as a message names it"""
    flag: str | None
    """the option that replaces it (``--data``, ``--model``); None: the suite fixes it"""
    layout: ObsLayout | None
    """the flat observation's columns (None: not known, an action model's)"""
    low: np.ndarray
    high: np.ndarray
    """the bounds of the 1-D Box action"""

    def describe(self, bounds: bool = False) -> str:
        """``observations (6,), actions (2,)`` (what is known of them), with ``bounds`` the actions'
        ``in [-1.0, -1.0]..[1.0, 1.0]``."""
        actions = f"actions ({len(self.low)},)"
        if bounds:
            actions += f" in {self.low.tolist()}..{self.high.tolist()}"
        return actions if self.layout is None else f"observations ({self.layout.dim},), {actions}"


# ------------------------------------------------------------------------------------- the spaces
def env_spaces(env_id: str, name: str, flag: str | None = None) -> Spaces:
    """The spaces of ``env_id``, made once and closed; an env the runs could not make (unknown, not a
    continuous Box action space) is refused in the runs' own words."""
    env = make_task_env(AgentConfig(env_id))
    try:
        space = env.observation_space
        action = env.action_space
    finally:
        env.close()
    assert isinstance(action, gym.spaces.Box)  # make_task_env refused any other action space
    return Spaces(name, flag, _flat_layout(space, env_id), _bound(action.low), _bound(action.high))


def dataset_spaces(data: str, name: str, flag: str | None = "--data") -> tuple[Spaces, str | None]:
    """The spaces of the dataset ``data`` (a folder or a Minari id) and the env it was recorded in, from
    its ``metadata.json``; a trained agent given instead is refused with how to record data with it."""
    from minari.serialization import deserialize_space  # noqa: PLC0415 - Minari imports h5py: only here

    refuse_trained_agent(data)
    root, data_dir = resolve_dataset_path(data)
    try:
        metadata = json.loads((data_dir / METADATA_FILE).read_text(encoding="utf-8"))
        observation = deserialize_space(metadata["observation_space"])
        action = deserialize_space(metadata["action_space"])
    except (OSError, ValueError, KeyError, TypeError, NotImplementedError) as err:
        raise AbsactionError(
            f"cannot read the Minari metadata of {root} ({type(err).__name__})",
            "re-create it with `absaction collect`, or check that it was written by Minari 0.4-0.5",
        ) from None
    if not isinstance(action, gym.spaces.Box) or len(action.shape) != 1:
        raise AbsactionError(
            f"dataset {root} has action space {action}; absaction learns from continuous actions",
            "use a dataset whose action space is a 1-D gymnasium Box",
        )
    env_id = _recorded_env_id(metadata)
    spaces = Spaces(name, flag, _flat_layout(observation, env_id), _bound(action.low), _bound(action.high))
    return spaces, env_id


def _recorded_env_id(metadata: dict[str, Any]) -> str | None:
    """The env a dataset was recorded in: Minari's env_spec, else absaction's own ``env_id`` entry."""
    spec = metadata.get("env_spec")
    try:
        found = json.loads(spec).get("id") if isinstance(spec, str) else None
    except (ValueError, AttributeError):
        found = None
    found = found or metadata.get(ENV_ID_KEY)
    return str(found) if found else None


def _flat_layout(space: gym.Space[Any], env_id: str | None) -> ObsLayout | None:
    """The columns of the flat observation that datasets, skill models and agents see (None: neither a
    1-D Box nor a Dict of Boxes, nothing to compare)."""
    if isinstance(space, gym.spaces.Box) and len(space.shape) == 1:
        return box_layout(int(space.shape[0]), env_id)
    if isinstance(space, gym.spaces.Dict) and all(isinstance(s, gym.spaces.Box) for s in space.values()):
        return ObsLayout.from_space(space)
    return None


def _bound(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(-1)


def refuse_trained_agent(data: str) -> None:
    """Refuse a stable-baselines3 agent (an ``agent.zip``, or the run folder holding one) as ``--data``:
    it is a policy, not demonstrations; it can record some (``absaction collect --expert``)."""
    given = Path(data).expanduser()
    if given.is_dir() and (given / "agent.zip").is_file():
        policy = given / "agent.zip"
    elif given.is_file() and zipfile.is_zipfile(given):
        policy = given
    else:
        return
    env_id = "ENV"
    try:  # the env the agent acted in, as `absaction rl` recorded it beside the policy
        record = json.loads((policy.parent / "config.json").read_text(encoding="utf-8"))
        env_id = str(record["config"]["env_id"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    raise AbsactionError(
        f"--data {data} is a trained agent (a stable-baselines3 {policy.name}), not demonstrations",
        f"record demonstrations with it first (absaction collect --env {env_id} --expert {policy} --out "
        "DIR) and pass --data DIR",
    )


def model_spaces(record: dict[str, Any], name: str, flag: str | None = "--model") -> Spaces:
    """The action space an action model decodes, from its ``config.json`` record (unknown bounds are
    unbounded: they agree with any task's)."""
    action_dim = int(record["model_config"]["action_dim"])
    low, high = record.get("action_low"), record.get("action_high")
    unbounded = np.full(action_dim, np.inf)
    return Spaces(
        name,
        flag,
        None,
        -unbounded if low is None else _bound(low),
        unbounded if high is None else _bound(high),
    )


# ------------------------------------------------------------------------------- what fits what
def misfit(source: Spaces, task: Spaces, aspects: frozenset[str]) -> bool:
    """Whether data or a model with ``source``'s spaces cannot serve an agent on ``task``, for the
    ``aspects`` the agent needs to agree: ``observations`` (sizes), ``columns`` (their names, where both
    worlds name them), ``actions`` (sizes) and ``bounds`` (of the actions; unknown ones agree)."""
    if "actions" in aspects and len(source.low) != len(task.low):
        return True
    if "bounds" in aspects and len(source.low) == len(task.low) and np.isfinite(source.low).all():
        if not (
            np.allclose(source.low, task.low, atol=1e-6) and np.allclose(source.high, task.high, atol=1e-6)
        ):
            return True
    if source.layout is None or task.layout is None:
        return False
    if "observations" in aspects and source.layout.dim != task.layout.dim:
        return True
    if "columns" in aspects:
        ours, theirs = source.layout.names, task.layout.names
        generic = tuple(f"obs_{i}" for i in range(len(theirs)))
        return generic not in (ours, theirs) and ours != theirs
    return False


BC_ASPECTS = frozenset({"observations", "actions"})
"""What BC demonstrations share with the task (the bounds may differ: the policy clips)."""
LATENT_ASPECTS = frozenset({"actions", "bounds"})
"""What a latent agent's model shares with the task (what ``LatentActionWrapper`` checks)."""
SKILL_ASPECTS = frozenset({"observations", "columns", "actions", "bounds"})
"""What a skill agent's model (its training data) shares with the task (what ``SkillWrapper`` checks)."""
