"""absaction.files: strict JSON for records that hold NaN or infinite numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from absaction.files import atomic_write_json, json_safe


def _refuse_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def test_json_safe_replaces_non_finite_floats_at_any_depth(tmp_path: Path) -> None:
    record = {"a": math.nan, "b": [1.0, math.inf, (2, -math.inf)], "c": {"d": 0.5, "e": "nan"}, "f": None}
    safe = json_safe(record)
    assert safe == {"a": None, "b": [1.0, None, [2, None]], "c": {"d": 0.5, "e": "nan"}, "f": None}
    assert record["a"] != record["a"]  # the input is left as it was
    atomic_write_json(tmp_path / "r.json", safe)
    assert json.loads((tmp_path / "r.json").read_text(), parse_constant=_refuse_constant) == safe
    atomic_write_json(tmp_path / "raw.json", record)  # without json_safe Python writes NaN: not strict
    with pytest.raises(ValueError, match="non-standard JSON constant NaN"):
        json.loads((tmp_path / "raw.json").read_text(), parse_constant=_refuse_constant)
