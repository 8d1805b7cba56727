"""The figures of an offline run: the evaluation's rollouts over the maze (one panel per task) and the
learning curve (success against gradient steps). Written with matplotlib's Agg backend, atomically."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from absaction.envs.ogbench_maze import MazeLayout
from absaction.files import atomic_write_bytes
from absaction.offline.evaluation import EvalResult

PATHS_PER_TASK = 10
"""Rollouts drawn per task panel (the first episodes of each task)."""


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415 - heavy; only when a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save(fig: Any, path: str | os.PathLike[str]) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    atomic_write_bytes(path, buffer.getvalue())


def draw_walls(ax: Any, layout: MazeLayout) -> None:
    """The maze's wall cells as grey squares, in world coordinates."""
    from matplotlib.patches import Rectangle  # noqa: PLC0415 - with matplotlib, on use

    half = layout.unit / 2.0
    for i, j in zip(*np.nonzero(layout.maze_map == 1), strict=True):
        x, y = layout.center((int(i), int(j)))
        ax.add_patch(Rectangle((x - half, y - half), layout.unit, layout.unit, color="0.35", lw=0))
    rows, cols = layout.shape
    x0, y0 = layout.center((0, 0))
    ax.set_xlim(x0 - half, x0 - half + cols * layout.unit)
    ax.set_ylim(y0 - half + rows * layout.unit, y0 - half)  # row 0 at the top, as OGBench renders it
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def rollout_figure(
    result: EvalResult, layout: MazeLayout, path: str | os.PathLike[str], title: str = ""
) -> None:
    """One panel per task: the first :data:`PATHS_PER_TASK` episodes' paths (green: reached the goal,
    red: did not), their start (circle) and goal (star), and the task's success rate."""
    plt = _pyplot()
    n = len(result.task_ids)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
    for ax, task, name, success in zip(
        axes[0], result.task_ids, result.task_names, result.success, strict=True
    ):
        draw_walls(ax, layout)
        episodes = [e for e in result.episodes if e.task == task][:PATHS_PER_TASK]
        for episode in episodes:
            color = "tab:green" if episode.success else "tab:red"
            ax.plot(episode.path[:, 0], episode.path[:, 1], color=color, lw=1.0, alpha=0.7)
            ax.plot(*episode.path[0], "o", color="black", ms=4)
        if episodes:
            ax.plot(*episodes[0].goal, "*", color="gold", ms=14, mec="black")
        ax.set_title(f"{name}: {success:.0%}", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    _save(fig, path)
    plt.close(fig)


def learning_curve(
    rows: Sequence[dict[str, Any]],
    task_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "",
    published: float | None = None,
) -> None:
    """Overall success (thick) and each task's (thin) against gradient steps; ``published`` (a success
    rate, e.g. OGBench's) as a dashed line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    steps = [int(r["step"]) for r in rows]
    for name in task_names:
        ax.plot(steps, [r[name] for r in rows], lw=0.8, alpha=0.6, marker=".", label=name)
    ax.plot(steps, [r["overall"] for r in rows], lw=2.2, color="black", marker="o", label="overall")
    if published is not None:
        ax.axhline(published, ls="--", color="tab:purple", lw=1.2, label=f"OGBench paper ({published:.0%})")
    ax.set_xlabel("gradient steps")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    if title:
        ax.set_title(title, fontsize=10)
    _save(fig, path)
    plt.close(fig)
