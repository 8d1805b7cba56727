"""`absaction demo` end to end on a tiny budget, and its failure behaviour."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from absaction.cli import main
from absaction.outputs import RECORD_FILE, write_record


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    status = main(["demo", "--out", str(out), "--episodes", "40", "--epochs", "3", "--rl-steps", "256"])
    assert status == 0
    for name in ("dataset/collect.json", "dataset.png", "model/model.safetensors", "model/config.json",
                 "traversal.png", "evaluation/report.json", "rl/primitive/eval.csv", "rl/latent/eval.csv",
                 "rl_comparison.png", "summary.md", "demo.json"):  # fmt: skip
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text()
    assert "40 scripted episodes on absaction/Reach2D-v0 (action noise std 0.05)" in summary
    assert "| target |" in summary and "PPO, latent actions" in summary
    timings = json.loads((out / "demo.json").read_text())["timings"]
    assert set(timings) == {"collect", "plot", "train", "traverse", "evaluate", "rl"}
    # every record names its folders relative to itself: staged elsewhere, they still resolve here
    assert json.loads((out / "demo.json").read_text())["out"] == "."
    assert json.loads((out / "model" / "config.json").read_text())["data"]["path"] == "../dataset"
    assert json.loads((out / "rl" / "latent" / "agent.json").read_text())["config"]["model"] == "../../model"
    assert json.loads((out / "evaluation" / "report.json").read_text())["data"]["path"] == "../dataset"
    for record in out.rglob("*.json"):
        assert str(tmp_path) not in record.read_text(), record
    # no temporary or set-aside folders are left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def test_demo_refuses_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--force" in err[0]
    assert (out / "mine.txt").read_text() == "keep me"


def test_failed_stage_restores_the_old_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    # --force never replaces a folder of the user's files
    assert main(["demo", "--out", str(out), "--force"]) == 2
    assert "did not write (mine.txt)" in capsys.readouterr().err
    (out / "mine.txt").unlink()
    write_record(out, "demo")  # an earlier demo's folder, which --force may replace
    (out / "old.txt").write_text("from the earlier demo")
    # an unknown RL task is refused before any stage runs
    status = main(["demo", "--out", str(out), "--rl-env", "absaction/NoSuchTask-v0", "--force"])
    err = capsys.readouterr().err
    assert status == 2 and "unknown environment id 'absaction/NoSuchTask-v0'" in err and "demo 1/" not in err
    # a task with discrete actions fails the last stage, after the others have written into the folder
    status = main(["demo", "--out", str(out), "--episodes", "16", "--epochs", "1", "--rl-steps", "64",
                   "--rl-env", "CartPole-v1", "--force"])  # fmt: skip
    assert status == 2
    assert "CartPole-v1 has a Discrete action space" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
