"""OGBench's evaluation of a goal-conditioned policy, batched: every task of the env (``task_id`` 1..5),
``episodes`` episodes each, deterministic actions, success as the env reports it.

Each episode runs in OGBench's own env with its own defaults (it ends at the goal, or after the env's
time limit: 1000 steps on pointmaze); success is ``info["success"]`` of its last step, a task's score the
mean over its episodes and the overall score the mean over tasks (OGBench's ``impls/utils/evaluation.py``
and ``main.py``). Actions are the policy's deterministic output, clipped to [-1, 1].

Batched: a pool of envs steps in lockstep, one policy forward for all running episodes per step; an env
whose episode ends starts the next waiting one. Every episode is seeded by its own (seed, task, index)
(its reset, and NumPy's global generator that OGBench's maze draws its start noise from, which is handed
back afterwards), so the results do not depend on how many envs run at once:
``evaluate(policy, env_id, envs=1)`` and ``envs=64`` give the same episodes.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from absaction.envs.ids import resolve_env_id
from absaction.envs.ogbench_maze import drop_model_file, global_numpy_seed, require_ogbench
from absaction.errors import AbsactionError

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A batched policy: observations (B, D), goals (B, D) -> actions (B, A)."""

DEFAULT_ENVS = 128
"""Envs stepped together: enough that a policy forward serves many episodes (a 512x3 actor's forward
costs 1.5 ms at 64 rows, 2.3 ms at 128), few enough to build in about a second."""


def episode_seed(seed: int, task: int, index: int) -> int:
    """The seed of episode ``index`` of task ``task`` in an evaluation seeded ``seed`` (the same episodes
    at every evaluation of a run, whatever the batching)."""
    return int(np.random.SeedSequence([seed, task, index]).generate_state(1)[0])


@dataclass(eq=False)
class EpisodeRecord:
    """One evaluation episode."""

    task: int
    """its task id, 1-based"""
    index: int
    """its index within the task"""
    success: bool
    steps: int
    path: np.ndarray
    """``(steps + 1, 2)`` the agent's x, y after the reset and after every step"""
    goal: np.ndarray
    """``(2,)`` the goal's x, y"""


@dataclass(eq=False)
class EvalResult:
    """The outcome of one evaluation."""

    task_ids: list[int]
    task_names: list[str]
    success: list[float]
    """per task, the share of its episodes that ended at the goal"""
    episodes: list[EpisodeRecord] = field(repr=False)
    seconds: float = 0.0

    @property
    def overall(self) -> float:
        """The mean of the tasks' success rates (OGBench's overall success)."""
        return float(np.mean(self.success))

    def row(self) -> dict[str, float]:
        """``{task name: success, ..., "overall": mean}``."""
        return {**dict(zip(self.task_names, self.success, strict=True)), "overall": self.overall}


def make_eval_env(env_id: str) -> gym.Env:
    """OGBench's env ``env_id`` (``ogbench:NAME`` or ``NAME``) as its evaluation uses it: its own defaults."""
    require_ogbench()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gymnasium's checker nags about float64 observations
        env = gym.make(resolve_env_id(env_id if ":" in env_id else f"ogbench:{env_id}"))
    drop_model_file(env)
    if not hasattr(env.unwrapped, "task_infos"):
        env.close()
        raise AbsactionError(
            f"{env_id} has no evaluation tasks (task_infos)", "evaluate on an OGBench env such as pointmaze"
        )
    return env


class Evaluator:
    """Evaluates policies on the tasks of one env, keeping its envs between evaluations.

    Args:
        env_id: the OGBench env, e.g. ``ogbench:pointmaze-medium-v0``.
        episodes: episodes per task.
        seed: seeds every episode (:func:`episode_seed`).
        tasks: task ids to run (default: all of the env's, 1..5).
        envs: how many envs step together (1: one episode after another).
    """

    def __init__(
        self,
        env_id: str,
        episodes: int = 50,
        seed: int = 0,
        tasks: Sequence[int] | None = None,
        envs: int = DEFAULT_ENVS,
    ) -> None:
        if episodes < 1 or envs < 1:
            raise AbsactionError(
                f"an evaluation needs episodes >= 1 and envs >= 1, got {episodes} and {envs}", "pass e.g. 50"
            )
        first = make_eval_env(env_id)
        infos = list(first.unwrapped.task_infos)  # type: ignore[attr-defined]
        self.task_ids = list(tasks) if tasks is not None else list(range(1, len(infos) + 1))
        bad = [t for t in self.task_ids if not 1 <= t <= len(infos)]
        if bad:
            first.close()
            raise AbsactionError(f"{env_id} has no task {bad[0]}", f"choose tasks in 1..{len(infos)}")
        self.task_names = [str(infos[t - 1].get("task_name", f"task{t}")) for t in self.task_ids]
        self.env_id = env_id
        self.episodes = episodes
        self.seed = seed
        size = min(envs, episodes * len(self.task_ids))
        self.envs = [first, *(make_eval_env(env_id) for _ in range(size - 1))]

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, policy: Policy) -> EvalResult:
        """Run every episode of every task with ``policy``; NumPy's global generator is as before."""
        started = time.perf_counter()
        todo = deque((task, i) for task in self.task_ids for i in range(self.episodes))
        slots: list[_Slot | None] = [None] * len(self.envs)
        done: list[EpisodeRecord] = []
        for k in range(len(self.envs)):
            if todo:
                slots[k] = _Slot.start(self.envs[k], *todo.popleft(), self.seed)
        while True:
            running = [k for k, slot in enumerate(slots) if slot is not None]
            if not running:
                break
            live = [slot for slot in slots if slot is not None]
            obs = np.stack([slot.observation for slot in live])  # (B, D)
            goals = np.stack([slot.goal_observation for slot in live])  # (B, D)
            actions = np.clip(np.asarray(policy(obs, goals), dtype=np.float64), -1.0, 1.0)  # (B, A)
            for row, k in enumerate(running):
                slot = slots[k]
                assert slot is not None
                if slot.step(actions[row]):
                    done.append(slot.record())
                    slots[k] = _Slot.start(self.envs[k], *todo.popleft(), self.seed) if todo else None
        done.sort(key=lambda e: (e.task, e.index))
        success = [float(np.mean([e.success for e in done if e.task == t])) for t in self.task_ids]
        return EvalResult(self.task_ids, self.task_names, success, done, time.perf_counter() - started)


@dataclass(eq=False)
class _Slot:
    """One env running one episode."""

    env: gym.Env
    maze: Any
    """the env without gymnasium's wrappers: stepped directly, the time limit counted here (the
    wrappers' checks cost more than a tenth of a pointmaze step)"""
    limit: int
    """steps after which the episode is truncated (the env's registered time limit)"""
    task: int
    index: int
    observation: np.ndarray
    goal_observation: np.ndarray
    goal_xy: np.ndarray
    path: list[np.ndarray]
    numpy_state: Any = None
    """NumPy's global generator state of an env that draws from it while stepping (teleport), else None"""
    steps: int = 0
    success: bool = False

    @classmethod
    def start(cls, env: gym.Env, task: int, index: int, seed: int) -> _Slot:
        maze: Any = env.unwrapped
        episode = episode_seed(seed, task, index)
        with global_numpy_seed(episode):
            env.action_space.seed(episode)  # OGBench's reset takes a few random actions
            observation, info = env.reset(seed=episode, options={"task_id": task})
            stochastic = getattr(maze, "_teleport_info", None) is not None
            numpy_state = np.random.get_state() if stochastic else None  # noqa: NPY002
        limit = env.spec.max_episode_steps if env.spec is not None else None
        return cls(
            env=env,
            maze=maze,
            limit=int(limit) if limit else 2**62,
            task=task,
            index=index,
            observation=np.asarray(observation, dtype=np.float32),
            goal_observation=np.asarray(info["goal"], dtype=np.float32),
            goal_xy=np.asarray(maze.cur_goal_xy, dtype=np.float64),
            path=[np.asarray(maze.get_xy(), dtype=np.float64)],
            numpy_state=numpy_state,
        )

    def step(self, action: np.ndarray) -> bool:
        """Take ``action``; True when the episode is over."""
        if self.numpy_state is None:
            observation, _, terminated, truncated, info = self.maze.step(action)
        else:
            caller = np.random.get_state()  # noqa: NPY002 - this episode's own draws, the caller's kept
            np.random.set_state(self.numpy_state)  # noqa: NPY002
            try:
                observation, _, terminated, truncated, info = self.maze.step(action)
                self.numpy_state = np.random.get_state()  # noqa: NPY002
            finally:
                np.random.set_state(caller)  # noqa: NPY002
        self.steps += 1
        self.observation = np.asarray(observation, dtype=np.float32)
        self.path.append(np.asarray(self.maze.get_xy(), dtype=np.float64))
        self.success = bool(info.get("success", 0.0))
        return bool(terminated or truncated or self.steps >= self.limit)

    def record(self) -> EpisodeRecord:
        return EpisodeRecord(
            task=self.task,
            index=self.index,
            success=self.success,
            steps=self.steps,
            path=np.stack(self.path),
            goal=self.goal_xy,
        )


def evaluate(
    policy: Policy,
    env_id: str,
    episodes: int = 50,
    seed: int = 0,
    tasks: Sequence[int] | None = None,
    envs: int = DEFAULT_ENVS,
) -> EvalResult:
    """Evaluate ``policy`` on the tasks of ``env_id`` once (:class:`Evaluator`, built and closed here)."""
    with Evaluator(env_id, episodes, seed, tasks, envs) as evaluator:
        return evaluator.run(policy)
