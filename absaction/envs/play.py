"""Reach2D play mode: reaches from varied starts to random goals over the whole workspace.

The paper's data teaches "go to A or B"; a skill model needs motions that cover the workspace. In
``absaction/Reach2DPlay-v0`` every reset draws a start uniformly in :data:`PLAY_WORKSPACE` and a goal in
it at a distance in :data:`PLAY_DISTANCES` (so the demonstrated speeds vary, up to the action bound for
the scripted expert's 32-step bulging paths), keeping every goal at least :data:`NEW_GOAL_MARGIN` away
from the new-goal task's goals (:data:`~absaction.envs.variants.NEW_GOALS`): reaching those stays a
transfer. The rules (dense reward, radius 0.05, 32 fixed steps, step size 0.1) are the paper world's, and
the scripted expert (:func:`absaction.envs.make_expert`: bulges, curvatures, noise) solves it, so
``absaction collect --env absaction/Reach2DPlay-v0`` records play data.

Reset options ``start`` and ``goal`` (each an (x, y) point) fix either draw.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from absaction.errors import AbsactionError

from .reach2d import Point, Reach2DConfig, Reach2DEnv
from .variants import NEW_GOALS

PLAY_WORKSPACE: tuple[float, float, float, float] = (-1.0, -0.5, 1.0, 2.0)
"""(x_min, y_min, x_max, y_max) of the starts and goals, env units: the paper's and new goals lie inside."""

PLAY_DISTANCES: tuple[float, float] = (0.3, 2.3)
"""Least and largest start-goal distance, env units. 2.3 / 32 steps + the largest bulge's sideways speed
(0.25 pi / 32) keeps every move of the expert under the step size 0.1 (the action bound)."""

NEW_GOAL_MARGIN = 0.15
"""Play goals keep this distance (env units) from every goal of ``Reach2DNewGoals-v0``."""

_MAX_DRAWS = 10_000  # rejection sampling of a goal; the accepted share is far above 1 / 100


class Reach2DPlayEnv(Reach2DEnv):
    """``absaction/Reach2DPlay-v0``: play data for skills; varied starts, random goals (see the module).

    Not a benchmark task: it makes diverse demonstrations. The arena is the workspace plus the usual
    0.5 margin, so every bulging expert path stays inside it.
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(
        # the goals only span the arena (x_min, y_min) .. (x_max, y_max); resets draw their own goal
        goals=((PLAY_WORKSPACE[0], PLAY_WORKSPACE[1]), (PLAY_WORKSPACE[2], PLAY_WORKSPACE[3]))
    )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a start and a goal (or take ``options["start"]`` / ``options["goal"]``), then reset there."""
        options = dict(options or {})
        unknown = sorted(set(options) - {"start", "goal"})
        if unknown:
            raise AbsactionError(
                f"unknown Reach2DPlay reset option(s) {', '.join(unknown)}", "use start and/or goal"
            )
        gym.Env.reset(self, seed=seed)  # seeds np_random before the draws
        start = _point(options["start"]) if "start" in options else self._draw_start()
        goal = _point(options["goal"]) if "goal" in options else self._draw_goal(start)
        # the base class and the scripted expert both read the start from the config
        self.config = dataclasses.replace(self.config, start=start)
        return super().reset(options={"goal": goal})

    def _draw_start(self) -> Point:
        x_min, y_min, x_max, y_max = PLAY_WORKSPACE
        x, y = self.np_random.uniform((x_min, y_min), (x_max, y_max))
        return float(x), float(y)

    def _draw_goal(self, start: Point) -> Point:
        x_min, y_min, x_max, y_max = PLAY_WORKSPACE
        low, high = PLAY_DISTANCES
        for _ in range(_MAX_DRAWS):
            angle = self.np_random.uniform(0.0, 2.0 * math.pi)
            distance = self.np_random.uniform(low, high)
            gx, gy = start[0] + distance * math.cos(angle), start[1] + distance * math.sin(angle)
            inside = x_min <= gx <= x_max and y_min <= gy <= y_max
            if inside and all(math.hypot(gx - nx, gy - ny) >= NEW_GOAL_MARGIN for nx, ny in NEW_GOALS):
                return float(gx), float(gy)
        raise RuntimeError(f"no play goal found from {start}")  # pragma: no cover - the workspace is wide


def _point(value: Any) -> Point:
    x, y = (float(v) for v in value)
    return x, y


PLAY_VARIANTS: dict[str, type[Reach2DEnv]] = {"absaction/Reach2DPlay-v0": Reach2DPlayEnv}
"""Data-making worlds registered beside the task variants (not part of :data:`ENV_IDS`: no benchmark
task)."""
