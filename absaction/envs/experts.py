"""Scripted experts for the Reach2D worlds: they make the demonstrations the action VAE learns from.

An expert plans a whole path at ``reset`` (one piece per leg of the route), records the
ground-truth factors of that path, and then tracks it: each action is the displacement to the next
way-point divided by ``step_size``, measured from the observed position (closed loop, so optional
noise does not accumulate into drift). Without noise a path ends exactly on its goal.

Two families:

- :class:`ReachExpert` (the paper's data, FAVAE "2D Reaching"): per leg a single bulge
  ``p(s) = start + s (goal - start) + offset sin(pi s) n`` with ``|offset|`` one of 5 curvature
  degrees (:data:`BULGE_AMPLITUDES`), bulging outward (away from the vertical through the leg's
  start) or inward. Factors ``target``, ``bulge_out``, ``bulge_right``, ``curvature``. It solves
  Reach2D, Sparse, NewGoals, Chain (one reach per leg; factors get a ``_k`` suffix per leg) and
  Obstacle (only the outward bulges that pass beside the wall).
- :class:`WavyExpert` (FAVAE "2D Wavy Reaching"): two halves, each with one of 4 wave shapes and 2
  amplitudes. Factors ``target``, ``shape_1``, ``degree_1``, ``shape_2``, ``degree_2``.
- :class:`PathSetExpert` tracks recorded paths from a file (e.g. the public FAVAE "2D Reaching"
  ``.npz``; :func:`load_recorded_paths`) with the same factors as :class:`ReachExpert`, measured from
  each path's geometry.

:func:`make_expert` picks the family that fits an environment.
"""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError, check_choice, refuse_unknown_keys

from .paths import WAVE_SHAPES, bulge_path, chord_offsets, crossings_at_y, wavy_path
from .reach2d import Point, Reach2DEnv
from .variants import WavyReach2DEnv

BULGE_AMPLITUDES: tuple[float, ...] = (0.05, 0.10, 0.15, 0.20, 0.25)
"""|offset| at the middle of a reach for curvature degree 0..4, env units. Degrees >= 2 outward clear
the obstacle wall of ``Reach2DObstacle-v0`` (the path passes x = +-0.2 or farther at y = 0.5)."""

WAVE_AMPLITUDES: tuple[float, ...] = (0.06, 0.12)
"""Peak offset of a wave for degree 0 and 1, env units."""

DEFAULT_REACH_STEPS = 32
"""Steps per reach (per leg): a multiple of 8, so the 3-ladder convolution divides it."""

DEFAULT_WAVY_STEPS = 64
"""Steps per wavy path (32 per half)."""

_MAX_ENUMERATED_ROUTES = 1024  # factor_values enumerates every route up to this many
_MAX_CACHED_LEGS = 4096  # (start, goal) pairs whose filtered choices are kept


@runtime_checkable
class ScriptedExpert(Protocol):
    """What ``absaction collect --expert scripted`` needs from an expert."""

    factor_names: tuple[str, ...]

    def reset(self, obs: np.ndarray, info: dict[str, Any], rng: np.random.Generator) -> dict[str, int]:
        """Plan the episode (choosing e.g. bulge and curvature with ``rng``); return its factor values."""
        ...

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The next action, float32 (2,) in [-1, 1]."""
        ...


class PathExpert:
    """Base of the scripted experts: plan one path per leg at reset, then track it.

    Subclasses define the per-leg factors (:attr:`leg_factor_names`), the allowed per-leg choices
    (:meth:`_leg_choices`) and the path of one choice (:meth:`_leg_path`). Choices whose path would
    cross a wall (closer than ``wall_margin`` to its ends) are never drawn.

    Attributes:
        factor_names: ``("target", *leg_factor_names)`` for a one-leg world; for a chain of K legs
            every name gets the leg number as a suffix: ``target_1, ..., target_K, ...``.
        factor_values: the values each factor can take in this world (after removing paths that
            hit a wall), e.g. ``{"target": (0, 1), "curvature": (0, 1, 2, 3, 4), ...}``.
    """

    leg_factor_names: ClassVar[tuple[str, ...]] = ()
    wall_fix: ClassVar[str] = "allow larger curvatures or a smaller wall_margin"
    """the fix named when no path of a leg keeps clear of the walls"""

    def __init__(self, env: gym.Env, n_steps: int, noise: float = 0.0, wall_margin: float = 0.03) -> None:
        base = _reach2d(env, type(self).__name__)
        if n_steps < 1:
            raise AbsactionError(
                f"n_steps must be >= 1, got {n_steps}", f"use e.g. n_steps={DEFAULT_REACH_STEPS}"
            )
        if not noise >= 0:
            raise AbsactionError(f"noise must be >= 0, got {noise}", "use e.g. noise=0.002 (env units)")
        cfg = base.config
        needed = n_steps * cfg.n_legs
        if needed > cfg.max_steps:
            raise AbsactionError(
                f"the expert needs {needed} steps ({cfg.n_legs} leg(s) x {n_steps}) but the env truncates "
                f"after {cfg.max_steps}",
                f"pass n_steps <= {cfg.max_steps // cfg.n_legs} or make the env with max_steps={needed} "
                f"and max_episode_steps={needed}",
            )
        self.env = base
        self.n_steps = int(n_steps)
        self.noise = float(noise)
        self.wall_margin = float(wall_margin)
        self.n_legs = cfg.n_legs
        names = ("target", *self.leg_factor_names)
        self.factor_names: tuple[str, ...] = (
            names if self.n_legs == 1 else tuple(f"{n}_{k}" for k in range(1, self.n_legs + 1) for n in names)
        )
        self._cache: dict[tuple[Point, Point], list[dict[str, int]]] = {}
        self._plan = np.zeros((1, 2))
        self._t = 0
        self._rng = np.random.default_rng(0)
        self.factor_values = self._enumerate_factor_values()

    # ------------------------------------------------------------------ subclass hooks
    def _leg_choices(self, start: Point, goal: Point) -> list[dict[str, int]]:
        """Every allowed per-leg choice (without ``target``) for a leg from ``start`` to ``goal``."""
        raise NotImplementedError

    def _leg_path(self, start: Point, goal: Point, choice: Mapping[str, int]) -> np.ndarray:
        """Way-points (n_steps + 1, 2) of one leg."""
        raise NotImplementedError

    # ------------------------------------------------------------------ protocol
    @property
    def plan(self) -> np.ndarray:
        """This episode's way-points, shape (n_legs * n_steps + 1, 2), env units (a copy)."""
        return self._plan.copy()

    def reset(
        self,
        obs: np.ndarray,
        info: dict[str, Any],
        rng: np.random.Generator,
        factors: Mapping[str, int] | None = None,
    ) -> dict[str, int]:
        """Plan the episode the environment has just been reset to.

        Args:
            obs: the reset observation (unused: the plan uses the env's exact start and route).
            info: the reset info (unused, see ``obs``).
            rng: draws the factors and the action noise of this episode. It must be independent
                of the env's ``np_random``: ``env.reset(seed=s)`` and ``np.random.default_rng(s)``
                produce the *same* stream, which would tie the expert's factors to the env's goal;
                use e.g. ``np.random.default_rng([s, 1])``.
            factors: force these factor values instead of drawing them (``target`` entries may be
                left out; they are the env's goals). Used to enumerate every combination.

        Returns:
            The factor values of the planned path, keyed by :attr:`factor_names`.
        """
        env = self.env
        if not env.route:
            raise AbsactionError("the expert was reset before the environment", "call env.reset() first")
        if factors is not None:
            refuse_unknown_keys(
                factors, self.factor_names, "factor(s)", fix=f"use {', '.join(self.factor_names)}"
            )
        chosen: dict[str, int] = {}
        pieces = []
        start = env.config.start
        for leg, (goal, index) in enumerate(zip(env.route, env.route_indices, strict=True)):
            suffix = "" if self.n_legs == 1 else f"_{leg + 1}"
            choices = self._clear_choices(start, goal)
            if factors is None:
                choice = choices[int(rng.integers(len(choices)))]
            else:
                choice = self._forced_choice(factors, suffix, index, choices)
            chosen[f"target{suffix}"] = index
            chosen.update({f"{name}{suffix}": value for name, value in choice.items()})
            path = self._leg_path(start, goal, choice)
            pieces.append(path if leg == 0 else path[1:])  # legs share their joining way-point
            start = goal
        self._plan = np.concatenate(pieces, axis=0)  # (n_legs * n_steps + 1, 2)
        self._t = 0
        self._rng = rng
        return {name: chosen[name] for name in self.factor_names}

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Move towards the next way-point (the last one, once the plan is done); float32 (2,)."""
        self._t += 1
        target = self._plan[min(self._t, len(self._plan) - 1)]
        move = target - np.asarray(obs[:2], dtype=np.float64)  # (2,) env units
        if self.noise > 0:
            move = move + self._rng.normal(0.0, self.noise, size=2)
        return np.clip(move / self.env.config.step_size, -1.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------ internals
    def _clear_choices(self, start: Point, goal: Point) -> list[dict[str, int]]:
        """The allowed choices whose path keeps clear of every wall (cached per leg)."""
        key = (start, goal)
        if key not in self._cache:
            if len(self._cache) >= _MAX_CACHED_LEGS:  # custom goals can make the key set unbounded
                self._cache.clear()
            step = self.env.config.step_size
            keep = []
            for choice in self._leg_choices(start, goal):
                path = self._leg_path(start, goal, choice)
                largest = float(np.abs(np.diff(path, axis=0)).max())  # env units per step
                if largest > step * (1 + 1e-9):
                    raise AbsactionError(
                        f"a {self.n_steps}-step expert path needs moves of {largest:.3f} per step, more than "
                        f"the env's step_size {step}",
                        "give the expert more steps (n_steps=...) or the env a larger step_size",
                    )
                if self._clears_walls(path):
                    keep.append(choice)
            if not keep:
                raise AbsactionError(
                    f"no expert path from {start} to {goal} keeps {self.wall_margin} clear of the walls",
                    self.wall_fix,
                )
            self._cache[key] = keep
        return self._cache[key]

    def _clears_walls(self, path: np.ndarray) -> bool:
        m = self.wall_margin
        for wy, x0, x1 in self.env.config.walls:
            xs = crossings_at_y(path, wy)
            if np.any((xs >= x0 - m) & (xs <= x1 + m)):
                return False
        return True

    def _forced_choice(
        self, factors: Mapping[str, int], suffix: str, index: int, choices: list[dict[str, int]]
    ) -> dict[str, int]:
        if f"target{suffix}" in factors and factors[f"target{suffix}"] != index:
            raise AbsactionError(
                f"factor target{suffix}={factors[f'target{suffix}']} differs from the env's goal {index}",
                "reset the env with options={'goal_index': ...} (or 'route') to choose the target",
            )
        wanted = {n: int(factors[f"{n}{suffix}"]) for n in self.leg_factor_names if f"{n}{suffix}" in factors}
        matches = [c for c in choices if all(c[n] == v for n, v in wanted.items())]
        if len(matches) != 1:
            raise AbsactionError(
                f"factors {wanted} match {len(matches)} allowed expert paths for this goal",
                f"give values that pick exactly one of {choices}",
            )
        return matches[0]

    def _enumerate_factor_values(self) -> dict[str, tuple[int, ...]]:
        cfg = self.env.config
        n = len(cfg.goals)
        values: dict[str, set[int]] = {name: set() for name in self.factor_names}
        routes: Sequence[tuple[int, ...]]
        if n**cfg.n_legs <= _MAX_ENUMERATED_ROUTES:
            routes = list(itertools.product(range(n), repeat=cfg.n_legs))
        else:  # too many routes to list: every leg from the start (exact when there are no walls)
            routes = [(i,) * cfg.n_legs for i in range(n)]
        for route in routes:
            start = cfg.start
            for leg, index in enumerate(route):
                suffix = "" if self.n_legs == 1 else f"_{leg + 1}"
                goal = (start[0] + cfg.goals[index][0], start[1] + cfg.goals[index][1])
                values[f"target{suffix}"].add(index)
                for choice in self._clear_choices(start, goal):
                    for name in self.leg_factor_names:
                        values[f"{name}{suffix}"].add(choice[name])
                start = goal
        return {name: tuple(sorted(v)) for name, v in values.items()}


class ReachExpert(PathExpert):
    """Reaching paths that bulge outward or inward with one of five curvature degrees (the paper's data).

    Per leg from ``a`` to ``g``: ``p(s) = a + s (g - a) + offset sin(pi s) n``, ``s = t / n_steps``,
    ``n`` the chord's right-hand normal (+x for upward reaches), ``|offset| = amplitudes[curvature]``.

    Factors per leg:
        ``target``: goal index in the env's ``goals``;
        ``bulge_out``: 1 = bulges away from the vertical line through the leg's start (outward),
            0 = towards it (inward); a goal straight ahead counts as lying on the right;
        ``bulge_right``: 1 = bulges towards +x (the right of the chord), 0 = towards -x;
        ``curvature``: degree 0..4, the index of ``|offset|`` in ``amplitudes``.

    Args:
        env: a Reach2D environment (any variant; wrappers are looked through).
        n_steps: steps per leg (default 32).
        noise: standard deviation of Gaussian noise added to every move, env units (default 0).
        bulge_outs: allowed ``bulge_out`` values; default (0, 1), or (1,) when the world has walls
            (the detour around ``Reach2DObstacle-v0``'s wall is an outward bulge).
        curvatures: allowed curvature degrees (default all); those whose path would hit a wall are
            dropped per goal.
        amplitudes: ``|offset|`` per curvature degree, env units (default :data:`BULGE_AMPLITUDES`).
        wall_margin: least horizontal clearance between a path and a wall's ends, env units.
    """

    leg_factor_names: ClassVar[tuple[str, ...]] = ("bulge_out", "bulge_right", "curvature")

    def __init__(
        self,
        env: gym.Env,
        n_steps: int = DEFAULT_REACH_STEPS,
        noise: float = 0.0,
        bulge_outs: Sequence[int] | None = None,
        curvatures: Sequence[int] | None = None,
        amplitudes: Sequence[float] = BULGE_AMPLITUDES,
        wall_margin: float = 0.03,
    ) -> None:
        self.amplitudes = tuple(float(a) for a in amplitudes)
        if not self.amplitudes or any(a < 0 for a in self.amplitudes):
            raise AbsactionError(
                "amplitudes must be a non-empty list of offsets >= 0", "e.g. (0.05, 0.1, 0.15)"
            )
        walls = bool(_reach2d(env, type(self).__name__).config.walls)
        self.bulge_outs = _subset(bulge_outs, (1,) if walls else (0, 1), (0, 1), "bulge_outs")
        degrees = tuple(range(len(self.amplitudes)))
        self.curvatures = _subset(curvatures, degrees, degrees, "curvatures")
        super().__init__(env, n_steps, noise, wall_margin)

    def _leg_choices(self, start: Point, goal: Point) -> list[dict[str, int]]:
        goal_right = goal[0] >= start[0]
        return [
            {"bulge_out": out, "bulge_right": int(bool(out) == goal_right), "curvature": degree}
            for out in self.bulge_outs
            for degree in self.curvatures
        ]

    def _leg_path(self, start: Point, goal: Point, choice: Mapping[str, int]) -> np.ndarray:
        sign = 1.0 if choice["bulge_right"] else -1.0
        return bulge_path(start, goal, sign * self.amplitudes[choice["curvature"]], self.n_steps)


class WavyExpert(PathExpert):
    """Two-part wavy paths in the spirit of FAVAE's "2D Wavy Reaching" (5 goals x 4 x 2 x 4 x 2).

    Each half of the chord carries one of four wave shapes (:data:`~absaction.envs.paths.WAVE_SHAPES`:
    0 arc right, 1 arc left, 2 right-then-left S, 3 left-then-right S) at one of two amplitudes.

    Factors per leg: ``target`` (goal index), ``shape_1``, ``degree_1`` (first half), ``shape_2``,
    ``degree_2`` (second half); the amplitude of degree d is ``amplitudes[d]``.

    Args:
        env: a Reach2D environment (made for ``absaction/WavyReach2D-v0``; works on any variant whose
            time limit fits ``n_steps`` per leg).
        n_steps: steps per path, even (default 64).
        noise: standard deviation of Gaussian noise added to every move, env units (default 0).
        shapes: allowed wave shapes (default all four).
        amplitudes: peak offset per degree, env units (default :data:`WAVE_AMPLITUDES`).
        wall_margin: least horizontal clearance between a path and a wall's ends, env units.
    """

    leg_factor_names: ClassVar[tuple[str, ...]] = ("shape_1", "degree_1", "shape_2", "degree_2")

    def __init__(
        self,
        env: gym.Env,
        n_steps: int = DEFAULT_WAVY_STEPS,
        noise: float = 0.0,
        shapes: Sequence[int] | None = None,
        amplitudes: Sequence[float] = WAVE_AMPLITUDES,
        wall_margin: float = 0.03,
    ) -> None:
        if n_steps % 2:
            raise AbsactionError(
                f"a wavy path needs an even number of steps, got {n_steps}", "use e.g. n_steps=64"
            )
        self.amplitudes = tuple(float(a) for a in amplitudes)
        if not self.amplitudes or any(a < 0 for a in self.amplitudes):
            raise AbsactionError("amplitudes must be a non-empty list of offsets >= 0", "e.g. (0.06, 0.12)")
        all_shapes = tuple(range(len(WAVE_SHAPES)))
        self.shapes = _subset(shapes, all_shapes, all_shapes, "shapes")
        super().__init__(env, n_steps, noise, wall_margin)

    def _leg_choices(self, start: Point, goal: Point) -> list[dict[str, int]]:
        degrees = range(len(self.amplitudes))
        return [
            {"shape_1": s1, "degree_1": d1, "shape_2": s2, "degree_2": d2}
            for s1, d1, s2, d2 in itertools.product(self.shapes, degrees, self.shapes, degrees)
        ]

    def _leg_path(self, start: Point, goal: Point, choice: Mapping[str, int]) -> np.ndarray:
        shapes = (choice["shape_1"], choice["shape_2"])
        amplitudes = (self.amplitudes[choice["degree_1"]], self.amplitudes[choice["degree_2"]])
        return wavy_path(start, goal, shapes, amplitudes, self.n_steps)


class PathSetExpert(PathExpert):
    """Tracks recorded paths instead of drawing its own: e.g. the public FAVAE "2D Reaching" paths.

    ``paths`` are way-points ``(N, P, 2)`` in env units, each taken relative to its own first point.
    For every leg, the candidates are the paths whose end lies within the env's success radius of the
    leg's goal displacement; one is drawn per episode, resampled (linear interpolation in time) to
    ``n_steps`` steps and tracked like every scripted path, so ``absaction collect --noise`` makes
    noisy copies of it.

    The factors are measured from each path's geometry, so the datasets it writes score exactly like
    :class:`ReachExpert`'s (whatever labels the file carries):
        ``target``: the env's goal index;
        ``bulge_right``: 1 when the way-point farthest from the chord lies to its right (+x for upward
            reaches), else 0;
        ``bulge_out``: 1 when that side points away from the vertical through the leg's start (as
            :class:`ReachExpert` defines it);
        ``curvature``: the rank of the path's largest chord offset among the file's distinct values
            (rounded to 1e-4 env units), 0 = the smallest.

    Args:
        env: a Reach2D environment whose goal displacements the paths reach.
        paths: way-points ``(N, P, 2)``, P >= 2, env units (see :func:`load_recorded_paths`).
        n_steps: steps per leg; default: the env's episode length divided by its number of legs.
        noise: standard deviation of Gaussian noise added to every move, env units (default 0).
        wall_margin: least horizontal clearance between a path and a wall's ends, env units.
    """

    leg_factor_names: ClassVar[tuple[str, ...]] = ("bulge_out", "bulge_right", "curvature")
    wall_fix: ClassVar[str] = "record paths that pass beside the walls, or pass a smaller wall_margin"

    def __init__(
        self,
        env: gym.Env,
        paths: np.ndarray,
        n_steps: int | None = None,
        noise: float = 0.0,
        wall_margin: float = 0.03,
    ) -> None:
        cfg = _reach2d(env, type(self).__name__).config
        recorded = _check_paths(paths)
        steps = cfg.max_steps // cfg.n_legs if n_steps is None else int(n_steps)
        if steps < 1:
            raise AbsactionError(f"n_steps must be >= 1, got {steps}", "pass n_steps=32")
        old = np.linspace(0.0, 1.0, recorded.shape[1])
        new = np.linspace(0.0, 1.0, steps + 1)
        relative = recorded - recorded[:, :1]  # (N, P, 2): every path from its own start
        self.paths = np.stack(
            [np.stack([np.interp(new, old, p[:, axis]) for axis in (0, 1)], axis=1) for p in relative]
        )  # (N, steps + 1, 2)
        offsets = np.array([chord_offsets(p, p[0], p[-1]) for p in self.paths])  # (N, steps + 1)
        largest = offsets[np.arange(len(offsets)), np.abs(offsets).argmax(axis=1)]  # (N,) signed
        levels = np.unique(np.round(np.abs(largest), 4))
        self._bulge_right = (largest > 0).astype(int)
        self._curvature = np.searchsorted(levels, np.round(np.abs(largest), 4))
        self._ends = self.paths[:, -1]  # (N, 2)
        super().__init__(env, steps, noise, wall_margin)

    def _leg_choices(self, start: Point, goal: Point) -> list[dict[str, int]]:
        wanted = np.array([goal[0] - start[0], goal[1] - start[1]])
        radius = self.env.config.success_radius
        near = np.flatnonzero(np.linalg.norm(self._ends - wanted, axis=1) <= radius)
        if near.size == 0:
            closest = float(np.linalg.norm(self._ends - wanted, axis=1).min())
            raise AbsactionError(
                f"none of the {len(self._ends)} recorded paths ends within {radius} of the goal displacement "
                f"({wanted[0]:.3f}, {wanted[1]:.3f}) (the closest is {closest:.3f} away)",
                "record paths that reach this env's goals, or use an env whose goals they reach "
                "(the FAVAE 2D Reaching paths fit absaction/Reach2D-v0)",
            )
        goal_right = goal[0] >= start[0]
        return [
            {
                "bulge_out": int(bool(self._bulge_right[i]) == goal_right),
                "bulge_right": int(self._bulge_right[i]),
                "curvature": int(self._curvature[i]),
                "path": int(i),
            }
            for i in near
        ]

    def _leg_path(self, start: Point, goal: Point, choice: Mapping[str, int]) -> np.ndarray:
        path: np.ndarray = self.paths[choice["path"]] + np.asarray(start, dtype=np.float64)
        return path


def load_recorded_paths(file: str | os.PathLike[str]) -> np.ndarray:
    """Way-points ``(N, P, 2)`` float64 from a ``.npz`` file: its ``positions`` array (the FAVAE
    "2D Reaching" files' layout), or its only array. Raises :class:`AbsactionError` (one line) for a
    missing or unreadable file and for arrays that are not finite ``(N, P, 2)`` paths."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise AbsactionError(f"paths file {path} not found", "pass the .npz file of recorded paths")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            key = "positions" if "positions" in names else (names[0] if len(names) == 1 else None)
            if key is None:
                raise AbsactionError(
                    f"{path} holds {', '.join(names) or 'no arrays'} but no 'positions' array",
                    "save the way-points as positions=(N, P, 2)",
                )
            array = np.asarray(data[key], dtype=np.float64)
    except AbsactionError:
        raise
    except Exception as err:  # not a zip / npz, truncated file, object arrays
        raise AbsactionError(
            f"cannot read {path} as a .npz of paths ({type(err).__name__})",
            "save the way-points with numpy.savez(file, positions=paths)",
        ) from None
    return _check_paths(array, str(path))


def _check_paths(paths: np.ndarray, where: str = "paths") -> np.ndarray:
    array = np.asarray(paths, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 2 or array.shape[1] < 2 or array.shape[0] < 1:
        raise AbsactionError(
            f"{where} must be way-points of shape (N, P, 2) with P >= 2, got {array.shape}",
            "give one (x, y) row per time step for every path",
        )
    if not np.all(np.isfinite(array)):
        raise AbsactionError(f"{where} contain NaN or infinite way-points", "drop or repair those paths")
    closed = np.flatnonzero(np.linalg.norm(array[:, -1] - array[:, 0], axis=1) == 0)
    if closed.size:
        raise AbsactionError(
            f"{where}: path {int(closed[0])} ends where it starts, so it reaches no goal",
            "keep only paths that move from their start to a goal",
        )
    return array


EXPERT_FAMILIES: dict[str, type[PathExpert]] = {"reach": ReachExpert, "wavy": WavyExpert}
"""Expert family name -> class, for ``make_expert(env, family=...)``."""


def make_expert(env: gym.Env, family: str | None = None, **kwargs: Any) -> PathExpert:
    """The scripted expert for ``env`` (wrappers are looked through).

    Args:
        env: a registered Reach2D environment (any ``absaction/...`` id) or a ``Reach2DEnv``.
        family: ``"reach"`` or ``"wavy"``; default: ``"wavy"`` for ``WavyReach2D-v0``, else ``"reach"``
            (which also solves the obstacle, chain and new-goal variants).
        **kwargs: options of the expert class (``n_steps``, ``noise``, ...; see :class:`ReachExpert`
            and :class:`WavyExpert`).

    Raises:
        AbsactionError: the env has no scripted expert (use a random or trained policy instead), the
            family or an option is unknown, or the expert's path does not fit the env.
    """
    base = env.unwrapped
    if not isinstance(base, Reach2DEnv):
        name = base.spec.id if base.spec is not None else type(base).__name__
        raise AbsactionError(
            f"no scripted expert exists for {name}",
            "use --expert random or a trained stable-baselines3 policy (--expert PATH.zip)",
        )
    if family is None:
        family = "wavy" if isinstance(base, WavyReach2DEnv) else "reach"
    check_choice(family, EXPERT_FAMILIES, "expert family")
    cls = EXPERT_FAMILIES[family]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "env")]
    refuse_unknown_keys(
        kwargs, accepted, "option(s)", context=f" for the {family} expert", fix=f"use {', '.join(accepted)}"
    )
    return cls(base, **kwargs)


def _reach2d(env: gym.Env, who: str) -> Reach2DEnv:
    base = env.unwrapped
    if not isinstance(base, Reach2DEnv):
        raise AbsactionError(
            f"{who} needs a Reach2D environment, got {type(base).__name__}",
            "use make_expert(env), --expert random or a trained policy (--expert PATH.zip)",
        )
    return base


def _subset(
    given: Sequence[int] | None, default: tuple[int, ...], allowed: tuple[int, ...], what: str
) -> tuple[int, ...]:
    values = default if given is None else tuple(sorted({int(v) for v in given}))
    if not values or any(v not in allowed for v in values):
        raise AbsactionError(
            f"{what} must be a non-empty subset of {allowed}, got {given}", f"e.g. {what}={default}"
        )
    return values
