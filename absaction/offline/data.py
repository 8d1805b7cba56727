"""The training data of an offline run: an OGBench pointmaze dataset, found, read, checked against the
maze the agent will be evaluated in, and turned into transitions.

A dataset is refused, in one line each, when it is not an OGBench npz file (or not in its layout), its
name's type is not one OGBench's pointmaze has, its maze differs from the env's (by name, by the record
``absaction collect`` wrote beside it, or by its positions, which must lie in the env's free cells), or its
observations or actions are not the env's sizes.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from absaction.data.goals import Transitions
from absaction.data.ogbench import (
    RECORD_SUFFIX,
    check_dataset_type,
    data_dir,
    find_ogbench_file,
    parse_dataset_name,
    read_ogbench,
)
from absaction.envs.ogbench_maze import POINT_MAZE_IDS, MazeLayout, point_maze_name
from absaction.errors import AbsactionError, option
from absaction.offline.evaluation import make_eval_env

WALL_TOLERANCE = 0.001
"""Largest share of a dataset's positions that may fall in the env's walls (or outside its map) before
the dataset counts as another maze's: the point mass never enters a wall, so the true share is 0."""


@dataclass(eq=False)
class OfflineData:
    """A checked dataset and the env it belongs to."""

    path: Path
    """the training file (``NAME.npz``)"""
    name: str
    """the dataset's name (its file name without ``.npz``)"""
    env_id: str
    """the OGBench env of its maze, ``ogbench:pointmaze-MAZE-v0``"""
    dataset_type: str | None
    """``navigate`` or ``stitch`` when the name says, else None"""
    transitions: Transitions
    sha256: str
    """fingerprint of the rows (observations, actions, terminals): a resumed run must see the same"""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "env_id": self.env_id,
            "dataset_type": self.dataset_type,
            "transitions": len(self.transitions),
            "trajectories": int(self.transitions.terminals.sum()),
            "sha256": self.sha256,
        }


def find_dataset(dataset: str, ogbench_dir: str | os.PathLike[str] | None = None) -> Path:
    """The npz file of ``dataset``: a path to an ``.npz`` file, or an OGBench dataset name looked up in
    ``ogbench_dir`` (default ``~/.ogbench/data``)."""
    path = Path(dataset).expanduser()
    if path.suffix == ".npz":
        if path.is_file():
            return path
        find_ogbench_file(path.stem, path.parent)  # an OGBench name: names the command that regenerates it
        raise AbsactionError(f"OGBench file {path} not found", "check the path")
    found = find_ogbench_file(dataset, ogbench_dir)
    if found is not None:
        return found
    if path.exists():
        raise AbsactionError(
            f"{dataset} is not an OGBench dataset file (offline agents train on OGBench's npz layout)",
            "pass an OGBench dataset name such as pointmaze-medium-stitch-v0 or its .npz file",
        )
    raise AbsactionError(
        f"{dataset} is neither an OGBench dataset name nor an .npz file",
        f"pass a name such as pointmaze-medium-stitch-v0 (looked up in {data_dir(ogbench_dir)}) or a path",
    )


def load_offline_data(
    dataset: str, env_id: str | None = None, ogbench_dir: str | os.PathLike[str] | None = None
) -> OfflineData:
    """Find, read and check ``dataset`` for the env ``env_id`` (default: the dataset's own).

    Raises:
        AbsactionError: see the module docstring.
    """
    path = find_dataset(dataset, ogbench_dir)
    name = path.name.removesuffix(".npz")
    parsed = parse_dataset_name(name.removesuffix("-val"))
    if parsed is not None:
        if parsed.agent != "pointmaze":
            raise AbsactionError(
                f"{name} is an OGBench {parsed.agent} dataset; the offline agents here run on pointmaze",
                f"use a pointmaze dataset ({', '.join(POINT_MAZE_IDS)} with -navigate or -stitch)",
            )
        check_dataset_type(parsed.dataset_type)
    if env_id is None:
        if parsed is None:
            raise AbsactionError(
                f"the name {name} does not say which maze the dataset is of",
                f"pass {option('env_id', 'ogbench:pointmaze-medium-v0')} (or name it like OGBench's files)",
            )
        env_id = parsed.env_id
    maze = point_maze_name(env_id)  # refuses an env that is not one of OGBench's point mazes
    if parsed is not None and parsed.maze != maze:
        raise AbsactionError(
            f"dataset {name} is of the {parsed.maze} maze but the env {env_id} is the {maze} maze",
            f"evaluate on ogbench:{parsed.env_name}, or use a dataset of the {maze} maze",
        )
    recorded = _recorded_env(path)
    if recorded is not None and point_maze_name(recorded) != maze:
        raise AbsactionError(
            f"{path} was collected in {recorded} (so says its record {path.with_suffix(RECORD_SUFFIX).name}),"
            f" not in the {maze} maze of {env_id}",
            "use a dataset of the env's maze, or rename the file after the maze it holds",
        )
    rows = read_ogbench(path)
    if rows.observations.ndim != 2 or rows.observations.shape[1] != 2 or rows.actions.shape[1] != 2:
        raise AbsactionError(
            f"{path} has observations {rows.observations.shape[1:]} and actions {rows.actions.shape[1:]}; "
            f"{env_id} has (2,) and (2,)",
            "use a pointmaze dataset (positions x, y and 2-D actions)",
        )
    _check_positions(rows.observations, maze_layout(env_id), path, maze)
    digest = hashlib.sha256()
    for array in (rows.observations, rows.actions, rows.terminals):
        digest.update(repr(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return OfflineData(
        path=path,
        name=name,
        env_id=env_id,
        dataset_type=None if parsed is None else parsed.dataset_type,
        transitions=Transitions.from_rows(rows.observations, rows.actions, rows.terminals),
        sha256=digest.hexdigest(),
    )


def maze_layout(env_id: str) -> MazeLayout:
    """The layout of OGBench's maze env ``env_id`` (read from a freshly made env)."""
    env = make_eval_env(env_id)
    try:
        return MazeLayout.from_env(env)
    finally:
        env.close()


def _check_positions(observations: np.ndarray, layout: MazeLayout, path: Path, maze: str) -> None:
    """Refuse a dataset whose positions fall in the walls of ``layout`` (another maze's data)."""
    ox, oy = layout.offset
    j = np.floor((observations[:, 0] + ox + 0.5 * layout.unit) / layout.unit).astype(np.int64)
    i = np.floor((observations[:, 1] + oy + 0.5 * layout.unit) / layout.unit).astype(np.int64)
    rows, cols = layout.shape
    inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
    free = np.zeros(len(observations), dtype=bool)
    free[inside] = layout.maze_map[i[inside], j[inside]] == 0
    share = 1.0 - float(free.mean())
    if share > WALL_TOLERANCE:
        raise AbsactionError(
            f"{share:.1%} of the positions in {path} lie in walls of the {maze} maze: it is another maze's "
            "dataset",
            f"use a dataset of the {maze} maze, or pass the env it was collected in",
        )


def _recorded_env(path: Path) -> str | None:
    """The env id that ``absaction collect`` recorded beside ``path`` (``NAME.json``), if any."""
    record = path.with_name(path.name.removesuffix(".npz").removesuffix("-val") + RECORD_SUFFIX)
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    env = (data.get("settings") or {}).get("env_id") if isinstance(data, dict) else None
    return str(env) if isinstance(env, str) else None
