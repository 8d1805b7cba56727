"""Nothing a user has is lost: what ``--out`` and ``--force`` may replace, for every command.

Each bad case runs the real CLI in-process and asserts exit status 2, one error line without a
traceback, and that every file under the test's folder (the user's files, the inputs) is byte for byte
what it was before.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from absaction import files
from absaction.cli import main
from absaction.errors import AbsactionError, cli_spelling, option
from absaction.outputs import RECORD_FILE, check_output, read_record, write_record
from absaction.train import TrainConfig, fit


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, collect_dataset: Callable[..., Path]) -> dict[str, Path]:
    """A Pendulum dataset, a model trained on it, a recorded-paths file (all read-only here)."""
    base = tmp_path_factory.mktemp("inputs")
    data = collect_dataset("Pendulum-v1", "random", episodes=4, seed=0, max_steps=16)
    config = TrainConfig(
        model="tcvlae", model_options={"ladder_dims": [2, 1], "channels": 4}, epochs=1, threads=1, seed=0
    )
    fit(data, config, base / "model", progress=False)
    return {"data": data, "model": base / "model"}


@pytest.fixture
def user(tmp_path: Path, inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's working folder: their thesis, a copy of the dataset and the model; the current folder."""
    (tmp_path / "userdir").mkdir()
    (tmp_path / "userdir" / "thesis.txt").write_text("four years of work")
    (tmp_path / "notes.md").write_text("# notes")
    (tmp_path / "fig.png").write_text("not a figure, a text file the user named .png")
    shutil.copytree(inputs["data"], tmp_path / "ds")
    shutil.copytree(inputs["model"], tmp_path / "model")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


COLLECT = ["collect", "--env", "Pendulum-v1", "--expert", "random", "--episodes", "2", "--max-steps", "8"]
TRAIN = ["train", "--data", "ds", "--epochs", "1", "--ladder-dims", "2,1"]
RL = ["rl", "--env", "Pendulum-v1", "--algo", "ppo", "--steps", "64", "--no-progress"]
EVALUATE = ["evaluate", "--model", "model"]
LATENT = ["rl", "--env", "Pendulum-v1", "--actions", "latent", "--model"]

# (argv, words the one error line must contain)
BAD_OUTPUTS: list[tuple[list[str], str]] = [
    # --force never deletes a folder of the user's own files
    ([*COLLECT, "--out", "userdir", "--force"], "did not write (thesis.txt)"),
    ([*TRAIN, "--out", "userdir", "--force"], "did not write (thesis.txt)"),
    ([*RL, "--out", "userdir", "--force"], "did not write (thesis.txt)"),
    ([*EVALUATE, "--out", "userdir", "--force"], "did not write (thesis.txt)"),
    (["demo", "--out", "userdir", "--force"], "did not write (thesis.txt)"),
    # ... nor another command's output
    ([*COLLECT, "--out", "model", "--force"], "holds the output of absaction train"),
    ([*RL, "--out", "model", "--force"], "holds the output of absaction train"),
    # ... nor an input
    ([*TRAIN, "--out", "ds", "--force"], "is the input ds"),
    ([*TRAIN, "--out", "ds/run"], "lies inside the input ds"),
    ([*EVALUATE, "--out", "model/report"], "lies inside the input model"),
    ([*EVALUATE, "--data", "ds", "--out", "ds", "--force"], "is the input ds"),
    (["traverse", "--model", "model", "--all", "--out", "model/fig.png"], "lies inside the input model"),
    (["plot", "--data", "ds", "--out", "ds/paths.png"], "lies inside the input ds"),
    (
        ["rl", "--env", "Pendulum-v1", "--actions", "latent", "--model", "model", "--out", "model/agent"],
        "lies inside the input model",
    ),
    ([*RL, "--bc", "ds", "--out", ".", "--force"], "names a folder"),
    # ... nor the current folder or one above it
    ([*COLLECT, "--out", ".", "--force"], "names a folder"),
    ([*TRAIN, "--out", ".", "--force"], "names a folder"),
    ([*EVALUATE, "--out", ".", "--force"], "names a folder"),
    ([*COLLECT, "--out", "..", "--force"], "names a folder"),
    ([*RL, "--out", "sub/..", "--force"], "names a folder"),
    ([*TRAIN, "--out", "sub/../", "--force"], "names a folder"),
    # a figure replaces only a figure
    (["plot", "--data", "ds", "--out", "fig.png", "--force"], "is not a figure"),
    (["traverse", "--model", "model", "--all", "--out", "fig.png", "--force"], "is not a figure"),
    (["traverse", "--model", "model", "--all", "--out", "notes.md", "--force"], "figure format"),
    # an existing output without --force
    ([*COLLECT, "--out", "userdir"], "already exists"),
    ([*TRAIN, "--out", "model"], "continue it with absaction train --resume model"),
    # a dataset is not a model, and the advice does not point at the dataset as an output
    (
        ["rl", "--env", "Pendulum-v1", "--actions", "latent", "--model", "ds", "--out", "agent"],
        "is not a trained model",
    ),
]


@pytest.mark.parametrize(("argv", "words"), BAD_OUTPUTS, ids=[" ".join(a) for a, _ in BAD_OUTPUTS])
def test_bad_output_is_one_line_exit_2_and_nothing_is_lost(
    user: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    before = snapshot(user)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert words in lines[0], lines[0]
    assert snapshot(user) == before  # every file is still there, byte for byte
    assert not [p for p in user.rglob("*") if ".tmp-" in p.name or ".old-" in p.name]


def test_the_dataset_advice_never_names_an_input_as_output(
    user: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["rl", "--env", "Pendulum-v1", "--actions", "latent", "--model", "ds", "--out", "agent"])
    line = capsys.readouterr().err.strip()
    assert "--out ds" not in line and "--force" not in line


def test_force_replaces_the_same_commands_own_output(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*COLLECT, "--out", "new", "--seed", "1"]) == 0
    assert read_record(user / "new") == {
        "tool": "absaction",
        "command": "collect",
        "absaction_version": "0.1.0",
    }
    first = snapshot(user / "new")
    assert main([*COLLECT, "--out", "new", "--seed", "2", "--force"]) == 0
    assert snapshot(user / "new") != first and (user / "new" / RECORD_FILE).is_file()
    assert (user / "userdir" / "thesis.txt").read_text() == "four years of work"


def test_an_empty_folder_may_be_replaced(user: Path) -> None:
    (user / "empty").mkdir()
    assert main([*COLLECT, "--out", "empty", "--force"]) == 0
    assert (user / "empty" / "collect.json").is_file()


def test_python_errors_speak_python_and_the_cli_speaks_flags(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("x")
    with pytest.raises(AbsactionError, match=r"pass force=True to replace"):
        check_output(tmp_path / "out", force=False, command="train")
    with cli_spelling(), pytest.raises(AbsactionError, match=r"pass --force to replace"):
        check_output(tmp_path / "out", force=False, command="train")
    assert option("bc_data", "DIR") == "bc_data=DIR"
    with cli_spelling():
        assert option("bc_data", "DIR") == "--bc-data DIR"


def test_a_failure_while_moving_into_place_removes_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(src: Path, dst: Path) -> None:
        raise OSError(16, "Device or resource busy")

    monkeypatch.setattr(files, "replace_dir", broken)
    with pytest.raises(OSError), files.atomic_dir(tmp_path / "out", command="collect") as tmp:
        (tmp / "data.bin").write_bytes(b"work")
    assert list(tmp_path.iterdir()) == []


def test_record_of_another_tool_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / RECORD_FILE).write_text('{"tool": "other", "command": "train"}')
    assert read_record(tmp_path / "run") is None
    with pytest.raises(AbsactionError, match="did not write"):
        check_output(tmp_path / "run", force=True, command="train")
    write_record(tmp_path / "run", "train")
    assert check_output(tmp_path / "run", force=True, command="train") == tmp_path / "run"
