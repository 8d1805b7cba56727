"""``absaction offline`` end to end on a tiny regenerated dataset (every agent: the run folder's files and
their numbers, the agent reloaded, an evaluation into its own folder), and every bad input as one line,
exit status 2 and nothing written."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from absaction.cli import main
from absaction.errors import AbsactionError
from absaction.offline.persistence import load_agent
from absaction.offline.runs import evaluate_agent

MEDIUM, LARGE = "ogbench:pointmaze-medium-v0", "ogbench:pointmaze-large-v0"
NAME = "pointmaze-medium-stitch-v0"
TINY = ["--hidden-dims", "16,16", "--batch-size", "32", "--eval-episodes", "1", "--eval-tasks", "2"]
TINY += ["--threads", "1", "--quiet"]


def collect(env_id: str, out: Path) -> Path:
    argv = ["collect", "--env", env_id, "--expert", "oracle:stitch", "--episodes", "20", "--max-steps", "50"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny stitch dataset of the medium maze (20 episodes of 50 rows), as tests/test_ogbench_data.py."""
    return collect(MEDIUM, tmp_path_factory.mktemp("medium"))


@pytest.fixture(scope="module")
def large_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return collect(LARGE, tmp_path_factory.mktemp("large"))


@pytest.fixture(scope="module")
def run_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny GCIVL run (4 steps)."""
    out = tmp_path_factory.mktemp("runs") / "gcivl"
    argv = ["offline", "--dataset", NAME, "--ogbench-dir", str(data_dir), "--agent", "gcivl", "--steps", "4"]
    assert main([*argv, *TINY, "--out", str(out)]) == 0
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("agent", ["gcbc", "gcivl", "gciql"])
def test_a_run_writes_its_folder(agent: str, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["offline", "--dataset", NAME, "--ogbench-dir", str(data_dir), "--agent", agent, "--steps", "20"]
    argv += ["--eval-every", "10", "--log-every", "5", "--seed", "3", *TINY, "--out", str(out)]
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        ".absaction-output.json", "config.json", "model.safetensors", "resume.safetensors", "metrics.csv",
        "eval.csv", "learning_curve.png", "rollouts.png", "report.md",
    }  # fmt: skip
    evaluations = read_csv(out / "eval.csv")
    assert [row["step"] for row in evaluations] == ["10", "20"]
    assert set(evaluations[0]) == {"step", "task1", "task2", "overall", "seconds"}
    for row in evaluations:
        assert float(row["overall"]) == pytest.approx((float(row["task1"]) + float(row["task2"])) / 2)
    metrics = read_csv(out / "metrics.csv")
    assert [row["step"] for row in metrics] == ["5", "10", "15", "20"]
    loss = "actor_loss" if agent == "gcbc" else "value_loss"
    assert all(np.isfinite(float(row[loss])) for row in metrics)
    record = json.loads((out / "config.json").read_text())
    assert (record["agent"], record["steps_completed"], record["complete"]) == (agent, 20, True)
    assert record["agent_config"]["batch_size"] == 32 and record["agent_config"]["actor_hidden_dims"] == [
        16,
        16,
    ]
    assert record["env_id"] == MEDIUM and record["data"]["transitions"] == 20 * 49
    if agent != "gcbc":  # OGBench's stitch settings: actor goals half future, half random
        assert record["agent_config"]["actor_p_randomgoal"] == 0.5
        assert record["agent_config"]["value_hidden_dims"] == [16, 16]
    if agent == "gciql":
        assert (record["agent_config"]["actor_loss"], record["agent_config"]["alpha"]) == ("ddpgbc", 0.003)
    published = {"gcbc": "0.23", "gcivl": "0.70", "gciql": "0.21"}[agent]
    assert f"success of {agent} on {NAME}: {published}" in (out / "report.md").read_text()
    for figure in ("learning_curve.png", "rollouts.png"):
        assert (out / figure).read_bytes().startswith(b"\x89PNG")
    loaded, env_id = load_agent(out)
    assert env_id == MEDIUM and loaded.name == agent
    action = loaded.act(torch.zeros(1, 2), torch.full((1, 2), 8.0))
    assert action.shape == (1, 2) and action.abs().max() <= 1.0


def test_evaluate_writes_an_evaluation_folder(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    argv = ["offline", "--evaluate", str(run_dir), "--eval-episodes", "2", "--eval-tasks", "1"]
    assert main([*argv, "--quiet", "--out", str(out)]) == 0
    rows = read_csv(out / "eval.csv")
    assert (
        len(rows) == 1 and rows[0]["step"] == "4" and set(rows[0]) == {"step", "task1", "overall", "seconds"}
    )
    assert (out / "rollouts.png").read_bytes().startswith(b"\x89PNG")


def test_help_names_the_agents_presets_and_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["offline", "--help"])
    text = capsys.readouterr().out
    for word in (
        "gcbc",
        "gcivl",
        "gciql",
        "cpu",
        "paper",
        "expectile=0.9",
        "alpha=10",
        "task_id",
        "eval.csv",
    ):
        assert word in text, word


# ------------------------------------------------------------------------------------------ bad input
def fingerprint(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


BadInput = Callable[[Path, Path, Path], list[str]]


def maze_by_name(data: Path, large: Path, tmp: Path) -> list[str]:
    return ["--dataset", NAME, "--ogbench-dir", str(data), "--env", LARGE]


def maze_by_positions(data: Path, large: Path, tmp: Path) -> list[str]:
    folder = tmp / "renamed"  # the large maze's data under the medium maze's name, no record beside it
    folder.mkdir()
    shutil.copy(large / "pointmaze-large-stitch-v0.npz", folder / f"{NAME}.npz")
    return ["--dataset", str(folder / f"{NAME}.npz")]


def maze_by_record(data: Path, large: Path, tmp: Path) -> list[str]:
    folder = tmp / "recorded"  # the medium data, beside the large maze's collect record
    folder.mkdir()
    shutil.copy(data / f"{NAME}.npz", folder / f"{NAME}.npz")
    shutil.copy(large / "pointmaze-large-stitch-v0.json", folder / f"{NAME}.json")
    return ["--dataset", NAME, "--ogbench-dir", str(folder)]


def not_ogbench_layout(data: Path, large: Path, tmp: Path) -> list[str]:
    path = tmp / f"{NAME}.npz"
    np.savez(path, obs=np.zeros((5, 2)), acts=np.zeros((5, 2)))
    return ["--dataset", str(path)]


def unknown_type(data: Path, large: Path, tmp: Path) -> list[str]:
    shutil.copy(data / f"{NAME}.npz", tmp / "pointmaze-medium-explore-v0.npz")
    return ["--dataset", "pointmaze-medium-explore-v0", "--ogbench-dir", str(tmp)]


def unknown_agent(data: Path, large: Path, tmp: Path) -> list[str]:
    return ["--dataset", NAME, "--ogbench-dir", str(data), "--agent", "hiql"]


def unknown_setting(data: Path, large: Path, tmp: Path) -> list[str]:
    return ["--dataset", NAME, "--ogbench-dir", str(data), "--set", "temperature=3"]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (maze_by_name, "is of the medium maze but the env ogbench:pointmaze-large-v0 is the large maze"),
        (maze_by_positions, "lie in walls of the medium maze"),
        (maze_by_record, "was collected in ogbench:pointmaze-large-v0"),
        (not_ogbench_layout, "is not an OGBench dataset: no observations, actions, terminals"),
        (unknown_type, "unknown OGBench dataset type 'explore'"),
        (unknown_agent, "unknown offline agent 'hiql'; choose one of gcbc, gcivl, gciql"),
        (unknown_setting, "unknown agent setting(s) temperature for gcivl"),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_bad_dataset_or_agent_is_one_line_and_writes_nothing(
    bad: BadInput,
    message: str,
    data_dir: Path,
    large_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    err = refused(capsys, ["offline", *bad(data_dir, large_dir, tmp_path), *TINY, "--out", str(out)])
    assert message in err
    assert not out.exists()


def test_cuda_without_cuda_is_refused(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    argv = [
        "offline",
        "--dataset",
        NAME,
        "--ogbench-dir",
        str(data_dir),
        "--device",
        "cuda",
        "--out",
        str(out),
    ]
    assert "--device cuda needs CUDA, which is not available; use --device cpu" in refused(capsys, argv)
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--set", "alpha=3"], "alpha 3 vs the run's 10.0"),
        (["--agent", "gcbc"], "agent gcbc vs the run's gcivl"),
        (["--batch-size", "64"], "batch_size 64 vs the run's 32"),
        (["--eval-episodes", "5"], "eval_episodes 5 vs the run's 1"),
        (["--steps", "2"], "--steps 2 is less than the 4 steps"),
    ],
)
def test_a_resume_with_other_settings_is_refused(
    flags: list[str], message: str, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(run_dir)
    err = refused(capsys, ["offline", "--resume", str(run_dir), *flags, "--quiet"])
    assert message in err
    assert fingerprint(run_dir) == before


def test_a_resume_on_other_data_is_refused(
    run_dir: Path, large_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprint(run_dir)
    argv = [
        "offline",
        "--resume",
        str(run_dir),
        "--dataset",
        str(large_dir / "pointmaze-large-stitch-v0.npz"),
    ]
    assert "cannot resume" in refused(capsys, argv)
    assert fingerprint(run_dir) == before


def test_an_agent_is_not_evaluated_on_another_maze(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval"
    argv = ["offline", "--evaluate", str(run_dir), "--env", LARGE, "--out", str(out)]
    err = refused(capsys, argv)
    assert "the agent was trained on the medium maze (ogbench:pointmaze-medium-v0)" in err
    assert not out.exists()
    with pytest.raises(AbsactionError, match="trained on the medium maze"):
        evaluate_agent(run_dir, LARGE, episodes=1)


def test_an_existing_output_needs_force_and_force_replaces_only_a_run(
    run_dir: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    argv = ["offline", "--dataset", NAME, "--ogbench-dir", str(data_dir), "--steps", "2", *TINY]
    assert "already exists" in refused(capsys, [*argv, "--out", str(mine)])
    assert "did not write" in refused(capsys, [*argv, "--out", str(mine), "--force"])
    assert (mine / "notes.txt").read_text() == "keep"
