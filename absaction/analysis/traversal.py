"""Latent traversals: the paper's Fig. 4.

Encode one action sequence, then decode it again with a single latent dimension swept over a range of
values while every other dimension stays at its encoded posterior mean. Drawn as 2-D paths (positions
are the cumulative sum of the actions from the start), coloured by the traversed value, with the
encoded input as a solid black line: a latent that holds "which target" moves the end point, one that
holds "bulge" bends the middle, an inactive one changes nothing.

Ladders are numbered from 1 (ladder 1 nearest the input, as in the paper); dimensions inside a ladder
from 0 (array indices, as :meth:`ActionVAE.active_dims` returns them).

Figures are built on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, never through pyplot,
so nothing here touches a display or global matplotlib state.

Example:
    >>> import numpy as np
    >>> from absaction.analysis.traversal import save_figure, traversal_figure
    >>> from absaction.data import load_dataset
    >>> from absaction.models import load
    >>> model = load("runs/tcvlae")
    >>> actions = load_dataset("data/reach2d").episodes[0].actions               # (T, A)
    >>> fig = traversal_figure(model, actions, [[(3, 0)]], np.linspace(-2, 2, 9))  # ladder 3, dim 0
    >>> print(save_figure(fig, "fig4.png", force=False))                        # written atomically
    fig4.png
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from absaction.analysis.paths import actions_to_path
from absaction.errors import AbsactionError
from absaction.files import atomic_write_bytes, check_new_output
from absaction.models.activity import ACTIVE_KL_THRESHOLD

if TYPE_CHECKING:
    # only for annotations: importing this module stays free of torch and matplotlib
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from absaction.models.base import ActionVAE

#: File types `save_figure` writes (matplotlib's Agg canvas handles all three).
FIGURE_FORMATS = ("png", "pdf", "svg")


# --------------------------------------------------------------------------------------------------
# geometry


def _positions(actions: np.ndarray, step_size: float | None) -> np.ndarray:
    """(..., T, A) actions -> (..., T + 1, A) positions from the origin (`actions_to_path` per path)."""
    a = np.asarray(actions, dtype=np.float64)
    flat = a.reshape(-1, *a.shape[-2:])  # (B, T, A)
    paths = [actions_to_path(x, 1.0 if step_size is None else step_size) for x in flat]
    return np.stack(paths).reshape(*a.shape[:-2], a.shape[-2] + 1, a.shape[-1])


def position_label(step_size: float | None) -> str:
    """How positions were computed, for axis labels."""
    if step_size is None:
        return "cumsum of actions"
    return f"env units: cumsum of actions × {step_size:g}"


# --------------------------------------------------------------------------------------------------
# choosing latents


def latent_names(ladder_dims: Sequence[int]) -> list[str]:
    """``"L1.z0"``-style names of every latent, ladder 1 first (the column order of concatenated codes)."""
    return [f"L{ladder + 1}.z{dim}" for ladder, size in enumerate(ladder_dims) for dim in range(size)]


def check_latent(ladder_dims: Sequence[int], ladder: int, dim: int) -> None:
    """Raise a one-line `AbsactionError` listing what exists if (ladder, dim) is not a latent."""
    if not 1 <= ladder <= len(ladder_dims) or not 0 <= dim < ladder_dims[ladder - 1]:
        existing = ", ".join(f"ladder {i + 1}: dims 0-{d - 1}" for i, d in enumerate(ladder_dims))
        raise AbsactionError(
            f"the model has no latent ladder {ladder} dim {dim} (it has {existing})",
            "pass --ladder L --dim D from that list (ladders count from 1, dims from 0)",
        )


def active_grid(
    kl_per_dim: Sequence[Sequence[float]], threshold: float = ACTIVE_KL_THRESHOLD
) -> list[list[tuple[int, int]]]:
    """One row per ladder with its active latents as ``(ladder, dim)``, strongest KL first."""
    rows = []
    for ladder, kls in enumerate(kl_per_dim, start=1):
        dims = [d for d in np.argsort(-np.asarray(kls), kind="stable") if kls[d] > threshold]
        rows.append([(ladder, int(d)) for d in dims])
    return rows


# --------------------------------------------------------------------------------------------------
# decoding


def traverse_latent(
    model: ActionVAE, actions: np.ndarray, ladder: int, dim: int, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Decode ``actions`` with latent (``ladder``, ``dim``) set to each of ``values``.

    Args:
        model: an ``ActionVAE`` (``encode``, ``decode``, ``ladder_dims``).
        actions: (T, A) one sequence in environment units.
        ladder: ladder number, from 1.
        dim: dimension inside that ladder, from 0.
        values: (S,) absolute values the latent takes (the paper uses [-2, 2]); every other latent keeps
            its encoded posterior mean.

    Returns:
        ``(reconstruction (T, A), traversal (S, T, A))`` in environment units; the reconstruction decodes
        the unmodified means.
    """
    import torch

    check_latent(model.ladder_dims, ladder, dim)
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    x = torch.as_tensor(np.asarray(actions, dtype=np.float32)[None])  # (1, T, A)
    length = x.shape[1]
    with torch.no_grad():
        means = [mean for mean, _ in model.encode(x)]  # [(1, d_l)]
        recon = model.decode(means, length)[0]  # (T, A)
        latents = [m.repeat(len(values), 1) for m in means]  # [(S, d_l)]
        latents[ladder - 1][:, dim] = torch.from_numpy(values)
        swept = model.decode(latents, length)  # (S, T, A)
    return recon.cpu().numpy(), swept.cpu().numpy()


# --------------------------------------------------------------------------------------------------
# drawing


def _plane(p: np.ndarray) -> np.ndarray:
    """Positions (..., T + 1, A) -> the 2-D points drawn, (..., T + 1, 2).

    Two action dimensions are drawn as they are; one is drawn against the step index; of more than two,
    the first two are drawn (the axis label says so).
    """
    if p.shape[-1] == 1:
        steps = np.broadcast_to(np.arange(p.shape[-2], dtype=np.float64)[:, None], p.shape)
        return np.concatenate([steps, p], axis=-1)
    return p[..., :2]


def _draw_paths(
    ax: Axes,
    input_pos: np.ndarray,
    recon_pos: np.ndarray,
    swept_pos: np.ndarray,
    values: np.ndarray,
    cmap: Any,
    norm: Any,
) -> None:
    """Draw one traversal panel; positions are (T + 1, A) / (S, T + 1, A)."""
    from matplotlib.collections import LineCollection

    lines = LineCollection(list(_plane(swept_pos)), cmap=cmap, norm=norm, linewidths=1.2, alpha=0.9)
    lines.set_array(values)
    ax.add_collection(lines)
    ax.plot(*_plane(recon_pos).T, color="0.35", lw=1.0, ls="--", label="reconstruction")
    ax.plot(*_plane(input_pos).T, color="black", lw=2.0, label="input")
    ax.plot(*_plane(input_pos)[0], marker="o", color="black", ms=4)
    ax.autoscale_view()
    ax.grid(True, lw=0.3, alpha=0.5)


def traversal_figure(
    model: ActionVAE,
    actions: np.ndarray,
    rows: Sequence[Sequence[tuple[int, int]]],
    values: np.ndarray,
    kl_per_dim: Sequence[Sequence[float]] | None = None,
    step_size: float | None = None,
    kl_source: str = "",
    title: str | None = None,
    cmap: str = "coolwarm",
) -> Figure:
    """Grid of traversal panels, one per ``(ladder, dim)``; ``rows`` gives the grid row by row.

    An empty row ``r`` becomes a single panel saying that ladder ``r + 1`` has no active latent (the rows
    of `active_grid`, ``--all``).

    Args:
        model: an ``ActionVAE``.
        actions: (T, A) the sequence to encode, environment units.
        rows: the latents to traverse, e.g. ``[[(3, 0)]]`` for one panel or `active_grid` for all.
        values: (S,) values of the traversed latent.
        kl_per_dim: per ladder, the mean KL (nats) of each dimension, shown in the panel titles.
        step_size: displacement per unit action (the env's ``step_size``, see
            `absaction.envs.reach2d.env_step_size`); None draws the plain cumulative sum of actions.
        kl_source: where ``kl_per_dim`` was measured, appended to the titles' KL (e.g. "train").
        title: figure title.
        cmap: matplotlib colormap for the traversed value.
    """
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64).reshape(-1)
    actions = np.asarray(actions, dtype=np.float32)
    n_rows = max(len(rows), 1)
    n_cols = max([len(r) for r in rows] + [1])
    fig = Figure(figsize=(3.2 * n_cols + 1.2, 3.0 * n_rows + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True))
    colour_map = colormaps[cmap]
    norm = Normalize(vmin=float(values.min()), vmax=float(values.max()))
    input_pos = _positions(actions, step_size)  # (T + 1, A)
    units = position_label(step_size)
    n_actions = actions.shape[-1]
    if n_actions == 1:
        x_label, y_label = "step", f"position ({units})"
    else:
        shown = f"; action dims 0, 1 of {n_actions}" if n_actions > 2 else ""
        x_label, y_label = f"x ({units}{shown})", f"y ({units}{shown})"

    legend_ax: Axes | None = None
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c < len(row):
                ladder, dim = row[c]
                recon, swept = traverse_latent(model, actions, ladder, dim, values)
                recon_pos = _positions(recon, step_size)
                swept_pos = _positions(swept, step_size)
                _draw_paths(ax, input_pos, recon_pos, swept_pos, values, colour_map, norm)
                legend_ax = legend_ax or ax
                kl_text = ""
                if kl_per_dim is not None:
                    source = f" ({kl_source})" if kl_source else ""
                    kl_text = f", KL {kl_per_dim[ladder - 1][dim]:.3g} nats{source}"
                ax.set_title(f"ladder {ladder} z[{dim}]{kl_text}", fontsize=9)
            elif not row and c == 0:  # --all on a ladder without an active latent: say so
                ax.plot(*_plane(input_pos).T, color="black", lw=2.0)
                ax.text(0.5, 0.5, "no active latent", ha="center", va="center", transform=ax.transAxes)
                ax.set_title(f"ladder {r + 1}", fontsize=9)
            else:
                ax.set_axis_off()
    for ax in axes[-1]:
        ax.set_xlabel(x_label, fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel(y_label, fontsize=8)
    if legend_ax is not None:
        legend_ax.legend(loc="best", fontsize=7, frameon=False)
    bar = fig.colorbar(
        ScalarMappable(norm=norm, cmap=colour_map), ax=axes, shrink=0.9 if n_rows == 1 else 0.6
    )
    bar.set_label("value of the traversed latent")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def check_figure_path(
    path: str | os.PathLike[str], force: bool, inputs: Iterable[str | os.PathLike[str] | None] = ()
) -> tuple[Path, str]:
    """Validate an output figure path before any work: known suffix, not existing unless ``force`` (and
    then only a figure), not inside any of ``inputs``.

    Returns ``(path, format)``.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise AbsactionError(
            f"cannot tell the figure format of {path} (suffix {path.suffix or 'missing'})",
            f"end the file name with one of {', '.join('.' + f for f in FIGURE_FORMATS)}",
        )
    return check_new_output(path, force, what="figure", figure=True, inputs=inputs), fmt


def save_figure(fig: Figure, path: str | os.PathLike[str], force: bool, dpi: int = 150) -> Path:
    """Write ``fig`` atomically to ``path`` (PNG, PDF or SVG by its suffix); refuse to overwrite without
    ``force``."""
    path, fmt = check_figure_path(path, force)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi)
    atomic_write_bytes(path, buffer.getvalue())
    return path
