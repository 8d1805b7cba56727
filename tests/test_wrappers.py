"""LatentActionWrapper and ActionRepeatWrapper against hand computations on a scripted stub env.

The stub env pays a known reward ``rewards[t]`` at primitive step ``t`` of an episode and records every
action it receives; the stub decoder maps latents to actions by a formula simple enough to evaluate by
hand: ``action[t, a] = 0.1 * (t + 1) * z1[a] + 0.5 * z2[0]`` (ladder 1: 2 dims, ladder 2: 1 dim).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from absaction import models
from absaction.errors import AbsactionError
from absaction.wrappers import ActionRepeatWrapper, LatentActionWrapper
from absaction.wrappers.latent import _LATENT_STREAM


class ScriptedEnv(gym.Env[np.ndarray, np.ndarray]):
    """2-D actions in [-1, 1]; reward ``rewards[t]`` at step ``t`` (default ``t + 1``); terminates after
    ``terminate_at`` steps. Observation: (step / 10, last action)."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(
        self, rewards: list[float] | None = None, terminate_at: int | None = None, low: float = -1.0
    ):
        self.action_space = gym.spaces.Box(low, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Box(-100.0, 100.0, (3,), np.float32)
        self.rewards = rewards
        self.terminate_at = terminate_at
        self.t = 0
        self.total_steps = 0
        self.received: list[np.ndarray] = []

    def _obs(self, action: np.ndarray) -> np.ndarray:
        return np.array([self.t / 10.0, *action], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(np.zeros(2, np.float32)), {"is_success": False}

    def step(self, action: np.ndarray):
        action = np.asarray(action, dtype=np.float32)
        self.received.append(action.copy())
        reward = float(self.rewards[self.t] if self.rewards is not None else self.t + 1)
        self.t += 1
        self.total_steps += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        return self._obs(action), reward, terminated, False, {"is_success": terminated, "t": self.t}


class StubDecoder(nn.Module):
    """Ladders [2, 1], T = 4, A = 2: ``action[t] = 0.1 * (t + 1) * z1 + 0.5 * z2``."""

    def __init__(self, action_dim: int = 2, low: float = -1.0, active: list[list[int]] | None = None):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))  # gives the module a device
        self.ladder_dims = [2, 1]
        self.action_dim = action_dim
        self.seq_len = 4
        self.action_low = np.full(action_dim, low, np.float32)
        self.action_high = np.ones(action_dim, np.float32)
        self.env_id = "Stub-v0"
        self._active = active if active is not None else [[0, 1], [0]]

    def active_dims(self, threshold: float = 0.01) -> list[list[int]]:
        return self._active

    def decode(self, latents: list[torch.Tensor], length: int | None = None) -> torch.Tensor:
        z1, z2 = latents  # (B, 2), (B, 1)
        t = torch.arange(1, self.seq_len + 1, dtype=torch.float32).view(1, -1, 1)  # (1, T, 1)
        out = 0.1 * t * z1[:, None, : self.action_dim] + 0.5 * z2[:, None, :]  # (B, T, 2)
        if self.action_dim > 2:
            out = torch.cat([out, out[..., :1]], dim=-1)[..., : self.action_dim]
        return out * self.scale


def stub_actions(z1: np.ndarray, z2: float, steps: int = 4) -> np.ndarray:
    """The stub decoder by hand, clipped to [-1, 1]: (steps, 2)."""
    t = np.arange(1, steps + 1)[:, None]
    return np.clip(0.1 * t * np.asarray(z1)[None, :] + 0.5 * z2, -1, 1).astype(np.float32)


# -- reward semantics ------------------------------------------------------------------------------
def test_discounted_reward_matches_hand_sum():
    env = LatentActionWrapper(ScriptedEnv(), StubDecoder(), gamma=0.9)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(np.zeros(3, np.float32))
    # rewards 1, 2, 3, 4: 1 + 0.9 * 2 + 0.81 * 3 + 0.729 * 4
    assert reward == pytest.approx(8.146)
    assert info["primitive_steps"] == 4
    np.testing.assert_allclose(info["primitive_rewards"], [1, 2, 3, 4])
    assert info["discount"] == pytest.approx(0.9**4)
    assert not terminated and not truncated
    _, reward, *_ = env.step(np.zeros(3, np.float32))  # rewards 5..8, discounting restarts per chunk
    assert reward == pytest.approx(5 + 0.9 * 6 + 0.81 * 7 + 0.729 * 8)


def test_plain_sum_option():
    env = LatentActionWrapper(ScriptedEnv(), StubDecoder(), gamma=0.9, discount_within_chunk=False)
    env.reset(seed=0)
    assert env.step(np.zeros(3, np.float32))[1] == pytest.approx(10.0)


def test_termination_inside_a_chunk_stops_with_a_partial_sum():
    inner = ScriptedEnv(terminate_at=6)
    env = LatentActionWrapper(inner, StubDecoder(), gamma=0.9)
    env.reset(seed=0)
    env.step(np.zeros(3, np.float32))
    _, reward, terminated, truncated, info = env.step(np.zeros(3, np.float32))
    assert terminated and not truncated
    assert info["primitive_steps"] == 2
    assert reward == pytest.approx(5 + 0.9 * 6)
    assert info["executed_actions"].shape == (2, 2)
    assert info["is_success"] is True and info["t"] == 6  # the inner env's last info passes through
    assert inner.total_steps == 6


def test_truncation_inside_a_chunk():
    env = LatentActionWrapper(gym.wrappers.TimeLimit(ScriptedEnv(), 5), StubDecoder(), gamma=0.5)
    env.reset(seed=0)
    env.step(np.zeros(3, np.float32))
    _, reward, terminated, truncated, info = env.step(np.zeros(3, np.float32))
    assert truncated and not terminated and info["primitive_steps"] == 1 and reward == pytest.approx(5.0)


# -- decoding --------------------------------------------------------------------------------------
def test_decoded_actions_are_mapped_and_clipped():
    inner = ScriptedEnv()
    env = LatentActionWrapper(inner, StubDecoder(), z_bound=2.0)
    env.reset(seed=0)
    action = np.array([0.5, -0.25, 1.0], np.float32)  # -> z1 = (1.0, -0.5), z2 = 2.0
    _, _, _, _, info = env.step(action)
    expected = stub_actions([1.0, -0.5], 2.0)  # x: 1.1 .. 1.4 clipped to 1; y: 0.95 .. 0.80
    np.testing.assert_allclose(expected[:, 0], 1.0)
    np.testing.assert_allclose(expected[:, 1], [0.95, 0.9, 0.85, 0.8], rtol=1e-6)
    np.testing.assert_allclose(info["executed_actions"], expected, rtol=1e-6)
    np.testing.assert_allclose(np.stack(inner.received), expected, rtol=1e-6)
    # agent actions outside [-1, 1] are clipped before scaling: 3.0 acts like 1.0
    np.testing.assert_allclose(env.decode_action(np.array([3.0, 0.0, 0.0])), stub_actions([2.0, 0.0], 0.0))


def test_a_deep_copy_decodes_its_own_latents():
    import copy

    env = LatentActionWrapper(ScriptedEnv(), StubDecoder(), z_bound=2.0)
    env.reset(seed=0)
    twin = copy.deepcopy(env)  # what a planner does to try an action without taking it
    _, _, _, _, info = twin.step(np.array([0.25, -0.25, 0.1], np.float32))  # z1 = (0.5, -0.5), z2 = 0.2
    np.testing.assert_allclose(info["executed_actions"], stub_actions([0.5, -0.5], 0.2), rtol=1e-6)
    assert env.unwrapped.t == 0 and env.decode_calls == 0  # the original is untouched
    _, _, _, _, info = env.step(np.array([0.5, 0.0, 0.0], np.float32))
    np.testing.assert_allclose(info["executed_actions"], stub_actions([1.0, 0.0], 0.0), rtol=1e-6)


def test_bounds_of_the_inner_env_are_used_for_clipping():
    inner = ScriptedEnv(low=-0.5)
    env = LatentActionWrapper(inner, StubDecoder(low=-0.5), z_bound=2.0)
    env.reset(seed=0)
    info = env.step(np.array([-1.0, -1.0, 0.0], np.float32))[4]  # z1 = (-2, -2): -0.2 .. -0.8
    np.testing.assert_allclose(info["executed_actions"][:, 0], [-0.2, -0.4, -0.5, -0.5], rtol=1e-6)


def test_default_exposes_active_units_and_dims_select_explicitly():
    assert LatentActionWrapper(ScriptedEnv(), StubDecoder()).action_space.shape == (3,)
    only_active = LatentActionWrapper(ScriptedEnv(), StubDecoder(active=[[1], [0]]))
    assert only_active.action_space.shape == (2,) and only_active.exposed == {1: [1], 2: [0]}
    abstract = LatentActionWrapper(ScriptedEnv(), StubDecoder(), ladders=[2])
    assert abstract.action_space == gym.spaces.Box(-1, 1, (1,), np.float32)
    explicit = LatentActionWrapper(ScriptedEnv(), StubDecoder(), dims={1: [1]})
    assert explicit.exposed == {1: [1]}
    explicit.reset(seed=0)
    info = explicit.step(np.array([0.5], np.float32))[4]  # z1 = (0, 1), z2 = 0
    np.testing.assert_allclose(info["executed_actions"], stub_actions([0.0, 1.0], 0.0), rtol=1e-6)
    mixed = LatentActionWrapper(ScriptedEnv(), StubDecoder(active=[[1], [0]]), ladders=[1, 2], dims={1: [0]})
    assert mixed.exposed == {1: [0], 2: [0]}
    # by default a collapsed ladder is skipped (a named one is an error, see the mistakes below)
    collapsed = LatentActionWrapper(ScriptedEnv(), StubDecoder(active=[[], [0]]))
    assert collapsed.exposed == {2: [0]} and collapsed.action_space.shape == (1,)


def test_fixed_zero_versus_sample():
    zero = LatentActionWrapper(ScriptedEnv(), StubDecoder(), ladders=[2], fixed="zero")
    zero.reset(seed=3)
    info = zero.step(np.array([0.5], np.float32))[4]  # z2 = 1, z1 = 0
    np.testing.assert_allclose(info["executed_actions"], np.full((4, 2), 0.5), rtol=1e-6)

    sample = LatentActionWrapper(ScriptedEnv(), StubDecoder(), ladders=[2], fixed="sample")
    sample.reset(seed=3)
    rng = np.random.default_rng([3, _LATENT_STREAM])  # the wrapper's documented stream
    for _ in range(2):  # a fresh draw at every decision
        z1 = rng.standard_normal(2)
        info = sample.step(np.array([0.5], np.float32))[4]
        np.testing.assert_allclose(info["executed_actions"], stub_actions(z1, 1.0), rtol=1e-5)
    # the inner env's own generator is untouched by the latent draws
    assert sample.unwrapped.np_random.bit_generator.state == zero.unwrapped.np_random.bit_generator.state


def test_closed_loop_executes_the_first_k_actions():
    inner = ScriptedEnv()
    env = LatentActionWrapper(inner, StubDecoder(), closed_loop_steps=2, gamma=0.5)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([0.5, 0.5, 0.0], np.float32))  # z1 = (1, 1)
    assert info["primitive_steps"] == 2 and reward == pytest.approx(1 + 0.5 * 2)
    np.testing.assert_allclose(info["executed_actions"], stub_actions([1.0, 1.0], 0.0)[:2], rtol=1e-6)
    info = env.step(np.array([0.5, 0.5, 0.0], np.float32))[4]  # decides again: the plan restarts at t=0
    np.testing.assert_allclose(info["executed_actions"], stub_actions([1.0, 1.0], 0.0)[:2], rtol=1e-6)
    assert inner.total_steps == 4 and env.macro_settings()["closed_loop_steps"] == 2


def test_plan_phase_continues_the_plan_instead_of_restarting_it():
    inner = ScriptedEnv()
    env = LatentActionWrapper(inner, StubDecoder(), closed_loop_steps=2, plan_phase=True)
    env.reset(seed=0)
    a, b = np.array([0.5, 0.5, 0.0], np.float32), np.array([-0.5, 0.25, 0.5], np.float32)
    first = env.step(a)[4]["executed_actions"]
    second = env.step(b)[4]["executed_actions"]  # phase 2: actions [2, 4) of b's plan
    third = env.step(a)[4]["executed_actions"]  # T = 4 steps done: a new plan starts at phase 0
    np.testing.assert_allclose(first, stub_actions([1.0, 1.0], 0.0)[:2], rtol=1e-6)
    np.testing.assert_allclose(second, stub_actions([-1.0, 0.5], 1.0)[2:4], rtol=1e-6)
    np.testing.assert_allclose(third, first, rtol=1e-6)
    env.step(b)
    env.reset(seed=1)  # a reset restarts the phase too
    np.testing.assert_allclose(env.step(a)[4]["executed_actions"], first, rtol=1e-6)
    assert env.macro_settings()["plan_phase"] is True


@pytest.mark.parametrize("steps", [None, 3])
def test_plan_phase_needs_a_closed_loop_that_divides_the_plan(steps):
    with pytest.raises(AbsactionError, match="plan_phase needs closed-loop steps k < T that divide T"):
        LatentActionWrapper(ScriptedEnv(), StubDecoder(), closed_loop_steps=steps, plan_phase=True)


# -- the action-repeat baseline shares the execution code -----------------------------------------------
def test_action_repeat_repeats_clips_and_sums_like_the_latent_wrapper():
    inner = ScriptedEnv(terminate_at=5)
    env = ActionRepeatWrapper(inner, repeat=3, gamma=0.5)
    assert env.action_space == inner.action_space
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([2.0, -0.3], np.float32))
    assert reward == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)
    np.testing.assert_allclose(info["executed_actions"], [[1.0, -0.3]] * 3, rtol=1e-6)
    _, reward, terminated, _, info = env.step(np.array([0.0, 0.0], np.float32))
    assert terminated and info["primitive_steps"] == 2 and reward == pytest.approx(4 + 0.5 * 5)
    assert env.macro_settings() == {
        "wrapper": "repeat",
        "chunk_steps": 3,
        "gamma": 0.5,
        "discount_within_chunk": True,
    }


# -- the checkers --------------------------------------------------------------------------------------
def _wrappers() -> list[gym.Env[Any, Any]]:
    return [
        LatentActionWrapper(gym.wrappers.TimeLimit(ScriptedEnv(), 20), StubDecoder()),
        LatentActionWrapper(gym.wrappers.TimeLimit(ScriptedEnv(), 20), StubDecoder(), fixed="sample"),
        ActionRepeatWrapper(gym.wrappers.TimeLimit(ScriptedEnv(), 20), repeat=4),
    ]


@pytest.mark.parametrize("index", range(3))
def test_gymnasium_check_env(index):
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(_wrappers()[index], skip_render_check=True)
    # the only acceptable note is gymnasium's generic "this env is wrapped" remark
    assert [str(w.message) for w in caught if "unwrapped version" not in str(w.message)] == []


@pytest.mark.parametrize("index", range(3))
def test_sb3_check_env_without_warnings(index):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(_wrappers()[index], warn=True)


# -- mistakes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "model", "message"),
    [
        ({}, StubDecoder(action_dim=3), "decodes 3-D actions"),
        ({}, StubDecoder(low=-2.0), "trained for action bounds"),
        (
            {"ladders": [3]},
            StubDecoder(),
            "ladder 3 does not exist; the model has 2 ladder(s): ladder 1 has 2 dims",
        ),
        ({"dims": {1: [2]}}, StubDecoder(), "latent dim(s) [2] of ladder 1 do not exist"),
        ({"chunk": 2}, StubDecoder(), "closed_loop_steps=2"),
        ({"closed_loop_steps": 5}, StubDecoder(), "between 1 and the decoded chunk length 4"),
        ({"fixed": "noise"}, StubDecoder(), "unknown fixed='noise'"),
        ({"ladders": [2]}, StubDecoder(active=[[0], []]), "ladder 2 has no active latent units"),
        ({}, StubDecoder(active=[[], []]), "the model has no active latent units"),
    ],
)
def test_mistakes_are_one_line_errors(kwargs, model, message):
    with pytest.raises(AbsactionError) as err:
        LatentActionWrapper(ScriptedEnv(), model, **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_missing_run_folder_and_non_box_env(tmp_path: Path):
    with pytest.raises(AbsactionError, match="does not exist"):
        LatentActionWrapper(ScriptedEnv(), tmp_path / "nothing")
    with pytest.raises(AbsactionError, match="1-D Box action space"):
        ActionRepeatWrapper(gym.make("CartPole-v1"), repeat=2)


# -- a real (untrained) TCVLAE from its run folder ----------------------------------------------------
def test_real_model_from_run_folder(tmp_path: Path):
    model = models.build_model(
        "tcvlae", 2, 8, {"ladder_dims": [2, 1], "channels": 4}, action_low=-np.ones(2), action_high=np.ones(2)
    )
    models.save(model, tmp_path / "run")
    inner = ScriptedEnv()
    env = LatentActionWrapper(inner, tmp_path / "run", ladders=[2])
    assert env.action_space.shape == (1,)  # no KL record: every unit of the chosen ladder is exposed
    assert env.macro_settings()["model"] == str((tmp_path / "run").resolve())
    env.reset(seed=0)
    action = np.array([0.3], np.float32)
    info = env.step(action)[4]
    with torch.no_grad():
        expected = model.decode([torch.zeros(1, 2), torch.full((1, 1), 0.6)])[0].numpy()
    np.testing.assert_allclose(info["executed_actions"], np.clip(expected, -1, 1), rtol=1e-5, atol=1e-6)
    assert info["primitive_steps"] == 8


# -- the real Reach2D worlds -------------------------------------------------------------------------------
REACH_IDS = [
    "absaction/Reach2D-v0",
    "absaction/Reach2DSparse-v0",
    "absaction/Reach2DObstacle-v0",
    "absaction/Reach2DChain-v0",
    "absaction/Reach2DNewGoals-v0",
]


@pytest.fixture(scope="module")
def tiny_tcvlae() -> Any:
    torch.manual_seed(0)
    return models.build_model(
        "tcvlae", 2, 32, {"channels": 4}, action_low=-np.ones(2), action_high=np.ones(2)
    )


@pytest.mark.parametrize("env_id", REACH_IDS)
def test_checkers_on_the_reach2d_worlds(env_id: str, tiny_tcvlae: Any):
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    import absaction  # noqa: F401 - registers the envs

    # The 32-step worlds end after ONE open-loop 32-step chunk (a one-decision task), which gymnasium's
    # checker rejects by design ("truncates after 1 step"); re-deciding every 8 steps is checked there.
    closed_loop = 8 if gym.spec(env_id).max_episode_steps == 32 else None
    for env in (
        LatentActionWrapper(gym.make(env_id), tiny_tcvlae, fixed="sample", closed_loop_steps=closed_loop),
        ActionRepeatWrapper(gym.make(env_id), repeat=8),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sb3_check_env(env, warn=True)
            gym_check_env(env, skip_render_check=True)
        assert [str(w.message) for w in caught if "unwrapped version" not in str(w.message)] == []


def test_reach2d_open_loop_is_one_decision_per_episode(tiny_tcvlae: Any):
    import absaction  # noqa: F401

    env = LatentActionWrapper(gym.make("absaction/Reach2D-v0"), tiny_tcvlae)
    env.reset(seed=0)
    assert env.action_space.shape == (14,)  # no KL record: all 8 + 4 + 2 latents are exposed
    _, reward, terminated, truncated, info = env.step(np.zeros(14, np.float32))
    assert truncated and not terminated and info["primitive_steps"] == 32 and "is_success" in info
    assert reward == pytest.approx(float(np.dot(0.99 ** np.arange(32), info["primitive_rewards"])))


def test_decode_overhead_is_measured_and_small():
    env = LatentActionWrapper(ScriptedEnv(), StubDecoder())
    assert np.isnan(env.decode_overhead_ms)
    env.reset(seed=0)
    for _ in range(20):
        env.step(np.zeros(3, np.float32))
    assert env.decode_calls == 20 and 0 < env.decode_overhead_ms < 5.0  # the target is 1 ms


def test_a_variable_length_seq2seq_model_drives_the_wrapper():
    """The QRNN seq2seq model (``seq_len=None``) as an action space: the chunk length is chosen by the
    wrapper, encode/decode go through the true lengths, and both checkers pass."""
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from absaction.models import build_model

    torch.manual_seed(0)
    model = build_model(
        "seq2seq", 2, None, {"ladder_dims": [3, 2, 1], "hidden_size": 16},
        action_low=-np.ones(2), action_high=np.ones(2),
    )  # fmt: skip
    model.eval()
    with pytest.raises(AbsactionError, match="no chunk length was given"):
        LatentActionWrapper(gym.make("absaction/Reach2D-v0"), model)
    env = LatentActionWrapper(gym.make("absaction/Reach2D-v0"), model, chunk=16, dims={3: [0]})
    assert env.action_space.shape == (1,) and env.chunk_steps == 16
    env.reset(seed=0)
    action = np.array([0.5], np.float32)
    _, _, _, _, info = env.step(action)
    z = [torch.zeros(1, 3), torch.zeros(1, 2), torch.tensor([[1.0]])]  # z_bound 2 x 0.5 on ladder 3
    with torch.no_grad():
        expected = np.clip(model.decode(z, length=16)[0].numpy(), -1, 1)
    np.testing.assert_allclose(info["executed_actions"], expected, rtol=1e-5, atol=1e-6)
    # demonstrations of the chunk length encode through the true lengths
    chunks = np.clip(np.random.default_rng(0).normal(0, 0.3, (5, 16, 2)), -1, 1).astype(np.float32)
    means, _ = model.posterior(chunks, np.full(5, 16))
    np.testing.assert_allclose(env.encode_actions(chunks)[:, 0], np.clip(means[:, 5] / 2.0, -1, 1), rtol=1e-5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for checker, options in ((sb3_check_env, {"warn": True}), (check_env, {"skip_render_check": True})):
            checker(LatentActionWrapper(gym.make("absaction/Reach2D-v0"), model, chunk=8), **options)
    # the only acceptable note is gymnasium's generic "this env is wrapped" remark
    assert [str(w.message) for w in caught if "unwrapped version" not in str(w.message)] == []
