"""Reach2D: the paper's 2-D reaching world as a gymnasium environment.

A point starts at ``start`` (default (0, 0)) and moves by a bounded displacement per step towards a
goal drawn at reset (default (-0.1, 1) or (0.1, 1), as in the paper's data). Every registered
variant (sparse reward, obstacle, chain of goals, new goals, wavy family) is this one class with
other :class:`Reach2DConfig` values; see :mod:`absaction.envs.variants`.

Observation (float32, shape (6,), the same layout in every variant so a policy transfers):

====  ===============  ===========================================================================
idx   name             meaning
====  ===============  ===========================================================================
0     ``x``            position, env units, clipped to the arena
1     ``y``            position, env units, clipped to the arena
2     ``goal_x``       current goal, env units
3     ``goal_y``       current goal, env units
4     ``time``         elapsed steps / ``max_steps``, in [0, 1]
5     ``progress``     goals completed / ``n_legs``, in [0, 1]
====  ===============  ===========================================================================

A non-final goal of a chain is completed (and the next one becomes current) on the first step that
ends within ``success_radius`` of it. The final goal counts as completed only when the episode
terminates on it (``terminate_on_success=True``); in the fixed-duration paper world
(``Reach2D-v0``) ``progress`` therefore stays 0.

Action: float32 ``Box(-1, 1, (2,))``, clipped, then scaled: the point moves by
``step_size * action`` (env units per step, per axis), is kept inside the arena, and stops at the
first wall the move would cross (1e-6 short of it).

Reward, per step, with ``d`` the distance (env units) after the move to the goal that was current
before the move:

- ``reward="dense"`` (default): ``-d``.
- ``reward="sparse"``: ``1.0`` if ``d <= success_radius`` else ``0.0``. A non-final goal pays once
  (it is then replaced by the next one); the final goal pays on every step that ends inside it
  unless the episode terminates there.

``info["is_success"]`` is True on a step that ends within ``success_radius`` of the *final* goal
(after all earlier goals were completed). It is judged on the current step only: the paper world is
a fixed-duration movement (no early termination, ``max_steps = 32`` = the expert path length), so
every expert episode has the same length and the episode's success is the last step's flag (the
SB3 ``Monitor`` convention). With ``terminate_on_success=True`` the episode ends on that step.
Episodes are truncated after ``max_steps`` steps (the env enforces this itself; the registered ids
also carry the same ``max_episode_steps``, so to change the horizon through ``gymnasium.make`` pass
both ``max_steps=N`` and ``max_episode_steps=N``).

``info`` has the same keys at reset and at every step (Minari needs that): ``is_success`` (bool),
``goal_index`` (int, the current goal's index in ``goals``; -1 for a custom goal), ``distance``
(float, the ``d`` above; at reset the start's distance to the first goal) and ``goals_completed``
(int).
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from absaction.errors import AbsactionError, refuse_unknown_keys

from . import rendering

Point = tuple[float, float]
Wall = tuple[float, float, float]  # (y, x_min, x_max)

OBS_FIELDS: tuple[str, ...] = ("x", "y", "goal_x", "goal_y", "time", "progress")
REACH2D_POSITION_COLUMNS: tuple[int, int] = (OBS_FIELDS.index("x"), OBS_FIELDS.index("y"))
"""Columns of the point's (x, y) position in every Reach2D world's observation."""
REACH2D_GOAL_COLUMNS: tuple[int, int] = (OBS_FIELDS.index("goal_x"), OBS_FIELDS.index("goal_y"))
"""Columns of the current goal's (x, y) in every Reach2D world's observation."""
RESET_OPTIONS: tuple[str, ...] = ("goal_index", "route", "goal")
WALL_GAP = 1e-6
"""A blocked point stops this far (env units) from the wall, on its own side: more than the float32
resolution of the observation (6e-8 at y = 0.5), far less than anything a task cares about."""


@dataclasses.dataclass(frozen=True)
class Reach2DConfig:
    """Everything that defines a Reach2D world. Lengths are in env units (the paper's goals lie one
    unit ahead of the start); ``gymnasium.make(id, **overrides)`` replaces any field."""

    goals: tuple[Point, ...] = ((-0.1, 1.0), (0.1, 1.0))
    """Candidate goals as displacements (x, y) from the previous way-point (the start, for the first
    goal); with the default start (0, 0) and one leg they are the goal positions."""
    n_legs: int = 1
    """Number of goals to visit in order; more than one makes a chain (goal k = goal k-1 + goals[c_k])."""
    start: Point = (0.0, 0.0)
    """Start position (x, y) of every episode."""
    step_size: float = 0.1
    """Displacement per step for an action component of 1 (env units per step, per axis)."""
    success_radius: float = 0.05
    """A goal is reached when the point ends a step within this distance of it (env units)."""
    reward: str = "dense"
    """``"dense"`` (minus the distance to the goal) or ``"sparse"`` (1 inside the radius, else 0)."""
    terminate_on_success: bool = False
    """End the episode on the step that reaches the final goal (default: fixed-duration movement)."""
    max_steps: int = 32
    """Time limit: episodes are truncated after this many steps."""
    walls: tuple[Wall, ...] = ()
    """Horizontal walls (y, x_min, x_max): a move that would cross one stops at the wall."""
    arena_margin: float = 0.5
    """The arena (position bounds) is the bounding box of start, all reachable goals and walls, padded
    by this many env units on every side."""
    render_size: int = 256
    """Side of the square ``rgb_array`` image, pixels."""

    @classmethod
    def from_overrides(cls, base: Reach2DConfig, overrides: Mapping[str, Any]) -> Reach2DConfig:
        """``base`` with ``overrides`` applied; lists (e.g. from a YAML file) become tuples."""
        names = {f.name for f in dataclasses.fields(cls)}
        refuse_unknown_keys(overrides, names, "Reach2D option(s)", fix=f"use only {', '.join(sorted(names))}")
        values = dict(overrides)
        if "goals" in values:
            values["goals"] = tuple(_point(g, "goals") for g in values["goals"])
        if "start" in values:
            values["start"] = _point(values["start"], "start")
        if "walls" in values:
            values["walls"] = tuple(_wall(w) for w in values["walls"])
        config = dataclasses.replace(base, **values)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`AbsactionError` naming the first invalid field and a valid value."""
        if not self.goals:
            raise AbsactionError("Reach2D needs at least one goal", "pass goals=((x, y), ...)")
        if any(g == (0.0, 0.0) for g in self.goals):
            raise AbsactionError("a Reach2D goal displacement is (0, 0)", "give every goal a non-zero offset")
        checks = [
            (self.n_legs >= 1, "n_legs must be >= 1", "pass n_legs=1 for a single goal"),
            (self.step_size > 0, "step_size must be > 0", "use e.g. step_size=0.1"),
            (self.success_radius > 0, "success_radius must be > 0", "use e.g. success_radius=0.05"),
            (
                self.reward in ("dense", "sparse"),
                f"unknown reward {self.reward!r}",
                "use 'dense' or 'sparse'",
            ),
            (self.max_steps >= 1, "max_steps must be >= 1", "use e.g. max_steps=32"),
            (self.arena_margin >= 0, "arena_margin must be >= 0", "use e.g. arena_margin=0.5"),
            (self.render_size >= 16, "render_size must be >= 16 pixels", "use e.g. render_size=256"),
        ]
        for ok, problem, fix in checks:
            if not ok:
                raise AbsactionError(problem, fix)
        for y, x0, x1 in self.walls:
            if not x0 < x1:
                raise AbsactionError(f"wall at y={y} has x_min >= x_max", "give walls as (y, x_min, x_max)")

    def arena(self) -> tuple[float, float, float, float]:
        """Position bounds (x_min, y_min, x_max, y_max), rounded to float32 values so that a clipped
        float64 position cast to the float32 observation stays inside the observation space."""
        xs_lo = xs_hi = lo_x = hi_x = self.start[0]  # xs_*: the box so far; lo_/hi_: way-points of leg k
        ys_lo = ys_hi = lo_y = hi_y = self.start[1]
        gx = [g[0] for g in self.goals]
        gy = [g[1] for g in self.goals]
        for _ in range(self.n_legs):  # every way-point of every possible chain lies in this box
            lo_x, hi_x = lo_x + min(gx), hi_x + max(gx)
            lo_y, hi_y = lo_y + min(gy), hi_y + max(gy)
            xs_lo, xs_hi = min(xs_lo, lo_x), max(xs_hi, hi_x)
            ys_lo, ys_hi = min(ys_lo, lo_y), max(ys_hi, hi_y)
        for y, x0, x1 in self.walls:
            xs_lo, xs_hi = min(xs_lo, x0), max(xs_hi, x1)
            ys_lo, ys_hi = min(ys_lo, y), max(ys_hi, y)
        m = self.arena_margin
        box = np.array([xs_lo - m, ys_lo - m, xs_hi + m, ys_hi + m], dtype=np.float32)
        x_min, y_min, x_max, y_max = (float(v) for v in box)
        return x_min, y_min, x_max, y_max


def _point(value: Any, what: str) -> Point:
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise AbsactionError(f"{what} entry {value!r} is not an (x, y) pair", "give two numbers") from err
    return (x, y)


def _wall(value: Any) -> Wall:
    try:
        y, x0, x1 = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise AbsactionError(f"wall {value!r} is not (y, x_min, x_max)", "give three numbers") from err
    return (y, x0, x1)


class Reach2DEnv(gym.Env[np.ndarray, np.ndarray]):
    """The paper's 2-D reaching world (``absaction/Reach2D-v0``); see the module docstring for the
    observation, action, reward and termination rules.

    Args:
        render_mode: ``None`` or ``"rgb_array"`` (an (H, W, 3) uint8 image of the path so far, the
            start, the goals, the success radius and the walls).
        **overrides: any :class:`Reach2DConfig` field, replacing the class's ``default_config``.

    Reset options (``env.reset(options=...)``; a fixed goal draws no random numbers):
        ``{"goal_index": i}``: goal ``goals[i]`` (one-leg worlds);
        ``{"route": [i_1, ..., i_K]}``: the goal index of every leg (any world);
        ``{"goal": (x, y)}``: an arbitrary goal inside the arena (one-leg worlds; ``goal_index`` -1).

    Example:
        >>> import gymnasium as gym, absaction
        >>> env = gym.make("absaction/Reach2D-v0")
        >>> obs, info = env.reset(seed=0, options={"goal_index": 1})
        >>> obs[2:4].tolist(), info["goal_index"]
        ([0.10000000149011612, 1.0], 1)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012 (gymnasium declares it)
    default_config: ClassVar[Reach2DConfig] = Reach2DConfig()

    def __init__(self, render_mode: str | None = None, **overrides: Any) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise AbsactionError(f"unknown render_mode {render_mode!r}", "use None or 'rgb_array'")
        self.render_mode = render_mode
        self.config = Reach2DConfig.from_overrides(self.default_config, overrides)
        cfg = self.config

        self._arena = cfg.arena()
        x_min, y_min, x_max, y_max = self._arena
        low = np.array([x_min, y_min, x_min, y_min, 0.0, 0.0], dtype=np.float32)
        high = np.array([x_max, y_max, x_max, y_max, 1.0, 1.0], dtype=np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)

        # Plain Python floats for everything step() touches: scalar float arithmetic is several
        # times faster than numpy scalars, and step() has a speed target (>= Pendulum-v1).
        self._step = float(cfg.step_size)
        self._radius = float(cfg.success_radius)
        self._dense = cfg.reward == "dense"
        self._terminate = bool(cfg.terminate_on_success)
        self._max_steps = int(cfg.max_steps)
        self._inv_max_steps = 1.0 / cfg.max_steps
        self._inv_legs = 1.0 / cfg.n_legs
        self._walls = tuple(cfg.walls)

        # Episode state (set in reset).
        self._x, self._y = cfg.start
        self._route: tuple[Point, ...] = ()
        self._route_indices: tuple[int, ...] = ()
        self._leg = 0  # index of the current goal in the route
        self._completed = 0  # goals completed (observation component 5 = completed / n_legs)
        self._gx = self._gy = 0.0
        self._t = 0
        self._path: list[Point] | None = None  # kept only when rendering

    # ------------------------------------------------------------------ read-only state (experts use it)
    @property
    def position(self) -> Point:
        """Current position (x, y), exact float64 (the observation holds it as float32)."""
        return (self._x, self._y)

    @property
    def goal(self) -> Point:
        """Current goal (x, y), exact."""
        return (self._gx, self._gy)

    @property
    def goal_index(self) -> int:
        """Index into ``config.goals`` of the current leg's goal (-1 for a custom ``goal`` option)."""
        return self._route_indices[self._leg] if self._route_indices else -1

    @property
    def route(self) -> tuple[Point, ...]:
        """This episode's goal positions in visiting order (one per leg)."""
        return self._route

    @property
    def route_indices(self) -> tuple[int, ...]:
        """``goals`` index of every leg of this episode (``(-1,)`` for a custom goal)."""
        return self._route_indices

    @property
    def elapsed_steps(self) -> int:
        """Steps taken since the last reset."""
        return self._t

    @property
    def goals_completed(self) -> int:
        """Goals of the route completed so far (observation component 5 times ``n_legs``)."""
        return self._completed

    @property
    def arena(self) -> tuple[float, float, float, float]:
        """Position bounds (x_min, y_min, x_max, y_max), env units."""
        return self._arena

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode at ``config.start`` with a drawn (or, through ``options``, fixed) route."""
        super().reset(seed=seed)
        self._route_indices, self._route = self._choose_route(options or {})
        self._x, self._y = self.config.start
        self._leg = 0
        self._completed = 0
        self._gx, self._gy = self._route[0]
        self._t = 0
        self._path = [(self._x, self._y)] if self.render_mode is not None else None
        distance = math.hypot(self._x - self._gx, self._y - self._gy)
        success = len(self._route) == 1 and distance <= self._radius
        return self._obs(), self._info(success, distance)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Move by ``step_size * clip(action, -1, 1)``; see the module docstring for the rules."""
        ax = float(action[0])
        ay = float(action[1])
        if ax != ax or ay != ay:  # NaN is the only value unequal to itself
            raise AbsactionError("Reach2D received a NaN action", "check the policy that produced it")
        ax = 1.0 if ax > 1.0 else (-1.0 if ax < -1.0 else ax)
        ay = 1.0 if ay > 1.0 else (-1.0 if ay < -1.0 else ay)

        x_min, y_min, x_max, y_max = self._arena
        nx = self._x + ax * self._step
        ny = self._y + ay * self._step
        nx = x_min if nx < x_min else (x_max if nx > x_max else nx)
        ny = y_min if ny < y_min else (y_max if ny > y_max else ny)
        if self._walls:
            nx, ny = self._block(self._x, self._y, nx, ny)
        self._x, self._y = nx, ny
        self._t += 1
        if self._path is not None:
            self._path.append((nx, ny))

        dx = nx - self._gx
        dy = ny - self._gy
        distance = math.sqrt(dx * dx + dy * dy)
        inside = distance <= self._radius
        reward = -distance if self._dense else (1.0 if inside else 0.0)
        terminated = False
        success = False
        if inside:
            if self._leg + 1 < len(self._route):  # a way-point of a chain: move on to the next goal
                self._leg += 1
                self._completed += 1
                self._gx, self._gy = self._route[self._leg]
            else:
                success = True
                if self._terminate:
                    terminated = True
                    self._completed = len(self._route)
        truncated = not terminated and self._t >= self._max_steps
        return self._obs(), reward, terminated, truncated, self._info(success, distance)

    def render(self) -> np.ndarray | None:
        """An (H, W, 3) uint8 picture of the episode so far (``render_mode="rgb_array"``), else None."""
        if self.render_mode is None:
            gym.logger.warn("render() needs render_mode='rgb_array' when the env is made; it returns None")
            return None
        cfg = self.config
        x_min, y_min, x_max, y_max = self._arena
        canvas = rendering.Canvas(cfg.render_size, (x_min, y_min, x_max, y_max))
        corners = [(x_min, y_min), (x_max, y_min), (x_max, y_max), (x_min, y_max), (x_min, y_min)]
        canvas.polyline(corners, rendering.ARENA, width_px=1)
        for y, x0, x1 in self._walls:
            canvas.polyline([(x0, y), (x1, y)], rendering.WALL, width_px=4)
        if len(self._route) == 1:
            # one-leg worlds: every candidate goal, the drawn one in red
            sx, sy = cfg.start
            for gx, gy in cfg.goals:
                canvas.disc((sx + gx, sy + gy), 3, rendering.GOAL_OTHER)
        for k, goal in enumerate(self._route):
            color = rendering.GOAL_REACHED if k < self._completed else rendering.GOAL_OTHER
            if k == self._leg and self._completed < len(self._route):
                color = rendering.GOAL_CURRENT
            canvas.ring(goal, cfg.success_radius, color)
            canvas.disc(goal, 3, color)
        path = self._path if self._path else [(self._x, self._y)]
        canvas.polyline(path, rendering.PATH, width_px=2.5)
        canvas.disc(cfg.start, 4, rendering.START)
        canvas.disc((self._x, self._y), 4, rendering.POINT)
        return canvas.image

    # ------------------------------------------------------------------ internals
    def _obs(self) -> np.ndarray:
        return np.array(
            (
                self._x,
                self._y,
                self._gx,
                self._gy,
                min(self._t * self._inv_max_steps, 1.0),  # stays in the space if stepped past the limit
                self._completed * self._inv_legs,
            ),
            dtype=np.float32,
        )

    def _info(self, success: bool, distance: float) -> dict[str, Any]:
        return {
            "is_success": success,
            "goal_index": self._route_indices[self._leg],
            "distance": distance,
            "goals_completed": self._completed,
        }

    def _block(self, x: float, y: float, nx: float, ny: float) -> tuple[float, float]:
        """Stop the move (x, y) -> (nx, ny) at the first wall it would cross.

        A wall at height ``wy`` separates ``y < wy`` from ``y >= wy`` over [x_min, x_max]; a move
        crosses it when it changes side there. The point stops where the move meets the wall, moved
        back :data:`WALL_GAP` towards its own side, so that the float32 observation still tells the
        two sides apart.
        """
        hit_frac = 2.0
        hit: tuple[float, float] | None = None
        for wy, x0, x1 in self._walls:
            from_below = y < wy
            if from_below == (ny < wy):
                continue  # same side before and after: this wall is not crossed
            frac = (wy - y) / (ny - y)
            cx = x + frac * (nx - x)
            if x0 <= cx <= x1 and frac < hit_frac:
                hit_frac = frac
                hit = (cx, wy - WALL_GAP if from_below else wy + WALL_GAP)
        return hit if hit is not None else (nx, ny)

    def _choose_route(self, options: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[Point, ...]]:
        cfg = self.config
        refuse_unknown_keys(
            options, RESET_OPTIONS, "Reach2D reset option(s)", fix=f"use one of {', '.join(RESET_OPTIONS)}"
        )
        given = [k for k in RESET_OPTIONS if k in options]
        if len(given) > 1:
            raise AbsactionError(f"reset options {' and '.join(given)} conflict", "pass only one of them")
        n = len(cfg.goals)
        sx, sy = cfg.start
        if "goal" in options:
            if cfg.n_legs != 1:
                raise AbsactionError(
                    "option 'goal' needs a one-leg world", "pass route=[i_1, ..., i_K] for a chain"
                )
            gx, gy = _point(options["goal"], "goal")
            x_min, y_min, x_max, y_max = self._arena
            if not (x_min <= gx <= x_max and y_min <= gy <= y_max):
                raise AbsactionError(
                    f"goal ({gx}, {gy}) lies outside the arena [{x_min}, {x_max}] x [{y_min}, {y_max}]",
                    "choose a goal inside it or raise arena_margin",
                )
            return (-1,), ((gx, gy),)
        if "goal_index" in options:
            if cfg.n_legs != 1:
                raise AbsactionError(
                    f"option 'goal_index' needs a one-leg world, this one has {cfg.n_legs} legs",
                    "pass route=[i_1, ..., i_K] instead",
                )
            indices: tuple[int, ...] = (_index(options["goal_index"], n),)
        elif "route" in options:
            raw = options["route"]
            route = list(raw) if isinstance(raw, Iterable) and not isinstance(raw, (str, bytes)) else []
            if len(route) != cfg.n_legs:
                raise AbsactionError(
                    f"option 'route' must list {cfg.n_legs} goal indices", f"e.g. route={[0] * cfg.n_legs}"
                )
            indices = tuple(_index(i, n) for i in route)
        else:
            indices = tuple(int(i) for i in self.np_random.integers(n, size=cfg.n_legs))
        points = []
        px, py = sx, sy
        for i in indices:
            px, py = px + cfg.goals[i][0], py + cfg.goals[i][1]
            points.append((px, py))
        return indices, tuple(points)


def _index(value: Any, n: int) -> int:
    """``value`` as a goal index in 0..n-1 (any integer type, numpy included; not bool or float)."""
    try:
        index = operator.index(value)
    except TypeError:
        index = None
    if index is None or isinstance(value, bool) or not 0 <= index < n:
        raise AbsactionError(
            f"goal index {value!r} is not in 0..{n - 1}", f"pass an integer from 0 to {n - 1}"
        )
    return index


def is_reach2d(env_id: str | None) -> bool:
    """Whether ``env_id`` is one of absaction's Reach2D worlds (they share one observation layout)."""
    name = None if env_id is None else env_id.rpartition(":")[2]  # "module:EnvId" -> "EnvId"
    return name is not None and name.startswith("absaction/") and "Reach2D" in name


def env_step_size(env_id: str | None) -> float | None:
    """The per-step displacement (env units per unit of action) of ``env_id``, when it declares one
    (``env.unwrapped.step_size`` or ``env.unwrapped.config.step_size``, as the Reach2D worlds do);
    else None."""
    if env_id is None:
        return None
    try:
        env = gym.make(env_id)
    except Exception:  # unknown or unbuildable env: fall back to action units
        return None
    try:
        unwrapped = env.unwrapped
        value = getattr(
            unwrapped, "step_size", getattr(getattr(unwrapped, "config", None), "step_size", None)
        )
        return float(value) if isinstance(value, (int, float, np.floating)) else None
    finally:
        env.close()
