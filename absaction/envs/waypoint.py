"""The waypoint expert of the maze worlds: a grid planner plus a PD controller (as D4RL and Minari
made their pointmaze data).

Planning works on the maze grid (``maze_map``: 1 = wall, anything else = free). A breadth-first
search from the goal cell gives every free cell its number of moves to the goal (4-connected);
following that distance field downhill is the shortest path (the fixed point of Q-iteration with a
reward of -1 per move, which D4RL ran instead). Each step the expert targets the centre of the next
cell on that path, and the goal position itself once it is in the goal cell. Two neighbouring cells
form a convex rectangle, so the straight line to the next centre stays inside free cells.

A PD controller tracks the target: ``action = p * (target - position) + d * velocity`` with
``p = 10, d = -1`` (D4RL's gains; the velocity in PointMaze's observation is d(position)/dt, so
``d < 0`` damps), clipped to [-1, 1], with optional Gaussian action noise before clipping.

Example (needs ``absaction[maze]``):
    >>> import gymnasium as gym, numpy as np
    >>> env = gym.make("absaction/PointMazeMedium-v0", task=1)            # doctest: +SKIP
    >>> expert = WaypointExpert(env)                                      # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)                                     # doctest: +SKIP
    >>> expert.reset(obs, info, np.random.default_rng([0, 1]))            # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError

Cell = tuple[int, int]
"""(row, column) of a maze cell; row 0 is the top of the map (gymnasium-robotics' convention)."""

MOVES: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, -1), (0, 1))
"""4-connected moves, in the order ties are broken: up, down, left, right."""

P_GAIN = 10.0
"""proportional gain on (target - position), D4RL's value."""
D_GAIN = -1.0
"""gain on the observed velocity, D4RL's value (negative: it damps)."""


def free_grid(maze_map: Sequence[Sequence[Any]]) -> np.ndarray:
    """``(rows, cols)`` bool, True where a cell is free (anything but the wall marker 1)."""
    rows = {len(row) for row in maze_map}
    if len(rows) != 1 or not maze_map:
        raise AbsactionError("a maze map must be a non-empty rectangle of cells", "give rows of equal length")
    return np.array([[cell != 1 for cell in row] for row in maze_map], dtype=bool)


def bfs_distances(free: np.ndarray, goal: Cell) -> np.ndarray:
    """Moves from every cell to ``goal`` (int64, ``(rows, cols)``); -1 for walls and cut-off cells.

    Args:
        free: the free-cell grid of :func:`free_grid`.
        goal: the goal cell (row, column); it must be free.
    """
    _check_cell(free, goal, "goal")
    dist = np.full(free.shape, -1, dtype=np.int64)
    dist[goal] = 0
    queue: deque[Cell] = deque([goal])
    while queue:
        row, col = queue.popleft()
        for dr, dc in MOVES:
            nxt = (row + dr, col + dc)
            if _inside(free, nxt) and free[nxt] and dist[nxt] < 0:
                dist[nxt] = dist[row, col] + 1
                queue.append(nxt)
    return dist


def next_cell(dist: np.ndarray, cell: Cell) -> Cell:
    """The neighbour of ``cell`` one move closer to the goal of ``dist`` (ties: :data:`MOVES` order);
    ``cell`` itself when it is the goal or cannot reach it."""
    here = int(dist[cell]) if _inside(dist, cell) else -1
    if here <= 0:
        return cell
    for dr, dc in MOVES:
        nxt = (cell[0] + dr, cell[1] + dc)
        if _inside(dist, nxt) and dist[nxt] == here - 1:
            return nxt
    return cell  # unreachable: BFS distances always have a neighbour one closer


def shortest_path(free: np.ndarray, start: Cell, goal: Cell) -> list[Cell]:
    """The cells from ``start`` to ``goal``, both included (ties: :data:`MOVES` order).

    Raises:
        AbsactionError: a cell is a wall or outside the map, or the goal cannot be reached.
    """
    _check_cell(free, start, "start")
    dist = bfs_distances(free, goal)
    if dist[start] < 0:
        raise AbsactionError(f"cell {goal} cannot be reached from {start}", "choose cells that are connected")
    path = [start]
    while path[-1] != goal:
        path.append(next_cell(dist, path[-1]))
    return path


def cells_within(free: np.ndarray, start: Cell, low: int, high: int) -> list[Cell]:
    """Free cells whose shortest path from ``start`` has between ``low`` and ``high`` moves, row-major."""
    dist = bfs_distances(free, start)  # moves are symmetric, so distances from start = to start
    rows, cols = np.nonzero((dist >= low) & (dist <= high))
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]


class WaypointExpert:
    """Drives a PointMaze ball to its ``desired_goal`` through the maze (``--expert waypoint``).

    It follows :class:`absaction.data.collect.Expert`: ``reset`` returns no factors, ``act`` reads the
    Dict observation (position and velocity from ``observation``, the goal from ``desired_goal``).
    The goal is read at every step, so it follows goals that the env moves during an episode
    (``continuing_task=True, reset_target=True``). Distance fields are cached per goal cell.

    Args:
        env: a maze environment: its ``unwrapped`` has a ``maze`` (gymnasium-robotics ``Maze``) with
            ``maze_map`` and ``cell_xy_to_rowcol`` / ``cell_rowcol_to_xy``.
        p_gain: proportional gain (default 10).
        d_gain: velocity gain (default -1).
        noise: std of Gaussian noise added to each action before clipping, action units (default 0;
            ``absaction collect --noise`` adds its own instead).
    """

    factor_names: tuple[str, ...] = ()

    def __init__(
        self, env: gym.Env, p_gain: float = P_GAIN, d_gain: float = D_GAIN, noise: float = 0.0
    ) -> None:
        self.maze = maze_of(env)
        self.free = free_grid(self.maze.maze_map)
        if not noise >= 0:
            raise AbsactionError(f"noise must be >= 0, got {noise}", "use e.g. noise=0.5")
        self.p_gain = float(p_gain)
        self.d_gain = float(d_gain)
        self.noise = float(noise)
        self._fields: dict[Cell, np.ndarray] = {}
        self._rng = np.random.default_rng(0)

    def reset(self, obs: Any, info: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Start an episode; ``rng`` draws the action noise. No factors."""
        self._rng = rng
        return {}

    def cell_of(self, xy: np.ndarray) -> Cell:
        """The (row, column) of a position, clamped to the map."""
        row, col = self.maze.cell_xy_to_rowcol(np.asarray(xy, dtype=np.float64))
        return (int(np.clip(row, 0, self.free.shape[0] - 1)), int(np.clip(col, 0, self.free.shape[1] - 1)))

    def target(self, position: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """The point to steer to: the next cell centre on the shortest path, or ``goal`` in its cell."""
        goal_cell = self.cell_of(goal)
        here = self.cell_of(position)
        if here == goal_cell or not self.free[goal_cell]:
            return np.asarray(goal, dtype=np.float64)
        if goal_cell not in self._fields:
            self._fields[goal_cell] = bfs_distances(self.free, goal_cell)
        step = next_cell(self._fields[goal_cell], here)
        if step == here:  # in a wall cell (pushed into a corner) or cut off: head straight for the goal
            return np.asarray(goal, dtype=np.float64)
        return np.asarray(self.maze.cell_rowcol_to_xy(np.array(step)), dtype=np.float64)

    def act(self, obs: Any) -> np.ndarray:
        """PD action towards :meth:`target`, float32 (2,) in [-1, 1]."""
        state = np.asarray(obs["observation"], dtype=np.float64)  # (4,): x, y, vx, vy
        position, velocity = state[:2], state[2:4]
        action = (
            self.p_gain * (self.target(position, obs["desired_goal"]) - position) + self.d_gain * velocity
        )
        if self.noise > 0:
            action = action + self._rng.normal(0.0, self.noise, size=2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def maze_of(env: gym.Env) -> Any:
    """The gymnasium-robotics ``Maze`` of ``env`` (wrappers are looked through).

    Raises:
        AbsactionError: ``env`` is not a maze world.
    """
    base = env.unwrapped
    maze = getattr(base, "maze", None)
    if maze is None or not hasattr(maze, "maze_map") or not hasattr(maze, "cell_xy_to_rowcol"):
        name = base.spec.id if base.spec is not None else type(base).__name__
        raise AbsactionError(
            f"the waypoint expert drives maze worlds, and {name} is not one",
            "use it with a PointMaze env (e.g. --env PointMaze_Medium-v3), or choose another --expert",
        )
    return maze


def _inside(grid: np.ndarray, cell: Cell) -> bool:
    return 0 <= cell[0] < grid.shape[0] and 0 <= cell[1] < grid.shape[1]


def _check_cell(free: np.ndarray, cell: Cell, what: str) -> None:
    if not _inside(free, cell) or not free[cell]:
        raise AbsactionError(
            f"the {what} cell {tuple(cell)} is a wall or outside the {free.shape[0]}x{free.shape[1]} map",
            "choose a free cell (maze_map value other than 1)",
        )
