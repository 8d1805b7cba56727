"""Learning-curve figure of one run: success rate and return against primitive env steps."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from absaction.files import atomic_write_bytes

from .callbacks import EvalRow


def plot_learning_curve(rows: Sequence[EvalRow], path: str | Path, title: str = "") -> None:
    """Write a PNG with one panel per metric (success rate, mean return) over primitive env steps.

    The success panel is left out when the env reports no ``is_success`` (all NaN).
    """

    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    steps = [row.primitive_steps for row in rows]
    has_success = any(not math.isnan(row.success_rate) for row in rows)
    panels = [("mean return (primitive rewards)", [row.mean_return for row in rows])]
    if has_success:
        panels.insert(0, ("success rate", [row.success_rate for row in rows]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, (label, values) in zip(axes[0], panels, strict=True):
        ax.plot(steps, values, marker="o", markersize=3)
        ax.set_xlabel("primitive env steps")
        ax.set_ylabel(label)
        if label == "success rate":
            ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
