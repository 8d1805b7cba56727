"""OGBench's point-mass mazes (``ogbench:pointmaze-{medium,large,giant,teleport}-v0``): the facts of a
maze layout, OGBench's oracle expert and the start/goal samplers of its ``navigate`` and ``stitch``
datasets, so that those datasets can be regenerated here (``absaction collect --expert oracle:MODE``).

A layout is OGBench's ``maze_map`` (row ``i``, column ``j``; 1 = wall, 0 = free) with cells of
``unit`` = 4 world units; cell ``(i, j)`` is centred at ``(j * unit - offset_x, i * unit - offset_y)``.

- The oracle subgoal of a position is the centre of the neighbouring cell with the fewest moves to the
  goal's cell (breadth-first search, 4-connected; ties go to the first of up, left, down, right), or the
  centre of the position's own cell when no neighbour is closer (the goal's cell itself).
- The oracle expert acts ``direction + N(0, noise^2)`` per component, clipped to [-1, 1], where
  ``direction`` is the unit vector (norm + 1e-6) from the position to the oracle subgoal; OGBench used
  ``noise = 0.5``.
- ``navigate``: the start is uniform over free cells, each goal uniform over free cells that are not
  straight corridor cells; a new goal is drawn each time the current one is reached.
- ``stitch``: the start is uniform over free cells, the goal uniform over the cells exactly
  :data:`STITCH_MOVES` moves away. OGBench's own script gave a start with no such cell its own cell as
  the goal; here such a start is never drawn, so every stitch goal lies exactly 4 moves away (of the
  four mazes only teleport has such a cell, the walled-in (1, 7)).

All randomness comes from one ``numpy.random.Generator``. The env itself draws from NumPy's global
generator (the +-1 position noise of starts and goals, teleports); :func:`rollout_episode` seeds that
from the Generator for the episode and gives the caller's global state back afterwards.

Making an env needs ``pip install 'absaction[ogbench]'``; the layout facts and the oracle do not:

    >>> layout = MazeLayout(np.array([[1, 1, 1, 1, 1],
    ...                               [1, 0, 0, 0, 1],
    ...                               [1, 0, 1, 0, 1],
    ...                               [1, 1, 1, 1, 1]]))
    >>> layout.moves((1, 1), (2, 3)), layout.corridor_cells()
    (3, [(1, 2)])
    >>> layout.subgoal_cell((1, 1), (2, 3)), layout.center((1, 2))
    ((1, 2), (4.0, 0.0))
    >>> layout.oracle_direction(np.array([0.0, 0.0]), np.array([8.0, 4.0])).round(6).tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from types import ModuleType
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError

from .ids import registered_id, resolve_env_id

OGBENCH_EXTRA_FIX = "pip install 'absaction[ogbench]'"
"""The fix named whenever OGBench is missing."""

DATASET_TYPES: tuple[str, ...] = ("navigate", "stitch")
"""The OGBench dataset types the oracle regenerates."""

STITCH_MOVES = 4
"""Moves (breadth-first, 4-connected) from a stitch episode's start cell to its goal cell."""

ORACLE_NOISE = 0.5
"""Std of the Gaussian noise OGBench added to every component of the oracle's unit direction."""

DIRECTION_EPS = 1e-6
"""Added to the norm when the direction to the subgoal is normalised (OGBench's value)."""

MOVES: tuple[tuple[int, int], ...] = ((-1, 0), (0, -1), (1, 0), (0, 1))
"""Neighbour order of OGBench's oracle (up, left, down, right): the first of equally close ones wins."""

Cell = tuple[int, int]
"""(row i, column j) of a maze cell, as OGBench's ``maze_map`` indexes it."""

POINT_MAZE_IDS: tuple[str, ...] = tuple(f"pointmaze-{m}-v0" for m in ("medium", "large", "giant", "teleport"))
"""The OGBench envs the oracle drives."""


def require_ogbench() -> ModuleType:
    """Import OGBench (which registers its envs with gymnasium), or raise one line naming the extra."""
    try:
        import ogbench  # heavy (MuJoCo, dm_control) and an optional extra: imported on use only
    except ImportError as err:
        raise AbsactionError(
            f"OGBench is not installed ({err.name or 'ogbench'} is missing)", OGBENCH_EXTRA_FIX
        ) from None
    return ogbench


@dataclass(frozen=True, eq=False)
class MazeLayout:
    """The facts of one maze: free cells, moves between cells, corridor cells, cell <-> position.

    Args:
        maze_map: ``(rows, cols)`` ints, 1 = wall, 0 = free (OGBench's ``maze_map``).
        unit: side of a cell in world units (OGBench: 4).
        offset: ``(offset_x, offset_y)``; cell ``(i, j)`` is centred at ``(j * unit - offset_x,
            i * unit - offset_y)`` (OGBench: (4, 4), so cell (1, 1) is centred at the origin).
    """

    maze_map: np.ndarray
    unit: float = 4.0
    offset: tuple[float, float] = (4.0, 4.0)
    _distances: dict[Cell, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        grid = np.asarray(self.maze_map)
        if grid.ndim != 2 or grid.size == 0 or not np.isin(grid, (0, 1)).all():
            raise AbsactionError(
                "a maze map must be a non-empty 2-D grid of 0 (free) and 1 (wall)", "pass OGBench's maze_map"
            )
        object.__setattr__(self, "maze_map", grid.astype(np.int64))

    @classmethod
    def from_env(cls, env: gym.Env) -> MazeLayout:
        """The layout of an OGBench maze env (read through its public ``maze_map`` and ``ij_to_xy``)."""
        maze = env.unwrapped
        if not hasattr(maze, "maze_map") or not hasattr(maze, "ij_to_xy"):
            raise AbsactionError(
                f"{env.spec.id if env.spec else env} is not an OGBench maze",
                f"use one of {', '.join(POINT_MAZE_IDS)}",
            )
        x0, y0 = maze.ij_to_xy((0, 0))
        x1, _ = maze.ij_to_xy((0, 1))
        return cls(np.asarray(maze.maze_map), unit=float(x1 - x0), offset=(-float(x0), -float(y0)))

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.maze_map.shape[0]), int(self.maze_map.shape[1])

    def is_free(self, cell: Cell) -> bool:
        """Whether ``cell`` lies in the map and is not a wall."""
        i, j = cell
        return 0 <= i < self.shape[0] and 0 <= j < self.shape[1] and self.maze_map[i, j] == 0

    @cached_property
    def free_cells(self) -> list[Cell]:
        """Every free cell, row-major (the order samplers index)."""
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(self.maze_map == 0), strict=True)]

    def is_corridor(self, cell: Cell) -> bool:
        """Whether ``cell`` is a straight corridor cell: free above and below with walls left and right,
        or the reverse (outside the map counts as wall)."""
        i, j = cell
        up, down = self.is_free((i - 1, j)), self.is_free((i + 1, j))
        left, right = self.is_free((i, j - 1)), self.is_free((i, j + 1))
        return self.is_free(cell) and (
            (up and down and not left and not right) or (left and right and not up and not down)
        )

    def corridor_cells(self) -> list[Cell]:
        """The straight corridor cells, row-major."""
        return [cell for cell in self.free_cells if self.is_corridor(cell)]

    @cached_property
    def goal_cells(self) -> list[Cell]:
        """Free cells that are not corridor cells: where ``navigate`` goals are drawn, row-major."""
        return [cell for cell in self.free_cells if not self.is_corridor(cell)]

    def distances_from(self, source: Cell) -> np.ndarray:
        """``(rows, cols)`` int64: moves from ``source`` to every cell; -1 for walls and cells it cannot
        reach. ``source`` may be any cell of the map (OGBench searches from a wall cell too). Cached."""
        source = (int(source[0]), int(source[1]))
        cached = self._distances.get(source)
        if cached is not None:
            return cached
        if not (0 <= source[0] < self.shape[0] and 0 <= source[1] < self.shape[1]):
            raise AbsactionError(
                f"cell {source} lies outside the {self.shape} maze", "pass a cell of the map"
            )
        dist = np.full(self.shape, -1, dtype=np.int64)
        dist[source] = 0
        queue: deque[Cell] = deque([source])
        while queue:
            i, j = queue.popleft()
            for di, dj in MOVES:
                nxt = (i + di, j + dj)
                if self.is_free(nxt) and dist[nxt] < 0:
                    dist[nxt] = dist[i, j] + 1
                    queue.append(nxt)
        dist.setflags(write=False)
        self._distances[source] = dist
        return dist

    def moves(self, start: Cell, goal: Cell) -> int:
        """Moves on the shortest path from ``start`` to ``goal`` (-1 when it cannot be reached)."""
        return int(self.distances_from(goal)[start])

    def cells_at(self, start: Cell, moves: int) -> list[Cell]:
        """The free cells exactly ``moves`` moves from ``start``, row-major."""
        dist = self.distances_from(start)
        return [cell for cell in self.free_cells if dist[cell] == moves]

    def cell_of(self, xy: np.ndarray) -> Cell:
        """The cell that holds position ``xy`` (OGBench's ``xy_to_ij``, truncating as it does)."""
        i = int((float(xy[1]) + self.offset[1] + 0.5 * self.unit) / self.unit)
        j = int((float(xy[0]) + self.offset[0] + 0.5 * self.unit) / self.unit)
        return i, j

    def center(self, cell: Cell) -> tuple[float, float]:
        """The position ``(x, y)`` of the centre of ``cell`` (OGBench's ``ij_to_xy``)."""
        return cell[1] * self.unit - self.offset[0], cell[0] * self.unit - self.offset[1]

    def subgoal_cell(self, cell: Cell, goal: Cell) -> Cell:
        """The neighbour of ``cell`` with the fewest moves to ``goal`` (ties: :data:`MOVES` order), or
        ``cell`` when none is closer: OGBench's ``get_oracle_subgoal`` on cells."""
        dist = self.distances_from(goal)
        best, best_moves = cell, int(dist[cell])
        for di, dj in MOVES:
            nxt = (cell[0] + di, cell[1] + dj)
            if self.is_free(nxt) and dist[nxt] < best_moves:
                best, best_moves = nxt, int(dist[nxt])
        return best

    def oracle_direction(self, xy: np.ndarray, goal_xy: np.ndarray) -> np.ndarray:
        """``(2,)`` float64: the unit vector (norm + :data:`DIRECTION_EPS`) from ``xy`` to the centre of
        its oracle subgoal cell toward ``goal_xy``."""
        sub = self.center(self.subgoal_cell(self.cell_of(xy), self.cell_of(goal_xy)))
        delta = np.array(sub, dtype=np.float64) - np.asarray(xy, dtype=np.float64)[:2]
        return delta / (np.linalg.norm(delta) + DIRECTION_EPS)


def sample_start_goal(layout: MazeLayout, dataset_type: str, rng: np.random.Generator) -> tuple[Cell, Cell]:
    """An episode's start and (first) goal cell for a ``navigate`` or ``stitch`` dataset."""
    if dataset_type == "navigate":
        start = layout.free_cells[int(rng.integers(len(layout.free_cells)))]
        return start, sample_navigate_goal(layout, rng)
    if dataset_type == "stitch":
        starts = stitch_starts(layout)
        start = starts[int(rng.integers(len(starts)))]
        goals = layout.cells_at(start, STITCH_MOVES)
        return start, goals[int(rng.integers(len(goals)))]
    raise AbsactionError(
        f"unknown OGBench dataset type {dataset_type!r}", f"choose {' or '.join(DATASET_TYPES)}"
    )


def sample_navigate_goal(layout: MazeLayout, rng: np.random.Generator) -> Cell:
    """A ``navigate`` goal: uniform over :attr:`MazeLayout.goal_cells`."""
    return layout.goal_cells[int(rng.integers(len(layout.goal_cells)))]


def stitch_starts(layout: MazeLayout) -> list[Cell]:
    """The free cells with at least one cell exactly :data:`STITCH_MOVES` moves away, row-major."""
    starts = [cell for cell in layout.free_cells if layout.cells_at(cell, STITCH_MOVES)]
    if not starts:
        raise AbsactionError(
            f"no two cells of this maze lie {STITCH_MOVES} moves apart", "use navigate for so small a maze"
        )
    return starts


class OracleAction(NamedTuple):
    """One decision of :class:`OracleExpert`."""

    action: np.ndarray
    """``(2,)`` float64, ``direction + noise`` clipped to [-1, 1]: what the env receives (the files
    store it as float32, as OGBench's)."""
    direction: np.ndarray
    """``(2,)`` float64, the unit direction to the oracle subgoal."""
    noise: np.ndarray
    """``(2,)`` float64, the Gaussian noise drawn (the action before clipping minus ``direction``)."""


class OracleExpert:
    """OGBench's pointmaze expert: the unit direction to the oracle subgoal plus Gaussian noise.

    Args:
        layout: the maze.
        noise: std of the noise per action component (OGBench: :data:`ORACLE_NOISE`).
    """

    def __init__(self, layout: MazeLayout, noise: float = ORACLE_NOISE) -> None:
        if not (np.isfinite(noise) and noise >= 0):
            raise AbsactionError(f"noise must be a finite number >= 0, got {noise}", "pass e.g. noise=0.5")
        self.layout = layout
        self.noise = float(noise)

    def act(self, xy: np.ndarray, goal_xy: np.ndarray, rng: np.random.Generator) -> OracleAction:
        direction = self.layout.oracle_direction(xy, goal_xy)
        noise = rng.normal(0.0, self.noise, size=2) if self.noise > 0 else np.zeros(2)
        action = np.clip(direction + noise, -1.0, 1.0)
        return OracleAction(action, direction, noise)


def point_maze_name(env_id: str) -> str:
    """The maze of an OGBench pointmaze env id (``ogbench:pointmaze-large-v0`` -> ``large``).

    Raises:
        AbsactionError: OGBench is missing, the id is unknown, or it is not a goal-conditioned point maze
            (antmaze needs OGBench's trained expert, a single-task variant fixes its own task).
    """
    require_ogbench()
    name = resolve_env_id(env_id)
    kwargs = gym.spec(name).kwargs
    if (
        kwargs.get("loco_env_type") != "point"
        or kwargs.get("maze_env_type") != "maze"
        or kwargs.get("ob_type", "states") != "states"
        or "reward_task_id" in kwargs
    ):
        raise AbsactionError(
            f"the oracle expert drives OGBench's goal-conditioned point mass; {registered_id(env_id)} is "
            "not one of those mazes",
            f"use one of {', '.join('ogbench:' + i for i in POINT_MAZE_IDS)}",
        )
    return str(kwargs["maze_type"])


def make_oracle_env(env_id: str, max_steps: int) -> gym.Env:
    """OGBench's pointmaze env as its datasets were recorded: no termination at the goal, a time limit
    of ``max_steps`` steps (``gymnasium.make(env, terminate_at_goal=False, max_episode_steps=...)``)."""
    point_maze_name(env_id)  # checks the id first
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium's env checker nags about float64 observations
        env = gym.make(resolve_env_id(env_id), terminate_at_goal=False, max_episode_steps=max_steps)
    drop_model_file(env)
    return env


def drop_model_file(env: gym.Env) -> None:
    """Delete the model file OGBench's maze wrote with ``tempfile.mkstemp`` and never removes (MuJoCo
    has read it once the env exists); any other file is left alone."""
    path = getattr(env.unwrapped, "fullpath", None)
    if not isinstance(path, str):
        return
    name = os.path.basename(path)
    in_tmp = os.path.dirname(os.path.abspath(path)) == os.path.abspath(tempfile.gettempdir())
    if in_tmp and name.startswith("tmp") and name.endswith(".xml"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


@contextlib.contextmanager
def global_numpy_seed(seed: int) -> Iterator[None]:
    """NumPy's global generator is seeded with ``seed`` inside the block (OGBench's env draws from it)
    and holds the caller's state again afterwards."""
    before = np.random.get_state()  # noqa: NPY002 - the env draws from the global generator
    np.random.seed(seed)  # noqa: NPY002 - restored below
    try:
        yield
    finally:
        np.random.set_state(before)  # noqa: NPY002


@dataclass(eq=False)
class MazeEpisode:
    """One recorded episode of ``T`` steps, in OGBench's row layout (row t: the observation before step
    t, the action taken there, and the state before it)."""

    observations: np.ndarray
    """``(T, obs_dim)`` float64 positions x, y."""
    actions: np.ndarray
    """``(T, 2)`` float32, clipped to [-1, 1]."""
    qpos: np.ndarray
    """``(T, nq)`` float64, MuJoCo's qpos before each step."""
    qvel: np.ndarray
    """``(T, nv)`` float64, MuJoCo's qvel before each step."""
    directions: np.ndarray
    """``(T, 2)`` float64, the oracle's unit direction at each step."""
    noise: np.ndarray
    """``(T, 2)`` float64, the noise drawn at each step (before clipping)."""
    start: Cell
    """the cell of the first observation."""
    goal: Cell
    """the cell of the first goal."""
    goal_reaches: int
    """steps that ended within the goal radius (navigate: each draws the next goal)."""
    final_success: bool
    """whether the last step ended within the goal radius."""


def rollout_episode(
    env: gym.Env, expert: OracleExpert, dataset_type: str, rng: np.random.Generator
) -> MazeEpisode:
    """Run one episode of OGBench's recipe in ``env`` (from :func:`make_oracle_env`) until its time limit.

    The start and goal come from :func:`sample_start_goal`; a ``navigate`` episode draws a new goal
    (:func:`sample_navigate_goal`) on every step that ends within the goal radius, as OGBench's script.
    """
    layout = expert.layout
    start, goal = sample_start_goal(layout, dataset_type, rng)
    seed = int(rng.integers(2**31))
    maze: Any = env.unwrapped
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "qpos", "qvel", "dir", "noise")}
    reaches = 0
    success = False
    with global_numpy_seed(seed):
        env.action_space.seed(seed)  # the env takes a few random actions while it resets
        ob, _ = env.reset(seed=seed, options={"task_info": {"init_ij": start, "goal_ij": goal}})
        first_goal = layout.cell_of(maze.cur_goal_xy)
        done = False
        while not done:
            decision = expert.act(maze.get_xy(), maze.cur_goal_xy, rng)
            next_ob, _, terminated, truncated, info = env.step(decision.action)
            done = bool(terminated or truncated)
            success = bool(info["success"])
            if success:
                reaches += 1
                if dataset_type == "navigate":
                    # the draws of OGBench's set_goal(goal_ij), which also leaves the target marker at NaN
                    new_goal = maze.ij_to_xy(sample_navigate_goal(layout, rng))
                    maze.set_goal(goal_xy=np.array(maze.add_noise(new_goal)))
            for key, value in zip(
                rows,
                (
                    ob,
                    decision.action,
                    info["prev_qpos"],
                    info["prev_qvel"],
                    decision.direction,
                    decision.noise,
                ),
                strict=True,
            ):
                rows[key].append(np.asarray(value))
            ob = next_ob
    return MazeEpisode(
        observations=np.stack(rows["obs"]),
        actions=np.stack(rows["act"]).astype(np.float32),
        qpos=np.stack(rows["qpos"]),
        qvel=np.stack(rows["qvel"]),
        directions=np.stack(rows["dir"]),
        noise=np.stack(rows["noise"]),
        start=layout.cell_of(rows["obs"][0]),
        goal=first_goal,
        goal_reaches=reaches,
        final_success=success,
    )
