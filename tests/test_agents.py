"""Agents: hyperparameters, configs, primitive-step counting, evaluation, BC, saving, ``absaction rl``.

RL runs use a registered stub env (a point on a line, 10-step episodes) and a stub decoder injected in
place of ``absaction.models.load``, with tiny networks (``net_arch=[8]``) and a few hundred steps.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from absaction import models
from absaction.agents import (
    AgentConfig,
    bc_pretrain,
    load_agent,
    load_hyperparams,
    make_env,
    parse_policy_kwargs,
    read_eval_csv,
    train_agent,
)
from absaction.agents.hyperparams import (
    HYPERPARAMS_DIR,
    BudgetWarning,
    PrimitiveProgress,
    algorithm_kwargs,
    check_keys,
)
from absaction.cli import main
from absaction.errors import AbsactionError
from absaction.outputs import RECORD_FILE
from absaction.wrappers import latent as latent_module

LINE_ID = "absaction_tests/Line-v0"
EPISODE_STEPS = 10


class LineEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point at x = 0 moves by 0.1 * action[0] per step (action[1] is ignored); goal x = 0.3.

    Reward ``-|x - 0.3|``; terminates with ``is_success`` within 0.05 of the goal; 10-step episodes
    (TimeLimit). Counts every primitive step it executes in ``total_steps``.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (3,), np.float32)
        self.x = 0.0
        self.t = 0
        self.total_steps = 0

    def _obs(self) -> np.ndarray:
        return np.array([self.x, 0.3, self.t / EPISODE_STEPS], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.x, self.t = 0.0, 0
        return self._obs(), {}

    def step(self, action: np.ndarray):
        self.x = float(np.clip(self.x + 0.1 * float(np.clip(action[0], -1, 1)), -10, 10))
        self.t += 1
        self.total_steps += 1
        success = abs(self.x - 0.3) < 0.05
        return self._obs(), -abs(self.x - 0.3), success, False, {"is_success": success}


if LINE_ID not in gym.registry:
    gym.register(LINE_ID, entry_point=LineEnv, max_episode_steps=EPISODE_STEPS)


class StubDecoder(nn.Module):
    """Ladders [1, 1], T = 4: every decoded action is ``(0.5 * z1, 0.5 * z2)``."""

    def __init__(self, action_dim: int = 2) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.ladder_dims = [1, 1]
        self.action_dim = action_dim
        self.seq_len = 4
        self.action_low = -np.ones(action_dim, np.float32)
        self.action_high = np.ones(action_dim, np.float32)
        self.env_id = LINE_ID

    def decode(self, latents: list[torch.Tensor], length: int | None = None) -> torch.Tensor:
        z = torch.cat(latents, dim=1)[:, None, :]  # (B, 1, 2)
        return (0.5 * self.scale * z).expand(-1, self.seq_len, -1)  # (B, T, 2)


@pytest.fixture
def stub_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder whose loading returns a :class:`StubDecoder` (weights file present for hashing)."""
    run = tmp_path / "stub-model"
    run.mkdir()
    (run / "model.safetensors").write_bytes(b"stub weights")
    monkeypatch.setattr(latent_module, "load_action_model", lambda path, **options: StubDecoder())
    return run


TINY = {"policy_kwargs": "dict(net_arch=[8])"}
TINY_BY_ALGO = {
    "ppo": {**TINY, "n_steps": 32, "batch_size": 32, "n_epochs": 1},
    "sac": {**TINY, "learning_starts": 20, "batch_size": 16, "buffer_size": 1000},
    "td3": {**TINY, "learning_starts": 20, "batch_size": 16, "buffer_size": 1000},
}


def tiny_config(algo: str = "ppo", actions: str = "primitive", **fields: Any) -> AgentConfig:
    hyperparams = {**TINY_BY_ALGO[algo], **fields.pop("hyperparams", {})}
    defaults: dict[str, Any] = {"steps": 150, "eval_every": 50, "eval_episodes": 2, "seed": 1}
    return AgentConfig(LINE_ID, algo=algo, actions=actions, hyperparams=hyperparams, **{**defaults, **fields})


def inner_env_steps(result: Any) -> int:
    """Primitive steps the training env executed: the stub env's own counter, else the Monitor's (it sits
    on the primitive env, inside any macro wrapper)."""
    from stable_baselines3.common.env_util import unwrap_wrapper
    from stable_baselines3.common.monitor import Monitor

    total = 0
    for env in result.agent.get_env().envs:
        counter = getattr(env.unwrapped, "total_steps", None)
        total += counter if counter is not None else unwrap_wrapper(env, Monitor).get_total_steps()
    return total


# -- hyperparameters -----------------------------------------------------------------------------------
def test_hyperparams_merge_order(tmp_path: Path):
    path = tmp_path / "ppo.yml"
    path.write_text(
        "default: {n_steps: 1, batch_size: 2, gamma: 0.9, latent: {n_steps: 3}}\n"
        "Env-v0: {batch_size: 4, latent: {gamma: 0.5}}\n"
    )
    assert load_hyperparams("Other-v0", "ppo", "primitive", path) == {
        "n_steps": 1,
        "batch_size": 2,
        "gamma": 0.9,
    }
    assert load_hyperparams("Env-v0", "ppo", "latent", path, {"gamma": 0.7}) == {
        "n_steps": 3,
        "batch_size": 4,
        "gamma": 0.7,
    }
    path.write_text("default: {n_step: 1}\n")
    with pytest.raises(AbsactionError, match="unknown ppo hyperparameter"):
        load_hyperparams("Env-v0", "ppo", path=path)


def test_an_action_kinds_section_outranks_the_envs_plain_keys(tmp_path: Path):
    """An env entry written for primitive agents must not give a chunked agent primitive-sized rollouts:
    default.<kind> beats <env>'s plain keys, and only <env>.<kind> beats default.<kind>."""
    path = tmp_path / "ppo.yml"
    path.write_text(
        "default: {n_steps: 1024, gamma: 0.99, latent: {n_steps: 16}, skill: {n_steps: 64}}\n"
        "Env-v0: {n_steps: 2048, n_envs: 4, gamma: 0.9, skill: {n_steps: 8}}\n"
    )
    assert load_hyperparams("Env-v0", "ppo", "primitive", path) == {
        "n_steps": 2048,
        "n_envs": 4,
        "gamma": 0.9,
    }
    assert load_hyperparams("Env-v0", "ppo", "latent", path) == {"n_steps": 16, "n_envs": 4, "gamma": 0.9}
    assert load_hyperparams("Env-v0", "ppo", "skill", path) == {"n_steps": 8, "n_envs": 4, "gamma": 0.9}
    # the packaged Pendulum entry (n_steps 1024 x 4 envs for primitive PPO) leaves latent agents theirs
    packaged = load_hyperparams("Pendulum-v1", "ppo", "latent")
    assert packaged["n_steps"] == load_hyperparams("Other-v0", "ppo", "latent")["n_steps"] == 16


def test_first_update_steps_and_the_budget_check():
    from absaction.agents.hyperparams import check_budget, first_update_steps

    assert first_update_steps("ppo", {"n_steps": 1024, "n_envs": 4}, 32) == 131_072
    assert first_update_steps("ppo", {"n_steps": 16, "n_envs": 4}, 32) == 2_048
    assert first_update_steps("sac", {"learning_starts": 100}, 10) == 1_010
    assert first_update_steps("td3", {"learning_starts": 100, "n_envs": 4, "train_freq": 1}, 1) == 104
    assert first_update_steps("sac", {"learning_starts": 0, "train_freq": [1, "episode"]}, 1) is None
    assert check_budget("ppo", {"n_steps": 16, "n_envs": 4}, 32, 2_048) is None  # exactly one update
    err = check_budget("ppo", {"n_steps": 1024, "n_envs": 4}, 32, 5_000)
    assert err is not None and "before the first PPO update, which comes after 131072" in err.problem
    assert err.fix is not None and "--steps to at least 131072" in err.fix


def test_train_agent_warns_in_one_line_when_no_update_fits_the_budget(tmp_path: Path):
    """From Python (a sweep's smoke preset, a pipeline check) a run without an update still runs, but
    says so before any work; the CLI refuses (below)."""
    config = AgentConfig("absaction/Reach2D-v0", algo="ppo", steps=64, eval_every=64, eval_episodes=1)
    with pytest.warns(BudgetWarning, match=r"64 primitive steps ends before the first PPO update") as caught:
        train_agent(config, tmp_path / "agent", progress=False, plot=False)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)


def test_rl_refuses_a_budget_that_ends_before_the_first_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "ppo"
    argv = ["rl", "--env", "Pendulum-v1", "--steps", "1000", "--no-progress", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "before the first PPO update, which comes after 4096" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3"])
def test_packaged_files_are_valid_for_every_entry_and_action_kind(algo: str):
    import yaml

    table = yaml.safe_load((HYPERPARAMS_DIR / f"{algo}.yml").read_text())
    assert {"default", "Pendulum-v1", "MountainCarContinuous-v0", "absaction/Reach2DChain-v0"} <= set(table)
    for env_id in table:
        for actions in ("primitive", "latent", "repeat"):
            hp = load_hyperparams(env_id, algo, actions)
            check_keys(algo, hp)
            parse_policy_kwargs(hp.get("policy_kwargs"))
            assert 0 < hp["gamma"] <= 1 and hp["n_timesteps"] > 0


def test_policy_kwargs_are_parsed_without_eval():
    parsed = parse_policy_kwargs(
        "dict(net_arch=dict(pi=[8], vf=[16]), activation_fn=nn.ReLU, log_std_init=-1.5)"
    )
    assert parsed == {"net_arch": {"pi": [8], "vf": [16]}, "activation_fn": nn.ReLU, "log_std_init": -1.5}
    assert parse_policy_kwargs({"activation_fn": "nn.Tanh", "net_arch": [4]})["activation_fn"] is nn.Tanh
    with pytest.raises(AbsactionError, match="cannot read"):
        parse_policy_kwargs("dict(net_arch=__import__('os').getcwd())")


def test_macro_agents_get_gamma_to_the_k_and_primitive_step_schedules():
    progress = PrimitiveProgress()
    policy, kwargs = algorithm_kwargs(
        {"policy": "MlpPolicy", "gamma": 0.9, "learning_rate": "lin_1e-3", "n_timesteps": 5}, 2, 4, progress
    )
    assert policy == "MlpPolicy" and "n_timesteps" not in kwargs
    assert kwargs["gamma"] == pytest.approx(0.9**4)
    schedule = kwargs["learning_rate"]
    assert schedule(1.0) == pytest.approx(1e-3)
    progress.update(primitive_steps=750, budget=1000)
    assert schedule(0.99) == pytest.approx(2.5e-4)  # SB3's (decision-based) progress is ignored


# -- configuration mistakes ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        # a Python caller reads Python names (the CLI's flags: test_cli_subprocess_error)
        ({"actions": "latent"}, "latent actions need an action model; pass model=RUN_DIR"),
        ({"env_id": "absaction_tests/Lin-v0"}, "unknown environment id 'absaction_tests/Lin-v0'"),
        ({"actions": "repeat"}, "action repeat needs a repeat count"),
        ({"chunk": 4}, "chunk only applies to latent or repeat actions"),
        (
            {"model": "somewhere"},
            "model only applies to actions='latent' or actions='skill', got actions='primitive'",
        ),
        ({"algo": "dqn"}, "unknown algorithm 'dqn'"),
        (
            {"actions": "repeat", "chunk": 4, "bc_dataset": "x"},
            "behaviour cloning warm-starts primitive- and",
        ),
        ({"actions": "latent", "model": "m", "plan_phase": True}, "plan_phase needs latent actions and a"),
        ({"actions": "repeat", "chunk": 4, "plan_phase": True}, "plan_phase needs latent actions and a"),
    ],
)
def test_config_mistakes(fields: dict[str, Any], message: str):
    config = AgentConfig(**{"env_id": LINE_ID, **fields})
    with pytest.raises(AbsactionError) as err:
        config.validate()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_config_round_trip():
    config = AgentConfig(LINE_ID, actions="latent", model="m", dims={3: [0, 1]}, hyperparams={"gamma": 0.5})
    again = AgentConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.dims == {3: [0, 1]}


def test_make_env_puts_monitor_inside_the_macro_wrapper(stub_model: Path):
    from stable_baselines3.common.monitor import Monitor

    env = make_env(AgentConfig(LINE_ID, actions="latent", model=str(stub_model)))
    assert isinstance(env.env, Monitor) and env.action_space.shape == (2,)
    env.reset(seed=0)
    total = 0.0
    for _ in range(3):  # 4 + 4 + 2 primitive steps: truncated inside the third chunk
        _, _, terminated, truncated, info = env.step(np.array([-1.0, 0.0], np.float32))  # x -= 0.1 per step
        total += float(np.sum(info["primitive_rewards"]))
    assert truncated and not terminated and info["primitive_steps"] == 2
    # Monitor saw primitive rewards: the episode return is their undiscounted sum
    assert info["episode"]["r"] == pytest.approx(total, abs=1e-5) and info["episode"]["l"] == 10


# -- tiny RL runs count primitive steps exactly -----------------------------------------------------------
@pytest.mark.parametrize(
    ("algo", "actions", "chunk"),
    [
        ("ppo", "primitive", None),
        ("sac", "primitive", None),
        ("ppo", "latent", None),
        ("sac", "latent", None),
        ("td3", "repeat", 3),
    ],
)
def test_tiny_runs_count_primitive_steps(
    tmp_path: Path, stub_model: Path, algo: str, actions: str, chunk: int | None
):
    model = str(stub_model) if actions == "latent" else None
    config = tiny_config(algo, actions, model=model, chunk=chunk)
    result = train_agent(config, tmp_path / "run", progress=False, plot=False)
    k = {"primitive": 1, "latent": 4, "repeat": 3}[actions]
    rows = read_eval_csv(tmp_path / "run" / "eval.csv")
    assert [r.primitive_steps for r in rows] == [r.primitive_steps for r in result.evaluations]
    # before learning, then every >= 50 primitive steps, then the end
    assert rows[0].primitive_steps == 0 and rows[0].decisions == 0
    assert all(b.primitive_steps - a.primitive_steps >= 1 for a, b in itertools.pairwise(rows))
    assert [r.primitive_steps // 50 for r in rows[1:-1]] == [1, 2]
    assert 150 <= rows[-1].primitive_steps == result.primitive_steps < 150 + k
    # what the callback counted is exactly what the training env executed
    assert inner_env_steps(result) == result.primitive_steps
    # a decision lasts k steps unless the 10-step episode (or success) cuts it short
    assert result.primitive_steps / k <= result.decisions <= result.primitive_steps
    if actions == "latent":
        assert result.decisions < result.primitive_steps
    record = json.loads((tmp_path / "run" / "agent.json").read_text())
    assert record["steps_per_decision"] == k
    assert record["agent_gamma"] == pytest.approx(0.99**k)
    assert record["primitive_steps"] == result.primitive_steps
    if actions == "latent":
        assert record["model"] == {
            "run_dir": f"../{stub_model.name}",  # relative to the run folder: found from any working folder
            "sha256": hashlib.sha256(b"stub weights").hexdigest(),
        }
        assert record["wrapper"]["dims"] == {"1": [0], "2": [0]} and record["wrapper"]["z_bound"] == 2.0


def test_random_action_success_is_recorded_and_recomputable(tmp_path: Path, stub_model: Path):
    from absaction.agents.evaluation import random_policy
    from absaction.bench.results import random_action_success

    space = gym.spaces.Box(-2.0, 2.0, (3,), np.float32)
    policy = random_policy(space, 7)
    draws = np.array([policy(np.zeros(1)) for _ in range(200)])
    assert draws.shape == (200, 3) and draws.min() >= -2.0 and draws.max() <= 2.0 and draws.std() > 0.9
    np.testing.assert_array_equal(random_policy(space, 7)(np.zeros(1)), draws[0])  # seeded

    config = tiny_config("ppo", "latent", model=str(stub_model), eval_episodes=6)
    result = train_agent(config, tmp_path / "run", progress=False, plot=False)
    record = json.loads((tmp_path / "run" / "agent.json").read_text())
    assert record["random_actions"]["episodes"] == 6
    assert record["random_actions"]["success_rate"] == result.random_actions.success_rate
    assert result.summary()["success_random"] == result.random_actions.success_rate
    stored = random_action_success(tmp_path / "run")
    # a run folder from before the record existed: evaluated again, same episodes, same actions
    del record["random_actions"]
    (tmp_path / "run" / "agent.json").write_text(json.dumps(record))
    assert random_action_success(tmp_path / "run") == stored


def test_several_envs_are_counted_together(tmp_path: Path, stub_model: Path):
    config = tiny_config("ppo", "latent", model=str(stub_model), steps=100, hyperparams={"n_envs": 3})
    result = train_agent(config, tmp_path / "run", progress=False, plot=False)
    # one SB3 step = 3 decisions of <= 4 primitive steps each: the overshoot is below 3 * 4
    assert 100 <= result.primitive_steps < 112 and inner_env_steps(result) == result.primitive_steps
    assert result.decisions % 3 == 0


def test_saved_agent_reloads_and_reproduces_its_last_evaluation(tmp_path: Path, stub_model: Path):
    result = train_agent(
        tiny_config("ppo", "latent", model=str(stub_model)), tmp_path / "run", progress=False
    )
    assert (tmp_path / "run" / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loaded = load_agent(tmp_path / "run")
    again = loaded.evaluate(n_episodes=2)
    assert again.mean_return == pytest.approx(result.final.mean_return)
    assert again.success_rate == pytest.approx(result.final.success_rate)


def test_loading_with_other_wrapper_settings_is_refused(tmp_path: Path, stub_model: Path):
    run = tmp_path / "run"
    train_agent(
        tiny_config("ppo", "latent", model=str(stub_model), steps=40), run, progress=False, plot=False
    )
    other = make_env(AgentConfig(LINE_ID, actions="latent", model=str(stub_model), chunk=2))
    with pytest.raises(AbsactionError, match=r"wrapper settings differ from the agent's: chunk_steps=2"):
        load_agent(run, env=other)
    record = json.loads((run / "agent.json").read_text())
    record["wrapper"]["z_bound"] = 1.0
    (run / "agent.json").write_text(json.dumps(record))
    with pytest.raises(
        AbsactionError, match=r"agent.zip was saved with other wrapper settings than agent.json"
    ):
        load_agent(run)
    record["wrapper"]["z_bound"] = 2.0
    (run / "agent.json").write_text(json.dumps(record))
    (stub_model / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(AbsactionError, match="changed since the agent was trained"):
        load_agent(run)


def test_vec_normalize_statistics_are_saved_and_reused(tmp_path: Path):
    import pickle

    config = tiny_config("ppo", hyperparams={"normalize": "dict(norm_obs=True, norm_reward=False)"})
    result = train_agent(config, tmp_path / "run", progress=False, plot=False)
    stats = json.loads((tmp_path / "run" / "agent.json").read_text())["normalization"]["vec_normalize"]
    assert stats["norm_obs"] and not stats["norm_reward"]
    assert stats["obs_rms"]["count"] == pytest.approx(
        result.primitive_steps + 1, abs=2
    )  # +1: the first reset
    np.testing.assert_allclose(stats["obs_rms"]["mean"], result.agent.get_env().obs_rms.mean)
    loaded = load_agent(tmp_path / "run")
    assert loaded.obs_transform is not None
    assert loaded.evaluate(2).mean_return == pytest.approx(result.final.mean_return, rel=1e-6)
    again = pickle.loads(pickle.dumps(result))  # results travel between processes without the agent
    assert again.agent is None and again.final == result.final


# -- behaviour cloning -----------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ["ppo", "sac", "td3"])
def test_bc_reduces_the_action_error_on_the_demonstrations(algo: str):
    from absaction.agents.environments import make_vec_env
    from absaction.agents.training import build_agent

    config = tiny_config(algo, hyperparams={"policy_kwargs": "dict(net_arch=[32])"})
    agent = build_agent(
        config,
        make_vec_env(config),
        load_hyperparams(LINE_ID, algo, overrides=config.hyperparams),
        PrimitiveProgress(),
    )
    rng = np.random.default_rng(0)
    obs = rng.uniform(-1, 1, (512, 3)).astype(np.float32)
    expert = np.clip(obs[:, :2] * 0.8 + 0.1, -1, 1).astype(np.float32)  # a smooth expert map
    result = bc_pretrain(agent, (obs, expert), epochs=30, batch_size=64, learning_rate=3e-3, seed=0)
    assert result.n_samples == 512 and len(result.losses) == 30
    assert result.losses[-1] < result.losses[0]
    assert result.action_error_after < 0.35 * result.action_error_before
    predicted, _ = agent.predict(obs, deterministic=True)  # the reported error is the policy's
    assert float(np.mean(np.abs(predicted - expert))) == pytest.approx(result.action_error_after, rel=1e-5)


def test_bc_reads_episodes_and_refuses_mismatched_demonstrations():
    from absaction.agents import demonstration_pairs

    episode = SimpleNamespace(observations=np.zeros((4, 3), np.float32), actions=np.ones((3, 2), np.float32))
    obs, actions = demonstration_pairs(SimpleNamespace(episodes=[episode, episode]))
    assert obs.shape == (6, 3) and actions.shape == (6, 2)
    from absaction.agents.environments import make_vec_env
    from absaction.agents.training import build_agent

    config = tiny_config("ppo")
    agent = build_agent(
        config,
        make_vec_env(config),
        load_hyperparams(LINE_ID, "ppo", overrides=config.hyperparams),
        PrimitiveProgress(),
    )
    with pytest.raises(AbsactionError, match=r"the agent expects \(3,\) and \(2,\)"):
        bc_pretrain(agent, (np.zeros((5, 4)), np.zeros((5, 2))), epochs=1)
    no_obs = SimpleNamespace(episodes=[SimpleNamespace(observations=None, actions=np.zeros((3, 2)))])
    with pytest.raises(AbsactionError, match="has no observations"):
        bc_pretrain(agent, no_obs, epochs=1)


# -- the command line --------------------------------------------------------------------------------------
TINY_CLI = [
    "--set",
    "n_steps=32",
    "--set",
    "batch_size=32",
    "--set",
    "n_epochs=1",
    "--set",
    "policy_kwargs=dict(net_arch=[8])",
]


def test_cli_rl_end_to_end(tmp_path: Path, stub_model: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "out"
    argv = ["rl", "--env", LINE_ID, "--actions", "latent", "--model", str(stub_model), "--ladders", "1",
            "--steps", "128", "--eval-every", "64", "--eval-episodes", "2", "--seed", "3", "--out", str(out),
            "--no-progress", *TINY_CLI]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "success before learning" in printed and "primitive env steps" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD_FILE,
        "agent.json", "agent.zip", "config.json", "eval.csv", "learning_curve.png", "sb3"
    ]  # fmt: skip
    with open(out / "eval.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "primitive_steps",
        "decisions",
        "success_rate",
        "mean_return",
        "seconds",
        "mean_length",
        "mean_decisions",
    ]
    # the run always ends on a decision boundary; ladder 1 exposes one latent, chunks of 4 steps
    assert int(rows[-1]["primitive_steps"]) >= 128  # one update: 32 decisions of 4 steps
    assert all(float(r["mean_decisions"]) >= float(r["mean_length"]) / 4 for r in rows)
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["ladders"] == [1] and config["seed"] == 3 and config["hyperparams"]["n_steps"] == 32
    agent = json.loads((out / "agent.json").read_text())
    assert agent["action_space"]["shape"] == [1]  # ladder 1 only: one latent
    # an existing output is refused without --force and left untouched
    before = (out / "eval.csv").read_bytes()
    assert main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "eval.csv").read_bytes() == before


def _real_model(tmp_path: Path, action_dim: int = 2, low: float = -1.0) -> Path:
    model = models.build_model(
        "tcvlae",
        action_dim,
        8,
        {"ladder_dims": [2, 1], "channels": 4},
        action_low=np.full(action_dim, low),
        action_high=np.ones(action_dim),
    )
    return models.save(model, tmp_path / f"model-{action_dim}-{low}")


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("no-model", "latent actions need an action model; pass --model RUN_DIR"),
        ("missing-model", "does not exist"),
        (
            "unknown-env",
            "unknown environment id 'absaction_tests/Lime-v0'; did you mean absaction_tests/Line-v0",
        ),
        ("env-kwarg", "gymnasium.make('absaction_tests/Line-v0') failed"),
        ("size", "the model decodes 3-D actions"),
        ("bounds", "trained for action bounds"),
        ("ladder", "ladder 4 does not exist; the model has 2 ladder(s)"),
        ("dim", "latent dim(s) [5] of ladder 1 do not exist"),
        ("corrupt", "corrupt or truncated"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
):
    out = tmp_path / "out"
    env, extra = LINE_ID, ["--actions", "latent"]
    if case == "missing-model":
        extra += ["--model", str(tmp_path / "nope")]
    elif case == "unknown-env":
        env = "absaction_tests/Lime-v0"
        extra = []
    elif case == "env-kwarg":
        extra = ["--env-kwarg", "speed=3"]
    elif case in ("size", "bounds"):
        extra += [
            "--model",
            str(_real_model(tmp_path, 3 if case == "size" else 2, -2.0 if case == "bounds" else -1)),
        ]
    elif case in ("ladder", "dim", "corrupt"):
        run = _real_model(tmp_path)
        extra += ["--model", str(run)]
        extra += {"ladder": ["--ladders", "4"], "dim": ["--dims", "1:5"], "corrupt": []}[case]
        if case == "corrupt":
            weights = run / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:50])
    status = main(["rl", "--env", env, *extra, "--steps", "10", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert message in err and len(err.splitlines()) == 1 and err.startswith("absaction rl: error:")
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_cli_subprocess_error(tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "absaction", "rl", "--env", "Pendulum-v1", "--actions", "latent",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "absaction rl: error: latent actions need an action model; pass --model RUN_DIR (the run folder that "
        "`absaction train` wrote)"
    ]
    assert not (tmp_path / "out").exists()


# -- with the real pipeline: collect -> train a VAE -> wrap -> RL ---------------------------------------
def _fit_tiny_vae(dataset: Path, run_dir: Path, ladder_dims: list[int]) -> Path:
    from absaction.train import TrainConfig, fit

    config = TrainConfig(
        model="tcvlae", model_options={"ladder_dims": ladder_dims, "channels": 4}, epochs=3, threads=1, seed=0
    )
    fit(dataset, config, run_dir, progress=False)
    return run_dir


def test_pendulum_recipe_collect_train_wrap_ppo(tmp_path: Path, pendulum_dataset: Path):
    """The plug-into-another-env recipe on Pendulum-v1 (not an absaction env): 16-step latent actions."""
    run = _fit_tiny_vae(pendulum_dataset, tmp_path / "vae", [2, 1])
    config = AgentConfig(
        "Pendulum-v1",
        algo="ppo",
        actions="latent",
        model=str(run),
        dims={1: [0, 1], 2: [0]},  # a 3-epoch VAE has no reliably active units yet: expose all of them
        steps=400,
        eval_every=200,
        eval_episodes=1,
        hyperparams={**TINY_BY_ALGO["ppo"], "n_envs": 1},
    )
    result = train_agent(config, tmp_path / "agent", progress=False, plot=False)
    assert result.config.model == str(run.resolve())
    # a 200-step Pendulum episode is 12 chunks of 16 steps + one of 8 (cut by the time limit):
    # 400 primitive steps are exactly two episodes of 13 decisions
    assert result.primitive_steps == 400 == inner_env_steps(result)
    assert result.decisions == 26
    assert np.isnan(result.final.success_rate) and result.final.mean_length == 200
    loaded = load_agent(tmp_path / "agent")
    assert loaded.env.action_space.shape == (3,) and loaded.record["steps_per_decision"] == 16
    assert loaded.evaluate(1).mean_return == pytest.approx(result.final.mean_return)

    # "can these latents do the task?" on an env that is not ours: the lookahead's choice earns, in the
    # real env, exactly the best macro reward its simulations on copies predicted (no success signal
    # here, so the reward decides)
    from absaction.agents.evaluation import candidate_actions, lookahead_policy

    env = make_env(config)
    obs, _ = env.reset(seed=3)
    candidates = candidate_actions(env.action_space, 27)  # a 3 x 3 x 3 grid
    predicted = []
    for candidate in candidates:
        twin = copy.deepcopy(env)
        predicted.append(twin.step(candidate)[1])
    chosen = lookahead_policy(env, candidates)(obs)
    assert len(set(predicted)) == len(candidates)  # every candidate does something else
    np.testing.assert_array_equal(chosen, candidates[int(np.argmax(predicted))])
    assert env.step(chosen)[1] == pytest.approx(max(predicted))


def test_rl_cli_on_a_variable_length_seq2seq_model(
    tmp_path: Path, expert_dataset: Path, capsys: pytest.CaptureFixture[str]
):
    """``absaction rl --chunk K`` with a QRNN seq2seq run folder: a variable-length decoder draws K-step
    chunks (K = the executed steps; nothing else fixes a length)."""
    from absaction.train import TrainConfig, fit

    config = TrainConfig(
        model="seq2seq", model_options={"ladder_dims": [2, 1, 1], "hidden_size": 8}, epochs=1, threads=1
    )
    fit(expert_dataset, config, tmp_path / "s2s", progress=False)
    out = tmp_path / "agent"
    argv = ["rl", "--env", "absaction/Reach2D-v0", "--actions", "latent", "--model", str(tmp_path / "s2s"),
            "--dims", "1:0,1", "--chunk", "16", "--steps", "64", "--eval-every", "64",
            "--eval-episodes", "1", "--set", "n_steps=2", "--set", "batch_size=2", "--set", "n_epochs=1",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((out / "agent.json").read_text())
    assert record["wrapper"]["chunk"] == 16 and record["wrapper"]["closed_loop_steps"] == 16
    assert record["steps_per_decision"] == 16
    rows = read_eval_csv(out / "eval.csv")
    assert rows[-1].primitive_steps == 64 and rows[-1].mean_decisions == 2  # 32-step episodes, 2 chunks
    # without --chunk the variable-length model has no length: one line, exit 2, nothing written
    at = argv.index("--chunk")
    no_chunk = [*argv[:at], *argv[at + 2 : -1], str(tmp_path / "no-chunk")]
    capsys.readouterr()
    assert main(no_chunk) == 2 and not (tmp_path / "no-chunk").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "variable-length sequences and no chunk length was given" in lines[0]


def test_bc_on_expert_demonstrations(tmp_path: Path, expert_dataset: Path):
    from absaction.data import load_dataset

    hyperparams = {**TINY_BY_ALGO["ppo"], "policy_kwargs": "dict(net_arch=[64])"}
    config = AgentConfig(
        "absaction/Reach2D-v0", algo="ppo", bc_dataset=str(expert_dataset), bc_epochs=30, steps=64,
        eval_every=64, eval_episodes=4, hyperparams=hyperparams,
    )  # fmt: skip
    result = train_agent(config, tmp_path / "bc", progress=False, plot=False)
    assert result.bc is not None and result.bc.n_samples == sum(
        len(ep.actions) for ep in load_dataset(expert_dataset).episodes
    )
    assert result.bc.action_error_after < 0.5 * result.bc.action_error_before
    assert json.loads((tmp_path / "bc" / "bc.json").read_text())["action_error_after"] == pytest.approx(
        result.bc.action_error_after
    )
    assert json.loads((tmp_path / "bc" / "agent.json").read_text())["bc"]["epochs"] == 30


@pytest.mark.parametrize("warmup", [0, 64])
def test_critic_warmup_keeps_the_cloned_actor_until_the_critic_has_learned(
    tmp_path: Path, expert_dataset: Path, warmup: int
):
    # n_steps 32 and 96 steps: PPO updates at 32 and 64 primitive steps (the budget stops it at 96). With a
    # 64-step warm-up both updates train only the critic, so the deterministic policy is exactly the cloned
    # one at the end; without it the first update already moves the actor.
    hyperparams = {**TINY_BY_ALGO["ppo"], "policy_kwargs": "dict(net_arch=[16])", "n_epochs": 4}
    config = AgentConfig(
        "absaction/Reach2D-v0", algo="ppo", bc_dataset=str(expert_dataset), bc_epochs=5, steps=96,
        eval_every=96, eval_episodes=2, bc_critic_warmup=warmup, hyperparams=hyperparams,
    )  # fmt: skip
    result = train_agent(config, tmp_path / "run", progress=False, plot=False)
    before, after = result.before_learning.mean_return, result.final.mean_return
    if warmup:
        assert after == before
    else:
        assert after != before
    policy = result.agent.policy
    assert all(p.requires_grad for p in policy.parameters())  # released for saving / further training
    # both PPO updates ran (4 epochs each): in the warm-up case they trained the critic alone
    assert result.agent._n_updates == 2 * 4


def test_critic_warmup_defaults():
    from absaction.agents.training import critic_warmup_steps

    ppo = AgentConfig("absaction/Reach2D-v0", algo="ppo")
    assert critic_warmup_steps(ppo, {"n_steps": 1024, "n_envs": 4}) == 4096
    assert critic_warmup_steps(ppo.replace(bc_critic_warmup=7), {"n_steps": 1024}) == 7
    sac = AgentConfig("absaction/Reach2D-v0", algo="sac")
    assert critic_warmup_steps(sac, {"learning_starts": 1000}) == 6000
    with pytest.raises(AbsactionError, match="bc_critic_warmup must be >= 0"):
        ppo.replace(bc_critic_warmup=-1).validate()


def test_bc_refuses_demonstrations_of_another_env(tmp_path: Path, pendulum_dataset: Path):
    config = AgentConfig("absaction/Reach2D-v0", bc_dataset=str(pendulum_dataset), steps=10)
    with pytest.raises(
        AbsactionError, match=r"have actions Box\(-2.0, 2.0, \(1,\), float32\), absaction/Reach2D-v0"
    ):
        train_agent(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_latent_agent_with_a_trained_tcvlae_on_reach2d(tmp_path: Path, expert_dataset: Path):
    run = _fit_tiny_vae(expert_dataset, tmp_path / "vae", [8, 4, 2])
    config = AgentConfig(
        "absaction/Reach2DSparse-v0", algo="ppo", actions="latent", model=str(run), dims={3: [0, 1]},
        steps=256, eval_every=128, eval_episodes=2, hyperparams=dict(TINY_BY_ALGO["ppo"]),
    )  # fmt: skip
    result = train_agent(config, tmp_path / "agent", progress=False, plot=False)
    # 64-step episodes in 32-step chunks (fewer when the goal is reached): 256 steps need >= 8 decisions
    assert 256 <= result.primitive_steps < 256 + 32 and result.decisions >= 8
    assert inner_env_steps(result) == result.primitive_steps
    record = json.loads((tmp_path / "agent" / "agent.json").read_text())
    assert record["wrapper"]["dims"] == {"3": [0, 1]} and record["wrapper"]["chunk"] == 32
    assert 0 < record["decode_overhead_ms"] == result.decode_overhead_ms < 5  # target: <= 1 ms
    assert record["normalization"]["action_model"] is not None
    assert record["model"]["sha256"] == hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()


def test_latent_bc_clones_the_encoded_demonstrations(tmp_path: Path, expert_dataset: Path):
    from absaction.agents.bc import latent_demonstration_pairs
    from absaction.agents.environments import find_macro_wrapper
    from absaction.data import load_dataset

    run = _fit_tiny_vae(expert_dataset, tmp_path / "vae", [8, 4, 2])
    demos = load_dataset(expert_dataset)
    hyperparams = {**TINY_BY_ALGO["ppo"], "policy_kwargs": "dict(net_arch=[64])"}
    config = AgentConfig(
        "absaction/Reach2DObstacle-v0", algo="ppo", actions="latent", model=str(run),
        bc_dataset=str(expert_dataset), bc_epochs=200,
        steps=64, eval_every=64, eval_episodes=2, hyperparams=hyperparams,
    )  # fmt: skip
    result = train_agent(config, tmp_path / "agent", progress=False, plot=False)
    # one decision per 32-step demonstration: the z that encodes it is the target
    assert result.bc is not None and result.bc.n_samples == len(demos.episodes)
    assert result.bc.action_error_after < 0.9 * result.bc.action_error_before
    assert result.bc.losses[-1] < result.bc.losses[0] - 1.0
    # the pairs are the episodes' first observations and the encoder's means / z_bound
    wrapper = find_macro_wrapper(result.agent.get_env().envs[0])
    obs, z = latent_demonstration_pairs(demos, wrapper)
    assert np.array_equal(obs, np.stack([ep.observations[0] for ep in demos.episodes]).astype(np.float32))
    actions = np.stack([ep.actions for ep in demos.episodes]).astype(np.float32)
    with torch.no_grad():
        means = torch.cat([m for m, _ in wrapper.model.encode(torch.from_numpy(actions))], dim=1).numpy()
    expected = np.clip(means[:, wrapper._exposed_index] / wrapper.z_bound, -1, 1)
    np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)
    assert json.loads((tmp_path / "agent" / "agent.json").read_text())["bc"]["n_samples"] == len(
        demos.episodes
    )


def test_latent_demonstration_pairs_take_a_window_at_every_decision(tiny_reach_wrapper: Any):
    # one 48-step episode, 32-step decoded chunks, a decision every 8 steps: windows start at 0, 8 and 16
    obs = np.arange(48 * 6, dtype=np.float32).reshape(48, 6)
    actions = np.random.default_rng(0).uniform(-0.05, 0.05, (48, 2)).astype(np.float32)
    from absaction.agents.bc import latent_demonstration_pairs

    pair_obs, z = latent_demonstration_pairs((obs, actions), tiny_reach_wrapper)
    assert np.array_equal(pair_obs, obs[[0, 8, 16]])
    windows = np.stack([actions[t : t + 32] for t in (0, 8, 16)])
    np.testing.assert_array_equal(z, tiny_reach_wrapper.encode_actions(windows))
    with pytest.raises(AbsactionError, match="no demonstration episode is as long as one decoded chunk"):
        latent_demonstration_pairs((obs[:20], actions[:20]), tiny_reach_wrapper)
    with pytest.raises(AbsactionError, match=r"expected action sequences of shape \(N, 32, 2\)"):
        tiny_reach_wrapper.encode_actions(actions[None, :20])


@pytest.fixture
def tiny_reach_wrapper() -> Any:
    from absaction.models import build_model
    from absaction.wrappers import LatentActionWrapper

    torch.manual_seed(0)
    model = build_model("tcvlae", 2, 32, {"channels": 4}, action_low=-np.ones(2), action_high=np.ones(2))
    return LatentActionWrapper(gym.make("absaction/Reach2D-v0"), model, closed_loop_steps=8)


# -- the lookahead ceiling ------------------------------------------------------------------------
class _SlideEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point on a line starting at 0 moves by ``0.1 * a`` per step for 4 steps; the episode succeeds
    (reward 1, else 0) when it ends within 0.05 of 0.3. Only ``a`` in (0.625, 0.875) held for all four
    steps gets there."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.observation_space = gym.spaces.Box(-10.0, 10.0, (2,), np.float32)
        self.pos, self.t = 0.0, 0

    def _obs(self) -> np.ndarray:
        return np.array([self.pos, self.t], np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.pos, self.t = 0.0, 0
        return self._obs(), {"is_success": False}

    def step(self, action: np.ndarray):
        self.pos += 0.1 * float(np.asarray(action).reshape(-1)[0])
        self.t += 1
        done = self.t >= 4
        success = done and abs(self.pos - 0.3) < 0.05
        return self._obs(), float(success), done, False, {"is_success": success}


def test_candidate_actions_are_a_grid_or_bounded_random_draws():
    from absaction.agents.evaluation import candidate_actions

    grid = candidate_actions(gym.spaces.Box(-1.0, 2.0, (2,), np.float32), 256)
    assert grid.shape == (256, 2) and grid.dtype == np.float32
    np.testing.assert_allclose(np.unique(grid[:, 0]), np.linspace(-1, 2, 16), atol=1e-6)  # corners too
    assert len({tuple(row) for row in grid}) == 256  # every combination once
    assert candidate_actions(gym.spaces.Box(-1.0, 1.0, (3,), np.float32), 256).shape == (216, 3)  # 6^3
    draws = candidate_actions(gym.spaces.Box(-1.0, 1.0, (6,), np.float32), 256, seed=3)
    assert draws.shape == (256, 6) and draws.min() >= -1 and draws.max() <= 1 and draws.std() > 0.5
    np.testing.assert_array_equal(draws, candidate_actions(gym.spaces.Box(-1.0, 1.0, (6,)), 256, seed=3))
    with pytest.raises(AbsactionError, match="finite bounds"):
        candidate_actions(gym.spaces.Box(-np.inf, np.inf, (2,), np.float32), 16)


def test_lookahead_finds_the_one_good_action_and_leaves_the_real_env_alone():
    from absaction.agents.evaluation import candidate_actions, evaluate_lookahead, lookahead_policy
    from absaction.wrappers import ActionRepeatWrapper

    env = ActionRepeatWrapper(_SlideEnv(), repeat=4, gamma=0.9)
    candidates = candidate_actions(env.action_space, 9)  # -1, -0.75, ..., 1: only 0.75 succeeds
    policy = lookahead_policy(env, candidates)
    obs, _ = env.reset(seed=0)
    chosen = policy(obs)
    assert chosen.tolist() == [0.75]
    assert env.unwrapped.t == 0 and env.unwrapped.pos == 0.0  # the simulations ran on copies
    _, reward, terminated, _, info = env.step(chosen)
    assert terminated and info["is_success"] and reward == pytest.approx(0.9**3)  # reward 1 on step 4
    result = evaluate_lookahead(env, n_episodes=3, seed=0, n_candidates=9)
    assert result.success_rate == 1.0 and result.mean_decisions == 1.0
    # a grid that skips the good interval finds nothing (the ceiling is one of the candidates)
    assert evaluate_lookahead(env, n_episodes=2, seed=0, n_candidates=5).success_rate == 0.0

    with pytest.raises(AbsactionError, match="needs a macro-action env"):
        lookahead_policy(_SlideEnv(), candidates)
    with pytest.raises(AbsactionError, match=r"candidates must be \(M, 1\) actions"):
        lookahead_policy(env, np.zeros((4, 2), np.float32))


def test_lookahead_prefers_success_over_a_larger_macro_reward():
    from absaction.agents.evaluation import lookahead_policy
    from absaction.wrappers import ActionRepeatWrapper

    class ShapedSlide(_SlideEnv):
        """Pays 1 per step spent beyond 0.5, never on success: the reward prefers overshooting."""

        def step(self, action: np.ndarray):
            obs, _, done, truncated, info = super().step(action)
            return obs, float(self.pos > 0.5), done, truncated, info

    env = ActionRepeatWrapper(ShapedSlide(), repeat=4, gamma=1.0)
    obs, _ = env.reset(seed=0)
    candidates = np.array([[1.0], [0.75], [-1.0]], np.float32)
    assert lookahead_policy(env, candidates)(obs).tolist() == [0.75]  # 1.0 would pay 3, 0.75 pays 0
    assert lookahead_policy(env, candidates[[0, 2]])(obs).tolist() == [1.0]  # no success: best reward


def test_latent_preview_chunk_is_what_step_executes(stub_model: Path):
    config = tiny_config("ppo", "latent", model=str(stub_model))
    wrapper = make_env(config)
    assert isinstance(wrapper, latent_module.LatentActionWrapper)
    wrapper.reset(seed=0)
    action = np.linspace(0.5, -0.25, wrapper.action_space.shape[0]).astype(np.float32)
    preview = wrapper.preview_chunk(action)
    assert wrapper.decode_calls == 0  # a preview is not a decision: the overhead statistic ignores it
    _, _, _, _, info = wrapper.step(action)
    assert wrapper.decode_calls == 1
    np.testing.assert_array_equal(info["executed_actions"], preview[: info["primitive_steps"]])
    sampled = make_env(config.replace(fixed="sample"))
    with pytest.raises(AbsactionError, match='fixed="sample"'):
        sampled.preview_chunk(action)
