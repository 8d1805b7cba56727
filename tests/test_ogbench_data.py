"""OGBench's pointmaze datasets regenerated here: the maze facts and the oracle against hand computations
and against OGBench's own ``get_oracle_subgoal``, the samplers (stitch goals exactly 4 moves away), the
noise statistics, the files read back by ``ogbench.load_dataset``, ``ogbench.make_env_and_datasets``
(no network) and ``absaction.data.load_dataset``, and every bad input as one line with exit status 2.

The collected datasets are tiny (a few episodes of tens of steps; the env steps at a few thousand steps
per second), made once per module.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from absaction.cli import main
from absaction.data import load_dataset
from absaction.data.ogbench import (
    OGBENCH_DATA_DIR,
    find_ogbench_file,
    parse_dataset_name,
    read_ogbench,
    write_ogbench,
)
from absaction.data.ogbench_collect import OracleCollectConfig, collect_oracle, recipe_for
from absaction.envs.ogbench_maze import (
    MazeLayout,
    OracleExpert,
    drop_model_file,
    make_oracle_env,
    require_ogbench,
    sample_start_goal,
    stitch_starts,
)
from absaction.errors import AbsactionError

LARGE = "ogbench:pointmaze-large-v0"
NAME = "pointmaze-large-stitch-v0"
EPISODES, STEPS = 6, 30  # the tiny stitch dataset: 6 training episodes (+1 validation) of 30 rows

# A hand-drawn maze (1 = wall). Cell (i, j) is centred at (4 j - 4, 4 i - 4):
#   row 1:  (1,1) (1,2) (1,3) (1,4)      a top corridor
#   row 2:  (2,1)             (2,4)      two vertical corridors
#   row 3:  (3,1) (3,2)       (3,4)      (3,2) a dead end, (3,4) the far end
LOOP = np.array(
    [
        [1, 1, 1, 1, 1, 1],
        [1, 0, 0, 0, 0, 1],
        [1, 0, 1, 1, 0, 1],
        [1, 0, 0, 1, 0, 1],
        [1, 1, 1, 1, 1, 1],
    ]
)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err.strip()


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    status, _, err = cli(capsys, *argv)
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    return err


def tiny_config(out: Path, **fields: Any) -> OracleCollectConfig:
    values: dict[str, Any] = {
        "env_id": LARGE, "out": out, "expert": "oracle:stitch", "episodes": EPISODES, "max_steps": STEPS,
        "seed": 0, "progress": False,
    }  # fmt: skip
    return OracleCollectConfig(**{**values, **fields})


@pytest.fixture(scope="module")
def stitch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny stitch dataset of the large maze, seed 0 (read-only for the tests)."""
    out = tmp_path_factory.mktemp("ogbench") / "data"
    collect_oracle(tiny_config(out))
    return out


@pytest.fixture(scope="module")
def large_layout() -> MazeLayout:
    env = make_oracle_env(LARGE, 10)
    try:
        return MazeLayout.from_env(env)
    finally:
        env.close()


# ------------------------------------------------------------------------------ the maze and the oracle
def test_hand_drawn_maze_moves_corridors_and_cells() -> None:
    layout = MazeLayout(LOOP)
    assert layout.free_cells == [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 4), (3, 1), (3, 2), (3, 4)]
    # moves to (3, 4), counted by hand along the loop; walls are -1
    expected = np.array(
        [
            [-1, -1, -1, -1, -1, -1],
            [-1, 5, 4, 3, 2, -1],
            [-1, 6, -1, -1, 1, -1],
            [-1, 7, 8, -1, 0, -1],
            [-1, -1, -1, -1, -1, -1],
        ]
    )
    np.testing.assert_array_equal(layout.distances_from((3, 4)), expected)
    assert layout.moves((3, 2), (3, 4)) == 8
    # straight corridors: free on two opposite sides, walls on the other two
    assert layout.corridor_cells() == [(1, 2), (1, 3), (2, 1), (2, 4)]
    assert layout.goal_cells == [(1, 1), (1, 4), (3, 1), (3, 2), (3, 4)]
    assert layout.cells_at((1, 1), 4) == [(2, 4)]
    assert layout.cell_of(np.array([0.0, 0.0])) == (1, 1) and layout.center((3, 2)) == (4.0, 8.0)
    assert layout.cell_of(np.array([1.99, -1.99])) == (1, 1) and layout.cell_of(np.array([2.01, 0.0])) == (
        1,
        2,
    )


def test_oracle_direction_matches_a_hand_computation() -> None:
    layout = MazeLayout(LOOP)
    # From (3, 2) toward (3, 4) the path runs back through (3, 1): the subgoal is (3, 1), centred at
    # (0, 8); from (5, 7.5) the direction is (-5, 0.5) / |(-5, 0.5)|.
    xy, goal = np.array([5.0, 7.5]), np.array([12.3, 8.4])
    assert layout.subgoal_cell((3, 2), (3, 4)) == (3, 1)
    np.testing.assert_allclose(layout.oracle_direction(xy, goal), [-0.99504, 0.09950], atol=1e-5)
    # in the goal's cell the subgoal is that cell's centre, (12, 8): straight down from (12, 9.5)
    np.testing.assert_allclose(layout.oracle_direction(np.array([12.0, 9.5]), goal), [0.0, -1.0], atol=1e-6)

    # A 2x2 room: from (1, 1) to (2, 2) both (2, 1) and (1, 2) are one move closer; OGBench takes the
    # first of up, left, down, right, so down: (0, 0) -> (0, 4), direction (0, 1).
    room = MazeLayout(np.array([[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]]))
    assert room.subgoal_cell((1, 1), (2, 2)) == (2, 1)
    np.testing.assert_allclose(
        room.oracle_direction(np.zeros(2), np.array([4.0, 4.0])), [0.0, 1.0], atol=1e-6
    )
    # from (1, -1.5) toward that centre: (-1, 5.5) / sqrt(31.25)
    np.testing.assert_allclose(
        room.oracle_direction(np.array([1.0, -1.5]), np.array([4.0, 4.0])), [-0.178885, 0.983870], atol=1e-5
    )


@pytest.mark.parametrize("maze", ["medium", "large"])
def test_oracle_subgoal_equals_ogbench_own(maze: str) -> None:
    env = make_oracle_env(f"ogbench:pointmaze-{maze}-v0", 10)
    try:
        layout, ogbench_maze = MazeLayout.from_env(env), env.unwrapped
        rng = np.random.default_rng(0)
        for _ in range(300):
            cell, goal = (layout.free_cells[k] for k in rng.integers(len(layout.free_cells), size=2))
            xy = np.array(layout.center(cell)) + rng.uniform(-1.9, 1.9, 2)
            goal_xy = np.array(layout.center(goal)) + rng.uniform(-1, 1, 2)
            theirs, _ = ogbench_maze.get_oracle_subgoal(xy, goal_xy)  # type: ignore[attr-defined]
            ours = layout.center(layout.subgoal_cell(layout.cell_of(xy), layout.cell_of(goal_xy)))
            np.testing.assert_allclose(ours, theirs)
    finally:
        env.close()


def test_samplers_are_reproducible_and_stitch_goals_lie_four_moves_away(large_layout: MazeLayout) -> None:
    draws = [sample_start_goal(large_layout, "stitch", np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = np.random.default_rng(0)
    stitch = [sample_start_goal(large_layout, "stitch", rng) for _ in range(300)]
    assert {large_layout.moves(start, goal) for start, goal in stitch} == {4}
    navigate = [sample_start_goal(large_layout, "navigate", rng) for _ in range(300)]
    assert not any(large_layout.is_corridor(goal) for _, goal in navigate)
    assert len({start for start, _ in navigate}) > 35  # starts spread over the 46 free cells
    # teleport's walled-in cell (1, 7) has no cell 4 moves away, so it never starts a stitch episode
    teleport = make_oracle_env("ogbench:pointmaze-teleport-v0", 10)
    try:
        starts = stitch_starts(MazeLayout.from_env(teleport))
    finally:
        teleport.close()
    assert (1, 7) not in starts and len(starts) == 44


def test_noise_around_the_oracle_direction_has_std_one_half(large_layout: MazeLayout) -> None:
    expert, rng = OracleExpert(large_layout), np.random.default_rng(0)
    noise, actions, directions = [], [], []
    for k in range(20_000):
        cell = large_layout.free_cells[k % len(large_layout.free_cells)]
        xy = np.array(large_layout.center(cell)) + rng.uniform(-1.5, 1.5, 2)
        decision = expert.act(xy, np.array(large_layout.center((7, 10))), rng)
        noise.append(decision.noise)
        actions.append(decision.action)
        directions.append(decision.direction)
    noise_arr, action_arr, direction_arr = np.array(noise), np.array(actions), np.array(directions)
    np.testing.assert_allclose(noise_arr.std(axis=0), [0.5, 0.5], atol=0.01)  # std of the std: 0.0025
    np.testing.assert_allclose(noise_arr.mean(axis=0), [0.0, 0.0], atol=0.012)
    np.testing.assert_allclose(action_arr, np.clip(direction_arr + noise_arr, -1, 1))
    np.testing.assert_allclose(np.linalg.norm(direction_arr, axis=1), 1.0, atol=1e-5)


# -------------------------------------------------------------------------------------- collected files
def test_files_have_ogbench_layout_and_the_data_check(stitch_dir: Path) -> None:
    with np.load(stitch_dir / f"{NAME}.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    assert sorted(arrays) == ["actions", "observations", "qpos", "qvel", "terminals"]
    rows = EPISODES * STEPS
    assert {k: (v.shape, v.dtype.name) for k, v in arrays.items()} == {
        "observations": ((rows, 2), "float32"),
        "actions": ((rows, 2), "float32"),
        "terminals": ((rows,), "bool"),
        "qpos": ((rows, 2), "float32"),
        "qvel": ((rows, 2), "float32"),
    }
    np.testing.assert_array_equal(np.flatnonzero(arrays["terminals"]), np.arange(1, EPISODES + 1) * STEPS - 1)
    np.testing.assert_array_equal(arrays["observations"], arrays["qpos"])  # the point's observation is qpos
    assert np.abs(arrays["actions"]).max() <= 1.0

    record = json.loads((stitch_dir / f"{NAME}.json").read_text())
    train, val = record["check"]["splits"]["train"], record["check"]["splits"]["val"]
    assert (train["episodes"], train["rows"], train["transitions"]) == (EPISODES, rows, rows - EPISODES)
    assert (val["episodes"], val["rows"]) == (1, STEPS)  # a tenth of 6, at least one
    assert train["start_goal_moves"] == {"4": EPISODES} and val["start_goal_moves"] == {"4": 1}
    noise = record["check"]["action_noise"]
    assert noise["steps"] == (EPISODES + 1) * STEPS
    np.testing.assert_allclose(noise["before_clipping"]["std"], [0.5, 0.5], atol=0.05)  # 210 draws each
    assert all(s < 0.5 for s in noise["recorded_minus_direction"]["std"])  # clipping only shrinks it
    assert record["tool"] == "absaction" and record["command"] == "collect"
    assert record["command_line"].startswith(f"absaction collect --env {LARGE} --expert oracle:stitch")


def test_same_seed_writes_the_same_arrays(stitch_dir: Path, tmp_path: Path) -> None:
    collect_oracle(tiny_config(tmp_path / "again"))
    for suffix in (".npz", "-val.npz"):
        with (
            np.load(stitch_dir / f"{NAME}{suffix}") as a,
            np.load(tmp_path / "again" / f"{NAME}{suffix}") as b,
        ):
            for key in a.files:
                np.testing.assert_array_equal(a[key], b[key])


def test_ogbench_loads_the_files_without_network(stitch_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ogbench = require_ogbench()

    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ogbench tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    data = ogbench.load_dataset(str(stitch_dir / f"{NAME}.npz"), add_info=True)
    transitions = EPISODES * (STEPS - 1)
    assert data["observations"].shape == data["next_observations"].shape == (transitions, 2)
    assert data["qpos"].shape == (transitions, 2) and data["terminals"].sum() == EPISODES
    env, train, val = ogbench.make_env_and_datasets(NAME, dataset_dir=str(stitch_dir))
    try:
        assert train["observations"].shape == (transitions, 2)
        assert val["actions"].shape == (STEPS - 1, 2)
        np.testing.assert_array_equal(
            train["observations"][1 : STEPS - 1], train["next_observations"][: STEPS - 2]
        )
    finally:
        drop_model_file(env)  # OGBench leaves its model file in the temporary folder
        env.close()


def test_absaction_reads_the_npz_by_path_and_by_name(stitch_dir: Path) -> None:
    by_path = load_dataset(stitch_dir / f"{NAME}.npz")
    by_name = load_dataset(NAME, ogbench_dir=stitch_dir)
    val = load_dataset(f"{NAME}-val", ogbench_dir=stitch_dir)
    assert len(by_path) == len(by_name) == EPISODES and len(val) == 1
    assert by_path.env_id == "ogbench:pointmaze-large-v0" and by_path.dataset_id == NAME
    assert by_path.episode_lengths().tolist() == [STEPS - 1] * EPISODES
    with np.load(stitch_dir / f"{NAME}.npz") as archive:
        np.testing.assert_array_equal(by_name.episodes[1].actions, archive["actions"][STEPS : 2 * STEPS - 1])
        np.testing.assert_array_equal(
            by_name.episodes[1].observations, archive["observations"][STEPS : 2 * STEPS]
        )
    windows = by_path.action_windows(10)
    assert windows.actions.shape == (EPISODES * 2, 10, 2)


def test_default_folder_is_ogbench_own_and_recipe_numbers() -> None:
    assert OGBENCH_DATA_DIR == require_ogbench().utils.DEFAULT_DATASET_DIR
    assert (recipe_for("large", "stitch").episodes, recipe_for("large", "stitch").max_steps) == (5000, 201)
    assert (recipe_for("medium", "navigate").episodes, recipe_for("medium", "navigate").max_steps) == (
        1000,
        1001,
    )
    assert (recipe_for("giant", "navigate").episodes, recipe_for("giant", "navigate").max_steps) == (
        500,
        2001,
    )
    assert parse_dataset_name("pointmaze-giant-navigate-v0").env_id == "ogbench:pointmaze-giant-v0"


def test_cli_uses_the_recipe_unless_told(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import absaction.cli.collect as collect_cli

    seen: list[OracleCollectConfig] = []
    monkeypatch.setattr(collect_cli, "collect_oracle", lambda config: seen.append(config) or None)
    monkeypatch.setattr(collect_cli, "print_data_check", lambda summary: None)
    assert main(["collect", "--env", LARGE, "--expert", "oracle:stitch", "--out", str(tmp_path)]) == 0
    assert main(["collect", "--env", LARGE, "--expert", "oracle", "--episodes", "3", "--noise", "0",
                 "--max-steps", "9", "--dataset-id", NAME, "--out", str(tmp_path)]) == 0  # fmt: skip
    assert [(c.episodes, c.max_steps, c.noise, c.dataset_name) for c in seen] == [
        (None, None, 0.5, None),
        (3, 9, 0.0, NAME),
    ]


def test_cli_writes_files_and_force_replaces_only_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    argv = ["collect", "--env", "ogbench:pointmaze-medium-v0", "--expert", "oracle", "--out", str(out)]
    argv += ["--dataset-id", "pointmaze-medium-navigate-v0", "--episodes", "2", "--max-steps", "40"]
    status, printed, _ = cli(capsys, *argv)
    assert status == 0 and "pointmaze-medium-navigate-v0" in printed
    first = read_ogbench(out / "pointmaze-medium-navigate-v0.npz")
    assert len(first.episode_bounds()) == 2
    assert "already exists" in one_line_error(capsys, *argv)
    status, _, _ = cli(capsys, *argv, "--force", "--seed", "1")
    assert status == 0
    assert not np.array_equal(read_ogbench(out / "pointmaze-medium-navigate-v0.npz").actions, first.actions)
    # a file absaction did not write (e.g. downloaded from OGBench) is never replaced, even with --force
    (out / "pointmaze-medium-navigate-v0.json").unlink()
    before = (out / "pointmaze-medium-navigate-v0.npz").read_bytes()
    assert "not written by absaction collect" in one_line_error(capsys, *argv, "--force")
    assert (out / "pointmaze-medium-navigate-v0.npz").read_bytes() == before


# ------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--expert", "oracle:explore"], "unknown OGBench dataset type 'explore'"),
        (
            ["--expert", "oracle", "--dataset-id", "pointmaze-large-explore-v0"],
            "unknown OGBench dataset type",
        ),
        (
            ["--expert", "oracle", "--dataset-id", "pointmaze-medium-stitch-v0"],
            "belongs to pointmaze-medium-v0",
        ),
        (["--expert", "oracle:navigate", "--dataset-id", NAME], "is a stitch dataset"),
        (["--expert", "oracle", "--dataset-id", "reach2d-v0"], "not an OGBench pointmaze dataset name"),
        (["--expert", "oracle", "--env-kwarg", "maze_unit=2"], "--env-kwarg does not apply"),
        (["--expert", "oracle", "--max-steps", "1"], "at least 2 rows"),
    ],
)
def test_bad_collect_input_is_one_line_and_writes_nothing(
    extra: list[str], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "data"
    err = one_line_error(capsys, "collect", "--env", LARGE, "--out", str(out), *extra)
    assert expected in err
    assert not out.exists()


def test_env_that_is_no_point_maze_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(
        capsys,
        "collect",
        "--env",
        "ogbench:antmaze-large-v0",
        "--expert",
        "oracle",
        "--out",
        str(tmp_path / "d"),
    )
    assert "goal-conditioned point mass" in err and "ogbench:pointmaze-large-v0" in err
    err = one_line_error(
        capsys,
        "collect",
        "--env",
        "ogbench:pointmaze-larg-v0",
        "--expert",
        "oracle",
        "--out",
        str(tmp_path / "d"),
    )
    assert "pointmaze-large-v0" in err  # a close match is suggested


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def good_arrays(rows: int = 6) -> dict[str, np.ndarray]:
    terminals = np.zeros(rows, dtype=bool)
    terminals[[2, rows - 1]] = True
    return {
        "observations": np.arange(2 * rows, dtype=np.float32).reshape(rows, 2),
        "actions": np.zeros((rows, 2), np.float32),
        "terminals": terminals,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"terminals": None}, "no terminals"),
        (
            {"actions": np.zeros((5, 2), np.float32)},
            "different lengths (observations 6, actions 5, terminals 6)",
        ),
        (
            {"observations": np.full((6, 2), np.nan, np.float32)},
            "NaN or infinite observations (first in row 0",
        ),
        ({"terminals": np.array([0, 0, 1, 0, 1, 0], bool)}, "does not end on an episode's last row"),
        ({"terminals": np.array([0, 0, 1, 0, 1, 1], bool)}, "episodes of a single row"),
    ],
)
def test_bad_npz_is_one_line_in_python_and_at_the_cli(
    change: dict[str, np.ndarray | None], expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arrays = {k: v for k, v in {**good_arrays(), **change}.items() if v is not None}
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(AbsactionError) as caught:
        load_dataset(path)
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    err = one_line_error(capsys, "plot", "--data", str(path), "--out", str(tmp_path / "fig.png"))
    assert expected in err
    assert not (tmp_path / "fig.png").exists()


def test_good_handmade_npz_reads(tmp_path: Path) -> None:
    ds = load_dataset(write_npz(tmp_path / "ok.npz", **good_arrays()))
    assert ds.episode_lengths().tolist() == [2, 2] and ds.env_id is None
    np.testing.assert_array_equal(ds.episodes[1].observations, good_arrays()["observations"][3:])


def test_file_that_is_no_npz_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.npz"
    path.write_text("not an archive")
    with pytest.raises(AbsactionError, match=r"cannot read .* as an npz file"):
        read_ogbench(path)


def test_missing_dataset_names_the_regenerate_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(AbsactionError) as caught:
        load_dataset("pointmaze-medium-stitch-v0", ogbench_dir=tmp_path)
    message = str(caught.value)
    assert (
        f"absaction collect --env ogbench:pointmaze-medium-v0 --expert oracle:stitch --out {tmp_path}"
        in message
    )
    with pytest.raises(AbsactionError, match="unknown OGBench dataset type 'explore'"):
        find_ogbench_file("pointmaze-medium-explore-v0", tmp_path)
    with pytest.raises(AbsactionError, match=r"download it with ogbench\.download_datasets"):
        find_ogbench_file("antmaze-large-navigate-v0", tmp_path)
    assert find_ogbench_file("reach2d-scripted-v0", tmp_path) is None  # not OGBench's: Minari's turn
    # a .npz path that does not exist, named like an OGBench dataset, also says how to regenerate it
    err = one_line_error(
        capsys,
        "plot",
        "--data",
        str(tmp_path / "pointmaze-large-navigate-v0.npz"),
        "--out",
        str(tmp_path / "f.png"),
    )
    assert "--expert oracle:navigate" in err


def test_missing_ogbench_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ogbench", None)  # makes `import ogbench` raise ImportError
    with pytest.raises(AbsactionError, match=r"pip install 'absaction\[ogbench\]'"):
        require_ogbench()


def test_write_refuses_before_touching_anything(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / f"{NAME}-val.npz").write_bytes(b"someone else's file")
    with pytest.raises(AbsactionError, match="already exists"):
        write_ogbench(out, NAME, good_arrays(), good_arrays(), {})
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}-val.npz"]
