"""The worlds the RL study (``python -m benchmarks.rl``) can sweep (``--suite``): the Reach2D family (the
paper's world, the default) and PointMaze (Gymnasium-Robotics, ``pip install 'absaction[maze]'``).

A suite fixes what stage 1 collects and trains: which env the demonstrations come from and how, the
skill models' horizon, latent size and observation. The PointMaze suite's tasks are the five evaluation
tasks of each maze (:data:`absaction.envs.pointmaze.TASKS`: sparse reward, the episode ends on success),
each registered here under its own id with a flat observation, so that a task is one env id like every
other task of the benchmark::

    >>> from benchmarks.rl.suites import MAZE_TASKS
    >>> MAZE_TASKS["medium-1"]
    'absaction/PointMazeMedium-Task1-v0'

Registering them imports nothing heavy (the entry point is a string); making one needs the maze extra.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym

from absaction.envs.pointmaze import (
    MAZE_EXTRA_FIX,
    TASK_STEPS,
    TASKS,
    PointMazeTaskEnv,
    require_robotics,
)
from absaction.errors import AbsactionError

SUITES: tuple[str, ...] = ("reach2d", "pointmaze")
"""``--suite`` values: the Reach2D family (default) and PointMaze."""


@dataclasses.dataclass(frozen=True)
class SuiteData:
    """What stage 1 of a suite collects and the skill models it trains."""

    demo_env: str
    """env id the demonstrations are collected in"""
    expert: str
    """``--expert`` of the collection"""
    noise: float
    """std of the Gaussian action noise of the expert"""
    skill_obs: tuple[str, ...]
    """the skill observation (columns or Dict keys by name): what the skill decoder and prior see"""
    skill_horizon: int
    """H, primitive steps per skill"""
    skill_z_dim: int
    """size of the skill latent"""
    skill_frame: str = "absolute"
    """what the skill posterior and decoder see: ``absolute`` s_t | ``relative`` s_t - s_0 (see
    :class:`~absaction.models.skill.SkillConfig`)"""
    play_env: str | None = None
    """env id of the play data (a second skill model is trained on it); None: no play data"""
    relabel_goals: bool = False
    """primitive BC clones goal-relabelled pairs (hindsight: a later achieved goal of the same segment)"""
    target_ratio: float = 3.0
    """the study's target: the best abstract-action agent needs this many times fewer steps to 80 % than the
    best primitive one (3x on Reach2D, for latent chunks and skills alike; 5x on PointMaze)"""
    all_targets: bool = False
    """every task of the suite is a target task (its goals lie farther than any demonstration went)"""


SUITE_DATA: dict[str, SuiteData] = {
    # H = 4: in calibration H = 4 learnt the new goals within 35k steps in 3/3 seeds, H = 8 did not in 40k;
    # the skill observation is the position (no goal: a skill is a motion, the agent picks the goal)
    "reach2d": SuiteData(
        demo_env="absaction/Reach2D-v0",
        expert="scripted",
        noise=0.0,
        skill_obs=("x", "y"),
        skill_horizon=4,
        skill_z_dim=4,
        play_env="absaction/Reach2DPlay-v0",
    ),
    # the maze's own observation key (position and velocity, no goal), H = 10 as SPiRL/OPAL on mazes
    "pointmaze": SuiteData(
        demo_env="PointMaze_Medium-v3",
        expert="waypoint:stitch",
        noise=0.5,
        skill_obs=("observation",),
        skill_horizon=10,
        skill_z_dim=8,
        relabel_goals=True,
        target_ratio=5.0,
        all_targets=True,
    ),
}

MAZE_DEMO_ENVS: dict[str, str] = {"medium": "PointMaze_Medium-v3", "large": "PointMaze_Large-v3"}
"""Maze -> the Gymnasium-Robotics env its stitch data is collected in."""


def _maze_task_id(maze: str, task: int) -> str:
    return f"absaction/PointMaze{maze.capitalize()}-Task{task}-v0"


MAZE_TASKS: dict[str, str] = {
    f"{maze}-{task}": _maze_task_id(maze, task) for maze in ("medium", "large") for task in range(1, 6)
}
"""Short task names of the PointMaze suite (``medium-1`` .. ``large-5``) -> their env ids."""


def register_maze_tasks() -> None:
    """Register :data:`MAZE_TASKS` (flat observation, the task fixed); calling it again changes nothing."""
    for name, env_id in MAZE_TASKS.items():
        if env_id in gym.registry:
            continue
        maze, task = name.split("-")
        gym.register(
            id=env_id,
            entry_point=f"{PointMazeTaskEnv.__module__}:{PointMazeTaskEnv.__qualname__}",
            max_episode_steps=TASK_STEPS[maze],
            kwargs={"maze": maze, "task": int(task), "flatten": True},
        )


register_maze_tasks()  # cheap (no import of gymnasium-robotics); a process that imports the study has them


def maze_of(env_id: str) -> str | None:
    """The maze (``medium`` | ``large``) of a PointMaze suite task id, else None."""
    for name, task_id in MAZE_TASKS.items():
        if task_id == env_id:
            return name.split("-")[0]
    return None


def maze_task_cells(env_id: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start cell, goal cell) of a PointMaze suite task."""
    for name, task_id in MAZE_TASKS.items():
        if task_id == env_id:
            maze, task = name.split("-")
            return TASKS[maze][int(task) - 1]
    raise AbsactionError(f"{env_id} is not a PointMaze suite task", f"use one of {', '.join(MAZE_TASKS)}")


def suite_data(suite: str, tasks: list[str]) -> SuiteData:
    """The stage-1 data of ``suite`` for ``tasks`` (the maze suite collects in the tasks' maze).

    Raises:
        AbsactionError: an unknown suite, tasks of two mazes, or the maze extra missing.
    """
    if suite not in SUITE_DATA:
        raise AbsactionError(f"unknown suite {suite!r}", f"choose one of {', '.join(SUITES)} (--suite)")
    data = SUITE_DATA[suite]
    if suite != "pointmaze":
        return data
    require_robotics()  # one line naming the extra when it is missing
    mazes = {maze_of(t) for t in tasks}
    if None in mazes or len(mazes) != 1:
        raise AbsactionError(
            f"the pointmaze suite takes tasks of one maze, got {', '.join(tasks)}",
            f"choose from {', '.join(MAZE_TASKS)} (all medium-* or all large-*)",
        )
    (maze,) = mazes
    assert maze is not None
    return dataclasses.replace(data, demo_env=MAZE_DEMO_ENVS[maze])


def check_maze_data(env_id: str | None, expected: str, given: str | Path) -> None:
    """Refuse demonstrations (``--data``) recorded in another env than the suite's maze, in one line."""
    if env_id != expected:
        raise AbsactionError(
            f"the data {given} was recorded in {env_id or 'an unknown env'}, the tasks are in {expected}",
            f"collect it with `absaction collect --env {expected} --expert waypoint:stitch` or drop --data",
        )


__all__ = [
    "MAZE_DEMO_ENVS",
    "MAZE_EXTRA_FIX",
    "MAZE_TASKS",
    "SUITES",
    "SUITE_DATA",
    "SuiteData",
    "check_maze_data",
    "maze_of",
    "maze_task_cells",
    "register_maze_tasks",
    "suite_data",
]
