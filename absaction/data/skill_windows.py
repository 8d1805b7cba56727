"""Windows of (observation, action) for skill models: H steps of the *skill observation* and the actions.

A skill model learns short behaviours conditioned on the state, so each training item is a window of H
consecutive steps of one episode: the observations ``s_t .. s_{t+H-1}`` (the state each action was taken
in) and the actions ``a_t .. a_{t+H-1}``. The skill observation is a chosen part of the full observation,
e.g. Reach2D's position without the goal, so that skills stay goal-agnostic while an agent sees the goal.

Columns are chosen by name or by index into the flat observation:

- a 1-D Box observation has one name per column: Reach2D's :data:`absaction.envs.OBS_FIELDS`
  (``x, y, goal_x, goal_y, time, progress``), any other env ``obs_0, obs_1, ...``;
- a Dict observation is flattened key by key (sorted, as gymnasium does) with a recorded layout
  (key -> column slice); a key's name selects all its columns, ``key[i]`` one of them.

Both are one :class:`~absaction.envs.obs_layout.ObsLayout` (the layout the datasets record for Dict
observations, ``ActionDataset.obs_layout``), whose :meth:`~absaction.envs.obs_layout.ObsLayout.resolve`
turns the selection into column indices.

>>> import numpy as np
>>> obs = [np.arange(14, dtype=np.float32).reshape(7, 2)]      # one episode: T + 1 = 7 observations
>>> act = [np.ones((6, 1), np.float32)]
>>> w = make_skill_windows(obs, act, horizon=4, stride=2, field_names=("x", "y"), skill_obs=["y"])
>>> w.observations.shape, w.actions.shape, w.starts.tolist()
((2, 4, 1), (2, 4, 1), [0, 2])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from absaction.data.split import train_val_split
from absaction.envs import OBS_FIELDS
from absaction.envs.obs_layout import ObsLayout
from absaction.errors import AbsactionError


def box_layout(obs_dim: int, env_id: str | None = None) -> ObsLayout:
    """Column names of a 1-D Box observation: Reach2D's field names, else ``obs_0 .. obs_{D-1}``."""
    if env_id is not None and env_id.startswith("absaction/") and obs_dim == len(OBS_FIELDS):
        return ObsLayout.from_names(OBS_FIELDS)
    return ObsLayout.from_names([f"obs_{i}" for i in range(obs_dim)])


def flatten_dict_observations(observations: Mapping[str, Any]) -> tuple[np.ndarray, ObsLayout]:
    """``{key: (T, d_key) or (T,)}`` -> ``((T, sum d) float32, layout)``, keys in sorted order (gymnasium's).

    Raises:
        AbsactionError: no keys, keys that disagree on the number of steps, or a nested value.
    """
    layout = ObsLayout.from_arrays(observations)
    return layout.flatten(observations).astype(np.float32), layout


@dataclasses.dataclass(frozen=True)
class SkillWindows:
    """Windows of H steps of skill observations and actions, with where each came from."""

    observations: np.ndarray
    """(N, H, O) float32 skill observations, the state before each action"""
    actions: np.ndarray
    """(N, H, A) float32 actions, environment units"""
    episodes: np.ndarray
    """(N,) int64 index of the episode each window comes from"""
    starts: np.ndarray
    """(N,) int64 step of the episode at which each window starts"""
    skill_obs: tuple[str, ...]
    """names of the O skill-observation columns"""
    skill_indices: tuple[int, ...]
    """their indices in the flat full observation"""
    layout: ObsLayout
    """the full observation's layout"""

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.observations.shape[1])

    def subset(self, indices: np.ndarray) -> SkillWindows:
        """The windows at ``indices``."""
        return dataclasses.replace(
            self,
            observations=self.observations[indices],
            actions=self.actions[indices],
            episodes=self.episodes[indices],
            starts=self.starts[indices],
        )

    def split_by_episode(self, val_fraction: float, seed: int) -> tuple[SkillWindows, SkillWindows]:
        """Train and validation windows from disjoint episodes (no window straddles the split).

        The held-out share counts the episodes that hold windows, as :meth:`ActionWindows.split_by_episode`
        does: an episode shorter than the horizon has none, and holding it out would hold out nothing.
        """
        episodes = np.unique(self.episodes)
        _, val_index = train_val_split(max(len(episodes), 1), val_fraction, seed)
        in_val = np.isin(self.episodes, episodes[val_index[val_index < len(episodes)]])
        return self.subset(np.flatnonzero(~in_val)), self.subset(np.flatnonzero(in_val))


def make_skill_windows(
    observations: Sequence[np.ndarray | Mapping[str, Any] | None],
    actions: Sequence[np.ndarray],
    horizon: int,
    stride: int = 1,
    skill_obs: Sequence[str | int] | None = None,
    field_names: Sequence[str] | None = None,
    layout: ObsLayout | None = None,
) -> SkillWindows:
    """Cut every episode into windows of ``horizon`` steps, one every ``stride`` steps.

    Args:
        observations: per episode ``(T + 1, D)`` (or ``(T, D)``) flat observations, or a Dict of arrays;
            None for an episode without observations (an error).
        actions: per episode ``(T, A)`` actions.
        horizon: steps H per window.
        stride: steps between window starts.
        skill_obs: the skill observation's columns, by name or index (None = every column).
        field_names: names of the flat observation's columns (default ``obs_0 ..``); ignored for Dicts.
        layout: the flat observations' layout (e.g. a dataset's ``obs_layout`` of flattened Dicts); it
            replaces ``field_names``.

    Raises:
        AbsactionError: no observations; NaN or infinite states; a horizon longer than every episode;
            unknown skill-observation names or indices.
    """
    if horizon < 1 or stride < 1:
        raise AbsactionError(
            f"horizon and stride must be >= 1, got {horizon} and {stride}",
            "pass a horizon and a stride of 1 or more",
        )
    if len(observations) != len(actions) or not actions:
        raise AbsactionError("there are no episodes with observations and actions", "collect a dataset first")
    flats: list[np.ndarray] = []
    given = layout
    layout = None
    for index, obs in enumerate(observations):
        if obs is None:
            raise AbsactionError(
                f"episode {index} has no observations (its observation space is not a 1-D Box or Dict)",
                "collect the dataset with observations (absaction collect records them)",
            )
        if isinstance(obs, Mapping):
            flat, episode_layout = flatten_dict_observations(obs)
        else:
            flat = np.asarray(obs, dtype=np.float32).reshape(len(obs), -1)
            if given is not None:
                episode_layout = given
            elif field_names is not None:
                episode_layout = ObsLayout.from_names(field_names)
            else:
                episode_layout = ObsLayout.from_names([f"obs_{i}" for i in range(flat.shape[1])])
            if episode_layout.dim != flat.shape[1]:
                raise AbsactionError(
                    f"an observation layout of {episode_layout.dim} columns for {flat.shape[1]} columns",
                    "pass one name per column",
                )
        if layout is not None and episode_layout != layout:
            raise AbsactionError(f"episode {index} has another observation layout", "re-collect the dataset")
        layout = episode_layout
        if not np.isfinite(flat).all():
            step = int(np.flatnonzero(~np.isfinite(flat).all(axis=1))[0])
            raise AbsactionError(
                f"episode {index} has NaN or infinite observations (first at step {step})",
                "remove that episode or re-collect the dataset",
            )
        if len(flat) < len(actions[index]):
            raise AbsactionError(
                f"episode {index} has {len(flat)} observations for {len(actions[index])} actions",
                "record the observation before every action",
            )
        flats.append(flat)
    assert layout is not None
    columns = layout.resolve(skill_obs)
    lengths = [len(a) for a in actions]
    if horizon > max(lengths):
        raise AbsactionError(
            f"a skill horizon of {horizon} steps is longer than every episode "
            f"(the longest has {max(lengths)})",
            f"pass --horizon {max(lengths)} or less",
        )
    obs_windows, act_windows, episode_ids, starts = [], [], [], []
    for index, (flat, acts) in enumerate(zip(flats, actions, strict=True)):
        acts = np.asarray(acts, dtype=np.float32).reshape(len(acts), -1)
        for start in range(0, len(acts) - horizon + 1, stride):
            obs_windows.append(flat[start : start + horizon, columns])  # (H, O)
            act_windows.append(acts[start : start + horizon])  # (H, A)
            episode_ids.append(index)
            starts.append(start)
    return SkillWindows(
        observations=np.stack(obs_windows).astype(np.float32),
        actions=np.stack(act_windows).astype(np.float32),
        episodes=np.asarray(episode_ids, dtype=np.int64),
        starts=np.asarray(starts, dtype=np.int64),
        skill_obs=tuple(layout.names[c] for c in columns),
        skill_indices=tuple(columns),
        layout=layout,
    )


def dataset_skill_windows(
    dataset: Any, horizon: int, stride: int = 1, skill_obs: Sequence[str | int] | None = None
) -> SkillWindows:
    """:func:`make_skill_windows` over an :class:`~absaction.data.ActionDataset`: Dict observations by the
    dataset's recorded ``obs_layout``, Box ones by column name (Reach2D's fields, else ``obs_i``)."""
    observations: list[Any] = [ep.observations for ep in dataset.episodes]
    layout = dataset.obs_layout
    first = next((o for o in observations if o is not None), None)
    if layout is None and first is not None:
        layout = box_layout(np.asarray(first).shape[-1], dataset.env_id)
    return make_skill_windows(
        observations, [ep.actions for ep in dataset.episodes], horizon, stride, skill_obs, layout=layout
    )
