"""Gymnasium environments and scripted experts (installed as ``absaction.envs``).

Importing this package (``import absaction`` does) registers the Reach2D worlds with gymnasium:

====================================  =====================================================  ========
id                                    task                                                   steps
====================================  =====================================================  ========
``absaction/Reach2D-v0``              the paper world: reach (-0.1, 1) or (0.1, 1), dense     32
``absaction/Reach2DSparse-v0``        sparse reward, success radius 0.02, ends on success     64
``absaction/Reach2DObstacle-v0``      a wall blocks the straight path; bulge around it        64
``absaction/Reach2DChain-v0``         three goals in order, +1 per goal                       128
``absaction/Reach2DNewGoals-v0``      goals the expert never reached (transfer)               32
``absaction/WavyReach2D-v0``          five goals on an arc, wavy expert paths                 64
``absaction/PointMazeMedium-v0``      PointMaze tasks 1-5 (``task=k``; ``absaction[maze]``)   600
``absaction/PointMazeLarge-v0``       PointMaze tasks 1-5 (``task=k``; ``absaction[maze]``)   800
====================================  =====================================================  ========

and ``absaction/Reach2DPlay-v0`` (:mod:`absaction.envs.play`), play data for skill models: varied
starts, random goals over the workspace (not a benchmark task, so not in :data:`ENV_IDS`).
The PointMaze worlds (Gymnasium-Robotics) and their waypoint expert live in :mod:`.pointmaze` and
:mod:`.waypoint`; gymnasium-robotics is imported only when one of them is made.

Example (record one expert episode with its ground-truth factors):
    >>> import gymnasium as gym, numpy as np
    >>> import absaction.envs as envs
    >>> env = gym.make("absaction/Reach2D-v0")
    >>> expert = envs.make_expert(env)
    >>> obs, info = env.reset(seed=0, options={"goal_index": 1})
    >>> expert.reset(obs, info, np.random.default_rng([0, 1]), factors={"bulge_out": 1, "curvature": 4})
    {'target': 1, 'bulge_out': 1, 'bulge_right': 1, 'curvature': 4}
    >>> done = False
    >>> while not done:
    ...     obs, reward, terminated, truncated, info = env.step(expert.act(obs))
    ...     done = terminated or truncated
    >>> info["is_success"], env.unwrapped.elapsed_steps
    (True, 32)
"""

from __future__ import annotations

import gymnasium as gym

from .experts import (
    BULGE_AMPLITUDES,
    DEFAULT_REACH_STEPS,
    DEFAULT_WAVY_STEPS,
    EXPERT_FAMILIES,
    WAVE_AMPLITUDES,
    PathExpert,
    PathSetExpert,
    ReachExpert,
    ScriptedExpert,
    WavyExpert,
    load_recorded_paths,
    make_expert,
)
from .ids import registered_id, resolve_env_id
from .obs_layout import ObsLayout
from .play import NEW_GOAL_MARGIN, PLAY_VARIANTS, Reach2DPlayEnv
from .pointmaze import (
    TASK_ENV_IDS,
    TASKS,
    MazeRoutes,
    PointMazeTaskEnv,
    register_pointmaze_envs,
    require_robotics,
)
from .reach2d import (
    OBS_FIELDS,
    REACH2D_GOAL_COLUMNS,
    REACH2D_POSITION_COLUMNS,
    Reach2DConfig,
    Reach2DEnv,
    env_step_size,
    is_reach2d,
)
from .variants import (
    VARIANTS,
    Reach2DChainEnv,
    Reach2DNewGoalsEnv,
    Reach2DObstacleEnv,
    Reach2DSparseEnv,
    WavyReach2DEnv,
)
from .waypoint import WaypointExpert

ENV_IDS: tuple[str, ...] = tuple(VARIANTS)
"""Every environment id this package registers."""


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` with gymnasium; calling it again changes nothing."""
    for env_id, cls in {**VARIANTS, **PLAY_VARIANTS}.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"{cls.__module__}:{cls.__qualname__}",
            max_episode_steps=cls.default_config.max_steps,
        )


register_envs()
register_pointmaze_envs()

__all__ = [
    "BULGE_AMPLITUDES",
    "DEFAULT_REACH_STEPS",
    "DEFAULT_WAVY_STEPS",
    "ENV_IDS",
    "EXPERT_FAMILIES",
    "NEW_GOAL_MARGIN",
    "OBS_FIELDS",
    "PLAY_VARIANTS",
    "REACH2D_GOAL_COLUMNS",
    "REACH2D_POSITION_COLUMNS",
    "TASKS",
    "TASK_ENV_IDS",
    "VARIANTS",
    "WAVE_AMPLITUDES",
    "MazeRoutes",
    "ObsLayout",
    "PathExpert",
    "PathSetExpert",
    "PointMazeTaskEnv",
    "Reach2DChainEnv",
    "Reach2DConfig",
    "Reach2DEnv",
    "Reach2DNewGoalsEnv",
    "Reach2DObstacleEnv",
    "Reach2DPlayEnv",
    "Reach2DSparseEnv",
    "ReachExpert",
    "ScriptedExpert",
    "WavyExpert",
    "WavyReach2DEnv",
    "WaypointExpert",
    "env_step_size",
    "is_reach2d",
    "load_recorded_paths",
    "make_expert",
    "register_envs",
    "register_pointmaze_envs",
    "registered_id",
    "require_robotics",
    "resolve_env_id",
]
