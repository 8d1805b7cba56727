"""User mistakes at the command line and in Python: one line naming the problem and the fix, exit status 2,
nothing written. Covers bad data fed to training, unavailable devices, unfinished model runs used as
inputs, skill runs given where a latent-chunk model is needed, and hyperparameter overrides; plus the
cases that used to be refused and now work (Dict observations, an `absaction rl` folder as an expert) and
the bytes of a saved model (the same training writes the same file).

Models are tiny TCVLAEs (4 channels) and skill models (16 units) trained for an epoch or two on the
8-episode scripted Reach2D dataset; RL runs take a few dozen steps with 8-unit networks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from absaction.agents import AgentConfig, load_agent, make_env, train_agent
from absaction.agents.bc import demonstration_pairs
from absaction.agents.hyperparams import OWN_ANNOTATIONS, OWN_KEYS, accepted_keys, check_value
from absaction.cli import main
from absaction.data import load_dataset
from absaction.devices import check_device
from absaction.errors import AbsactionError
from absaction.models import load
from absaction.models.io import weights_bytes
from absaction.train import TrainConfig, fit
from absaction.train.skill_loop import SkillTrainConfig, fit_skills
from absaction.wrappers import LatentActionWrapper

REACH = "absaction/Reach2D-v0"
TINY_PPO = ["--set", "n_steps=32", "--set", "batch_size=32", "--set", "n_epochs=1"]
TINY_PPO += ["--set", "policy_kwargs=dict(net_arch=[8])", "--threads", "1", "--no-progress"]


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI, check it failed with exit status 2 and one line on stderr, return that line."""
    status = main(list(argv))
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    return err


# --------------------------------------------------------------------------------------------- fixtures
def _tiny(**fields: Any) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "model_options": {"channels": 4}, "threads": 1, **fields})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, expert_dataset: Path) -> dict[str, Path]:
    """``done``: a finished tiny TCVLAE; ``cut``: one stopped by Ctrl-C after epoch 1 of 3 (its checkpoint
    kept, ``complete: false``); ``skill``: a finished tiny skill model."""
    root = tmp_path_factory.mktemp("runs")
    fit(expert_dataset, _tiny(), root / "done", progress=False)

    def stop(epoch: int, row: dict[str, Any]) -> None:
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(
            expert_dataset,
            _tiny(epochs=3, checkpoint_every=1),
            root / "cut",
            progress=False,
            epoch_callback=stop,
        )
    skill = SkillTrainConfig(epochs=1, batch_size=64, hidden_size=16)
    fit_skills(expert_dataset, skill, root / "skill")
    return {"done": root / "done", "cut": root / "cut", "skill": root / "skill"}


@pytest.fixture
def nan_observations(tmp_path: Path, expert_dataset: Path, write_minari_dataset: Callable[..., Path]) -> Path:
    """The scripted Reach2D episodes with a NaN in episode 2's observation at step 5."""
    source = load_dataset(expert_dataset)
    observations = [np.array(ep.observations, np.float32) for ep in source.episodes]
    observations[2][5, 0] = np.nan
    return write_minari_dataset(
        tmp_path / "nan-data",
        actions=[ep.actions for ep in source.episodes],
        action_space=source.action_space,
        observations=observations,
        observation_space=source.observation_space,
    )


# ----------------------------------------------------------------------------------- NaN in the data
def test_bc_refuses_nan_observations_naming_episode_and_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nan_observations: Path
) -> None:
    out = tmp_path / "agent"
    err = cli_error(capsys, "rl", "--env", REACH, "--bc", str(nan_observations), "--steps", "64",
                    "--out", str(out), *TINY_PPO)  # fmt: skip
    assert err == (
        f"absaction rl: error: episode 2 of {nan_observations} has NaN or infinite observations (first at "
        "step 5); remove that episode or re-collect the dataset"
    )
    assert not out.exists()


def test_bc_refuses_nan_in_bare_demonstration_arrays() -> None:
    obs, actions = np.zeros((6, 3), np.float32), np.zeros((6, 2), np.float32)
    obs[3, 1] = np.inf
    with pytest.raises(AbsactionError, match=r"NaN or infinite observations \(first in row 3\)"):
        demonstration_pairs((obs, actions))
    obs[3, 1], actions[4, 0] = 0.0, np.nan
    with pytest.raises(AbsactionError, match=r"NaN or infinite actions \(first in row 4\)"):
        demonstration_pairs((obs, actions))


def test_skill_training_refuses_nan_observations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nan_observations: Path
) -> None:
    out = tmp_path / "skills"
    err = cli_error(capsys, "train", "--model", "skill", "--data", str(nan_observations), "--out", str(out),
                    "--epochs", "1", "--quiet")  # fmt: skip
    assert "episode 2 has NaN or infinite observations (first at step 5)" in err
    assert not out.exists()


# ----------------------------------------------------------------------------------------------- devices
@pytest.mark.parametrize(
    ("command", "device", "message"),
    [
        ("train", "mps", "unknown device 'mps'; use --device cpu (or one of auto, cpu, cuda, cuda:N)"),
        ("rl", "xla", "unknown device 'xla'; use --device cpu (or one of auto, cpu, cuda, cuda:N)"),
        ("train", "cuda:x", "unknown device 'cuda:x'; use --device cpu (or one of auto, cpu, cuda, cuda:N)"),
        ("train", "cuda", "--device cuda needs CUDA, which is not available; use --device cpu"),
        ("rl", "cuda:1", "--device cuda:1 needs CUDA, which is not available; use --device cpu"),
    ],
)
def test_unavailable_device_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    expert_dataset: Path,
    command: str,
    device: str,
    message: str,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "out"
    if command == "train":
        argv = ["train", "--data", str(expert_dataset), "--out", str(out), "--quiet"]
    else:
        argv = ["rl", "--env", REACH, "--steps", "64", "--out", str(out), *TINY_PPO]
    err = cli_error(capsys, *argv, "--device", device)
    assert err == f"absaction {command}: error: {message}"
    assert list(tmp_path.iterdir()) == []


def test_cuda_device_that_does_not_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert check_device("cuda") == "cuda" and check_device("cuda:0") == "cuda:0"
    with pytest.raises(
        AbsactionError, match="device='cuda:1' does not exist: this machine has 1 CUDA device"
    ):
        check_device("cuda:1")


def test_auto_device_trains_on_the_cpu_without_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, expert_dataset: Path
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert check_device("auto") == "cpu"
    result = fit(expert_dataset, _tiny(epochs=1, device="auto"), tmp_path / "run", progress=False)
    assert next(result.model.parameters()).device.type == "cpu"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["complete"] is True


# --------------------------------------------------------------------------- unfinished runs as inputs
def test_unfinished_run_is_refused_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, runs: dict[str, Path]
) -> None:
    monkeypatch.chdir(runs["cut"].parent)  # the run named as a user types it
    fix = (
        "finish it with `absaction train --resume cut`, or pass --allow-incomplete to use its last checkpoint"
    )
    problem = "cut holds an unfinished training run (epoch 1 of 3)"
    commands = {
        "rl": ["rl", "--env", REACH, "--actions", "latent", "--model", "cut", "--steps", "64", *TINY_PPO],
        "traverse": ["traverse", "--model", "cut", "--all"],
        "evaluate": ["evaluate", "--model", "cut"],
    }
    for name, argv in commands.items():
        out = tmp_path / name / ("fig.png" if name == "traverse" else "out")
        err = cli_error(capsys, *argv, "--out", str(out))
        assert err.startswith(f"absaction {name}: error: {problem}; {fix}"), err
        assert not out.exists()


def test_unfinished_run_is_used_when_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: dict[str, Path]
) -> None:
    with pytest.raises(AbsactionError, match=r"unfinished training run .* pass allow_incomplete=True"):
        load(runs["cut"])
    cut = load(runs["cut"], allow_incomplete=True)
    assert cut.kl_per_dim is not None and load(runs["done"]).ladder_dims == cut.ladder_dims
    figure = tmp_path / "fig.png"
    status = main(
        ["traverse", "--model", str(runs["cut"]), "--all", "--allow-incomplete", "--out", str(figure)]
    )
    assert status == 0 and figure.read_bytes()[:4] == b"\x89PNG"
    config = AgentConfig(REACH, actions="latent", model=str(runs["cut"]))
    with pytest.raises(AbsactionError, match="pass allow_incomplete=True"):
        make_env(config)
    env = make_env(config.replace(allow_incomplete=True))
    assert isinstance(env, LatentActionWrapper) and env.action_space.shape == (
        sum(map(len, cut.active_dims())),
    )
    err = cli_error(capsys, "rl", "--env", REACH, "--allow-incomplete", "--out", str(tmp_path / "x"))
    assert "--allow-incomplete only applies to --actions latent or --actions skill" in err


# ------------------------------------------------------------------------ skill runs, CLI vocabulary
def test_skill_run_given_as_latent_chunks_names_the_cli_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: dict[str, Path]
) -> None:
    skill = str(runs["skill"])
    err = cli_error(capsys, "rl", "--env", REACH, "--actions", "latent", "--model", skill, "--steps", "64",
                    "--out", str(tmp_path / "agent"), *TINY_PPO)  # fmt: skip
    assert err == (
        f"absaction rl: error: {skill} holds a skill model, which decodes one step at a time from the state, "
        "not latent chunks; use --actions skill for it"
    )
    err = cli_error(capsys, "traverse", "--model", skill, "--all", "--out", str(tmp_path / "fig.png"))
    assert f"run `absaction evaluate --model {skill} --out DIR`" in err
    assert "decode_step" not in err and "encode_windows" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--actions", "latent", "--model", "m", "--ladders", "top"],
            "the words top and all of --ladders choose skill latents and only apply to --actions skill, got "
            "--actions latent; pass ladder numbers such as --ladders 2,3 or use --actions skill",
        ),
        (
            ["--model", "m"],
            "--model only applies to --actions latent or --actions skill, got --actions primitive",
        ),
        (["--ladders", "2"], "--ladders only applies to --actions latent or --actions skill"),
        (
            ["--actions", "repeat", "--chunk", "4", "--dims", "1:0"],
            "--dims only applies to --actions latent,",
        ),
    ],
)
def test_option_for_another_action_kind_names_the_kinds_it_applies_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    err = cli_error(capsys, "rl", "--env", REACH, *argv, "--steps", "64", "--out", str(tmp_path / "o"))
    assert message in err


def test_chunk_longer_than_the_model_speaks_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: dict[str, Path]
) -> None:
    length = load(runs["done"]).seq_len
    err = cli_error(capsys, "rl", "--env", REACH, "--actions", "latent", "--model", str(runs["done"]),
                    "--chunk", "100", "--steps", "64", "--out", str(tmp_path / "o"), *TINY_PPO)  # fmt: skip
    assert err == (
        f"absaction rl: error: --chunk 100 must be between 1 and the decoded chunk length {length}; pass "
        f"--chunk K with K in 1..{length}, or leave it out to execute the whole chunk"
    )


def test_skill_training_lists_the_flags_it_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], expert_dataset: Path
) -> None:
    err = cli_error(capsys, "train", "--model", "skill", "--progressive", "5", "--data", str(expert_dataset),
                    "--out", str(tmp_path / "s"))  # fmt: skip
    assert "--progressive does not apply to skill models; drop it; skill models take --batch-size" in err
    taken = err.split("skill models take ")[1].split(", ")
    for real in (
        "--skill-encoder",
        "--skill-decoder",
        "--skill-frame",
        "--horizon",
        "--model-option hidden_size=VALUE",
    ):
        assert real in taken
    for missing in ("--encoder", "--decoder", "--frame", "--hidden-size"):
        assert missing not in taken
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------------- Dict observations
class DictLineEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """A point on a line observed as a Dict (position, goal); 10-step episodes, success within 0.05."""

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        box = gym.spaces.Box(-10.0, 10.0, (1,), np.float32)
        self.observation_space = gym.spaces.Dict({"position": box, "goal": box})
        self.x = 0.0

    def _obs(self) -> dict[str, np.ndarray]:
        return {"position": np.array([self.x], np.float32), "goal": np.array([0.3], np.float32)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.x = 0.0
        return self._obs(), {}

    def step(self, action: np.ndarray):
        self.x += 0.1 * float(np.clip(action[0], -1, 1))
        success = abs(self.x - 0.3) < 0.05
        return self._obs(), -abs(self.x - 0.3), success, False, {"is_success": success}


DICT_ID = "absaction_tests/DictLine-v0"
if DICT_ID not in gym.registry:
    gym.register(DICT_ID, entry_point=DictLineEnv, max_episode_steps=10)


def test_dict_observations_train_with_the_multi_input_policy(tmp_path: Path) -> None:
    out = tmp_path / "agent"
    argv = ["rl", "--env", DICT_ID, "--steps", "64", "--eval-episodes", "2", "--out", str(out), *TINY_PPO]
    assert main(argv) == 0
    loaded = load_agent(out)
    assert type(loaded.agent.policy).__name__ == "MultiInputActorCriticPolicy"
    assert isinstance(loaded.agent.observation_space, gym.spaces.Dict)
    rows = (out / "eval.csv").read_text().splitlines()
    assert rows[0].startswith("primitive_steps") and len(rows) >= 3


# ------------------------------------------------------------------------------- experts for collect
def test_rl_run_folder_is_an_expert_and_latent_agents_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: dict[str, Path]
) -> None:
    primitive = tmp_path / "ppo"
    assert main(["rl", "--env", REACH, "--steps", "64", "--eval-episodes", "1", "--out", str(primitive),
                 *TINY_PPO]) == 0  # fmt: skip
    data = tmp_path / "data"
    assert (
        main(["collect", "--env", REACH, "--expert", str(primitive), "--episodes", "2", "--out", str(data)])
        == 0
    )
    assert load_dataset(data).metadata["algorithm_name"] == "sb3:PPO:agent.zip"
    capsys.readouterr()

    latent = tmp_path / "ppo-latent"
    config = AgentConfig(REACH, actions="latent", model=str(runs["done"]), steps=256, eval_episodes=1,
                         hyperparams={"n_steps": 4, "batch_size": 4, "n_epochs": 1})  # fmt: skip
    train_agent(config, latent, progress=False, plot=False, checkpoint_every=0)
    for expert in (latent, latent / "agent.zip"):
        err = cli_error(
            capsys, "collect", "--env", REACH, "--expert", str(expert), "--out", str(tmp_path / "d2")
        )
        assert f"the agent {latent / 'agent.zip'} acts in latent actions" in err
        assert "use an agent trained with `absaction rl --actions primitive`" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    err = cli_error(capsys, "collect", "--env", REACH, "--expert", str(empty), "--out", str(tmp_path / "d2"))
    assert f"expert folder {empty} holds no agent.zip" in err
    assert not (tmp_path / "d2").exists()


# ----------------------------------------------------------------------------- hyperparameter overrides
@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("gamma=1.5", "--set gamma=1.5 is out of range: gamma must be in (0, 1]; pass e.g. --set gamma=0.99"),
        ("n_steps=abc", "--set n_steps=abc is not an integer; pass e.g. --set n_steps=2048"),
        ("learning_rate=-1", "--set learning_rate=-1 is out of range: learning_rate must be > 0"),
        ("ent_coef=auto", "--set ent_coef=auto is not a number"),
        ("n_stepz=64", "unknown ppo hyperparameter(s) n_stepz given with --set; valid keys: batch_size,"),
    ],
)
def test_set_checks_type_and_range_and_names_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], override: str, message: str
) -> None:
    err = cli_error(
        capsys, "rl", "--env", REACH, "--set", override, "--steps", "64", "--out", str(tmp_path / "o")
    )
    assert err.startswith(f"absaction rl: error: {message}"), err
    assert "ppo.yml" not in err and "_init_setup_model" not in err
    assert list(tmp_path.iterdir()) == []


def test_hyperparameter_file_values_are_checked_and_blamed_on_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "ppo.yml"
    file.write_text("default:\n  gae_lambda: 0\n")
    err = cli_error(capsys, "rl", "--env", REACH, "--hyperparams", str(file), "--out", str(tmp_path / "o"))
    assert f"gae_lambda: 0 in {file} is out of range: gae_lambda must be in (0, 1]" in err
    with pytest.raises(AbsactionError, match=r"hyperparams\['gamma'\]=1.5 is out of range"):
        train_agent(AgentConfig(REACH, hyperparams={"gamma": 1.5}, steps=64), tmp_path / "o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ppo.yml"]


def test_check_value_accepts_what_the_yaml_files_write() -> None:
    sac, ppo = accepted_keys("sac"), accepted_keys("ppo")
    good = [
        ("ent_coef", "auto", sac), ("ent_coef", "auto_0.1", sac), ("ent_coef", 0.01, sac),
        ("gradient_steps", -1, sac), ("train_freq", [1, "episode"], sac), ("learning_starts", 0, sac),
        ("learning_rate", "lin_1e-3", ppo), ("policy_kwargs", "dict(net_arch=[8])", ppo),
        ("normalize", "dict(norm_reward=False)", ppo), ("normalize", True, ppo), ("n_timesteps", 1e6, ppo),
        ("clip_range_vf", None, ppo), ("gamma", 1, ppo),
    ]  # fmt: skip
    for key, value, table in good:
        assert check_value(key, value, table[key]) is None, (key, value)
    assert check_value("rollout_buffer_class", "RolloutBuffer", ppo["rollout_buffer_class"]) == (
        "is not settable here (it takes a Python object): leave it out"
    )
    assert check_value("gradient_steps", 0, sac["gradient_steps"]).startswith("is out of range")
    assert check_value("use_sde", 1, ppo["use_sde"]) == "is not true or false"
    assert set(OWN_ANNOTATIONS) == OWN_KEYS
    assert not any(key.startswith("_") for key in ppo)


# --------------------------------------------------------------------------------------- saved bytes
def test_identical_retrains_write_identical_weights(tmp_path: Path, expert_dataset: Path) -> None:
    for name in ("a", "b"):
        fit(expert_dataset, _tiny(epochs=1), tmp_path / name, progress=False)
    first, second = ((tmp_path / name / "model.safetensors").read_bytes() for name in ("a", "b"))
    assert first == second
    # safetensors writes its metadata in a hash map's order, which changes from call to call
    model = load(tmp_path / "a")
    assert {weights_bytes(model) for _ in range(20)} == {first}
