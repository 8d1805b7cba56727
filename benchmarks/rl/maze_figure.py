"""The PointMaze suite's figure: one rollout of every agent's final policy on one task, drawn over the
maze's walls (``OUT/maze_rollouts.png``).

Each agent's seed-0 run is loaded (:func:`~absaction.agents.persistence.load_agent`) and runs one
deterministic episode on the task's first evaluation episode; the ball's position is recorded at every
primitive step (under the agent's macro wrapper, so skill and latent agents draw their whole path).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from absaction.agents.environments import find_macro_wrapper
from absaction.agents.evaluation import EVAL_SEED_OFFSET
from absaction.agents.persistence import load_agent
from absaction.bench.runs import RunSpec
from absaction.envs.pointmaze import maze_map
from absaction.files import atomic_write_bytes

from .catalogue import task_name
from .suites import maze_of

POSITION = slice(0, 2)
"""The ball's (x, y) in a flat PointMaze observation (the achieved goal, first in the layout)."""
GOAL = slice(2, 4)
"""The desired goal's (x, y)."""


class _PathRecorder(gym.Wrapper[Any, Any, Any, Any]):
    """Records the position of every primitive step."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.path: list[np.ndarray] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.path = [np.asarray(obs, np.float64)]
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.path.append(np.asarray(obs, np.float64))
        return obs, reward, terminated, truncated, info


def rollout_path(run_dir: Path, seed: int) -> tuple[np.ndarray, bool]:
    """One deterministic episode of the agent in ``run_dir``: positions (T + 1, 2), goal (2,) appended
    as the last row, and whether it succeeded."""
    loaded = load_agent(run_dir)
    env = loaded.env
    macro = find_macro_wrapper(env)
    holder: Any = macro if macro is not None else None
    recorder = _PathRecorder(holder.env if holder is not None else env)
    if holder is not None:
        holder.env = recorder
        top: gym.Env[Any, Any] = env
    else:
        top = recorder
    obs, info = top.reset(seed=seed)
    done = False
    while not done:
        obs, _, terminated, truncated, info = top.step(loaded.predict(np.asarray(obs)))
        done = terminated or truncated
    path = np.stack(recorder.path)  # (T + 1, D)
    top.close()
    return np.vstack([path[:, POSITION], path[-1:, GOAL]]), bool(info.get("is_success", False))


def plot_maze_rollouts(runs: Sequence[RunSpec], task: str, out: Path) -> Path | None:
    """Draw every agent's seed-0 rollout on ``task`` (an env id of the PointMaze suite) into
    ``out/maze_rollouts.png``; None when the task is not a maze task or has no seed-0 runs."""
    maze = maze_of(task)
    chosen = {r.agent: r for r in runs if r.env_id == task and r.seed == 0}
    if maze is None or not chosen:
        return None
    # lazy: matplotlib is only needed for the figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    grid = np.array([[1 if cell == 1 else 0 for cell in row] for row in maze_map(maze)])  # (rows, cols)
    rows, cols = grid.shape
    figure = Figure(figsize=(3.5 + 0.6 * cols, 0.6 * rows + 0.8))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for i in range(rows):  # cell (i, j) centre: x = j + 0.5 - cols / 2, y = rows / 2 - i - 0.5 (scale 1)
        for j in range(cols):
            if grid[i, j]:
                ax.add_patch(Rectangle((j - cols / 2, rows / 2 - i - 1), 1, 1, color="0.3"))
    cycle = [f"C{k}" for k in range(10)]
    goal = None
    for k, (name, run) in enumerate(sorted(chosen.items())):
        seed = int(run.config.seed) + EVAL_SEED_OFFSET
        points, success = rollout_path(run.out_dir, seed)
        path, goal = points[:-1], points[-1]
        ax.plot(
            path[:, 0],
            path[:, 1],
            "-",
            color=cycle[k % 10],
            lw=1.5,
            label=f"{name} ({'success' if success else 'fail'})",
        )
        ax.plot(*path[0], "o", color=cycle[k % 10], ms=4)
    if goal is not None:
        ax.plot(*goal, "*", color="gold", ms=16, mec="k", label="goal")
    ax.set_xlim(-cols / 2, cols / 2)
    ax.set_ylim(-rows / 2, rows / 2)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"final policies, seed 0, {task_name(task)}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    figure.tight_layout()
    path_png = out / "maze_rollouts.png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path_png, buffer.getvalue())
    return path_png
