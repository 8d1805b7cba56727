"""The cells of the VAE benchmark's tables: read back as numbers, written as text, CSV and strict JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from absaction.files import atomic_write_text


def as_float(value: Any) -> float:
    """A CSV/JSON cell as a float (NaN for empty/None or text that is not a number).

    >>> as_float("0.5"), as_float(""), as_float(None)
    (0.5, nan, nan)
    """
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def fmt(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits; scientific notation when very large or small.

    >>> fmt(0.12345), fmt(1e-16), fmt(float("nan")), fmt(123456.0)
    ('0.123', '0', 'n/a', '1.23e+05')
    """
    if not math.isfinite(value):
        return "n/a"
    if abs(value) < 1e-9:  # MIG of an exactly uninformative code comes out as +-1e-16 rounding
        return "0"
    if abs(value) >= 10 ** (digits + 1) or abs(value) < 1e-3:
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


def fmt_ci(stat: dict[str, Any], digits: int = 3) -> str:
    """``mean ± half-width`` of a :func:`absaction.bench.stats.mean_interval` (just the mean for one seed).

    >>> fmt_ci({"mean": 0.8, "half": 0.14}), fmt_ci({"mean": 0.8, "half": float("nan")})
    ('0.8 ± 0.14', '0.8')
    """
    if not math.isfinite(stat["mean"]):
        return "n/a"
    if not math.isfinite(stat["half"]):
        return fmt(stat["mean"], digits)
    return f"{fmt(stat['mean'], digits)} ± {fmt(stat['half'], 2)}"


def csv_cell(value: Any) -> Any:
    """A value as written to the CSVs: None and NaN/inf empty, floats with 6 significant digits."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Rows with possibly different keys: the header is the union, in first-seen order (atomic write)."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
    atomic_write_text(path, buffer.getvalue())


def finite(obj: Any) -> Any:
    """NaN/inf -> None in nested dicts and lists, so ``summary.json`` is strict JSON."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def jsonable(obj: Any) -> Any:
    """``obj`` as it reads back from JSON (paths and other objects as strings, tuples as lists), so a
    saved record compares equal to the live one."""
    return json.loads(json.dumps(obj, default=str))
