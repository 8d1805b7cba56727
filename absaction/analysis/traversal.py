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


#: Panels per row of a traversal grid; a ladder with more latents wraps onto further rows, so the
#: figure grows downwards instead of into a strip thousands of pixels wide.
MAX_COLUMNS = 4


def _draw_plane(
    ax: Axes,
    input_pos: np.ndarray,
    recon_pos: np.ndarray | None,
    swept_pos: np.ndarray | None,
    values: np.ndarray,
    cmap: Any,
    norm: Any,
) -> None:
    """Draw one traversal panel of 2-D paths; positions are (T + 1, 2) / (S, T + 1, 2). Without a sweep
    (a ladder with no active latent) only the input is drawn, in grey."""
    from matplotlib.collections import LineCollection

    if swept_pos is not None and recon_pos is not None:
        lines = LineCollection(list(swept_pos), cmap=cmap, norm=norm, linewidths=1.2, alpha=0.9)
        lines.set_array(values)
        ax.add_collection(lines)
        ax.plot(*recon_pos.T, color="0.35", lw=1.0, ls="--", label="reconstruction")
        ax.plot(*input_pos.T, color="black", lw=2.0, label="input")
    else:
        ax.plot(*input_pos.T, color="0.6", lw=2.0, label="input")
    ax.plot(*input_pos[0], marker="o", color="black", ms=4)
    ax.autoscale_view()
    ax.grid(True, lw=0.3, alpha=0.5)


def _draw_time(
    ax: Axes,
    input_a: np.ndarray,
    recon_a: np.ndarray | None,
    swept_a: np.ndarray | None,
    values: np.ndarray,
    cmap: Any,
    norm: Any,
) -> None:
    """Draw one action dimension against time; actions are (T,) / (S, T)."""
    from matplotlib.collections import LineCollection

    t = np.arange(input_a.shape[-1], dtype=np.float64)
    if swept_a is not None and recon_a is not None:
        lines = LineCollection(
            [np.column_stack([t, a]) for a in swept_a], cmap=cmap, norm=norm, linewidths=1.2
        )
        lines.set_array(values)
        ax.add_collection(lines)
        ax.plot(t, recon_a, color="0.35", lw=1.0, ls="--", label="reconstruction")
        ax.plot(t, input_a, color="black", lw=2.0, label="input")
    else:
        ax.plot(t, input_a, color="0.6", lw=2.0, label="input")
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
    """Grid of traversal panels; ``rows`` gives the latents ``(ladder, dim)`` row by row.

    How a panel is drawn depends on what is known of the env:

    - ``step_size`` given (the env's layout is known, e.g. Reach2D: an action is a 2-D displacement):
      one panel per latent with the 2-D paths the decoded actions trace (the paper's Fig. 4);
    - otherwise the actions themselves, a(t) against t, one panel per action dimension of each latent
      (1-D actions such as Pendulum's torque, or a layout absaction cannot draw as a path).

    A ladder with many latents wraps onto further rows of at most :data:`MAX_COLUMNS` panels. An empty
    row ``r`` (`active_grid` with ``--all``) becomes one panel titled "ladder r + 1: no active latent"
    that shows the input alone, in grey.

    Args:
        model: an ``ActionVAE``.
        actions: (T, A) the sequence to encode, environment units.
        rows: the latents to traverse, e.g. ``[[(3, 0)]]`` for one panel or `active_grid` for all.
        values: (S,) values of the traversed latent.
        kl_per_dim: per ladder, the mean KL (nats) of each dimension, shown in the panel titles.
        step_size: displacement per unit action (the env's ``step_size``, see
            `absaction.envs.reach2d.env_step_size`); None draws a(t) against t.
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
    n_actions = actions.shape[-1]
    plane = step_size is not None and n_actions == 2
    # one panel: (ladder, latent or None for "no active latent", action dim or None for a 2-D path)
    panel_rows: list[list[tuple[int, int | None, int | None]]] = []
    for r, row in enumerate(rows):
        if not row:
            panel_rows.append([(r + 1, None, None if plane else d) for d in range(1 if plane else n_actions)])
            continue
        if plane:
            cells: list[tuple[int, int | None, int | None]] = [(ladder, dim, None) for ladder, dim in row]
            per_row = MAX_COLUMNS
        else:  # a latent's action dims stay side by side; as many latents per row as fit
            cells = [(ladder, dim, d) for ladder, dim in row for d in range(n_actions)]
            per_row = n_actions * max(1, MAX_COLUMNS // n_actions)
        panel_rows += [cells[i : i + per_row] for i in range(0, len(cells), per_row)]
    panel_rows = panel_rows or [[]]
    n_rows = len(panel_rows)
    n_cols = max([len(r) for r in panel_rows] + [1])
    fig = Figure(figsize=(3.2 * n_cols + 1.2, 2.8 * n_rows + 0.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    colour_map = colormaps[cmap]
    norm = Normalize(vmin=float(values.min()), vmax=float(values.max()))
    if plane:
        units = position_label(step_size)
        x_label, y_label = f"x ({units})", f"y ({units})"
        input_pos = _positions(actions, step_size)  # (T + 1, 2)
    else:
        x_label = "step"
    swept_cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    legend_ax: Axes | None = None
    for r, cells in enumerate(panel_rows):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(cells):
                ax.set_axis_off()
                continue
            ladder, dim, action_dim = cells[c]
            recon = swept = None
            if dim is not None:
                if (ladder, dim) not in swept_cache:
                    swept_cache[(ladder, dim)] = traverse_latent(model, actions, ladder, dim, values)
                recon, swept = swept_cache[(ladder, dim)]
            if plane:
                _draw_plane(
                    ax,
                    input_pos,
                    None if recon is None else _positions(recon, step_size),
                    None if swept is None else _positions(swept, step_size),
                    values,
                    colour_map,
                    norm,
                )
                ax.set_xlabel(x_label, fontsize=8)
                ax.set_ylabel(y_label, fontsize=8)
            else:
                assert action_dim is not None
                _draw_time(
                    ax,
                    actions[:, action_dim],
                    None if recon is None else recon[:, action_dim],
                    None if swept is None else swept[:, :, action_dim],
                    values,
                    colour_map,
                    norm,
                )
                ax.set_xlabel(x_label, fontsize=8)
                ax.set_ylabel(f"action[{action_dim}]", fontsize=8)
            if dim is None:
                ax.set_title(f"ladder {ladder}: no active latent", fontsize=9)
                continue
            legend_ax = legend_ax or ax
            kl_text = ""
            if kl_per_dim is not None:
                source = f" ({kl_source})" if kl_source else ""
                kl_text = f", KL {kl_per_dim[ladder - 1][dim]:.3g} nats{source}"
            ax.set_title(f"ladder {ladder} z[{dim}]{kl_text}", fontsize=9)
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
