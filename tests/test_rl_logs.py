"""``absaction rl --tensorboard``: SB3's training metrics next to eval.csv, as ``train --tensorboard``."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from absaction.agents.callbacks import EVAL_COLUMNS
from absaction.cli import main


def test_rl_tensorboard_logs_or_names_the_extra(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "run"
    args = ["rl", "--env", "absaction/Reach2D-v0", "--steps", "128", "--eval-every", "64",
            "--eval-episodes", "2", "--no-progress", "--out", str(out), "--tensorboard"]  # fmt: skip
    if importlib.util.find_spec("tensorboard") is None:  # the optional extra is not installed (CI)
        assert main(args) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            "absaction rl: error: --tensorboard needs the tensorboard package, which is not installed; "
            "pip install absaction[tensorboard] (or drop --tensorboard)"
        ]
        assert not out.exists()
        bench = ["bench", "--tasks", "absaction/Reach2D-v0", "--agent", "ppo=--algo ppo", "--tensorboard"]
        assert main([*bench, "--out", str(tmp_path / "b")]) == 2
        assert "absaction[tensorboard]" in capsys.readouterr().err
        assert not (tmp_path / "b").exists()
        return
    assert main(args) == 0
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
    with open(out / "eval.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == EVAL_COLUMNS and len(rows) == 1 + 3  # header; before learning, 64, 128
