"""The VAE benchmark's figures: a traversal grid per model (first seed) and the capacity-study curves."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from absaction.analysis.report import pick_sequence
from absaction.analysis.traversal import active_grid, traversal_figure
from absaction.envs.reach2d import env_step_size
from absaction.files import atomic_write_bytes
from benchmarks.vae.catalogue import VARIANTS, Variant
from benchmarks.vae.cells import as_float


def save_png(fig: Any, path: Path) -> None:
    """Write a matplotlib figure as PNG (110 dpi), atomically, creating the folder."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())


def traversal_png(model: Any, dataset: Any, variant: Variant, seed: int, path: Path) -> None:
    """``absaction traverse --all`` for episode 0: one row per ladder, its active latents over [-2, 2]."""
    actions = pick_sequence(model, dataset, 0)  # (T, A)
    kl_per_dim = [list(map(float, k)) for k in model.kl_per_dim]
    factors = ", ".join(f"{k}={v}" for k, v in dataset.episodes[0].factors.items())
    fig = traversal_figure(
        model,
        actions,
        active_grid(kl_per_dim),
        np.linspace(-2.0, 2.0, 9),
        kl_per_dim,
        env_step_size(model.env_id),
        kl_source="train",
        title=f"{variant.name}, seed {seed}\nepisode 0: {factors}",
    )
    save_png(fig, path)


def capacity_plot(curves: Sequence[dict[str, Any]], dataset: str, path: Path) -> bool:
    """KL (solid) and C (dashed) per ladder over epochs: rows = capacity modes, columns = ladders + total.
    Thin lines are seeds, thick lines their mean. Returns False when there is nothing to draw."""
    # matplotlib is imported only when a figure is drawn (heavy; --no-figures and the tables skip it)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    modes = [v for v in VARIANTS if v.capacity_study and any(
        c["model"] == v.name and c["dataset"] == dataset for c in curves)]  # fmt: skip
    if not modes:
        return False
    n_ladders = max(
        int(k[4:])
        for c in curves
        if c["dataset"] == dataset
        for k in c
        if k.startswith("kl_l") and k[4:].isdigit()
    )
    columns = [*(f"l{i}" for i in range(1, n_ladders + 1)), "total"]
    fig = Figure(figsize=(3.0 * len(columns), 2.3 * len(modes) + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(modes), len(columns), squeeze=False, sharex=True)
    for r, variant in enumerate(modes):
        series: dict[int, list[dict[str, Any]]] = {}
        for c in curves:
            if c["dataset"] == dataset and c["model"] == variant.name:
                series.setdefault(int(c["seed"]), []).append(c)
        for col, name in enumerate(columns):
            ax = axes[r, col]
            kl_key, c_key = ("kl", "c_total") if name == "total" else (f"kl_{name}", f"c_{name}")
            kls, cs = [], []
            for rows in series.values():
                rows.sort(key=lambda c: int(c["epoch"]))
                epochs = np.array([int(c["epoch"]) for c in rows])
                kl = np.array([as_float(c.get(kl_key)) for c in rows])
                cap = np.array([as_float(c.get(c_key)) for c in rows])
                ax.plot(epochs, kl, color="tab:blue", lw=0.6, alpha=0.35)
                ax.plot(epochs, cap, color="tab:orange", lw=0.6, alpha=0.35, ls="--")
                kls.append(kl)
                cs.append(cap)
            length = min(len(k) for k in kls)
            epochs = np.arange(1, length + 1)
            ax.plot(
                epochs, np.nanmean([k[:length] for k in kls], axis=0), color="tab:blue", lw=1.6, label="KL"
            )
            c_mean = np.array([c[:length] for c in cs])
            if np.isfinite(c_mean).any():
                ax.plot(epochs, np.nanmean(c_mean, axis=0), color="tab:orange", lw=1.6, ls="--", label="C")
            ax.grid(True, lw=0.3, alpha=0.5)
            if r == 0:
                ax.set_title(
                    "total (sum of ladders)" if name == "total" else f"ladder {name[1:]}", fontsize=9
                )
            if col == 0:
                ax.set_ylabel(f"{variant.name}\n{variant.capacity}\nnats", fontsize=8)
            if r == len(modes) - 1:
                ax.set_xlabel("epoch", fontsize=8)
    axes[0, 0].legend(fontsize=7, frameon=False)
    fig.suptitle(
        f"{dataset}: KL (solid) and capacity C (dashed) per ladder; thin = seeds, thick = mean", fontsize=10
    )
    save_png(fig, path)
    return True
