"""Agents in skill space: SkillWrapper, residual skills, prior-regularised SAC, `rl --actions skill`."""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import absaction
from absaction.agents import AgentConfig, load_agent, make_env, train_agent
from absaction.agents.prior_sac import PriorSAC, actor_loss, alpha_loss, critic_target, gaussian_kl
from absaction.bench.results import prior_rollout_success
from absaction.errors import AbsactionError
from absaction.models import build_model, save
from absaction.wrappers import ResidualSchedule, ResidualSkillWrapper, SkillWrapper, share_clock


class StubEnv(gym.Env[np.ndarray, np.ndarray]):
    """2-D actions in [-1, 1]; reward ``t + 1`` at step t; terminates after ``terminate_at`` steps.
    Observation: (t / 10, last action)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self, terminate_at: int | None = None, columns: int = 3) -> None:
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Box(-100.0, 100.0, (columns,), np.float32)
        self.terminate_at, self.columns, self.t = terminate_at, columns, 0
        self.received: list[np.ndarray] = []

    def _obs(self, action: np.ndarray) -> np.ndarray:
        return np.array([self.t / 10.0, *action, *[0.0] * (self.columns - 3)], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(np.zeros(2, np.float32)), {"is_success": False}

    def step(self, action: np.ndarray):
        self.received.append(np.asarray(action, np.float32).copy())
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return self._obs(np.asarray(action)), float(self.t), terminated, False, {"is_success": terminated}


class StubSkills:
    """A skill model with known numbers: prior N(0.3 + x, 0.5^2) on every latent (x: the first skill
    column), decoder action = first two latents + 0.1 * the skill observation's first column."""

    name = "skill"
    horizon = 4
    z_dim = 3
    action_dim = 2
    ladder_dims = [3]  # noqa: RUF012
    action_low = action_high = None
    skill_obs_layout = {"names": ["t", "a0", "a1"], "indices": [0, 1, 2], "obs_fields": []}  # noqa: RUF012

    def skill_observation(self, observation: Any) -> torch.Tensor:
        return torch.as_tensor(observation, dtype=torch.float32)

    def prior(self, skill_obs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.as_tensor(skill_obs, dtype=torch.float32)
        return 0.3 + s[:, :1].expand(-1, 3), torch.full((s.shape[0], 3), 0.5)

    def decode_step(self, skill_obs: Any, z: Any, origin: Any = None) -> torch.Tensor:
        s = torch.as_tensor(skill_obs, dtype=torch.float32)
        return torch.as_tensor(z, dtype=torch.float32)[:, :2] + 0.1 * s[:, :1]

    def step_decoder(self, full_observation: bool = False) -> Any:
        """The same decoder on one (full) observation (D,) and z (z,), as NumPy."""
        return lambda obs, z, origin=None: self.decode_step(obs[None], z[None])[0].numpy()


# -- SkillWrapper --------------------------------------------------------------------------------------
def test_rewards_are_summed_with_gamma_and_the_decoder_is_closed_loop() -> None:
    env = SkillWrapper(StubEnv(), StubSkills(), prior="none", z_bound=0.5, gamma=0.9)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(np.array([0.2, -0.4, 1.0], np.float32))
    assert reward == pytest.approx(1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 4)  # rewards t + 1 = 1..4
    assert info["primitive_steps"] == 4 and info["discount"] == pytest.approx(0.9**4) and not terminated
    assert info["primitive_rewards"].tolist() == [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_allclose(info["z"], [0.1, -0.2, 0.5])
    # closed loop: at step t the decoder sees t / 10 in the observation, so the action grows by 0.01
    expected = [[0.1 + 0.01 * t, -0.2 + 0.01 * t] for t in range(4)]
    np.testing.assert_allclose(info["executed_actions"], expected, atol=1e-6)
    plain = SkillWrapper(StubEnv(), StubSkills(), gamma=0.9, discount_within_chunk=False)
    plain.reset(seed=0)
    assert plain.step(np.zeros(3, np.float32))[1] == pytest.approx(10.0)


def test_termination_in_the_middle_of_a_skill_stops_it() -> None:
    inner = StubEnv(terminate_at=2)
    env = SkillWrapper(inner, StubSkills(), gamma=0.9)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(np.ones(3, np.float32))
    assert terminated and not truncated and info["is_success"]
    assert info["primitive_steps"] == 2 and len(inner.received) == 2
    assert reward == pytest.approx(1 + 0.9 * 2) and info["discount"] == pytest.approx(0.81)
    np.testing.assert_allclose(info["executed_actions"], [[1.0, 1.0], [1.0, 1.0]])  # z = 2: clipped


def test_reparameterisation_maps_zero_noise_to_the_prior_mean() -> None:
    env = SkillWrapper(StubEnv(), StubSkills(), prior="reparam", z_bound=2.0)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(env.latent(obs, np.zeros(3)), [0.3, 0.3, 0.3])
    # a = 0.5 is one prior std (z_bound 2 * 0.5 = 1 std of 0.5)
    np.testing.assert_allclose(env.latent(obs, np.full(3, 0.5)), [0.8, 0.8, 0.8])
    kl = SkillWrapper(StubEnv(), StubSkills(), prior="kl")
    np.testing.assert_allclose(kl.latent(obs, np.tanh([0.7, -1.5, 0.0])), [0.7, -1.5, 0.0], atol=1e-5)
    assert np.isfinite(kl.latent(obs, np.ones(3))).all()  # |a| = 1 is clipped before atanh
    mean, std = kl.action_prior(torch.as_tensor(obs)[None])
    assert mean.tolist() == [[pytest.approx(0.3)] * 3] and std.tolist() == [[0.5] * 3]


def test_reparameterisation_with_a_trained_model(tiny_skills: Path) -> None:
    from absaction.models import load

    model = load(tiny_skills)
    env = SkillWrapper(gym.make("absaction/Reach2DNewGoals-v0"), tiny_skills, prior="reparam")
    obs, _ = env.reset(seed=3)
    prior_mean, _ = model.prior(model.skill_observation(obs[None]))
    _, _, _, _, info = env.step(np.zeros(env.action_space.shape, np.float32))
    np.testing.assert_allclose(info["z"], prior_mean[0].numpy(), rtol=1e-6, atol=1e-6)
    assert info["primitive_steps"] == model.horizon


def test_top_ladder_controls_the_leading_dims_and_fills_the_rest_from_the_prior() -> None:
    env = SkillWrapper(StubEnv(), StubSkills(), ladders="top", top_dims=1, z_bound=1.0)
    obs, _ = env.reset(seed=0)
    assert env.action_space.shape == (1,)
    np.testing.assert_allclose(env.latent(obs, np.array([-0.5])), [-0.5, 0.3, 0.3])
    with pytest.raises(AbsactionError, match="needs a size"):
        SkillWrapper(StubEnv(), StubSkills(), ladders="top")


def _checked_wrappers() -> list[gym.Env[Any, Any]]:
    limited = lambda: gym.wrappers.TimeLimit(StubEnv(), 10)  # noqa: E731
    residual = ResidualSkillWrapper(limited(), StubSkills())
    # lambda follows training progress, not the episode: the checkers' same-seed determinism test needs
    # it frozen, as in an evaluation env
    residual.advances_clock = False
    return [
        SkillWrapper(limited(), StubSkills(), prior="none"),
        SkillWrapper(limited(), StubSkills(), prior="reparam"),
        SkillWrapper(limited(), StubSkills(), prior="kl"),
        residual,
    ]


@pytest.mark.parametrize("index", range(4))
def test_gymnasium_and_sb3_checkers_pass(index: int) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(_checked_wrappers()[index], skip_render_check=True)
    assert [str(w.message) for w in caught if "unwrapped version" not in str(w.message)] == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sb3_check_env(_checked_wrappers()[index], warn=True)


def test_a_latent_chunk_model_or_another_layout_is_refused(tiny_skills: Path) -> None:
    tcvlae = build_model("tcvlae", 2, 32)
    with pytest.raises(AbsactionError, match="latent chunks") as info:
        SkillWrapper(StubEnv(), tcvlae)
    assert "\n" not in str(info.value)
    with pytest.raises(AbsactionError, match="observes 5 columns, the skill model's observation layout"):
        SkillWrapper(StubEnv(columns=5), tiny_skills)
    with pytest.raises(AbsactionError, match="cannot be previewed"):
        SkillWrapper(StubEnv(), StubSkills()).preview_chunk(np.zeros(3))


# -- residual ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("residual", [False, True])
def test_a_relative_skill_executes_the_same_actions_from_any_start(residual: bool) -> None:
    from absaction.data import Normalizer
    from absaction.models.skill import SkillConfig, SkillModel

    fields = ["x", "y", "goal_x", "goal_y", "time", "progress"]
    torch.manual_seed(0)

    def executed(frame: str, start: tuple[float, float]) -> np.ndarray:
        model = SkillModel(
            SkillConfig(
                action_dim=2,
                seq_len=4,
                obs_dim=2,
                ladder_dims=[2],
                skill_obs=["x", "y"],
                skill_indices=[0, 1],
                obs_fields=fields,
                frame=frame,
                hidden_size=16,
            ),
            normalizer=Normalizer([0.0, 0.0], [1.0, 1.0]),
        )
        model.load_state_dict(weights)
        model.set_obs_normalizer(np.array([0.0, 0.5]), np.array([0.5, 0.5]))
        inner = gym.make("absaction/Reach2DChain-v0", start=start)
        if residual:  # zero correction: the residual wrapper executes the decoder's own actions
            env: gym.Env = ResidualSkillWrapper(inner, model, prior="none")
            env.reset(seed=0)
            steps = [env.step(np.r_[0.4, -0.2, 0.0, 0.0].astype(np.float32)) for _ in range(4)]
            return np.stack([info["executed_actions"][0] for *_, info in steps])
        env = SkillWrapper(inner, model, prior="none")
        env.reset(seed=0)
        return env.step(np.array([0.4, -0.2], np.float32))[4]["executed_actions"]

    weights = SkillModel(
        SkillConfig(action_dim=2, seq_len=4, obs_dim=2, ladder_dims=[2], hidden_size=16)
    ).state_dict()
    near, far = executed("relative", (0.0, 0.0)), executed("relative", (0.3, 2.0))
    assert near.shape == (4, 2) and np.abs(near).max() > 0.02  # the skill moves
    np.testing.assert_allclose(near, far, atol=1e-5)
    assert not np.allclose(executed("absolute", (0.0, 0.0)), executed("absolute", (0.3, 2.0)), atol=1e-3)


def test_residual_schedule_is_the_documented_logistic() -> None:
    schedule = ResidualSchedule()  # lambda_max 1, midpoint 10k, width 2k
    assert schedule(0) == pytest.approx(1 / (1 + math.exp(5)))
    assert schedule(10_000) == pytest.approx(0.5)
    assert schedule(20_000) == pytest.approx(1 / (1 + math.exp(-5)))
    values = [schedule(t) for t in range(0, 40_000, 1000)]
    assert all(b > a for a, b in itertools.pairwise(values)) and values[-1] <= 1.0
    assert ResidualSchedule(lambda_max=0.5, midpoint=0, width=1)(1e9) == pytest.approx(0.5)
    with pytest.raises(AbsactionError, match="width > 0"):
        ResidualSchedule(width=0)


def test_residual_adds_the_weighted_correction_and_shares_the_clock() -> None:
    schedule = ResidualSchedule(lambda_max=1.0, midpoint=2, width=1)
    env = ResidualSkillWrapper(StubEnv(), StubSkills(), prior="reparam", z_bound=2.0, schedule=schedule)
    evaluation = ResidualSkillWrapper(StubEnv(), StubSkills(), prior="reparam", schedule=schedule)
    share_clock([env], evaluation)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3 + 3 + 2 + 4,)  # env obs, z, a_dec, phase one-hot (H = 4)
    np.testing.assert_allclose(obs[3:6], [0.3, 0.3, 0.3])  # the default skill: the prior mean
    steps = []
    for t in range(5):
        action = np.array([0.0, 0.0, 0.0, 0.5, -0.5], np.float32)  # a_skill (3, ignored after t=0), a_res
        _, _, _, _, info = env.step(action)
        weight = schedule(t)
        # z = prior mean 0.3 + t/10 at the skill's start (t = 0, then t = 4); decoder adds 0.1 * t / 10
        a_dec = (0.3 if t < 4 else 0.7) + 0.01 * t
        expected = np.clip([a_dec + 0.5 * weight, a_dec - 0.5 * weight], -1.0, 1.0)
        np.testing.assert_allclose(info["executed_actions"][0], expected, atol=1e-5)
        steps.append(info["residual_weight"])
    assert steps == pytest.approx([schedule(t) for t in range(5)])
    assert env.clock.steps == 5 and evaluation.residual_weight == pytest.approx(schedule(5))
    evaluation.reset(seed=0)
    evaluation.step(np.zeros(5, np.float32))
    assert env.clock.steps == 5  # the evaluation env reads the clock without advancing it


# -- prior-regularised SAC -----------------------------------------------------------------------------
def test_gaussian_kl_matches_the_closed_form() -> None:
    kl = gaussian_kl(
        torch.tensor([[0.3, 0.0]]),
        torch.log(torch.tensor([[0.5, 1.0]])),
        torch.tensor([[-0.2, 0.0]]),
        torch.tensor([[1.0, 2.0]]),
    )
    # dim 0: log(1 / 0.5) + (0.25 + 0.25) / 2 - 0.5; dim 1: log 2 + 1 / 8 - 0.5
    expected = (math.log(2) + 0.25 - 0.5) + (math.log(2) + 1 / 8 - 0.5)
    assert kl.item() == pytest.approx(expected, rel=1e-6)


def test_actor_alpha_and_critic_losses_against_hand_values() -> None:
    kl = torch.tensor([1.0, 3.0])
    q = torch.tensor([2.0, -1.0])
    assert actor_loss(kl, q, 0.5).item() == pytest.approx(((0.5 - 2.0) + (1.5 + 1.0)) / 2)
    log_alpha = torch.tensor(math.log(0.5), requires_grad=True)
    loss = alpha_loss(log_alpha, torch.tensor([1.0, 1.0], requires_grad=True), target_divergence=2.0)
    assert loss.item() == pytest.approx(math.log(0.5) * (2.0 - 1.0))
    loss.backward()
    assert log_alpha.grad.item() == pytest.approx(1.0)  # KL below target: descent lowers alpha
    target = critic_target(
        torch.tensor([1.0, 1.0]),
        torch.tensor([0.0, 1.0]),
        0.9,
        torch.tensor([4.0, 4.0]),
        torch.tensor([2.0, 2.0]),
        0.5,
    )
    assert target.tolist() == pytest.approx([1.0 + 0.9 * (4.0 - 1.0), 1.0])


def test_prior_sac_actor_starts_at_the_prior_and_learns(tmp_path: Path) -> None:
    from stable_baselines3.common.logger import configure

    env = gym.wrappers.TimeLimit(StubEnv(), 8)
    skills = SkillWrapper(env, StubSkills(), prior="kl")
    agent = PriorSAC(
        "MlpPolicy",
        skills,
        action_prior=skills.action_prior,
        target_divergence=1.0,
        learning_starts=16,
        batch_size=16,
        policy_kwargs={"net_arch": [8]},
        seed=0,
    )
    from absaction.agents.prior_sac import init_actor_from_prior, prior_observations

    observations = prior_observations(skills, 32, seed=0)
    assert observations.shape == (32, 3)
    before, after = init_actor_from_prior(agent, observations, epochs=300)
    assert after < 0.1 and after < before / 5  # 3 latents: under 0.04 nats each
    agent.set_logger(configure(str(tmp_path), []))  # SB3's default logger leaves an SB3-<date> folder in /tmp
    agent.learn(64)
    assert agent.logger.name_to_value["train/prior_kl"] >= 0.0 and agent._n_updates > 0


# -- agents and the CLI --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_skills(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from absaction.data.collect import CollectConfig, collect
    from absaction.train.skill_loop import SkillTrainConfig, fit_skills

    root = tmp_path_factory.mktemp("skills")
    collect(CollectConfig(env_id="absaction/Reach2DPlay-v0", episodes=12, out=root / "play", progress=False))
    config = SkillTrainConfig(epochs=1, batch_size=64, hidden_size=16, horizon=4, z_dim=3)
    fit_skills(root / "play", config, root / "run")
    return root / "run"


@pytest.mark.parametrize(
    ("algo", "prior", "residual"), [("ppo", "reparam", False), ("sac", "kl", False), ("ppo", "reparam", True)]
)
def test_tiny_runs_on_skill_actions(
    tiny_skills: Path, tmp_path: Path, algo: str, prior: str, residual: bool
) -> None:
    torch.set_num_threads(1)
    hyperparams: dict[str, Any] = {"policy_kwargs": "dict(net_arch=[8])"}
    hyperparams.update(
        {"learning_starts": 8, "batch_size": 16, "prior_init_decisions": 16}
        if algo == "sac"
        else {"n_steps": 16 if not residual else 64, "batch_size": 16}
    )
    config = AgentConfig(
        "absaction/Reach2DNewGoals-v0",
        algo=algo,
        actions="skill",
        model=str(tiny_skills),
        prior=prior,
        residual=residual,
        steps=256,
        eval_episodes=2,
        hyperparams=hyperparams,
    )
    result = train_agent(config, tmp_path / "agent", progress=False, plot=False)
    steps_per_decision = 1 if residual else 4
    assert result.primitive_steps >= 256 and result.decisions * steps_per_decision >= result.primitive_steps
    assert result.final.mean_length == 32.0
    record = json.loads((tmp_path / "agent" / "agent.json").read_text())
    assert record["wrapper"]["wrapper"] == ("skill-residual" if residual else "skill")
    assert record["wrapper"]["prior"] == prior and record["steps_per_decision"] == steps_per_decision
    assert record["agent_gamma"] == pytest.approx(0.99**steps_per_decision)
    loaded = load_agent(tmp_path / "agent")
    assert type(loaded.agent).__name__ == ("PriorSAC" if prior == "kl" else algo.upper())
    assert loaded.evaluate(2).mean_length == 32.0
    with pytest.raises(AbsactionError, match="wrapper settings differ") as info:
        load_agent(tmp_path / "agent", env=make_env(config.replace(prior="none")))
    assert "prior='none' (agent.json: " in str(info.value)
    # the prior's own success (z ~ p(z | s), no learning) on the same evaluation episodes, recorded
    assert record["prior_rollouts"]["episodes"] == 2 and record["prior_rollouts"]["mean_length"] == 32.0
    assert result.summary()["success_prior"] == record["prior_rollouts"]["success_rate"]
    stored = prior_rollout_success(tmp_path / "agent")
    del record["prior_rollouts"]  # a run folder from before the record existed: evaluated again
    (tmp_path / "agent" / "agent.json").write_text(json.dumps(record))
    assert prior_rollout_success(tmp_path / "agent") == stored


def test_prior_rollouts_of_a_run_are_its_evaluation_episodes(tiny_skills: Path) -> None:
    from absaction.agents.evaluation import EVAL_SEED_OFFSET
    from absaction.agents.priors import evaluate_prior_rollouts
    from absaction.analysis.skills import prior_rollouts
    from absaction.models import load

    model = load(tiny_skills)
    config = AgentConfig(
        "absaction/Reach2D-v0", actions="skill", model=str(tiny_skills), seed=3, eval_episodes=3
    )
    result = evaluate_prior_rollouts(config, model)
    assert result is not None
    # by hand: the analysis loop on the task, reset with the run's evaluation seeds (dense reward: every
    # return differs with the draws)
    direct = prior_rollouts(model, env_id="absaction/Reach2D-v0", episodes=3, seed=3 + EVAL_SEED_OFFSET)
    assert result.returns == pytest.approx(tuple(direct["returns"]))
    assert result.success_rate == direct["success_rate"]
    assert result.mean_length == pytest.approx(np.mean(direct["lengths"]))
    assert result.mean_decisions == pytest.approx(np.mean([math.ceil(n / 4) for n in direct["lengths"]]))
    other = evaluate_prior_rollouts(config.replace(seed=4), model)
    assert other is not None and other.returns != result.returns  # other episodes, other draws
    assert evaluate_prior_rollouts(config.replace(actions="primitive", model=None), model) is None


@pytest.mark.slow
def test_cli_rl_with_skill_actions_and_its_mistakes(tiny_skills: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(absaction.__file__).parent.parent), "OMP_NUM_THREADS": "1"}

    def rl(*argv: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "absaction", "rl", "--env", "absaction/Reach2DNewGoals-v0", *argv]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    done = rl(
        "--actions",
        "skill",
        "--model",
        str(tiny_skills),
        "--prior",
        "reparam",
        "--steps",
        "200",
        "--eval-episodes",
        "2",
        "--set",
        "n_steps=16",
        "--set",
        "batch_size=16",
        "--out",
        "agent",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    rows = (tmp_path / "agent" / "eval.csv").read_text().splitlines()
    assert rows[0].startswith("primitive_steps") and int(rows[-1].split(",")[0]) >= 200
    save(build_model("tcvlae", 2, 32), tmp_path / "tcvlae")
    mistakes = [
        (
            ["--actions", "skill", "--model", str(tiny_skills), "--prior", "kl"],
            "--prior kl is prior-regularised SAC",
        ),
        (
            ["--actions", "skill", "--model", str(tmp_path / "tcvlae"), "--residual", "--prior", "reparam"],
            "with --residual need a skill model",
        ),
        (
            ["--actions", "skill", "--algo", "sac", "--model", str(tmp_path / "tcvlae"), "--prior", "kl"],
            "with --prior kl need a skill model",
        ),
        (
            ["--actions", "latent", "--model", str(tmp_path / "tcvlae"), "--residual"],
            "only applies to --actions skill",
        ),
    ]
    for index, (argv, message) in enumerate(mistakes):
        bad = rl(*argv, "--steps", "100", "--out", f"bad{index}")
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / f"bad{index}").exists()
