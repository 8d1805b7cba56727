"""PointMaze: the waypoint planner and expert, the collection modes, Dict observations through the
dataset, the evaluation tasks, and every bad-input case (needs ``absaction[maze]``)."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from absaction.cli import main
from absaction.data import load_dataset
from absaction.data.collect import CollectConfig, collect
from absaction.envs import TASK_ENV_IDS, TASKS, MazeRoutes, ObsLayout, WaypointExpert, require_robotics
from absaction.envs.pointmaze import STITCH_MAX_CELLS, drop_temporary_xml, maze_map
from absaction.envs.waypoint import bfs_distances, cells_within, free_grid, next_cell, shortest_path
from absaction.errors import AbsactionError

require_robotics()  # fails (never skips) when the maze extra is missing: CI installs it


@pytest.fixture(autouse=True)
def _maze_models_in_a_test_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw gymnasium-robotics envs these tests make write their model XML to the temporary folder and
    never delete it: point that folder at the test's own, not the machine's /tmp."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("tempdir")))


# A hand-drawn maze: the only way from (3, 1) to (3, 3) goes up, along the top and down again.
#   ######
#   #....#
#   #.##.#
#   #.#..#
#   ######
SMALL = [
    [1, 1, 1, 1, 1, 1],
    [1, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 0, 1],
    [1, 0, 1, 0, 0, 1],
    [1, 1, 1, 1, 1, 1],
]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    return status, capsys.readouterr().err


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def run_expert(env: gym.Env, seed: int, noise_seed: int = 0) -> tuple[bool, int, float]:
    """One episode of the waypoint expert: (success at the end, steps, return)."""
    expert = WaypointExpert(env)
    obs, info = env.reset(seed=seed)
    expert.reset(obs, info, np.random.default_rng([noise_seed, 1]))
    steps, total, done = 0, 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        steps, total, done = steps + 1, total + float(reward), terminated or truncated
    return bool(info["success"]), steps, total


# ---------------------------------------------------------------------------------------------- planner
def test_bfs_distances_on_a_hand_drawn_maze() -> None:
    dist = bfs_distances(free_grid(SMALL), (3, 3))
    expected = np.array(
        [
            [-1, -1, -1, -1, -1, -1],
            [-1, 6, 5, 4, 3, -1],
            [-1, 7, -1, -1, 2, -1],
            [-1, 8, -1, 0, 1, -1],
            [-1, -1, -1, -1, -1, -1],
        ]
    )
    np.testing.assert_array_equal(dist, expected)


def test_shortest_path_on_a_hand_drawn_maze() -> None:
    free = free_grid(SMALL)
    assert shortest_path(free, (3, 1), (3, 3)) == [
        (3, 1), (2, 1), (1, 1), (1, 2), (1, 3), (1, 4), (2, 4), (3, 4), (3, 3),
    ]  # fmt: skip
    assert shortest_path(free, (1, 2), (1, 2)) == [(1, 2)]
    # stitch goals from (3, 1): 1 to 4 moves away, row-major
    assert cells_within(free, (3, 1), 1, 4) == [(1, 1), (1, 2), (1, 3), (2, 1)]


def test_ties_break_in_move_order() -> None:
    # from (1, 1) of the medium maze, (1, 2) and (2, 1) are both one move closer to (6, 6): down wins
    dist = bfs_distances(free_grid(maze_map("medium")), (6, 6))
    assert dist[1, 1] == 10 and dist[1, 2] == dist[2, 1] == 9
    assert next_cell(dist, (1, 1)) == (2, 1)


def test_planner_rejects_walls_and_cut_off_cells() -> None:
    free = free_grid(SMALL)
    with pytest.raises(AbsactionError, match=r"the goal cell \(2, 2\) is a wall"):
        bfs_distances(free, (2, 2))
    with pytest.raises(AbsactionError, match="outside the 5x6 map"):
        shortest_path(free, (9, 9), (1, 1))
    island = [[1, 1, 1, 1, 1], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1]]
    with pytest.raises(AbsactionError, match=r"cell \(1, 3\) cannot be reached from \(1, 1\)"):
        shortest_path(free_grid(island), (1, 1), (1, 3))


# ---------------------------------------------------------------------------------------------- expert
def test_velocity_in_the_observation_is_the_position_derivative() -> None:
    # the PD controller's d = -1 damps only if obs[2:4] has the sign of d(position)/dt
    env = gym.make("PointMaze_Medium-v3")
    obs, _ = env.reset(seed=0)
    before = obs["observation"][:2].copy()
    for _ in range(5):
        obs, *_ = env.step(np.array([1.0, -1.0], dtype=np.float32))
    moved, velocity = obs["observation"][:2] - before, obs["observation"][2:]
    assert moved[0] > 0 > moved[1] and velocity[0] > 0 > velocity[1]
    env.close()


def test_pd_action_by_hand() -> None:
    env = gym.make("PointMaze_Medium-v3")
    expert = WaypointExpert(env)
    centre = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))
    position, velocity = centre + np.array([0.01, 0.0]), np.array([0.2, -0.1])
    # goal in the same cell: steer straight at it; 10 * (0.05, -0.02) - (0.2, -0.1) = (0.3, -0.1)
    obs = {
        "observation": np.concatenate([position, velocity]),
        "desired_goal": position + np.array([0.05, -0.02]),
    }
    np.testing.assert_allclose(expert.act(obs), [0.3, -0.1], atol=1e-6)
    # far goal in (6, 6): the target is the centre of (2, 1), the next cell of the shortest path
    goal = env.unwrapped.maze.cell_rowcol_to_xy(np.array([6, 6]))
    target = env.unwrapped.maze.cell_rowcol_to_xy(np.array([2, 1]))
    np.testing.assert_allclose(expert.target(position, goal), target)
    obs = {"observation": np.concatenate([position, velocity]), "desired_goal": goal}
    wanted = np.clip(10 * (target - position) - velocity, -1, 1)
    np.testing.assert_allclose(expert.act(obs), wanted, atol=1e-6)
    assert np.all(np.abs(expert.act(obs)) <= 1.0)
    env.close()


def test_expert_without_noise_reaches_its_goal_in_95_percent() -> None:
    # the env's own random starts and goals, one goal per episode
    env = gym.make("PointMaze_Medium-v3", continuing_task=False)
    results = [run_expert(env, seed) for seed in range(20)]
    env.close()
    assert sum(success for success, _, _ in results) >= 19


def test_expert_noise_is_reproducible_and_bounded() -> None:
    env = gym.make("PointMaze_Medium-v3")
    position = env.unwrapped.maze.cell_rowcol_to_xy(np.array([1, 1]))
    obs = {"observation": np.concatenate([position, [0.0, 0.0]]), "desired_goal": position}  # PD part 0
    actions = []
    for _ in range(2):
        expert = WaypointExpert(env, noise=0.5)
        expert.reset(obs, {}, np.random.default_rng([7, 1]))
        actions.append(np.stack([expert.act(obs) for _ in range(200)]))  # (200, 2): clipped noise
    np.testing.assert_array_equal(actions[0], actions[1])
    assert np.all(np.abs(actions[0].std(axis=0) - 0.5) < 0.1) and np.abs(actions[0]).max() <= 1.0
    env.close()


# ---------------------------------------------------------------------------------------------- tasks
@pytest.mark.parametrize("maze", ["medium", "large"])
def test_tasks_start_and_goal_in_their_cells_farther_than_any_stitch_segment(maze: str) -> None:
    free = free_grid(maze_map(maze))
    for task, (start, goal) in enumerate(TASKS[maze], start=1):
        assert bfs_distances(free, goal)[start] > STITCH_MAX_CELLS
        env = gym.make(TASK_ENV_IDS[maze], task=task)
        expert = WaypointExpert(env)
        obs, info = env.reset(seed=task)
        assert expert.cell_of(obs["achieved_goal"]) == start
        assert expert.cell_of(obs["desired_goal"]) == goal
        assert info["is_success"] is False
        env.close()
    assert [bfs_distances(free, g)[s] for s, g in TASKS[maze]] == (
        [10, 10, 10, 9, 8] if maze == "medium" else [15, 19, 17, 13, 12]
    )


@pytest.mark.parametrize("maze", ["medium", "large"])
def test_expert_solves_every_task_within_the_time_limit_and_the_episode_ends_on_success(maze: str) -> None:
    for task in range(1, 6):
        env = gym.make(TASK_ENV_IDS[maze], task=task)
        success, steps, total = run_expert(env, seed=task)
        assert success and total == 1.0  # sparse: one rewarded step, the one that ends the episode
        assert steps < env.spec.max_episode_steps  # terminated, not truncated
        env.close()


def test_maze_envs_leave_no_model_file_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where gymnasium-robotics writes its XML
    (tmp_path / "ant_maze_user.txt").write_text("a file of the user")  # not a maze model: kept
    task = gym.make("absaction/PointMazeMedium-v0", task=2)
    routes = MazeRoutes(gym.make("PointMaze_Medium-v3"), mode="stitch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ant_maze_user.txt"]
    for env in (task, routes):  # the model was read already: the envs still run
        env.reset(seed=0)
        env.step(env.action_space.sample())
    # a raw env made without absaction leaves its file; drop_temporary_xml removes exactly that one
    again = gym.make("PointMaze_UMaze-v3")
    assert len(list(tmp_path.glob("ant_maze*.xml"))) == 1
    drop_temporary_xml(again)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ant_maze_user.txt"]


def test_task_envs_pass_gymnasium_and_sb3_checkers() -> None:

    for flatten in (False, True):
        env = gym.make("absaction/PointMazeMedium-v0", task=2, flatten=flatten)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=True)
            if flatten:
                sb3_check_env(env.unwrapped, warn=True)
        # the only remarks: positions and velocities are unbounded, as in gymnasium-robotics' own spaces
        assert {str(w.message).split("WARN: ")[-1].split(" is ")[0] for w in caught} <= {
            "A Box observation space minimum value",
            "A Box observation space maximum value",
        }, [str(w.message) for w in caught]
        env.close()


def test_flat_task_observation_follows_the_layout_and_gymnasium_flatten() -> None:
    dict_env = gym.make("absaction/PointMazeLarge-v0", task=4)
    flat_env = gym.make("absaction/PointMazeLarge-v0", task=4, flatten=True)
    obs, _ = dict_env.reset(seed=5)
    flat, _ = flat_env.reset(seed=5)
    assert flat_env.observation_space.shape == (8,)
    np.testing.assert_array_equal(flat, gym.spaces.flatten(dict_env.observation_space, obs))
    layout = ObsLayout.from_space(dict_env.observation_space)
    np.testing.assert_array_equal(flat[layout.columns(["observation"])], obs["observation"])
    np.testing.assert_array_equal(flat[layout.columns(["desired_goal"])], obs["desired_goal"])
    # SB3's route: gymnasium's FlattenObservation on the Dict env gives the same vector
    wrapped, _ = gym.wrappers.FlattenObservation(gym.make("absaction/PointMazeLarge-v0", task=4)).reset(
        seed=5
    )
    np.testing.assert_array_equal(wrapped, flat)


def test_obs_layout_columns_and_errors() -> None:
    space = gym.spaces.Dict({"b": gym.spaces.Box(0, 1, (2, 2)), "a": gym.spaces.Box(0, 1, (3,))})
    layout = ObsLayout.from_space(space)
    assert layout.keys == ("a", "b") and layout.dim == 7  # gymnasium sorts Dict keys
    assert layout.to_dict() == {"a": [0, 3], "b": [3, 7]}
    np.testing.assert_array_equal(layout.columns(["b", "a"]), [3, 4, 5, 6, 0, 1, 2])
    batch = {"a": np.zeros((5, 3)), "b": np.ones((5, 2, 2))}
    assert layout.flatten(batch).shape == (5, 7) and layout.flatten(batch)[0, 3:].tolist() == [1, 1, 1, 1]
    with pytest.raises(AbsactionError, match=r"unknown observation key.*'c'.*choose among a, b"):
        layout.columns(["c"])
    with pytest.raises(AbsactionError, match="only Box values"):
        ObsLayout.from_space(gym.spaces.Dict({"d": gym.spaces.Discrete(2)}))


# ---------------------------------------------------------------------------------------------- collection
def test_stitch_routes_end_within_four_cells_of_their_start() -> None:
    env = MazeRoutes(gym.make("PointMaze_Medium-v3"), "stitch")
    free = env.free
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        expert = WaypointExpert(env)
        start, goal = expert.cell_of(obs["achieved_goal"]), expert.cell_of(obs["desired_goal"])
        assert 1 <= bfs_distances(free, goal)[start] <= STITCH_MAX_CELLS
    env.close()


def test_dict_observations_round_trip_through_the_dataset(tmp_path: Path, minari_home: Path) -> None:
    out = minari_home / "maze-stitch-v0"  # under MINARI_DATASETS_PATH, named by its id
    summary = collect(
        CollectConfig(
            "PointMaze_Medium-v3", out, "waypoint:stitch", episodes=4, seed=2, dataset_id="maze-stitch-v0",
            progress=False,
        )
    )  # fmt: skip
    assert summary.algorithm_name == "waypoint:stitch" and summary.success_rate == 1.0
    ds = load_dataset(out)
    assert ds.obs_layout is not None
    assert ds.obs_layout.to_dict() == {"achieved_goal": [0, 2], "desired_goal": [2, 4], "observation": [4, 8]}
    raw = minari.load_dataset("maze-stitch-v0")  # Minari's own reader finds it by id
    assert raw.total_episodes == 4 and isinstance(raw.observation_space, gym.spaces.Dict)
    free = free_grid(maze_map("medium"))
    env = gym.make("PointMaze_Medium-v3")
    expert = WaypointExpert(env)
    for episode, mine in zip(raw.iterate_episodes(), ds.episodes, strict=True):
        obs = mine.observations
        assert obs is not None and obs.shape == (len(mine) + 1, 8) and obs.dtype == np.float32
        expected = np.stack(
            [gym.spaces.flatten(raw.observation_space, {k: v[t] for k, v in episode.observations.items()})
             for t in range(len(mine) + 1)]
        )  # fmt: skip
        np.testing.assert_allclose(obs, expected.astype(np.float32))
        np.testing.assert_array_equal(obs[:, :2], obs[:, 4:6])  # achieved_goal is the ball's position
        start, goal = expert.cell_of(obs[0, 0:2]), expert.cell_of(obs[0, 2:4])
        assert 1 <= bfs_distances(free, goal)[start] <= STITCH_MAX_CELLS
        assert mine.terminated and mine.success and mine.rewards[-1] == 1.0
    env.close()


def test_collect_cli_end_to_end_is_reproducible_by_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arrays = []
    for name in ("a", "b"):
        status, err = run_cli(
            capsys, "collect", "--env", "PointMaze_Medium-v3", "--expert", "waypoint:stitch",
            "--episodes", "3", "--seed", "4", "--noise", "0.5", "--out", str(tmp_path / name),
        )  # fmt: skip
        assert status == 0, err
        ds = load_dataset(tmp_path / name)
        arrays.append([np.concatenate([ep.observations.ravel(), ep.actions.ravel()]) for ep in ds.episodes])
    assert ds.dataset_id == "pointmaze_medium-waypoint-stitch-v0" and len(ds) == 3
    for first, second in zip(*arrays, strict=True):
        np.testing.assert_array_equal(first, second)
    record = json.loads((tmp_path / "a" / "collect.json").read_text())
    assert record["resolved"]["algorithm_name"] == "waypoint:stitch"
    assert record["config"]["noise"] == 0.5


def test_collect_navigate_keeps_going_to_new_goals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = run_cli(
        capsys, "collect", "--env", "PointMaze_Medium-v3", "--expert", "waypoint", "--episodes", "1",
        "--max-steps", "400", "--out", str(tmp_path / "n"),
    )  # fmt: skip
    assert status == 0, err
    (episode,) = load_dataset(tmp_path / "n").episodes
    assert len(episode) == 400 and episode.truncated and not episode.terminated
    goals = np.unique(np.round(episode.observations[:, 2:4], 4), axis=0)
    assert len(goals) >= 2 and episode.rewards.sum() == len(goals) - 1  # one reward per goal reached


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--env", "absaction/PointMazeMedium-v0", "--env-kwarg", "task=9", "--expert", "random"],
            "unknown task 9 of the medium maze; use task=1 to 5",
        ),
        (
            ["--env", "absaction/PointMazeMedium-v0", "--env-kwarg", "maze=huge", "--expert", "random"],
            "unknown maze 'huge'; use one of medium, large",
        ),
        (
            ["--env", "Pendulum-v1", "--expert", "waypoint"],
            "--expert waypoint collects from gymnasium-robotics maze envs, not from Pendulum-v1",
        ),
        (
            ["--env", "PointMaze_Medium-v3", "--expert", "waypoint:zigzag"],
            "unknown waypoint mode 'zigzag'; use --expert waypoint:navigate or waypoint:stitch",
        ),
    ],
)
def test_bad_maze_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    status, err = run_cli(capsys, "collect", *argv, "--episodes", "1", "--out", str(tmp_path / "o"))
    assert status == 2
    assert expected in error_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["--env", "PointMaze_Medium-v3", "--expert", "waypoint"],
        ["--env", "absaction/PointMazeLarge-v0", "--expert", "random"],
    ],
)
def test_missing_maze_extra_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setitem(sys.modules, "gymnasium_robotics", None)  # import gymnasium_robotics -> ImportError
    status, err = run_cli(capsys, "collect", *argv, "--episodes", "1", "--out", str(tmp_path / "o"))
    assert status == 2
    assert error_line(err).endswith(
        "the maze worlds need gymnasium-robotics, which is not installed; pip install 'absaction[maze]'"
    )
    assert not (tmp_path / "o").exists()
