"""A sweep's figures: learning curves, performance profiles and probabilities of improvement (the last two
drawn by rliable's plotting helpers). Each returns PNG bytes; matplotlib and rliable are imported on use.

Agents are coloured in the sweep's order; their families (:attr:`~.definition.SweepAgent.label`) set
the line style (primitive dashed, latent solid, skill dash-dotted, ablation dotted, any other solid)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .results import ALL_TASKS, METRICS, CellStats
from .stats import SUCCESS_THRESHOLD, Estimate, Profile

PROFILE_TAUS = np.linspace(0.0, 1.0, 41)
"""AUC thresholds of the performance profiles (steps of 0.025)."""


# -------------------------------------------------------------------------------------------- plot
_FAMILY_STYLE = {"primitive": "--", "latent": "-", "skill": "-.", "ablation": ":"}
_LINESTYLE = {"primitive": "dashed", "latent": "solid", "skill": "dashdot", "ablation": "dotted"}


def agent_colours(agents: Sequence[str]) -> dict[str, str]:
    """One distinct colour per agent, in sweep order: matplotlib's default cycle (tab10) for up to ten
    agents, tab20 beyond (its ten dark shades, then the light ones), where the default cycle would give two
    agents the same colour."""
    if len(agents) <= 10:
        return {agent: f"C{i}" for i, agent in enumerate(agents)}
    # lazy: matplotlib is only needed for the figures
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    palette = colormaps["tab20"]  # pairs of a dark and a light shade: the ten dark ones first
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    return {agent: to_hex(palette(order[i % 20])) for i, agent in enumerate(agents)}


def plot_curves(cells: Sequence[CellStats], tasks: Sequence[str], agents: Sequence[str], seeds: int) -> bytes:
    """PNG bytes: one panel per task (and one pooled), IQM and 95 % band per agent of each panel's metric:
    the success rate, the mean return (a task without success; its own y range) or the normalised score
    (pooled over such tasks). The grey line is the threshold of steps to 80 %. ``agents``: every agent, in
    the sweep's order (their colours); ``seeds``: runs per agent and task (the title)."""
    # lazy: matplotlib is only needed for the figure, and costs ~0.5 s to import
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [*tasks, ALL_TASKS] if len(tasks) > 1 else list(tasks)
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    # at least 9 inches wide: the title and a legend row fit above and below a single panel
    fig = Figure(figsize=(max(4.6 * columns, 9.0), 3.4 * rows + 0.8))
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colours = agent_colours(agents)
    metrics: set[str] = set()
    for ax, task in zip(axes, panels, strict=False):
        panel = [c for c in cells if c.task == task]
        metric = panel[0].metric if panel else "success"
        metrics.add(metric)
        for cell in panel:
            x = np.array(cell.curve_steps) / 1000.0
            value = [e.value for e in cell.curve]
            ax.plot(
                x, value, _FAMILY_STYLE.get(cell.family, "-"), color=colours[cell.agent], label=cell.agent
            )
            ax.fill_between(
                x,
                [e.low for e in cell.curve],
                [e.high for e in cell.curve],
                color=colours[cell.agent],
                alpha=0.15,
                linewidth=0,
            )
        threshold = panel[0].threshold if panel else SUCCESS_THRESHOLD
        if math.isfinite(threshold):  # pooled over tasks scored by return: each has its own
            ax.axhline(threshold, color="0.6", linewidth=0.8)
        ax.set(
            title="all tasks (pooled)" if task == ALL_TASKS else task,
            xlabel="primitive env steps (k)",
            ylabel=f"{METRICS.get(metric, metric)} (IQM)",
        )
        if metric != "return":  # returns keep their own range
            ax.set_ylim(-0.03, 1.03)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    ncol = min(len(labels), 6)
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False)
    what = " / ".join(METRICS.get(m, m) for m in ("success", "return", "normalised") if m in metrics)
    fig.suptitle(
        f"{what[0].upper()}{what[1:]} vs primitive env steps: IQM over {seeds} seeds, 95 % bootstrap band"
    )
    legend_rows = math.ceil(len(labels) / max(ncol, 1))
    height = 3.4 * rows + 0.8
    fig.tight_layout(rect=(0, min(0.4, (0.3 * legend_rows + 0.1) / height), 1, 1))  # room for the legend
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def plot_profiles(
    profiles: dict[str, Profile], agents: Sequence[str], families: Mapping[str, str], seeds: int, tasks: int
) -> bytes:
    """PNG bytes: rliable's performance-profile plot of every agent's AUC (all tasks pooled). ``agents``: in
    the sweep's order (their colours); ``families``: agent -> family (its line style); ``seeds`` and
    ``tasks``: how many (the title)."""
    # lazy: matplotlib and rliable's plotting (seaborn) are only needed for the figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from rliable import plot_utils

    fig = Figure(figsize=(7.5, 4.6))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    colours = agent_colours(agents)
    agents = list(profiles)
    taus = np.asarray(next(iter(profiles.values())).taus) if profiles else PROFILE_TAUS
    plot_utils.plot_performance_profiles(
        {a: np.asarray(profiles[a].fraction) for a in agents},
        taus,
        performance_profile_cis={
            a: (np.asarray(profiles[a].low), np.asarray(profiles[a].high)) for a in agents
        },
        ax=ax,
        colors={a: colours.get(a, "k") for a in agents},
        linestyles={a: _LINESTYLE.get(families.get(a, ""), "solid") for a in agents},
        xlabel=r"normalised AUC ($\tau$)",
        ylabel=r"fraction of runs with AUC $> \tau$",
        labelsize="medium",
        ticklabelsize="small",
    )
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    ax.set_title(f"Performance profiles: {seeds} seeds x {tasks} task(s), 95 % bands")
    fig.tight_layout()
    return _png(fig)


def plot_probabilities(
    rows: Sequence[tuple[str, str, Estimate]], xlabel: str, left: str = "X", right: str = "Y"
) -> bytes:
    """PNG bytes: rliable's probability-of-improvement plot, 0.5 marked.

    Args:
        rows: one ``(X, Y, P(X > Y))`` per row, top row last; X labels the left axis, Y the right one.
        xlabel: what the probabilities are, e.g. ``P(run of X > run of Y), by AUC``.
        left, right: the titles of the left and right axes.
    """
    # lazy: matplotlib and rliable's plotting (seaborn) are only needed for the figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from rliable import plot_utils

    fig = Figure(figsize=(8.0, 1.0 + 0.55 * len(rows)))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # rliable keys a row "X<separator>Y": X labels the left axis, Y the right one
    keys = [f"{x}|{y}" for x, y, _ in rows]
    plot_utils.plot_probability_of_improvement(
        {k: p.value for k, (_, _, p) in zip(keys, rows, strict=True)},
        {k: np.array([p.low, p.high]) for k, (_, _, p) in zip(keys, rows, strict=True)},
        pair_separator="|",
        ax=ax,
        colors=[f"C{n % 10}" for n in range(len(rows))],
        xticks=[0.0, 0.25, 0.5, 0.75, 1.0],
        xlabel=xlabel,
        left_ylabel=left,
        right_ylabel=right,
        labelsize="medium",
        ticklabelsize="small",
    )
    ax.set_xlim(0.0, 1.0)
    ax.axvline(0.5, color="0.6", linewidth=0.8)
    fig.tight_layout()
    return _png(fig)


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
