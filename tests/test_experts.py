"""Scripted experts: every factor combination reaches its goal, the factor labels match the path
geometry, episode lengths are fixed where the VAE needs it, and bad requests fail clearly."""

from __future__ import annotations

import itertools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from absaction.envs import (
    BULGE_AMPLITUDES,
    ENV_IDS,
    WAVE_AMPLITUDES,
    PathExpert,
    PathSetExpert,
    Reach2DEnv,
    ReachExpert,
    ScriptedExpert,
    WavyExpert,
    load_recorded_paths,
    make_expert,
)
from absaction.envs.paths import bulge_path, chord_offsets, crossings_at_y, wave_offset, wavy_path
from absaction.errors import AbsactionError


def reach2d(env: gym.Env) -> Reach2DEnv:
    base = env.unwrapped
    assert isinstance(base, Reach2DEnv)
    return base


REACH_FACTORS = ("target", "bulge_out", "bulge_right", "curvature")


def rollout(
    env: gym.Env,
    expert: PathExpert,
    options: dict[str, Any] | None = None,
    factors: dict[str, int] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """One expert episode: positions (T+1, 2) from the observations, actions (T, 2), rewards, flags."""
    obs, info = env.reset(seed=seed, options=options)
    # the expert's generator must not replay the env's: gymnasium seeds np_random from the same seed
    chosen = expert.reset(obs, info, np.random.default_rng([seed, 1]), factors=factors)
    positions, actions, rewards, completed = [obs[:2]], [], [], []
    terminated = truncated = False
    while not (terminated or truncated):
        action = expert.act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        positions.append(obs[:2])
        actions.append(action)
        rewards.append(reward)
        completed.append(info["goals_completed"])
    return {
        "factors": chosen,
        "positions": np.array(positions, dtype=np.float64),
        "actions": np.array(actions),
        "rewards": rewards,
        "completed": completed,
        "terminated": terminated,
        "info": info,
    }


# ---------------------------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_expert_fits_every_registered_env(env_id: str) -> None:
    env = gym.make(env_id)
    expert = make_expert(env)
    assert isinstance(expert, ScriptedExpert)
    n_legs = reach2d(env).config.n_legs
    if env_id == "absaction/WavyReach2D-v0":
        assert isinstance(expert, WavyExpert)
        assert expert.factor_names == ("target", "shape_1", "degree_1", "shape_2", "degree_2")
    elif n_legs > 1:
        assert isinstance(expert, ReachExpert)
        assert expert.factor_names == tuple(f"{n}_{k}" for k in (1, 2, 3) for n in REACH_FACTORS)
    else:
        assert isinstance(expert, ReachExpert)
        assert expert.factor_names == REACH_FACTORS
    # a drawn episode: factors keyed by factor_names, float32 actions in [-1, 1], the goal reached
    result = rollout(env, expert, seed=3)
    assert tuple(result["factors"]) == expert.factor_names
    assert all(isinstance(v, int) for v in result["factors"].values())
    assert result["actions"].dtype == np.float32 and result["actions"].shape[1:] == (2,)
    assert np.abs(result["actions"]).max() <= 1.0
    assert result["info"]["is_success"]


def test_factor_values_list_what_each_expert_can_draw() -> None:
    assert make_expert(gym.make("absaction/Reach2D-v0")).factor_values == {
        "target": (0, 1),
        "bulge_out": (0, 1),
        "bulge_right": (0, 1),
        "curvature": (0, 1, 2, 3, 4),
    }
    # beside the obstacle only outward bulges of degree >= 2 keep 0.03 clear of the wall's ends
    assert make_expert(gym.make("absaction/Reach2DObstacle-v0")).factor_values == {
        "target": (0, 1),
        "bulge_out": (1,),
        "bulge_right": (0, 1),
        "curvature": (2, 3, 4),
    }
    wavy = make_expert(gym.make("absaction/WavyReach2D-v0")).factor_values
    assert [len(v) for v in wavy.values()] == [5, 4, 2, 4, 2]  # 320 combinations, as in FAVAE's data


# ---------------------------------------------------------------------------------------------- paper world
REACH_COMBINATIONS = list(itertools.product((0, 1), (0, 1), range(5)))  # target x bulge_out x curvature


@pytest.mark.parametrize(("target", "bulge_out", "curvature"), REACH_COMBINATIONS)
def test_reach_expert_succeeds_and_labels_match_geometry(target: int, bulge_out: int, curvature: int) -> None:
    env = gym.make("absaction/Reach2D-v0")
    expert = make_expert(env)
    result = rollout(env, expert, {"goal_index": target}, {"bulge_out": bulge_out, "curvature": curvature})
    factors, positions = result["factors"], result["positions"]
    goal = (-0.1, 1.0) if target == 0 else (0.1, 1.0)

    # ends inside the success radius (and, without noise, on the goal), after exactly 32 steps
    assert len(result["actions"]) == 32 and not result["terminated"]
    assert result["info"]["is_success"] and result["info"]["distance"] < 1e-6
    np.testing.assert_allclose(positions[-1], goal, atol=1e-6)

    # labels: the middle way-point lies beside the chord's middle, on the labelled side, by the amplitude
    assert factors == {
        "target": target,
        "bulge_out": bulge_out,
        "bulge_right": int(bulge_out == target),  # outward = away from x = 0: right for the right goal
        "curvature": curvature,
    }
    middle_x, chord_middle_x = positions[16, 0], goal[0] / 2
    if factors["bulge_right"]:
        assert middle_x > chord_middle_x
    else:
        assert middle_x < chord_middle_x
    outward = (middle_x - chord_middle_x) * np.sign(goal[0]) > 0
    assert outward == bool(bulge_out)
    sign = 1 if factors["bulge_right"] else -1
    offset = chord_offsets(positions[16:17], (0, 0), goal)[0]
    assert offset == pytest.approx(sign * BULGE_AMPLITUDES[curvature], abs=1e-6)

    # actions are the path's displacements divided by step_size
    np.testing.assert_allclose(result["actions"], np.diff(positions, axis=0) / 0.1, atol=1e-5)


def test_reach_expert_episodes_all_have_length_32_and_draw_every_combination() -> None:
    env = gym.make("absaction/Reach2D-v0")
    expert = make_expert(env)
    obs, info = env.reset(seed=11)
    rng = np.random.default_rng([11, 1])  # independent of the env's np_random (seeded with 11)
    lengths, seen = set(), set()
    for _ in range(120):
        factors = expert.reset(obs, info, rng)
        seen.add(tuple(factors.values()))
        steps, done = 0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(expert.act(obs))
            steps, done = steps + 1, terminated or truncated
        assert info["is_success"]
        lengths.add(steps)
        obs, info = env.reset()
    assert lengths == {32}
    assert len(seen) == 20  # 2 targets x 2 bulge directions x 5 curvatures


def test_curvature_degree_orders_the_bulge_size() -> None:
    env = gym.make("absaction/Reach2D-v0")
    expert = make_expert(env)
    bulges = []
    for degree in range(5):
        result = rollout(env, expert, {"goal_index": 1}, {"bulge_out": 1, "curvature": degree})
        bulges.append(np.abs(chord_offsets(result["positions"], (0, 0), (0.1, 1.0))).max())
    assert np.all(np.diff(bulges) > 0.04)  # amplitudes 0.05 apart


def test_expert_is_reproducible_and_noise_stays_close_to_the_plan() -> None:
    env = gym.make("absaction/Reach2D-v0")
    clean, noisy = make_expert(env), make_expert(env, noise=0.003)
    a = rollout(env, noisy, {"goal_index": 0}, seed=5)
    b = rollout(env, noisy, {"goal_index": 0}, seed=5)
    np.testing.assert_array_equal(a["actions"], b["actions"])
    assert a["factors"] == b["factors"]
    c = rollout(env, clean, {"goal_index": 0}, factors={k: v for k, v in a["factors"].items()}, seed=5)
    deviation = np.abs(a["positions"] - c["positions"])
    # closed-loop tracking: every position is off the plan by one step's noise only (no drift)
    assert 0 < deviation.max() < 6 * 0.003
    assert a["info"]["distance"] < 0.05


# ---------------------------------------------------------------------------------------------- variants
@pytest.mark.parametrize(("target", "curvature"), list(itertools.product((0, 1), (2, 3, 4))))
def test_obstacle_expert_detours_around_the_wall(target: int, curvature: int) -> None:
    env = gym.make("absaction/Reach2DObstacle-v0")
    result = rollout(env, make_expert(env), {"goal_index": target}, {"curvature": curvature})
    assert result["terminated"] and result["info"]["is_success"] and sum(result["rewards"]) == 1.0
    assert result["factors"]["bulge_out"] == 1
    assert len(result["actions"]) <= 32
    crossing = crossings_at_y(result["positions"], 0.5)
    assert len(crossing) == 1 and abs(crossing[0]) > 0.15 + 0.03
    assert np.sign(crossing[0]) == (1 if target == 1 else -1)  # outward: on the goal's side


def test_obstacle_expert_refuses_paths_that_hit_the_wall() -> None:
    env = gym.make("absaction/Reach2DObstacle-v0")
    with pytest.raises(AbsactionError, match=r"no expert path .* clear of the walls"):
        make_expert(env, curvatures=(0, 1))
    # a straight reach (amplitude 0) would be blocked: the env stops it below the wall
    straight = ReachExpert(env, amplitudes=(0.0,), bulge_outs=(0, 1), wall_margin=-1.0)
    result = rollout(env, straight, {"goal_index": 1})
    assert not result["info"]["is_success"] and result["positions"][:, 1].max() < 0.5


def test_chain_expert_visits_the_goals_in_order_one_reach_per_leg() -> None:
    env = gym.make("absaction/Reach2DChain-v0")
    expert = make_expert(env)
    result = rollout(env, expert, {"route": [1, 0, 0]}, seed=2)
    assert result["terminated"] and result["info"]["is_success"] and sum(result["rewards"]) == 3.0
    completed = result["completed"]
    assert completed == sorted(completed)  # in order, never skipping back
    first_step = [completed.index(k) + 1 for k in (1, 2, 3)]
    assert first_step[0] in (31, 32) and first_step[1] in (63, 64) and first_step[2] in (95, 96)
    factors = result["factors"]
    assert [factors[f"target_{k}"] for k in (1, 2, 3)] == [1, 0, 0]
    legs = [((0.0, 0.0), (0.1, 1.0)), ((0.1, 1.0), (0.0, 2.0)), ((0.0, 2.0), (-0.1, 3.0))]
    for k, (start, goal) in enumerate(legs, start=1):
        middle = result["positions"][32 * (k - 1) + 16]
        offset = chord_offsets(middle[None], start, goal)[0]
        sign = 1 if factors[f"bulge_right_{k}"] else -1
        assert offset == pytest.approx(sign * BULGE_AMPLITUDES[factors[f"curvature_{k}"]], abs=1e-5)
        goal_right = goal[0] > start[0]
        assert factors[f"bulge_right_{k}"] == int(bool(factors[f"bulge_out_{k}"]) == goal_right)


@pytest.mark.parametrize("target", range(4))
def test_new_goals_expert_reaches_every_new_goal(target: int) -> None:
    env = gym.make("absaction/Reach2DNewGoals-v0")
    expert = make_expert(env)
    goal = reach2d(env).config.goals[target]
    for bulge_out, degree in itertools.product((0, 1), range(5)):
        result = rollout(env, expert, {"goal_index": target}, {"bulge_out": bulge_out, "curvature": degree})
        assert result["info"]["is_success"] and len(result["actions"]) == 32
        np.testing.assert_allclose(result["positions"][-1], goal, atol=1e-6)


def test_wavy_expert_every_combination_succeeds_and_shapes_match() -> None:
    env = gym.make("absaction/WavyReach2D-v0")
    expert = make_expert(env)
    goals = reach2d(env).config.goals
    r = math.sin(math.pi / 4)
    # unit offsets at a quarter and three quarters of a half: arcs are +-sin(pi/4) at both,
    # S-waves +-sin(pi/2) = +-1 with opposite signs
    quarter_offsets = {0: (r, r), 1: (-r, -r), 2: (1.0, -1.0), 3: (-1.0, 1.0)}
    for target in range(5):
        for s1, d1, s2, d2 in itertools.product(range(4), range(2), range(4), range(2)):
            factors = {"shape_1": s1, "degree_1": d1, "shape_2": s2, "degree_2": d2}
            result = rollout(env, expert, {"goal_index": target}, factors)
            assert result["info"]["is_success"] and len(result["actions"]) == 64
            np.testing.assert_allclose(result["positions"][-1], goals[target], atol=1e-6)
            offsets = chord_offsets(result["positions"][[8, 24, 40, 56]], (0, 0), goals[target])
            expected: list[float] = [
                *(WAVE_AMPLITUDES[d1] * v for v in quarter_offsets[s1]),
                *(WAVE_AMPLITUDES[d2] * v for v in quarter_offsets[s2]),
            ]
            np.testing.assert_allclose(offsets, expected, atol=1e-5)


# ---------------------------------------------------------------------------------------------- errors
def test_make_expert_names_the_fix_for_envs_without_a_scripted_expert() -> None:
    with pytest.raises(AbsactionError) as err:
        make_expert(gym.make("Pendulum-v1"))
    message = str(err.value)
    assert "Pendulum-v1" in message and "--expert random" in message and ".zip" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("absaction/Reach2D-v0", {"family": "spline"}, "unknown expert family 'spline'"),
        ("absaction/Reach2D-v0", {"steps": 32}, "unknown option.*steps.*n_steps"),
        ("absaction/Reach2D-v0", {"n_steps": 40}, "needs 40 steps .* truncates after 32"),
        ("absaction/Reach2D-v0", {"n_steps": 8}, "more than the env's step_size"),
        ("absaction/Reach2D-v0", {"curvatures": (7,)}, "curvatures must be a non-empty subset"),
        ("absaction/Reach2D-v0", {"noise": -1.0}, "noise must be >= 0"),
        ("absaction/WavyReach2D-v0", {"n_steps": 63}, "even number of steps"),
        ("absaction/Reach2D-v0", {"family": "wavy"}, "needs 64 steps"),
        ("absaction/Reach2DChain-v0", {"n_steps": 48}, r"needs 144 steps \(3 leg"),
    ],
)
def test_bad_expert_requests_raise_one_line_errors(env_id: str, kwargs: dict, message: str) -> None:
    with pytest.raises(AbsactionError, match=message) as err:
        make_expert(gym.make(env_id), **kwargs)
    assert "\n" not in str(err.value)


def test_forced_factors_must_agree_with_the_env() -> None:
    env = gym.make("absaction/Reach2D-v0")
    expert = make_expert(env)
    obs, info = env.reset(seed=0, options={"goal_index": 0})
    rng = np.random.default_rng(0)
    with pytest.raises(AbsactionError, match="target=1 differs from the env's goal 0"):
        expert.reset(obs, info, rng, factors={"target": 1, "bulge_out": 0, "curvature": 0})
    with pytest.raises(AbsactionError, match="unknown factor"):
        expert.reset(obs, info, rng, factors={"bulge": 0})
    with pytest.raises(AbsactionError, match="match 5 allowed expert paths"):
        expert.reset(obs, info, rng, factors={"bulge_out": 0})  # curvature missing: ambiguous


# ---------------------------------------------------------------------------------------------- geometry
def test_bulge_path_closed_form() -> None:
    path = bulge_path((0.0, 0.0), (0.0, 1.0), 0.2, 4)
    side = 0.2 * math.sin(math.pi / 4)  # offset at s = 1/4 and 3/4
    expected = np.array([[0.0, 0.0], [side, 0.25], [0.2, 0.5], [side, 0.75], [0.0, 1.0]])
    np.testing.assert_allclose(path, expected, atol=1e-12)
    assert path[-1].tolist() == [0.0, 1.0]


def test_wavy_path_halves_and_crossings() -> None:
    path = wavy_path((0.0, 0.0), (0.0, 1.0), (2, 1), (0.1, 0.2), 8)
    u = np.array([0, 0.5, 1, 1.5, 2]) / 2  # way-points of the first half
    np.testing.assert_allclose(path[:5, 0], 0.1 * wave_offset(2, u), atol=1e-12)
    np.testing.assert_allclose(path[4:, 0], 0.2 * wave_offset(1, u), atol=1e-12)
    np.testing.assert_allclose(
        crossings_at_y(np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]]), 0.5), [0.5, 2.0]
    )


# --------------------------------------------------------------------------------------- recorded paths
def arc_paths(points: int = 101) -> tuple[np.ndarray, list[tuple[int, int, float]]]:
    """FAVAE-like recorded paths: for both paper goals, circular-ish bulges of 3 sizes to either side
    (bulge_path with P = ``points`` way-points), plus their (target, bulge_right, |offset|) labels."""
    paths, labels = [], []
    for target, goal in enumerate(((-0.1, 1.0), (0.1, 1.0))):
        for right in (0, 1):
            for size in (0.012, 0.018, 0.025):
                paths.append(bulge_path((0, 0), goal, size if right else -size, points - 1))
                labels.append((target, right, size))
    return np.array(paths), labels


def test_path_set_expert_tracks_each_recorded_path_with_geometric_factors() -> None:
    """Without noise the episode follows the recorded path, resampled to the env's 32 steps, and ends
    on its goal; the factors are the path's own target, side (both labellings) and size rank."""

    recorded, labels = arc_paths()
    shifted = recorded + np.array([3.0, -2.0])  # only the shape counts: each path from its own start
    env = gym.make("absaction/Reach2D-v0")
    expert = PathSetExpert(env, shifted)
    assert expert.factor_names == REACH_FACTORS
    assert expert.factor_values == {
        "target": (0, 1), "bulge_out": (0, 1), "bulge_right": (0, 1), "curvature": (0, 1, 2)
    }  # fmt: skip
    seen = set()
    for seed in range(100):
        episode = rollout(env, expert, seed=seed)
        f = episode["factors"]
        size = (0.012, 0.018, 0.025)[f["curvature"]]
        index = labels.index((f["target"], f["bulge_right"], size))  # the one path with these factors
        expected = np.stack(
            [np.interp(np.linspace(0, 1, 33), np.linspace(0, 1, 101), recorded[index, :, a]) for a in (0, 1)],
            axis=1,
        )  # (33, 2): the recorded path resampled to the env's 32 steps
        np.testing.assert_allclose(episode["positions"], expected, atol=1e-6)
        assert len(episode["actions"]) == 32 and episode["info"]["is_success"]
        goal_right = f["target"] == 1
        assert f["bulge_out"] == int(bool(f["bulge_right"]) == goal_right)
        seen.add((f["target"], f["bulge_right"], f["curvature"]))
    assert len(seen) == 12  # every recorded path was drawn


def test_path_set_expert_refuses_paths_that_miss_the_goals(tmp_path) -> None:

    recorded, _ = arc_paths()
    with pytest.raises(
        AbsactionError, match=r"none of the 12 recorded paths ends within 0.05 of the goal .*-0\.300"
    ):
        PathSetExpert(gym.make("absaction/Reach2DNewGoals-v0"), recorded)
    with pytest.raises(AbsactionError, match=r"shape \(N, P, 2\)"):
        PathSetExpert(gym.make("absaction/Reach2D-v0"), recorded[..., :1])
    broken = recorded.copy()
    broken[0, 5, 0] = np.nan
    with pytest.raises(AbsactionError, match="NaN or infinite"):
        PathSetExpert(gym.make("absaction/Reach2D-v0"), broken)
    loop = recorded.copy()
    loop[3, -1] = loop[3, 0]
    with pytest.raises(AbsactionError, match="path 3 ends where it starts"):
        PathSetExpert(gym.make("absaction/Reach2D-v0"), loop)
    with pytest.raises(AbsactionError, match=r"clear of the walls; record paths that pass beside"):
        PathSetExpert(gym.make("absaction/Reach2DObstacle-v0"), recorded)  # bulges too small for the wall
    with pytest.raises(AbsactionError, match="needs a Reach2D environment"):
        PathSetExpert(gym.make("Pendulum-v1"), recorded)
    with pytest.raises(AbsactionError, match="not found"):
        load_recorded_paths(tmp_path / "missing.npz")
    np.savez(tmp_path / "two.npz", a=recorded, b=recorded)
    with pytest.raises(AbsactionError, match="no 'positions' array"):
        load_recorded_paths(tmp_path / "two.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(AbsactionError, match=r"cannot read .* as a \.npz of paths"):
        load_recorded_paths(tmp_path / "junk.npz")
    np.savez(tmp_path / "one.npz", anything=recorded)  # a single array needs no name
    np.testing.assert_array_equal(load_recorded_paths(tmp_path / "one.npz"), recorded)
