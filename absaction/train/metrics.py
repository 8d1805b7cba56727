"""Per-epoch metrics: ``metrics.csv`` in the run folder, and optionally TensorBoard.

Columns (L ladders, ladder l with d_l dimensions; nats unless stated):

``epoch``            1-based epoch number
``loss``             mean training loss (recon + KL term) over the epoch's batches
``recon``            mean training reconstruction term per sequence, sum (x - x_hat)^2 / (2 sigma^2) over
                     time and action dimensions with z sampled (the Gaussian NLL without its constant)
``val_recon``        the same for the validation windows, decoding the posterior means (empty without a
                     validation split)
``val_rmse``         validation root-mean-square error per action element, environment units
``kl``               mean total KL per sequence (sum over ladders)
``kl_l{l}``          mean KL of ladder l (its dimensions summed)
``c_l{l}``           capacity C of ladder l used during the epoch (empty when the schedule has one C
                     for the total KL, i.e. ``linear``)
``c_total``          total capacity used during the epoch
``kl_l{l}_d{d}``     mean KL of dimension d (0-based) of ladder l
``seconds``          wall time of the epoch (training and validation)

Those are the action VAEs' columns; a skill model (:mod:`absaction.train.skill_loop`) logs ``prior_kl`` (the
prior's KL to the stopped posterior), ``val_prior_nll`` (the prior's NLL of the validation posterior means)
and ``kl_d{d}`` over its whole latent instead of per ladder. Every kind's columns come from its
:class:`~absaction.train.engine.ModelKind`; the engine writes them.

The file is appended to after every epoch (for watching a run) and rewritten atomically at every
checkpoint from the rows stored in the resume state, so after a resume it holds exactly one row per
completed epoch.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

from absaction.errors import AbsactionError, option
from absaction.files import atomic_write_text

METRICS_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"


def metric_columns(ladder_dims: list[int], tc: bool = False) -> list[str]:
    """The ``metrics.csv`` header for a model with these ladder sizes (``tc``: with the epoch's mean
    total-correlation estimate, logged when the loss has a TC term)."""
    ladders = range(1, len(ladder_dims) + 1)
    return [
        "epoch",
        "loss",
        "recon",
        "val_recon",
        "val_rmse",
        "kl",
        *(f"kl_l{ladder}" for ladder in ladders),
        *(f"c_l{ladder}" for ladder in ladders),
        "c_total",
        *(["tc"] if tc else []),
        *(f"kl_l{ladder}_d{d}" for ladder, dim in zip(ladders, ladder_dims, strict=True) for d in range(dim)),
        "seconds",
    ]


def check_tensorboard() -> None:
    """Fail early, with the install command, when TensorBoard logging is asked for but not installed."""
    if importlib.util.find_spec("tensorboard") is None:
        raise AbsactionError(
            f"{option('tensorboard')} needs the tensorboard package, which is not installed",
            f"pip install absaction[tensorboard] (or drop {option('tensorboard')})",
        )


class MetricsLog:
    """Writes metric rows to ``metrics.csv`` (and TensorBoard when asked)."""

    def __init__(
        self, run_dir: Path, columns: list[str], tensorboard: bool = False, first_epoch: int = 1
    ) -> None:
        self.path = run_dir / METRICS_FILE
        self.columns = columns
        self.writer: Any = None
        if tensorboard:
            check_tensorboard()
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events a killed run logged after its last checkpoint
            self.writer = SummaryWriter(str(run_dir / TENSORBOARD_DIR), purge_step=first_epoch)

    def rewrite(self, rows: list[dict[str, Any]]) -> None:
        """Replace the file atomically with exactly ``rows``."""
        write_metrics_csv(self.path, self.columns, rows)

    def append(self, row: dict[str, Any]) -> None:
        """Add one epoch (a plain append: cheap, and a torn last line is repaired by the next rewrite)."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(_format_row(self.columns, row))
        if self.writer is not None:
            epoch = int(row["epoch"])
            for key, value in row.items():
                if key != "epoch" and value is not None:
                    self.writer.add_scalar(_tensorboard_tag(key), value, epoch)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def write_metrics_csv(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Write ``metrics.csv`` atomically: the header, then one line per row."""
    atomic_write_text(path, ",".join(columns) + "\n" + "".join(_format_row(columns, row) for row in rows))


def _format_row(columns: list[str], row: dict[str, Any]) -> str:
    return ",".join(_cell(row.get(column)) for column in columns) + "\n"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.7g}"
    return str(value)


def _tensorboard_tag(key: str) -> str:
    if key.startswith("kl_l") and "_d" in key:
        return f"kl_dim/{key}"
    if key.startswith(("kl", "c_")):
        return f"capacity/{key}"
    return f"train/{key}"
