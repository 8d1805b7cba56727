"""Draw a dataset's 2-D paths, coloured by a ground-truth factor (the paper's Fig. 3).

Positions come from one of two sources:

- ``"observations"``: the position columns of the observations, for the Reach2D environments, whose
  observations begin with the point's (x, y) position (the layout facts live with the worlds:
  :data:`absaction.envs.reach2d.REACH2D_POSITION_COLUMNS`). This is the true
  path, including any clipping at the world's edge.
- ``"actions"``: ``start + step_size * cumsum(actions)``, for any dataset with 2-D actions. For the
  Reach2D worlds ``step_size`` is the env's per-step displacement scale, so this equals the true path
  away from the edges; for other envs it defaults to 1 (paths in action units).

``"auto"`` picks ``"observations"`` for Reach2D datasets that stored them, else ``"actions"``.

Actions that are not 2-D (Pendulum's torque, a robot's joints) trace no path: :func:`plot_dataset` then
draws them over time instead, one panel per action dimension (:func:`plot_action_series`), for the first
:data:`SERIES_EPISODES` episodes unless told how many.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from absaction.envs.reach2d import REACH2D_GOAL_COLUMNS, REACH2D_POSITION_COLUMNS, env_step_size, is_reach2d
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from absaction.data import ActionDataset

POSITION_SOURCES: tuple[str, ...] = ("auto", "observations", "actions")
#: colour-by values with at most this many distinct integers get a discrete legend instead of a colour bar.
_MAX_CATEGORIES = 10
#: episodes drawn by default as action time series (more lines on one axis stop being readable).
SERIES_EPISODES = 8
#: panels per column of an action time-series figure; more action dimensions wrap into further columns.
_SERIES_ROWS = 6


def dataset_paths(
    dataset: ActionDataset, source: str = "auto", step_size: float | None = None
) -> tuple[list[np.ndarray], list[np.ndarray] | None, str]:
    """Per-episode 2-D positions ``[(T_i + 1, 2), ...]``, per-episode goals ``[(G_i, 2), ...]`` (every
    distinct goal an episode's observations showed: Reach2D only, else None) and the source actually
    used (``"observations"`` or ``"actions"``)."""
    if source not in POSITION_SOURCES:
        raise AbsactionError(
            f"unknown position source {source!r}", f"use one of {', '.join(POSITION_SOURCES)}"
        )
    has_obs = all(ep.observations is not None for ep in dataset.episodes)
    if source == "auto":
        source = "observations" if is_reach2d(dataset.env_id) and has_obs else "actions"
    if source == "observations":
        if not (is_reach2d(dataset.env_id) and has_obs):
            raise AbsactionError(
                f"positions from observations need Reach2D observations (env: {dataset.env_id})",
                "use --positions actions",
            )
        observations = [ep.observations for ep in dataset.episodes if ep.observations is not None]
        paths = [obs[:, list(REACH2D_POSITION_COLUMNS)].astype(np.float64) for obs in observations]
        # a chain world shows several goals in turn: keep each distinct one
        goals = [
            np.unique(obs[:, list(REACH2D_GOAL_COLUMNS)].astype(np.float64), axis=0) for obs in observations
        ]
        return paths, goals, source
    if dataset.action_dim != 2:
        raise AbsactionError(
            f"the dataset's actions have {dataset.action_dim} dimension(s); a path plot needs 2",
            "plot a dataset of a 2-D environment such as absaction/Reach2D-v0",
        )
    scale = step_size if step_size is not None else (env_step_size(dataset.env_id) or 1.0)
    paths = [actions_to_path(ep.actions, scale) for ep in dataset.episodes]
    return paths, None, source


def actions_to_path(
    actions: np.ndarray, step_size: float = 1.0, start: Sequence[float] = (0.0, 0.0)
) -> np.ndarray:
    """``(T, 2)`` actions -> ``(T + 1, 2)`` positions ``start + step_size * cumsum(actions)``."""
    actions = np.asarray(actions, dtype=np.float64)
    steps = np.concatenate([np.zeros((1, actions.shape[1])), np.cumsum(actions * step_size, axis=0)])
    return steps + np.asarray(start, dtype=np.float64)


def plot_paths(
    paths: Sequence[np.ndarray],
    values: Sequence[float] | np.ndarray | None = None,
    value_name: str = "episode",
    goals: np.ndarray | None = None,
    title: str | None = None,
    out: str | os.PathLike[str] | None = None,
    size_px: tuple[int, int] = (640, 640),
    dpi: int = 100,
) -> Figure:
    """Draw 2-D paths, one line per episode, coloured by ``values``.

    Args:
        paths: ``[(T_i + 1, 2), ...]`` positions (any units; axes are equal-aspect).
        values: one colour value per path (a factor). Few distinct integers get a discrete palette and a
            legend; anything else a continuous colour map and a colour bar. None colours by index.
        value_name: label of the legend or colour bar.
        goals: ``(G, 2)`` goal positions, drawn as stars (duplicates drawn once). Each path's start is a
            circle and its end a cross.
        title: figure title.
        out: if given, the figure is written there as PNG (atomically) and closed.
        size_px: figure size in pixels (width, height); ``dpi`` pixels per inch.

    Returns:
        The matplotlib figure (already closed when ``out`` was given).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    if len(paths) == 0:
        raise AbsactionError("no paths to plot", "pass a dataset with at least one episode")
    vals = np.arange(len(paths)) if values is None else np.asarray(values)
    if len(vals) != len(paths):
        raise ValueError(f"{len(vals)} colour values for {len(paths)} paths")
    fig, ax = plt.subplots(figsize=(size_px[0] / dpi, size_px[1] / dpi), dpi=dpi)
    distinct = np.unique(vals)
    categorical = (
        np.issubdtype(vals.dtype, np.integer) and len(distinct) <= _MAX_CATEGORIES and values is not None
    )
    if categorical:
        palette = plt.get_cmap("tab10")
        for k, v in enumerate(distinct):
            for path in (p for p, pv in zip(paths, vals, strict=True) if pv == v):
                ax.plot(path[:, 0], path[:, 1], color=palette(k), lw=1.0, alpha=0.8)
            ax.plot([], [], color=palette(k), lw=2.0, label=f"{value_name} = {v}")  # one legend entry
    else:
        cmap = plt.get_cmap("viridis")
        lo, hi = float(np.min(vals)), float(np.max(vals))
        norm = matplotlib.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
        for path, v in zip(paths, vals, strict=True):
            ax.plot(path[:, 0], path[:, 1], color=cmap(norm(float(v))), lw=1.0, alpha=0.8)
        fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=value_name)
    starts = np.array([p[0] for p in paths])
    ends = np.array([p[-1] for p in paths])
    ax.scatter(
        starts[:, 0],
        starts[:, 1],
        marker="o",
        s=30,
        facecolors="white",
        edgecolors="black",
        zorder=3,
        label="start",
    )
    ax.scatter(ends[:, 0], ends[:, 1], marker="x", s=12, color="black", lw=0.8, zorder=3, label="end")
    if goals is not None and len(goals):
        unique_goals = np.unique(np.round(np.asarray(goals, dtype=np.float64), 9), axis=0)
        ax.scatter(
            unique_goals[:, 0],
            unique_goals[:, 1],
            marker="*",
            s=160,
            color="gold",
            edgecolors="black",
            zorder=4,
            label="goal",
        )
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    if title:
        ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    if out is not None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)  # fixed size: no bbox_inches="tight"
        plt.close(fig)
        atomic_write_bytes(out, buffer.getvalue())
    return fig


def plot_action_series(
    episode_actions: Sequence[np.ndarray],
    values: Sequence[float] | np.ndarray | None = None,
    value_name: str = "episode",
    title: str | None = None,
    out: str | os.PathLike[str] | None = None,
    dpi: int = 100,
) -> Figure:
    """Draw each episode's actions against time, one panel per action dimension, one line per episode.

    Args:
        episode_actions: ``[(T_i, A), ...]`` actions in environment units.
        values: one colour value per episode (a factor); few distinct integers get a legend, anything else
            a colour bar. None colours by index.
        value_name: label of the legend or colour bar.
        title: figure title.
        out: if given, the figure is written there as PNG (atomically).
        dpi: pixels per inch (the figure is 8 in wide per column of panels, 2 in tall per panel).

    Returns:
        The figure: ``A`` panels (``fig.axes[:A]``, action dimension ``d`` in panel ``d``), then the colour
        bar's axes when there is one.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if len(episode_actions) == 0:
        raise AbsactionError("no episodes to plot", "pass a dataset with at least one episode")
    arrays = [np.asarray(a, dtype=np.float64).reshape(len(a), -1) for a in episode_actions]
    n_dims = arrays[0].shape[1]
    vals = np.arange(len(arrays)) if values is None else np.asarray(values)
    if len(vals) != len(arrays):
        raise ValueError(f"{len(vals)} colour values for {len(arrays)} episodes")
    n_cols = -(-n_dims // _SERIES_ROWS)
    n_rows = -(-n_dims // n_cols)
    fig = Figure(figsize=(8.0 * n_cols, 2.0 * n_rows + 1.2), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    grid = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False, sharex=True))
    axes = [grid[d % n_rows, d // n_rows] for d in range(n_dims)]  # dimensions run down each column
    for ax in grid.T.flat[n_dims:]:  # the end of the last column
        ax.set_axis_off()
    distinct = np.unique(vals)
    categorical = (
        values is not None and np.issubdtype(vals.dtype, np.integer) and len(distinct) <= _MAX_CATEGORIES
    )
    if categorical:
        palette = colormaps["tab10"]
        colours = [palette(int(np.flatnonzero(distinct == v)[0]) % 10) for v in vals]
    else:
        cmap = colormaps["viridis"]
        lo, hi = float(np.min(vals)), float(np.max(vals))
        norm = Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1.0)
        colours = [cmap(norm(float(v))) for v in vals]
    for d, ax in enumerate(axes):
        for actions, colour in zip(arrays, colours, strict=True):
            ax.plot(np.arange(len(actions)), actions[:, d], color=colour, lw=1.0, alpha=0.8)
        ax.set_ylabel(f"action[{d}]")
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    for column in range(n_cols):  # the lowest panel of every column
        lowest = axes[min(n_dims, (column + 1) * n_rows) - 1]
        lowest.set_xlabel("step")
        lowest.tick_params(labelbottom=True)  # shared x: only the grid's bottom row shows its numbers
    if categorical:
        for k, v in enumerate(distinct):
            axes[0].plot([], [], color=colormaps["tab10"](k % 10), lw=2.0, label=f"{value_name} = {v}")
        axes[0].legend(loc="best", fontsize="small", framealpha=0.8)
    else:
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=list(grid.flat), label=value_name, shrink=0.8)
    if title:
        fig.suptitle(title, fontsize="medium")
    if out is not None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)  # fixed size: no bbox_inches="tight"
        atomic_write_bytes(out, buffer.getvalue())
    return fig


def plot_dataset(
    dataset: ActionDataset,
    out: str | os.PathLike[str],
    max_episodes: int | None = None,
    color_by: str | None = None,
    source: str = "auto",
    step_size: float | None = None,
) -> dict[str, Any]:
    """The Fig. 3 of a dataset: its first ``max_episodes`` paths coloured by factor ``color_by``
    (default: the first factor, or the episode index when there are none), written to ``out`` (PNG).
    A dataset whose actions are not 2-D (and that has no Reach2D observations to draw) gets its actions
    over time instead, one panel per action dimension, for the first ``max_episodes`` episodes (default
    :data:`SERIES_EPISODES`).

    Returns a small description of what was drawn: ``kind`` ("paths" or "actions over time"), episodes,
    colour-by, position source (None for actions over time), ``panels`` and ``out``.
    """
    if color_by is not None and color_by != "episode" and color_by not in dataset.factor_names:
        available = ", ".join(dataset.factor_names) or "none"
        raise AbsactionError(
            f"unknown factor {color_by!r} for --color-by (this dataset's factors: {available})",
            "pass one of its factors, or 'episode'",
        )
    has_obs = all(ep.observations is not None for ep in dataset.episodes)
    path_from_obs = source == "observations" or (source == "auto" and is_reach2d(dataset.env_id) and has_obs)
    series = dataset.action_dim != 2 and source in POSITION_SOURCES and not path_from_obs
    factors = dataset.factor_array()
    name = color_by or (dataset.factor_names[0] if dataset.factor_names else "episode")
    if series:
        n = min(max_episodes or SERIES_EPISODES, len(dataset))
    else:
        paths, goals, used = dataset_paths(dataset, source, step_size)
        n = len(paths) if max_episodes is None else min(max_episodes, len(paths))
    if name == "episode" or factors is None:
        values = np.arange(n)
        categorical_values: np.ndarray | None = None
    else:
        values = factors[:n, dataset.factor_names.index(name)]
        categorical_values = values
    colour_values = categorical_values if categorical_values is not None else values.astype(np.float64)
    title = f"{dataset.dataset_id or dataset.path.name}: {n} episodes of {dataset.env_id or 'unknown env'}"
    if series:
        plot_action_series(
            [ep.actions for ep in dataset.episodes[:n]],
            values=values if categorical_values is None else categorical_values,  # few episodes: a legend
            value_name=name,
            title=f"{title}, {dataset.action_dim}-D actions over time",
            out=out,
        )
        return {
            "kind": "actions over time",
            "episodes": n,
            "color_by": name,
            "positions": None,
            "panels": dataset.action_dim,
            "out": os.fspath(out),
        }
    plot_paths(
        paths[:n],
        values=colour_values,
        value_name=name,
        goals=None if goals is None else np.concatenate(goals[:n], axis=0),
        title=title,
        out=out,
    )
    return {
        "kind": "paths",
        "episodes": n,
        "color_by": name,
        "positions": used,
        "panels": 1,
        "out": os.fspath(out),
    }
