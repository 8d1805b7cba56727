"""The Reach2D environments: API checkers, observation/reward/termination rules, walls, seeding,
rendering, and that a random walk does not solve any variant."""

from __future__ import annotations

import math
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import absaction
from absaction.envs import ENV_IDS, OBS_FIELDS, VARIANTS, Reach2DEnv, register_envs, rendering
from absaction.envs.reach2d import WALL_GAP
from absaction.errors import AbsactionError


def reach2d(env: gym.Env) -> Reach2DEnv:
    """The Reach2D env under the wrappers of ``gym.make``."""
    base = env.unwrapped
    assert isinstance(base, Reach2DEnv)
    return base


def run_actions(env: gym.Env, actions: np.ndarray) -> list[tuple[np.ndarray, float, bool, bool]]:
    out = []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        out.append((obs, float(reward), terminated, truncated))
        if terminated or truncated:
            break
    return out


# ---------------------------------------------------------------------------------------------- registry
def test_every_id_is_registered_once_and_registration_is_idempotent() -> None:
    assert ENV_IDS == (
        "absaction/Reach2D-v0",
        "absaction/Reach2DSparse-v0",
        "absaction/Reach2DObstacle-v0",
        "absaction/Reach2DChain-v0",
        "absaction/Reach2DNewGoals-v0",
        "absaction/WavyReach2D-v0",
    )
    before = len(gym.registry)
    register_envs()
    register_envs()
    assert len(gym.registry) == before
    for env_id in ENV_IDS:
        spec = gym.spec(env_id)
        assert spec.max_episode_steps == VARIANTS[env_id].default_config.max_steps
        assert VARIANTS[env_id].__doc__, f"{env_id} needs a docstring saying what it tests"
    assert absaction.envs is not None  # `import absaction` is what registers them


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_and_sb3_checkers_pass_without_warnings(env_id: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(env_id)
        gym_check_env(env.unwrapped)  # also builds the rgb_array env from the spec and renders it
        sb3_check_env(env.unwrapped, warn=True)
        rendered = gym.make(env_id, render_mode="rgb_array")
        gym_check_env(rendered.unwrapped)
        sb3_check_env(rendered.unwrapped, warn=True, skip_render_check=False)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_and_observation_layout(env_id: str) -> None:
    env = gym.make(env_id)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    assert env.observation_space.shape == (len(OBS_FIELDS),) == (6,)
    assert env.observation_space.dtype == np.float32
    base = reach2d(env)
    route = [0] * base.config.n_legs
    obs, info = env.reset(seed=0, options={"route": route})
    gx, gy = base.config.goals[0]
    np.testing.assert_array_equal(obs, np.array([0.0, 0.0, gx, gy, 0.0, 0.0], dtype=np.float32))
    expected_info = {
        "is_success": False,
        "goal_index": 0,
        "distance": math.hypot(gx, gy),
        "goals_completed": 0,
    }
    assert info == expected_info
    obs, *_ = env.step(np.zeros(2, np.float32))
    assert obs[4] == pytest.approx(1 / base.config.max_steps)


# ---------------------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_seeded_resets_reproduce_exactly(env_id: str) -> None:
    actions = np.random.default_rng(7).uniform(-1, 1, size=(300, 2)).astype(np.float32)

    def rollout(seed: int) -> list[np.ndarray]:
        env = gym.make(env_id)
        trace = []
        obs, _ = env.reset(seed=seed)
        for episode in range(4):  # later resets without a seed continue the seeded generator
            if episode:
                obs, _ = env.reset()
            trace.append(obs)
            trace.extend(np.append(o, [r, te, tr]) for o, r, te, tr in run_actions(env, actions))
        return trace

    first, again = rollout(123), rollout(123)
    assert len(first) == len(again)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_different_seeds_draw_different_goals_and_both_goals_occur() -> None:
    env = gym.make("absaction/Reach2D-v0")

    def goals(seed: int) -> list[int]:
        _, info = env.reset(seed=seed)
        return [info["goal_index"]] + [env.reset()[1]["goal_index"] for _ in range(39)]

    a, b = goals(1), goals(2)
    assert a != b
    assert set(a) == {0, 1}
    assert goals(1) == a


# ---------------------------------------------------------------------------------------------- rewards
def test_dense_reward_is_minus_distance_after_the_clipped_move() -> None:
    env = gym.make("absaction/Reach2D-v0")
    env.reset(seed=0, options={"goal_index": 1})  # goal (0.1, 1)
    obs, reward, terminated, truncated, info = env.step(np.array([0.5, -2.0], np.float32))  # y clipped to -1
    # move = 0.1 * (0.5, -1) = (0.05, -0.1); distance to (0.1, 1) = sqrt(0.05^2 + 1.1^2)
    expected = -math.sqrt(0.05**2 + 1.1**2)
    assert reward == pytest.approx(expected, abs=1e-12)
    assert info["distance"] == pytest.approx(-expected, abs=1e-12)
    np.testing.assert_allclose(obs[:2], [0.05, -0.1], atol=1e-7)
    assert not terminated and not truncated and info["is_success"] is False


def test_sparse_reward_pays_each_step_inside_the_radius_without_terminating() -> None:
    env = Reach2DEnv(reward="sparse")  # radius 0.05, fixed duration
    env.reset(seed=0, options={"goal": (0.1, 0.04)})
    _, r1, te1, _, info1 = env.step(np.array([1.0, 0.0], np.float32))  # at (0.1, 0): distance 0.04
    _, r2, te2, _, info2 = env.step(np.array([0.0, 0.0], np.float32))  # stays: inside again
    _, r3, te3, _, info3 = env.step(np.array([1.0, 0.0], np.float32))  # (0.2, 0): distance 0.1077
    assert (r1, r2, r3) == (1.0, 1.0, 0.0)
    assert (info1["is_success"], info2["is_success"], info3["is_success"]) == (True, True, False)
    assert not (te1 or te2 or te3)
    assert info1["goal_index"] == -1


def test_sparse_variant_terminates_on_its_tight_radius() -> None:
    env = gym.make("absaction/Reach2DSparse-v0")
    env.reset(seed=0, options={"goal_index": 0})  # goal (-0.1, 1); radius 0.02
    # 10 steps of (-0.01, 0.1) end exactly on the goal; step 9 ends 0.1005 away: reward 0
    results = run_actions(env, np.tile(np.array([-0.1, 1.0], np.float32), (12, 1)))
    rewards = [r for _, r, _, _ in results]
    assert rewards == [0.0] * 9 + [1.0]
    assert results[-1][2] is True  # terminated
    assert results[-1][0][5] == 1.0  # progress: the only goal is complete


def test_time_limit_is_exactly_max_steps_for_made_and_bare_envs() -> None:
    for env in (gym.make("absaction/Reach2D-v0"), Reach2DEnv()):
        env.reset(seed=0)
        results = run_actions(env, np.zeros((100, 2), np.float32))
        assert len(results) == 32
        assert [tr for *_, tr in results] == [False] * 31 + [True]
        assert results[-1][0][4] == 1.0  # time component


def test_config_overrides_through_make_and_bad_options() -> None:
    env = gym.make("absaction/Reach2D-v0", step_size=0.05, max_steps=16, max_episode_steps=16)
    env.reset(seed=0)
    obs, *_ = env.step(np.array([1.0, 1.0], np.float32))
    np.testing.assert_allclose(obs[:2], [0.05, 0.05], atol=1e-7)
    assert obs[4] == pytest.approx(1 / 16)
    with pytest.raises(AbsactionError, match=r"unknown Reach2D option.*stepsize"):
        Reach2DEnv(stepsize=0.1)
    with pytest.raises(AbsactionError, match=r"unknown reward 'shaped'.*'dense' or 'sparse'"):
        Reach2DEnv(reward="shaped")
    with pytest.raises(AbsactionError, match="render_mode"):
        Reach2DEnv(render_mode="human")
    assert Reach2DEnv(goals=[[0.2, 1.0]]).config.goals == ((0.2, 1.0),)  # YAML-style lists become tuples


@pytest.mark.parametrize(
    ("env_id", "options", "message"),
    [
        ("absaction/Reach2D-v0", {"goal_idx": 0}, "unknown Reach2D reset option"),
        ("absaction/Reach2D-v0", {"goal_index": 2}, r"goal index 2 is not in 0\.\.1"),
        ("absaction/Reach2D-v0", {"goal_index": 0.0}, "not in"),
        ("absaction/Reach2D-v0", {"goal_index": 0, "goal": (0, 1)}, "conflict"),
        ("absaction/Reach2D-v0", {"goal": (5.0, 1.0)}, "outside the arena"),
        ("absaction/Reach2DChain-v0", {"goal_index": 0}, "route"),
        ("absaction/Reach2DChain-v0", {"route": [0, 1]}, "must list 3 goal indices"),
    ],
)
def test_bad_reset_options_raise_one_line_errors(env_id: str, options: dict, message: str) -> None:
    env = gym.make(env_id).unwrapped
    with pytest.raises(AbsactionError, match=message) as err:
        env.reset(seed=0, options=options)
    assert "\n" not in str(err.value)


def test_route_option_and_numpy_indices() -> None:
    env = reach2d(gym.make("absaction/Reach2DChain-v0"))
    _, info = env.reset(seed=0, options={"route": np.array([1, 0, 1])})
    assert env.route == ((0.1, 1.0), (0.0, 2.0), (0.1, 3.0))
    assert info["goal_index"] == 1
    _, info = env.reset(options={"route": [np.int64(0), 0, 0]})
    assert env.route[-1] == pytest.approx((-0.3, 3.0))


def test_nan_action_is_refused() -> None:
    env = Reach2DEnv()
    env.reset(seed=0)
    with pytest.raises(AbsactionError, match="NaN action"):
        env.step(np.array([np.nan, 0.0], np.float32))


def test_position_is_clipped_to_the_arena_and_stays_in_the_observation_space() -> None:
    env = gym.make("absaction/Reach2D-v0")
    env.reset(seed=0)
    x_min, y_min, _, _ = reach2d(env).arena
    assert (x_min, y_min) == pytest.approx((-0.6, -0.5))  # goals' box padded by 0.5
    for obs, *_ in run_actions(env, np.tile(np.array([-1.0, -1.0], np.float32), (32, 1))):
        assert obs in env.observation_space
    assert reach2d(env).position == (x_min, y_min)


# ---------------------------------------------------------------------------------------------- obstacle
def test_obstacle_blocks_the_straight_path_at_the_wall() -> None:
    env = gym.make("absaction/Reach2DObstacle-v0")
    env.reset(seed=0, options={"goal_index": 1})  # goal (0.1, 1)
    straight = np.tile(np.array([0.1, 1.0], np.float32), (64, 1))  # 10 steps of (0.01, 0.1) would do
    results = run_actions(env, straight)
    assert len(results) == 64 and results[-1][3]  # truncated, never terminated
    assert all(r == 0.0 for _, r, _, _ in results)
    ys = np.array([obs[1] for obs, *_ in results])
    assert ys.max() < 0.5
    # the 5th move (from y = 0.4) hits the wall at x = 0.04 + 0.01 * 1.0 = 0.05 and stops 1e-6 below it
    x, y = reach2d(env).position
    # (later pushes only cover the 1e-6 gap: x creeps by 1e-7 per step)
    assert x == pytest.approx(0.05, abs=1e-5) and y == pytest.approx(0.5 - WALL_GAP, abs=1e-12)


def test_obstacle_lets_a_path_beside_the_wall_through() -> None:
    env = gym.make("absaction/Reach2DObstacle-v0")
    env.reset(seed=0, options={"goal_index": 1})
    moves = [[1.0, 0.0]] * 2 + [[0.0, 1.0]] * 10 + [[-1.0, 0.0]]  # right to x=0.2, up to y=1, back to 0.1
    results = run_actions(env, np.array(moves, np.float32))
    assert results[-1][1] == 1.0 and results[-1][2]  # reward 1 and terminated
    assert len(results) == 13


def test_wall_stops_a_move_from_above_on_its_top_side() -> None:
    env = Reach2DEnv(start=(0.0, 1.0), goals=((0.0, -1.0),), walls=((0.5, -0.15, 0.15),))
    env.reset(seed=0)
    results = run_actions(env, np.tile(np.array([0.0, -1.0], np.float32), (8, 1)))
    assert env.position == pytest.approx((0.0, 0.5 + WALL_GAP), abs=1e-12)  # stopped above the wall
    assert [obs[1] for obs, *_ in results][-3:] == [np.float32(0.5 + WALL_GAP)] * 3
    # sliding along the top of the wall and off its end is allowed; then the point can go down
    run_actions(env, np.tile(np.array([1.0, 0.0], np.float32), (2, 1)))
    run_actions(env, np.array([[0.0, -1.0]], np.float32))
    assert env.position == pytest.approx((0.2, 0.4 + WALL_GAP), abs=1e-12)


# ---------------------------------------------------------------------------------------------- chain
def test_chain_advances_goal_pays_per_goal_and_terminates_at_the_last() -> None:
    env = gym.make("absaction/Reach2DChain-v0")
    obs, _ = env.reset(seed=0, options={"route": [1, 0, 1]})  # goals (0.1, 1), (0, 2), (0.1, 3)
    rewards: list[float] = []
    goals, progress = [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = np.clip((obs[2:4] - obs[:2]) / 0.1, -1, 1).astype(np.float32)  # greedy straight reach
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(float(reward))
        goals.append(tuple(round(float(v), 6) for v in obs[2:4]))
        progress.append(float(obs[5]))
    assert terminated and info["is_success"]
    assert sum(rewards) == 3.0 and sorted(set(rewards)) == [0.0, 1.0]
    assert list(dict.fromkeys(goals)) == [(0.1, 1.0), (0.0, 2.0), (0.1, 3.0)]  # visited in order
    assert sorted(set(progress)) == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert len(rewards) == 30  # 10 straight steps per unit leg


# ---------------------------------------------------------------------------------------------- random policy
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_random_policy_rarely_succeeds(env_id: str) -> None:
    env = gym.make(env_id).unwrapped  # bare env for speed; it enforces its own time limit
    rng = np.random.default_rng(0)
    env.action_space.seed(0)
    episodes, successes = 300, 0
    env.reset(seed=0)
    for _ in range(episodes):
        env.reset()
        done, info = False, {"is_success": False}
        while not done:
            _, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
            done = terminated or truncated
        successes += bool(info["is_success"])
    assert successes / episodes < 0.01  # the issue asks for well under 5 %


# ---------------------------------------------------------------------------------------------- render
def test_render_draws_the_path_start_and_goals() -> None:
    env = gym.make("absaction/Reach2D-v0", render_mode="rgb_array")
    env.reset(seed=0, options={"goal_index": 0})
    first = reach2d(env).render()
    for _ in range(5):
        env.step(np.array([0.0, 1.0], np.float32))  # straight up to (0, 0.5)
    image = reach2d(env).render()
    assert isinstance(image, np.ndarray) and image.shape == (256, 256, 3) and image.dtype == np.uint8
    canvas = rendering.Canvas(256, reach2d(env).arena)

    def pixel(x: float, y: float) -> tuple[int, ...]:
        row, col = np.rint(canvas.to_pixels(np.array([[x, y]]))[0]).astype(int)
        return tuple(image[row, col])

    assert pixel(0.0, 0.25) == rendering.PATH  # on the path drawn so far
    assert pixel(0.3, 0.25) == rendering.BACKGROUND
    assert pixel(0.0, 0.5) == rendering.POINT
    assert pixel(0.0, 0.0) == rendering.START
    assert pixel(-0.1, 1.0) == rendering.GOAL_CURRENT
    assert pixel(0.1, 1.0) == rendering.GOAL_OTHER
    assert first is not None and not np.array_equal(first, image)
    small = gym.make("absaction/Reach2DObstacle-v0", render_mode="rgb_array", render_size=64)
    small.reset(seed=0)
    small_image = reach2d(small).render()
    assert small_image is not None and small_image.shape == (64, 64, 3)


def test_render_without_render_mode_returns_none_with_a_warning() -> None:
    env = Reach2DEnv()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode='rgb_array'"):
        assert env.render() is None
