"""Read a Minari dataset (one written by ``absaction collect``, or any other with a Box action space) or an
OGBench npz file into memory as episodes of actions, observations, rewards and ground-truth factors."""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from absaction.data.layout import (
    DATA_SUBDIR,
    ENV_ID_KEY,
    FACTOR_NAMES_KEY,
    INFO_FACTORS_KEY,
    INFO_SUCCESS_KEY,
    METADATA_FILE,
)
from absaction.data.ogbench import OGBenchFile, env_id_of, find_ogbench_file, read_ogbench
from absaction.data.windows import ActionWindows, make_windows
from absaction.envs.obs_layout import ObsLayout
from absaction.errors import AbsactionError, one_line


@dataclass(frozen=True, eq=False)
class Episode:
    """One recorded episode of T steps.

    Attributes:
        observations: ``(T + 1, obs_dim)`` float32 (the reset observation first) when the observation
            space is a 1-D Box or a Dict of Boxes (flattened in the order of the dataset's
            ``obs_layout``), else None.
        actions: ``(T, A)`` float32, in the environment's action units.
        rewards: ``(T,)`` float64.
        terminated: whether the last step ended the episode by termination (e.g. the goal was reached).
        truncated: whether it was cut by a time limit.
        factors: ground-truth factor values of the episode (empty when the dataset has none).
        success: the env's ``info["is_success"]`` at the last step, or None when it did not report one.
    """

    observations: np.ndarray | None
    actions: np.ndarray
    rewards: np.ndarray
    terminated: bool
    truncated: bool
    factors: dict[str, int | float] = field(default_factory=dict)
    success: bool | None = None

    def __len__(self) -> int:
        return int(self.actions.shape[0])


@dataclass(eq=False)
class ActionDataset:
    """Episodes read from a Minari dataset, plus what is known about the environment.

    Attributes:
        episodes: the episodes, in the dataset's order.
        env_id: gymnasium id of the environment that produced them, or None if the dataset has no spec.
        action_space: the dataset's (1-D Box) action space.
        observation_space: the dataset's observation space.
        factor_names: ground-truth factor names (empty when the dataset has none).
        path: the dataset folder (the one that holds ``data/``), or an OGBench ``.npz`` file.
        dataset_id: the Minari dataset id.
        metadata: Minari's raw ``metadata.json``.
        obs_layout: for a Dict observation space of Boxes, where each key lies in the flattened
            ``Episode.observations`` (the Dict's own key order, as ``gymnasium.spaces.flatten``);
            None otherwise. ``obs_layout.columns(["observation"])`` selects keys by name.
    """

    episodes: list[Episode]
    env_id: str | None
    action_space: gym.spaces.Box
    observation_space: gym.Space
    factor_names: tuple[str, ...]
    path: Path
    dataset_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    obs_layout: ObsLayout | None = None

    def __len__(self) -> int:
        return len(self.episodes)

    def __repr__(self) -> str:
        lengths = self.episode_lengths()
        span = f"{lengths.min()}-{lengths.max()}" if len(lengths) else "0"
        return (
            f"ActionDataset({self.dataset_id!r}, env={self.env_id!r}, episodes={len(self)}, "
            f"steps/episode={span}, action_dim={self.action_dim}, factors={list(self.factor_names)})"
        )

    @property
    def action_dim(self) -> int:
        return int(self.action_space.shape[0])

    def episode_lengths(self) -> np.ndarray:
        """``(N,)`` int64, steps per episode."""
        return np.array([len(ep) for ep in self.episodes], dtype=np.int64)

    def episode_actions(self) -> list[np.ndarray]:
        """The actions of every episode, ``[(T_i, A) float32, ...]``, uncropped (for seq2seq models;
        :func:`absaction.data.pad_episodes` stacks them with their lengths)."""
        return [ep.actions for ep in self.episodes]

    def factor_array(self) -> np.ndarray | None:
        """``(N, K)`` factor values in ``factor_names`` order (int64 when all are integers, else
        float64), or None when the dataset has no factors."""
        if not self.factor_names:
            return None
        rows = [[ep.factors[name] for name in self.factor_names] for ep in self.episodes]
        all_int = all(isinstance(v, (int, np.integer)) for row in rows for v in row)
        return np.array(rows, dtype=np.int64 if all_int else np.float64).reshape(len(rows), -1)

    def action_windows(self, length: int | None = None, stride: int | None = None) -> ActionWindows:
        """Windows of ``length`` steps every ``stride`` steps (default: non-overlapping); whole episodes
        when ``length`` is None. See :func:`absaction.data.windows.make_windows`."""
        return make_windows(self.episode_actions(), length, stride, self.factor_array(), self.factor_names)


def minari_root() -> Path:
    """The folder Minari looks in for dataset ids: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``."""
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def resolve_dataset_path(path_or_id: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(dataset folder, its data folder)`` for a folder, its ``data/`` sub-folder or a Minari id."""
    text = os.fspath(path_or_id)
    path = Path(text).expanduser()
    if path.exists():
        if (path / DATA_SUBDIR / METADATA_FILE).is_file():
            return path, path / DATA_SUBDIR
        if (path / METADATA_FILE).is_file():  # pointed at DIR/data itself
            return (path.parent if path.name == DATA_SUBDIR else path), path
        raise AbsactionError(
            f"{path} is not a Minari dataset (no {DATA_SUBDIR}/{METADATA_FILE} inside)",
            "point at a folder written by `absaction collect` (or its data/ sub-folder)",
        )
    root = minari_root()
    candidate = root / text
    if not path.is_absolute() and (candidate / DATA_SUBDIR / METADATA_FILE).is_file():
        return candidate, candidate / DATA_SUBDIR
    close = difflib.get_close_matches(text, _local_dataset_ids(root), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise AbsactionError(
        f"dataset {text!r} not found: no such folder and no Minari dataset with that id in {root}",
        f"{hint}check the path, or create it with `absaction collect --out {text}`",
    )


def _local_dataset_ids(root: Path) -> list[str]:
    """Ids of the Minari datasets under ``root`` (folders holding data/metadata.json)."""
    if not root.is_dir():
        return []
    return sorted(
        str(meta.parent.parent.relative_to(root)) for meta in root.glob(f"**/{DATA_SUBDIR}/{METADATA_FILE}")
    )


def load_dataset(
    path_or_id: str | os.PathLike[str], ogbench_dir: str | os.PathLike[str] | None = None
) -> ActionDataset:
    """Read a Minari dataset or an OGBench npz file into memory.

    Args:
        path_or_id: a dataset folder (as written by ``absaction collect --out DIR``), its ``data/``
            sub-folder, or a Minari dataset id found under ``$MINARI_DATASETS_PATH``
            (default ``~/.minari/datasets``); or an OGBench dataset: its ``.npz`` file, or its name
            (``pointmaze-large-stitch-v0``, ``...-v0-val`` for the validation file) found in
            ``ogbench_dir``. A name that is both a local Minari id and an OGBench file reads Minari's.
        ogbench_dir: where OGBench dataset names are looked up (default ``~/.ogbench/data``,
            OGBench's own default).

    Raises:
        AbsactionError: the dataset is missing or unreadable, its action space is not a 1-D Box, an
            episode is empty or has NaN/infinite actions, or listed factors are missing; an OGBench file
            that is not in OGBench's layout (see :mod:`absaction.data.ogbench`).

    Example:
        >>> ds = load_dataset("data/reach2d")
        >>> ds.env_id, len(ds.episodes)
        ('absaction/Reach2D-v0', 16)
        >>> windows = ds.action_windows()                             # whole episodes, (N, T, 2)
        >>> windows.actions.shape
        (16, 32, 2)
    """
    ogbench_file = _ogbench_file(path_or_id, ogbench_dir)
    if ogbench_file is not None:
        return _from_ogbench(read_ogbench(ogbench_file))
    import minari  # heavy-ish (h5py); only needed here

    root, data_dir = resolve_dataset_path(path_or_id)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Minari's version/requirements nags are not the user's problem
            source = minari.MinariDataset(data_dir)
            metadata = dict(source.storage.metadata)
            raw_episodes = list(source.iterate_episodes())
    except AbsactionError:
        raise
    except Exception as err:  # corrupt HDF5/JSON, unsupported version, unknown env: all "unreadable"
        raise AbsactionError(
            f"cannot read the Minari dataset at {data_dir} ({type(err).__name__}: {one_line(err)})",
            "re-create it with `absaction collect`, or check that it was written by Minari 0.4-0.5",
        ) from None

    action_space = source.action_space
    if not isinstance(action_space, gym.spaces.Box) or len(action_space.shape) != 1:
        raise AbsactionError(
            f"dataset {root} has action space {action_space}; absaction learns from continuous actions",
            "use a dataset whose action space is a 1-D gymnasium Box",
        )
    observation_space = source.observation_space
    flat_obs = isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1
    obs_layout = _dict_layout(observation_space)

    factor_names = tuple(str(name) for name in metadata.get(FACTOR_NAMES_KEY) or ())
    episodes = [
        _to_episode(i, raw, factor_names, flat_obs, action_space.shape[0], root, obs_layout)
        for i, raw in enumerate(raw_episodes)
    ]
    env_spec = source.env_spec
    env_id = env_spec.id if env_spec is not None else metadata.get(ENV_ID_KEY)
    for key in ("observation_space", "action_space"):  # live space objects; keep the JSON-able rest
        metadata.pop(key, None)
    metadata = {k: sorted(v) if isinstance(v, set) else v for k, v in metadata.items()}  # author(s)
    return ActionDataset(
        episodes=episodes,
        env_id=str(env_id) if env_id else None,
        action_space=action_space,
        observation_space=observation_space,
        factor_names=factor_names,
        path=root,
        dataset_id=metadata.get("dataset_id"),
        metadata=metadata,
        obs_layout=obs_layout,
    )


def _ogbench_file(path_or_id: str | os.PathLike[str], folder: str | os.PathLike[str] | None) -> Path | None:
    """The OGBench npz file ``path_or_id`` stands for, or None when it names a Minari dataset."""
    text = os.fspath(path_or_id)
    path = Path(text).expanduser()
    if path.suffix == ".npz":
        if not path.is_file():
            find_ogbench_file(path.stem, path.parent)  # an OGBench name: raises naming how to regenerate it
            raise AbsactionError(f"OGBench file {path} not found", "check the path")
        return path
    if path.exists() or (minari_root() / text / DATA_SUBDIR / METADATA_FILE).is_file():
        return None
    return find_ogbench_file(text, folder)


def _from_ogbench(source: OGBenchFile) -> ActionDataset:
    """Episodes of an OGBench file: an episode of ``T`` rows has ``T`` observations and ``T - 1`` actions
    (the last row's action leads nowhere; OGBench drops it too). OGBench stores no rewards (its tasks are
    goal-conditioned), so they are zeros; every episode ended by its time limit."""
    flat = source.observations.ndim == 2
    episodes = [
        Episode(
            observations=source.observations[start:end] if flat else None,  # (T, D) = (transitions + 1, D)
            actions=source.actions[start : end - 1],  # (T - 1, A)
            rewards=np.zeros(end - start - 1),
            terminated=False,
            truncated=True,
        )
        for start, end in source.episode_bounds()
    ]
    obs = source.observations
    observation_space = (
        gym.spaces.Box(0, 255, obs.shape[1:], np.uint8)
        if obs.dtype == np.uint8
        else gym.spaces.Box(-np.inf, np.inf, obs.shape[1:], np.float32)
    )
    return ActionDataset(
        episodes=episodes,
        env_id=env_id_of(source.name),
        action_space=gym.spaces.Box(-1.0, 1.0, source.actions.shape[1:], np.float32),  # OGBench's bounds
        observation_space=observation_space,
        factor_names=(),
        path=source.path,
        dataset_id=source.name,
        metadata={"format": "ogbench", "rows": len(source.terminals), "state": source.qpos is not None},
    )


def _dict_layout(space: gym.Space) -> ObsLayout | None:
    """The flattening layout of a Dict space whose values are all Boxes; None for any other space."""
    if isinstance(space, gym.spaces.Dict) and all(
        isinstance(s, gym.spaces.Box) for s in space.spaces.values()
    ):
        return ObsLayout.from_space(space)
    return None


def _to_episode(
    index: int,
    raw: Any,
    factor_names: tuple[str, ...],
    flat_obs: bool,
    action_dim: int,
    root: Path,
    obs_layout: ObsLayout | None = None,
) -> Episode:
    """Convert one Minari ``EpisodeData`` and validate it."""
    actions = np.asarray(raw.actions, dtype=np.float32).reshape(-1, action_dim)  # (T, A)
    if actions.shape[0] == 0:
        raise AbsactionError(f"episode {index} of {root} has no steps", "drop empty episodes or re-collect")
    if not np.isfinite(actions).all():
        step = int(np.flatnonzero(~np.isfinite(actions).all(axis=1))[0])
        raise AbsactionError(
            f"episode {index} of {root} has NaN or infinite actions (first at step {step})",
            "remove that episode or re-collect the dataset",
        )
    infos: dict[str, Any] = raw.infos or {}
    factors: dict[str, int | float] = {}
    if factor_names:
        grouped = infos.get(INFO_FACTORS_KEY)
        grouped = grouped if isinstance(grouped, dict) else {}
        for name in factor_names:
            values = grouped.get(name, infos.get(name))
            if values is None or np.size(values) == 0:
                raise AbsactionError(
                    f"episode {index} of {root} has no value for factor {name!r} listed in its metadata",
                    "re-collect the dataset, or remove the factor from metadata.json",
                )
            factors[name] = _scalar(np.asarray(values).reshape(-1)[0])  # constant over the episode
    success = None
    if INFO_SUCCESS_KEY in infos and np.size(infos[INFO_SUCCESS_KEY]) > 0:
        success = bool(np.asarray(infos[INFO_SUCCESS_KEY]).reshape(-1)[-1])
    observations = None
    if flat_obs and isinstance(raw.observations, np.ndarray):
        observations = np.asarray(raw.observations, dtype=np.float32)  # (T + 1, obs_dim)
    elif obs_layout is not None and isinstance(raw.observations, dict):
        # {key: (T + 1, *shape)} -> (T + 1, obs_layout.dim)
        observations = obs_layout.flatten(raw.observations).astype(np.float32)
    terminations = np.asarray(raw.terminations).reshape(-1)
    truncations = np.asarray(raw.truncations).reshape(-1)
    return Episode(
        observations=observations,
        actions=actions,
        rewards=np.asarray(raw.rewards, dtype=np.float64).reshape(-1),
        terminated=bool(terminations[-1]) if terminations.size else False,
        truncated=bool(truncations[-1]) if truncations.size else False,
        factors=factors,
        success=success,
    )


def _scalar(value: Any) -> int | float:
    """A factor value as a plain Python int (integers and booleans) or float."""
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return int(value)
    return float(value)
