"""The registered Reach2D variants: one class each, differing from :class:`Reach2DEnv` only in
``default_config``, so the docstring of each says what the task tests.

Every variant is chosen so that exploration matters: a uniformly random policy succeeds in well
under 1 % of episodes (tests/test_envs.py measures it), while the scripted expert of
:mod:`absaction.envs.experts` always succeeds.
"""

from __future__ import annotations

import math
from typing import ClassVar

from .reach2d import Reach2DConfig, Reach2DEnv

PAPER_GOALS: tuple[tuple[float, float], ...] = ((-0.1, 1.0), (0.1, 1.0))
"""The two targets of the paper's data (left, right), env units."""

NEW_GOALS: tuple[tuple[float, float], ...] = ((-0.3, 0.9), (0.3, 0.9), (-0.05, 1.2), (0.05, 1.2))
"""Transfer targets no paper-world expert path visits: three times wider, or 20 % farther."""

ARC_GOALS: tuple[tuple[float, float], ...] = tuple(
    (round(math.sin(math.radians(a)), 6), round(math.cos(math.radians(a)), 6)) for a in (-30, -15, 0, 15, 30)
)
"""Five goals on the unit circle at -30, -15, 0, 15 and 30 degrees from +y (the "2D Wavy Reaching" arc)."""

OBSTACLE_WALL: tuple[float, float, float] = (0.5, -0.15, 0.15)
"""The wall (y, x_min, x_max) across the straight paths to both paper goals, env units."""


class Reach2DSparseEnv(Reach2DEnv):
    """``absaction/Reach2DSparse-v0``: the paper world with a sparse reward and a tight goal.

    Tests exploration without reward shaping: the reward is 1 on the step that ends within 0.02 of
    the goal (the episode then terminates) and 0 otherwise, so an agent learns nothing until it has
    once hit a disc of radius 0.02 one unit away. 64 steps (the expert needs 32).
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(
        goals=PAPER_GOALS, reward="sparse", success_radius=0.02, terminate_on_success=True, max_steps=64
    )


class Reach2DObstacleEnv(Reach2DEnv):
    """``absaction/Reach2DObstacle-v0``: a thin wall (y = 0.5, x in [-0.15, 0.15]) blocks the
    straight path to both goals.

    Tests whether an agent discovers a *bulging* movement: a straight reach stops at the wall, while
    the demonstrated outward bulges of large curvature pass beside it. Sparse reward (1 on reaching
    the goal within 0.05, which terminates the episode), 64 steps (the expert needs 32).
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(
        goals=PAPER_GOALS,
        walls=(OBSTACLE_WALL,),
        reward="sparse",
        success_radius=0.05,
        terminate_on_success=True,
        max_steps=64,
    )


class Reach2DChainEnv(Reach2DEnv):
    """``absaction/Reach2DChain-v0``: three goals to visit in order (a long horizon).

    Each leg is a displacement of (-0.1, +1) or (+0.1, +1) from the previous goal, so every leg looks
    like one demonstrated reach, and the 8 routes end up to 3 units away. The observation shows the
    current goal and the progress (goals completed / 3). Reward 1 for each goal reached (within
    0.05); the episode terminates at the last goal; 128 steps (the expert needs 3 x 32 = 96). Tests
    temporal abstraction: a latent action that encodes one whole reach makes this a 3-decision task.
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(
        goals=PAPER_GOALS,
        n_legs=3,
        reward="sparse",
        success_radius=0.05,
        terminate_on_success=True,
        max_steps=128,
    )


class Reach2DNewGoalsEnv(Reach2DEnv):
    """``absaction/Reach2DNewGoals-v0``: the paper world's rules with goals the expert never reached.

    Goals (-0.3, 0.9), (0.3, 0.9), (-0.05, 1.2) and (0.05, 1.2): three times wider or 20 % farther
    than the demonstrated (+-0.1, 1). Dense reward, success radius 0.05, fixed 32 steps, exactly as in
    ``Reach2D-v0``. Tests transfer: can an action space learned from the paper's two targets express
    reaches to new ones?
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(goals=NEW_GOALS)


class WavyReach2DEnv(Reach2DEnv):
    """``absaction/WavyReach2D-v0``: five goals on an arc and 64 steps, in the spirit of the FAVAE
    "2D Wavy Reaching" data.

    Goals on the unit circle at -30, -15, 0, 15 and 30 degrees from +y; dense reward, success radius
    0.05, fixed 64 steps. Its expert (:class:`~absaction.envs.experts.WavyExpert`) draws two-part wavy
    paths with five factors (goal, shape and amplitude of each half), a harder disentangling target
    than the paper's two goals and bulges.
    """

    default_config: ClassVar[Reach2DConfig] = Reach2DConfig(goals=ARC_GOALS, max_steps=64)


VARIANTS: dict[str, type[Reach2DEnv]] = {
    "absaction/Reach2D-v0": Reach2DEnv,
    "absaction/Reach2DSparse-v0": Reach2DSparseEnv,
    "absaction/Reach2DObstacle-v0": Reach2DObstacleEnv,
    "absaction/Reach2DChain-v0": Reach2DChainEnv,
    "absaction/Reach2DNewGoals-v0": Reach2DNewGoalsEnv,
    "absaction/WavyReach2D-v0": WavyReach2DEnv,
}
"""Registered id -> environment class (its ``default_config`` holds the defaults)."""
