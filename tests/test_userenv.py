"""A user's own environment and data: ``module:EnvId`` ids through collect -> train -> rl, episode lengths
that do not divide by the model's 2^layers, records whose paths resolve from any working folder, the
README's import names, Minari's own tools on what ``collect`` writes, and errors that speak Python to a
Python caller and flags to the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import pytest

import absaction.models as models
from absaction.agents.config import AgentConfig, check_env_id
from absaction.agents.persistence import load_agent
from absaction.bench import Sweep
from absaction.bench.estimate import episode_horizon
from absaction.cli import main
from absaction.data import longest_window
from absaction.data.collect import CollectConfig, collect, make_env
from absaction.envs import resolve_env_id
from absaction.errors import AbsactionError, cli_spelling
from absaction.models import qrnn
from absaction.outputs import path_from_record, path_in_record
from absaction.train import TrainConfig, fit

# A user's own world in a module of their own, registered when the module is imported: a point that moves
# by a tenth of its 2-D action per step, 22 steps an episode (22 does not divide by 4 = 2^2 layers).
USER_MODULE = textwrap.dedent(
    """
    import gymnasium as gym
    import numpy as np


    class UserReach(gym.Env):
        observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.pos = np.zeros(2, np.float32)
            return self.pos.copy(), {}

        def step(self, action):
            self.pos = (self.pos + 0.1 * np.asarray(action, np.float32)).astype(np.float32)
            reward = -float(np.linalg.norm(self.pos - np.array([0.0, 1.0])))
            return self.pos.copy(), reward, False, False, {}


    if "UserReach-v0" not in gym.registry:
        gym.register(id="UserReach-v0", entry_point=UserReach, max_episode_steps=22)
    """
)
USER_ID = "user_reach_env:UserReach-v0"
TINY_PPO = ["--set", "n_steps=32", "--set", "batch_size=32", "--set", "n_epochs=1"]


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``user_reach_env.py`` in a folder of its own, put on ``sys.path`` (as PYTHONPATH=. would)."""
    folder = tmp_path / "user_code"
    folder.mkdir()
    (folder / "user_reach_env.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------------- 1. module:EnvId
def test_module_env_id_through_collect_train_rl(
    user_module: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        capsys, "collect", "--env", USER_ID, "--expert", "random", "--episodes", "6", "--out", "ds"
    )
    assert code == 0, err
    assert "userreach-random-v0" in out  # the dataset id is made from the registered part of the id
    collect_json = json.loads((tmp_path / "ds" / "collect.json").read_text())
    assert collect_json["config"]["env_id"] == USER_ID  # kept as written: a later process imports it again
    assert collect_json["config"]["out"] == collect_json["summary"]["path"] == "."  # no machine paths

    code, _, err = run_cli(
        capsys, "train", "--data", "ds", "--out", "run", "--epochs", "1", "--ladder-dims", "2,1"
    )
    assert code == 0, err
    # 22 steps do not divide by 2^2: the longest window the model reads is 20, said and recorded
    assert "windows of 20 steps" in err and "--window L" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["window"] == 20 and config["train"]["window"] is None

    code, out, err = run_cli(
        capsys, "rl", "--env", USER_ID, "--actions", "latent", "--model", "run", "--steps", "64",
        "--eval-every", "64", "--eval-episodes", "1", "--out", "agent", "--no-progress", *TINY_PPO,
        "--set", "n_steps=2", "--set", "batch_size=2",  # 20-step decisions: an update within 64 steps
    )  # fmt: skip
    assert code == 0, err
    record = json.loads((tmp_path / "agent" / "agent.json").read_text())
    assert record["config"]["env_id"] == USER_ID
    assert record["wrapper"]["chunk"] == 20  # one decision = one 20-step window of the model
    # the record names the model relative to the run folder and loads from another working folder
    assert record["config"]["model"] == "../run" and record["wrapper"]["model"] == "../run"
    monkeypatch.chdir(user_module)
    loaded = load_agent(tmp_path / "agent")
    assert loaded.config.model == str(tmp_path / "run") and loaded.config.env_id == USER_ID
    loaded.env.close()
    assert record["primitive_steps"] >= 64


def test_module_env_id_in_python_and_bench_tasks(user_module: Path) -> None:
    assert resolve_env_id(USER_ID) == "UserReach-v0"
    check_env_id(USER_ID)  # rl's and bench's check: no error
    sweep = Sweep(tasks=[USER_ID], agents={"ppo": AgentConfig(USER_ID)}, steps=64, eval_points=2)
    sweep.validate()  # the sweep engine's check: the id is a task
    assert list(sweep.task_ids.values()) == [USER_ID] and "/" not in next(iter(sweep.task_ids))
    assert episode_horizon(USER_ID) == 22  # gym.spec alone does not import the module
    env = make_env(USER_ID)
    assert env.spec is not None and env.spec.id == "UserReach-v0" and env.action_space.shape == (2,)
    env.close()


@pytest.mark.parametrize(
    ("env_id", "words"),
    [
        ("no_such_module_xyz:Env-v0", ["cannot import module 'no_such_module_xyz'", "PYTHONPATH"]),
        (
            "user_reach_env:UserRaech-v0",
            ["unknown environment id 'UserRaech-v0'", "user_reach_env:UserReach-v0"],
        ),
        ("user_reach_env:Other-v0", ["module user_reach_env registers no such id", "gymnasium.register"]),
        ("a:b:c", ["malformed environment id", "module:EnvId"]),
    ],
)
def test_bad_module_env_id_is_one_line(
    user_module: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], env_id: str, words: list[str]
) -> None:
    for argv in (
        ["collect", "--env", env_id, "--expert", "random", "--out", str(tmp_path / "o")],
        ["rl", "--env", env_id, "--steps", "10", "--out", str(tmp_path / "o")],
    ):
        code, _, err = run_cli(capsys, *argv)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert all(word in lines[0] for word in words), lines[0]
        assert not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------- 2. any episode length
def favae_like(write: Callable[..., Path], out: Path, episodes: int = 12, steps: int = 99) -> Path:
    """Like the public FAVAE reaching paths: 100 positions -> 99 per-step displacements, 2 factors."""
    rng = np.random.default_rng(0)
    actions, infos = [], []
    for i in range(episodes):
        goal, curve = i % 2, (i // 2) % 3
        t = np.linspace(0, 1, steps + 1)
        x = (2 * goal - 1) * 0.1 * t + 0.05 * curve * np.sin(np.pi * t)
        positions = np.stack([x, t], axis=1)
        actions.append(
            (np.diff(positions, axis=0) + 1e-4 * rng.standard_normal((steps, 2))).astype(np.float32)
        )
        infos.append({"factors": {"goal": np.full(steps + 1, goal), "curve": np.full(steps + 1, curve)}})
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    return write(out, actions, box, infos=infos, metadata={"factor_names": ["goal", "curve"]})


def test_episodes_of_99_steps_train_with_the_defaults(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = favae_like(write_minari_dataset, tmp_path / "favae")
    code, _, err = run_cli(
        capsys, "train", "--data", str(data), "--out", str(tmp_path / "run"), "--epochs", "1"
    )
    assert code == 0, err
    # default TCVLAE: 3 ladders x 1 layer -> sequences divide by 8; at most 32 steps (TrainConfig's
    # DEFAULT_WINDOW), so an agent decoding one window per decision makes 4 decisions per episode
    assert "episodes of 99 steps" in err and "windows of 32 steps" in err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["window"] == 32 and config["model_config"]["seq_len"] == 32
    assert config["data"]["n_train"] + config["data"]["n_val"] == 36  # three windows per episode

    # an explicit --window is honoured, and still checked against the model
    code, _, err = run_cli(
        capsys, "train", "--data", str(data), "--out", str(tmp_path / "w32"), "--epochs", "1",
        "--window", "32", "--stride", "32",
    )  # fmt: skip
    assert code == 0, err
    assert "windows of" not in err
    assert json.loads((tmp_path / "w32" / "config.json").read_text())["data"]["window"] == 32
    code, _, err = run_cli(
        capsys, "train", "--data", str(data), "--out", str(tmp_path / "w30"), "--window", "30"
    )
    assert code == 2 and "do not divide by 8" in err and "--window 24" in err
    assert not (tmp_path / "w30").exists()


def test_longest_window_rule() -> None:
    assert longest_window([32, 32, 32], 8) is None  # whole episodes, as before
    assert longest_window([99] * 5, 8) == 96
    assert longest_window([99] * 5, 1) is None
    assert longest_window([70, 40, 64], 16) == 32  # different lengths: the shortest bounds the window
    assert longest_window([70, 41], 1) == 41
    with pytest.raises(AbsactionError, match="fewer than the 8 the model needs"):
        longest_window([5, 30], 8)


# ------------------------------------------------------------------- 3. paths that resolve from anywhere
def test_path_in_record_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert path_in_record("data/reach2d", "runs/x") == "../../data/reach2d"
    assert path_from_record("../../data/reach2d", "runs/x") == tmp_path / "data" / "reach2d"
    assert path_from_record("/abs/elsewhere", "runs/x") == Path("/abs/elsewhere")
    # an older record held a path relative to the working folder: found where only that one exists
    (tmp_path / "old").mkdir()
    assert path_from_record("old", "runs/x") == tmp_path / "old"


def test_runs_resolve_their_data_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert main(["collect", "--env", "absaction/Reach2D-v0", "--episodes", "4", "--out", "data/reach"]) == 0
    assert main(["train", "--data", "data/reach", "--out", "runs/x", "--epochs", "1", "--ladder-dims", "2,1",
                 "--quiet"]) == 0  # fmt: skip
    config = json.loads((project / "runs" / "x" / "config.json").read_text())
    assert config["data"]["path"] == "../../data/reach"  # relative to the run folder
    capsys.readouterr()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = os.path.relpath(project / "runs" / "x")
    code, _, err = run_cli(capsys, "traverse", "--model", run, "--all", "--out", "t.png")
    assert code == 0, err
    code, _, err = run_cli(capsys, "evaluate", "--model", run, "--out", "report")
    assert code == 0, err
    report = json.loads((elsewhere / "report" / "report.json").read_text())
    assert path_from_record(report["data"]["path"], elsewhere / "report") == project / "data" / "reach"
    assert path_from_record(report["model"]["run_dir"], elsewhere / "report") == project / "runs" / "x"
    assert not any(str(tmp_path) in json.dumps(v) for v in (report["data"], report["model"]))

    # the data moved away: the error suggests --data, not collecting it again
    (project / "data" / "reach").rename(project / "data" / "moved")
    code, _, err = run_cli(capsys, "traverse", "--model", run, "--all", "--out", "t2.png", "--force")
    assert code == 2 and "training data of" in err and "pass --data" in err and "collect" not in err
    code, _, err = run_cli(
        capsys,
        "traverse",
        "--model",
        run,
        "--all",
        "--out",
        "t2.png",
        "--data",
        str(project / "data" / "moved"),
    )
    assert code == 0, err


# ---------------------------------------------------------------------------------- 4. README names
def test_qrnn_is_importable_from_models() -> None:
    from absaction.models import QRNN

    assert QRNN is qrnn.QRNN and "QRNN" in models.__all__ and "QRNN" in dir(models)


# ------------------------------------------------------------------------- 7. errors in the caller's words
def test_python_errors_name_arguments_cli_errors_name_flags(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = CollectConfig(
        env_id="Pendulum-v1", expert="random", episodes=0, out=tmp_path / "o", progress=False
    )
    with pytest.raises(AbsactionError) as python_error:
        collect(config)
    assert "pass episodes=N with N >= 1" in str(python_error.value) and "--" not in str(python_error.value)
    with cli_spelling(), pytest.raises(AbsactionError) as cli_error:
        collect(config)
    assert "pass --episodes N with N >= 1" in str(cli_error.value)

    # train: a window the model cannot read, and an existing run folder
    data = favae_like(write_minari_dataset, tmp_path / "favae", episodes=4)
    with pytest.raises(AbsactionError) as python_error:
        fit(data, TrainConfig(window=30, epochs=1), tmp_path / "run", progress=False)
    assert "(window=24)" in str(python_error.value) and "--window" not in str(python_error.value)
    code, _, err = run_cli(
        capsys, "train", "--data", str(data), "--window", "30", "--out", str(tmp_path / "r")
    )
    assert code == 2 and "(--window 24)" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("years of work")
    with pytest.raises(AbsactionError, match=r"force=True replaces only its own output"):
        fit(data, TrainConfig(epochs=1), tmp_path / "mine", force=True, progress=False)

    # rl: a latent agent without a model, and a typo'd device
    with pytest.raises(AbsactionError, match=r"pass model=RUN_DIR"):
        AgentConfig(env_id="Pendulum-v1", actions="latent").validate()
    with pytest.raises(AbsactionError, match=r"unknown device 'gpu'; use device='cpu'"):
        TrainConfig(device="gpu").validate()
    with cli_spelling(), pytest.raises(AbsactionError, match=r"unknown device 'gpu'; use --device cpu"):
        TrainConfig(device="gpu").validate()


# ------------------------------------------------------------------------ 5. Minari's own tools read it
def test_dataset_under_minari_path_is_listed_and_loaded_by_minari(
    minari_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "collect", "--env", "Pendulum-v1", "--expert", "random", "--episodes", "3",
        "--max-steps", "5", "--out", str(minari_home / "pendulum-random-v0"),
    )  # fmt: skip
    assert code == 0, err
    assert "minari.load_dataset('pendulum-random-v0')" in " ".join(out.split())
    # a namespaced place gives a namespaced id
    code, out, err = run_cli(
        capsys, "collect", "--env", "Pendulum-v1", "--expert", "random", "--episodes", "2",
        "--max-steps", "5", "--out", str(minari_home / "mine" / "pend-v3"),
    )  # fmt: skip
    assert code == 0, err
    assert "collected mine/pend-v3" in out

    # Minari's own command line, in a process of its own, lists both
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "minari"), "list", "local"],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}, check=True,
    )  # fmt: skip
    assert "pendulum-random-v0" in listed.stdout and "mine/pend-v3" in listed.stdout, listed.stdout
    dataset = minari.load_dataset("pendulum-random-v0")
    assert dataset.total_episodes == 3 and dataset.total_steps == 15
    assert minari.load_dataset("mine/pend-v3").total_episodes == 2


def test_minari_place_and_id_must_agree(
    minari_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    base = ["collect", "--env", "Pendulum-v1", "--expert", "random", "--episodes", "1", "--max-steps", "3"]
    code, _, err = run_cli(capsys, *base, "--out", str(minari_home / "pend"))
    assert code == 2 and "not one" in err and "name-vN" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, *base, "--out", str(minari_home / "a-v0"), "--dataset-id", "b-v0")
    assert code == 2 and "Minari would neither list nor load it" in err and "--dataset-id b-v0" in err
    assert sorted(p.name for p in minari_home.iterdir()) == []
    # elsewhere: the summary says how to load it
    code, out, err = run_cli(capsys, *base, "--out", str(tmp_path / "elsewhere"))
    text = " ".join(out.split())
    assert code == 0 and "absaction.data.load_dataset(" in text and "MINARI_DATASETS_PATH" in text


# ---------------------------------------------------------------- 6. committed results name no machine
def test_committed_results_hold_no_absolute_paths() -> None:
    repo = Path(__file__).resolve().parents[1]
    files = subprocess.run(
        ["git", "ls-files", "--", "*.csv", "*.json", "*.md"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert any(name.startswith("benchmarks/results/") for name in files)
    machine_path = re.compile(r'(^|[ ,"])/(work|tmp|root|home)/', re.MULTILINE)
    found = [name for name in files if machine_path.search((repo / name).read_text(encoding="utf-8"))]
    assert found == []
