"""PointMaze (Gymnasium-Robotics) as the second world: evaluation tasks and the collection modes of
the waypoint expert. Needs the optional extra ``pip install 'absaction[maze]'``.

Evaluation tasks (registered by ``import absaction``; one id per maze, the task chosen by a kwarg):

==================================  ======  ========  =====================================
id                                  steps   tasks     start -> goal cells (row, column)
==================================  ======  ========  =====================================
``absaction/PointMazeMedium-v0``    600     1 - 5     see :data:`TASKS` (8-10 moves apart)
``absaction/PointMazeLarge-v0``     800     1 - 5     see :data:`TASKS` (12-19 moves apart)
==================================  ======  ========  =====================================

``gym.make("absaction/PointMazeMedium-v0", task=3, flatten=True)``: the ball starts in the task's
start cell and must reach its goal cell (both with the env's own +-0.25 uniform position noise).
The reward is sparse (1 within 0.45 of the goal, else 0), success is the env's own
(``info["success"]``, copied to ``info["is_success"]``) and the episode ends on success. Every task
goal lies more moves away than any ``stitch`` segment goes (at most :data:`STITCH_MAX_CELLS`), so
an agent must compose what it saw. ``flatten=True`` gives a 1-D Box (the Dict flattened in the
order of :class:`~absaction.envs.obs_layout.ObsLayout`: achieved_goal, desired_goal, observation)
for stable-baselines3.

Collection (``absaction collect --env PointMaze_Medium-v3 --expert waypoint[:MODE]``) wraps the
env in :class:`MazeRoutes`, which chooses where each episode starts and where it goes:

- ``navigate`` (default): a random start cell and a random goal cell; on reaching it the env draws
  the next goal (``continuing_task=True, reset_target=True``, as D4RL and Minari), until the time
  limit.
- ``stitch``: a random start cell and a goal at most :data:`STITCH_MAX_CELLS` moves away; the
  episode ends on reaching it (as OGBench's stitch datasets).

gymnasium-robotics is imported lazily (:func:`require_robotics`): it pulls in MuJoCo, is an optional
extra, and ``import absaction`` must work without it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from types import ModuleType
from typing import Any

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError

from .obs_layout import ObsLayout
from .waypoint import Cell, cells_within, free_grid

MAZE_EXTRA_FIX = "pip install 'absaction[maze]'"
"""The fix named whenever gymnasium-robotics is missing."""

MAZE_MAPS: dict[str, str] = {"medium": "MEDIUM_MAZE", "large": "LARGE_MAZE"}
"""Maze name -> the map's name in ``gymnasium_robotics.envs.maze.maps``."""

TASKS: dict[str, tuple[tuple[Cell, Cell], ...]] = {
    # chosen far apart by breadth-first distance (moves): 10, 10, 10, 9, 8
    "medium": (((1, 1), (6, 6)), ((6, 1), (1, 6)), ((6, 5), (2, 1)), ((2, 6), (6, 1)), ((5, 6), (1, 2))),
    # 15, 19, 17, 13, 12
    "large": (((1, 1), (7, 10)), ((7, 1), (3, 10)), ((1, 10), (7, 1)), ((7, 8), (1, 1)), ((5, 4), (7, 10))),
}
"""Maze name -> its five (start cell, goal cell) evaluation tasks; task k is entry k - 1."""

TASK_STEPS: dict[str, int] = {"medium": 600, "large": 800}
"""Time limit per maze (gymnasium-robotics' own for PointMaze_Medium/Large-v3)."""

TASK_ENV_IDS: dict[str, str] = {
    "medium": "absaction/PointMazeMedium-v0",
    "large": "absaction/PointMazeLarge-v0",
}
"""Maze name -> the registered id of its evaluation tasks."""

STITCH_MAX_CELLS = 4
"""A ``stitch`` segment's goal is at most this many moves from its start (OGBench's stitch data)."""

ROUTE_MODES: tuple[str, ...] = ("navigate", "stitch")
"""Collection modes of :class:`MazeRoutes` (``--expert waypoint:MODE``)."""

WAYPOINT_EXPERT = "waypoint"
"""The ``--expert`` name of :class:`~absaction.envs.waypoint.WaypointExpert`."""

_ROBOTICS_ID = re.compile(r"^(gymnasium_robotics:)?(PointMaze|AntMaze)_")


def require_robotics() -> ModuleType:
    """Import gymnasium-robotics and register its envs with gymnasium (idempotent).

    Raises:
        AbsactionError: it is not installed (the fix names the ``maze`` extra).
    """
    try:
        # it prints a note about Adroit envs on import; nothing for a maze user to act on
        with contextlib.redirect_stderr(io.StringIO()):
            import gymnasium_robotics  # lazy: optional extra that pulls in MuJoCo
    except ImportError:
        raise AbsactionError(
            "the maze worlds need gymnasium-robotics, which is not installed", MAZE_EXTRA_FIX
        ) from None
    gym.register_envs(gymnasium_robotics)
    return gymnasium_robotics


def register_robotics_for(env_id: str) -> None:
    """Register gymnasium-robotics' envs when ``env_id`` names one of its mazes (``PointMaze_...``),
    so that ``--env PointMaze_Medium-v3`` works; other ids are left alone."""
    if _ROBOTICS_ID.match(env_id):
        require_robotics()


def maze_map(maze: str) -> list[list[Any]]:
    """The gymnasium-robotics map of ``maze`` (``medium`` or ``large``): rows of 1 (wall) / 0 (free)."""
    _check_maze(maze)
    from gymnasium_robotics.envs.maze import maps  # lazy: optional extra (require_robotics checked it)

    return [list(row) for row in getattr(maps, MAZE_MAPS[maze])]


def _check_maze(maze: str) -> None:
    if maze not in MAZE_MAPS:
        raise AbsactionError(f"unknown maze {maze!r}", f"use one of {', '.join(MAZE_MAPS)}")
    require_robotics()


def drop_temporary_xml(env: Any) -> None:
    """Delete the model file a gymnasium-robotics maze env left in the temporary folder.

    gymnasium-robotics 1.4 writes every maze's MuJoCo model to ``<tmp>/ant_maze<time>.xml`` and never
    deletes it (a sweep leaves hundreds). MuJoCo has read it when the env exists, so it can go; a file
    anywhere else, or already gone, is left alone.
    """
    point_env = getattr(getattr(env, "unwrapped", env), "point_env", None)
    path = getattr(point_env, "fullpath", None)
    if not isinstance(path, str):
        return
    name = os.path.basename(path)
    in_tmp = os.path.dirname(os.path.abspath(path)) == os.path.abspath(tempfile.gettempdir())
    if in_tmp and name.startswith("ant_maze") and name.endswith(".xml"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


class PointMazeTaskEnv(gym.Env):
    """One of a maze's five evaluation tasks (see the module docstring).

    Args:
        maze: ``medium`` or ``large``.
        task: 1 to 5, the entry of :data:`TASKS`.
        flatten: observe a flat Box (float64, the Dict's keys in :attr:`layout` order) instead of the Dict.
        render_mode: passed to the PointMaze env (``rgb_array``, ``human``, ...).
    """

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 50}  # noqa: RUF012

    def __init__(
        self, maze: str = "medium", task: int = 1, flatten: bool = False, render_mode: str | None = None
    ) -> None:
        _check_maze(maze)
        if (
            not isinstance(task, (int, np.integer))
            or isinstance(task, bool)
            or not 1 <= task <= len(TASKS[maze])
        ):
            raise AbsactionError(
                f"unknown task {task!r} of the {maze} maze", f"use task=1 to {len(TASKS[maze])}"
            )
        from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv  # lazy: optional extra

        self.maze_name = maze
        self.task = int(task)
        self.start_cell, self.goal_cell = TASKS[maze][self.task - 1]
        self.flatten = bool(flatten)
        self.render_mode = render_mode
        self._env = PointMazeEnv(
            maze_map=maze_map(maze), render_mode=render_mode, reward_type="sparse", continuing_task=False
        )
        drop_temporary_xml(self._env)
        self.action_space = self._env.action_space
        self.layout = ObsLayout.from_space(self._env.observation_space)
        self.observation_space: gym.Space = (
            gym.spaces.Box(-np.inf, np.inf, (self.layout.dim,), np.float64)
            if self.flatten
            else self._env.observation_space
        )

    @property
    def maze(self) -> Any:
        """The gymnasium-robotics ``Maze`` (map, cell <-> position conversions)."""
        return self._env.maze

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        cells = {"reset_cell": np.array(self.start_cell), "goal_cell": np.array(self.goal_cell)}
        obs, info = self._env.reset(seed=seed, options=cells)
        info["is_success"] = bool(info["success"])
        return self._observe(obs), info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._env.step(action)
        info["is_success"] = bool(info["success"])
        return self._observe(obs), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> Any:
        return self._env.render()

    def close(self) -> None:
        self._env.close()
        super().close()

    def _observe(self, obs: dict[str, np.ndarray]) -> Any:
        return self.layout.flatten(obs).astype(np.float64) if self.flatten else obs


class MazeRoutes(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Chooses each episode's start and goal cells for the waypoint expert's data (``navigate`` or
    ``stitch``, see the module docstring). Cells come from a generator seeded with ``[seed, 2]`` at
    ``reset(seed=seed)``, so a seed fixes the route; in ``stitch`` mode ``info["is_success"]`` is the
    env's ``success``.

    Args:
        env: a gymnasium-robotics maze env (``PointMaze_*-v3``); its ``continuing_task`` and
            ``reset_target`` are set for the mode.
        mode: ``navigate`` or ``stitch``.
        max_cells: the farthest a ``stitch`` goal lies from its start, in moves.
    """

    def __init__(self, env: gym.Env, mode: str = "navigate", max_cells: int = STITCH_MAX_CELLS) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, mode=mode, max_cells=max_cells)
        gym.Wrapper.__init__(self, env)
        if mode not in ROUTE_MODES:
            raise AbsactionError(
                f"unknown waypoint mode {mode!r}", f"use waypoint:{' or waypoint:'.join(ROUTE_MODES)}"
            )
        if max_cells < 1:
            raise AbsactionError(f"max_cells must be >= 1, got {max_cells}", f"use e.g. {STITCH_MAX_CELLS}")
        base = env.unwrapped
        if not (hasattr(base, "maze") and hasattr(base, "reset_target") and hasattr(base, "continuing_task")):
            name = base.spec.id if base.spec is not None else type(base).__name__
            raise AbsactionError(
                f"--expert waypoint collects from gymnasium-robotics maze envs, not from {name}",
                "use e.g. --env PointMaze_Medium-v3, or choose another --expert",
            )
        drop_temporary_xml(base)
        self.mode = mode
        self.max_cells = int(max_cells)
        # the env's own switches: navigate keeps going to new goals, stitch ends on its goal
        base.continuing_task = mode == "navigate"
        base.reset_target = mode == "navigate"
        self.free = free_grid(base.maze.maze_map)
        self._cells = np.random.default_rng()
        self._free_cells: list[Cell] = [(int(r), int(c)) for r, c in zip(*np.nonzero(self.free), strict=True)]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if seed is not None:
            self._cells = np.random.default_rng([seed, 2])  # a stream apart from the env's own
        start = self._free_cells[int(self._cells.integers(len(self._free_cells)))]
        high = self.max_cells if self.mode == "stitch" else self.free.size
        goals = cells_within(self.free, start, 1, high)
        goal = goals[int(self._cells.integers(len(goals)))]
        chosen = {"reset_cell": np.array(start), "goal_cell": np.array(goal), **(options or {})}
        obs, info = self.env.reset(seed=seed, options=chosen)
        return obs, self._mark(info)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._mark(info)

    def _mark(self, info: dict[str, Any]) -> dict[str, Any]:
        if self.mode == "stitch" and "success" in info:
            info["is_success"] = bool(info["success"])
        return info


def waypoint_mode(spec: str) -> str | None:
    """The mode of an ``--expert`` spec ``waypoint[:MODE]`` (``navigate`` when none is given), or None
    for any other expert.

    Raises:
        AbsactionError: an unknown mode.
    """
    name, _, mode = spec.partition(":")
    if name != WAYPOINT_EXPERT:
        return None
    mode = mode or ROUTE_MODES[0]
    if mode not in ROUTE_MODES:
        raise AbsactionError(
            f"unknown waypoint mode {mode!r}", f"use --expert waypoint:{' or waypoint:'.join(ROUTE_MODES)}"
        )
    return mode


def register_pointmaze_envs() -> None:
    """Register :data:`TASK_ENV_IDS` with gymnasium (without importing gymnasium-robotics); calling it
    again changes nothing."""
    for maze, env_id in TASK_ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"{PointMazeTaskEnv.__module__}:{PointMazeTaskEnv.__qualname__}",
            max_episode_steps=TASK_STEPS[maze],
            kwargs={"maze": maze},
        )
