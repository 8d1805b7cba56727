"""`absaction collect` and `absaction plot`: round trips, reproducibility, every bad-input case."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import absaction.data.collect as collect_module
from absaction import envs
from absaction.cli import main
from absaction.data import load_dataset
from absaction.data.collect import CollectConfig, RandomExpert, collect, default_dataset_id
from absaction.errors import AbsactionError
from absaction.outputs import RECORD_FILE


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the CLI in-process; returns (exit status, stderr)."""
    status = main(list(argv))
    return status, capsys.readouterr().err


def error_line(stderr: str) -> str:
    """The CLI's one error line (progress bars also write to stderr)."""
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def replay(
    env_id: str, episode_seed: int, actions: np.ndarray, **make_kwargs
) -> tuple[np.ndarray, np.ndarray]:
    """Observations (T + 1, obs_dim) and rewards (T,) of ``actions`` replayed from a seeded reset."""
    env = gym.make(env_id, **make_kwargs)
    obs, _ = env.reset(seed=episode_seed)
    observations, rewards = [obs], []
    for action in actions:
        obs, reward, _, _, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
    env.close()
    return np.array(observations), np.array(rewards)


# -------------------------------------------------------------------------------------- round trips
def test_random_pendulum_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pendulum"
    status, _ = run_cli(
        capsys, "collect", "--env", "Pendulum-v1", "--expert", "random", "--episodes", "3",
        "--seed", "5", "--max-steps", "12", "--out", str(out),
    )  # fmt: skip
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "collect.json", "data"]
    assert sorted(p.name for p in (out / "data").iterdir()) == ["main_data.hdf5", "metadata.json"]
    ds = load_dataset(out)
    assert len(ds) == 3 and ds.env_id == "Pendulum-v1" and ds.factor_names == ()

    # the actions are those of the random expert with the generator seeded by --seed
    env = gym.make("Pendulum-v1")
    expert = RandomExpert(env.action_space)  # type: ignore[arg-type]
    rng = np.random.default_rng([5, 1])  # collect's expert stream (independent of the env's)
    for i, ep in enumerate(ds.episodes):
        expert.reset(None, {}, rng)
        expected = np.stack([expert.act(None) for _ in range(12)])
        np.testing.assert_array_equal(ep.actions, expected)
        # observations and rewards are what the env gives for those actions from reset(seed=5 + i)
        obs, rewards = replay("Pendulum-v1", 5 + i, ep.actions)
        np.testing.assert_array_equal(ep.observations, obs)
        np.testing.assert_array_equal(ep.rewards, rewards)
        assert ep.truncated and not ep.terminated

    record = json.loads((out / "collect.json").read_text())
    assert record["config"]["seed"] == 5 and record["config"]["dataset_id"] == "pendulum-random-v0"
    summary = record["summary"]
    assert summary["episodes"] == 3 and summary["steps"] == 36 and summary["success_rate"] is None
    assert summary["mean_return"] == pytest.approx(
        np.mean([ep.rewards.sum() for ep in ds.episodes]), rel=1e-12
    )
    metadata = json.loads((out / "data" / "metadata.json").read_text())
    assert metadata["total_episodes"] == 3 and metadata["total_steps"] == 36
    assert metadata["factor_names"] == []


def test_same_command_twice_gives_identical_arrays(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> list[np.ndarray]:
        collect(
            CollectConfig(
                "Pendulum-v1", tmp_path / name, "random", episodes=2, seed=seed, max_steps=8, progress=False
            )
        )
        ds = load_dataset(tmp_path / name)
        return [np.asarray(a) for ep in ds.episodes for a in (ep.actions, ep.observations, ep.rewards)]

    first, second, other = run("a", 1), run("b", 1), run("c", 2)
    for x, y in zip(first, second, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0], other[0])


def test_scripted_round_trip(expert_dataset: Path) -> None:
    from absaction.envs import make_expert

    ds = load_dataset(expert_dataset)
    env = gym.make("absaction/Reach2D-v0")
    expert = make_expert(env)
    rng = np.random.default_rng([0, 1])  # the fixture's --seed, as collect derives it
    assert ds.factor_names == tuple(expert.factor_names)
    for i, ep in enumerate(ds.episodes):
        obs, info = env.reset(seed=i)
        factors = expert.reset(obs, info, rng)
        assert ep.factors == factors
        actions = []
        done = False
        while not done:
            action = expert.act(obs)
            actions.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        np.testing.assert_array_equal(ep.actions, np.array(actions, dtype=np.float32))
        replay_obs, replay_rewards = replay("absaction/Reach2D-v0", i, ep.actions)
        np.testing.assert_array_equal(ep.observations, replay_obs)
        np.testing.assert_array_equal(ep.rewards, replay_rewards)
        assert ep.success is True  # the scripted expert ends on its goal
    record = json.loads((expert_dataset / "collect.json").read_text())
    assert record["summary"]["success_rate"] == 1.0
    assert record["resolved"]["factor_names"] == list(ds.factor_names)


def test_every_reach2d_world_has_a_working_scripted_expert(collect_dataset: Callable[..., Path]) -> None:
    for env_id in envs.ENV_IDS:
        ds = load_dataset(collect_dataset(env_id, "scripted", episodes=2, seed=1))
        expert = envs.make_expert(gym.make(env_id))
        assert ds.env_id == env_id and ds.factor_names == tuple(expert.factor_names)
        assert all(ep.success for ep in ds.episodes), env_id
        fa = ds.factor_array()
        assert fa is not None and fa.shape == (2, len(expert.factor_names))


def test_noise_is_added_and_clipped(tmp_path: Path, collect_dataset: Callable[..., Path]) -> None:
    clean = load_dataset(collect_dataset("absaction/Reach2D-v0", "scripted", episodes=2, seed=3))
    noisy = load_dataset(collect_dataset("absaction/Reach2D-v0", "scripted", episodes=2, seed=3, noise=0.05))
    diff = noisy.episodes[0].actions - clean.episodes[0].actions
    assert 0.02 < float(diff.std()) < 0.1  # closed-loop expert: the noise does not accumulate
    assert np.abs(noisy.episodes[0].actions).max() <= 1.0
    assert noisy.episodes[0].factors == clean.episodes[0].factors  # same rng draws for the plan


def test_sb3_policy_expert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from stable_baselines3 import PPO

    env = gym.make("Pendulum-v1")
    model = PPO("MlpPolicy", env, policy_kwargs={"net_arch": [8]}, seed=0, device="cpu")
    model.save(tmp_path / "ppo_pendulum.zip")
    out = tmp_path / "sb3"
    status, _ = run_cli(
        capsys, "collect", "--env", "Pendulum-v1", "--expert", str(tmp_path / "ppo_pendulum.zip"),
        "--episodes", "2", "--max-steps", "6", "--out", str(out),
    )  # fmt: skip
    assert status == 0
    ds = load_dataset(out)
    assert ds.dataset_id == "pendulum-ppo-v0"
    assert ds.metadata["algorithm_name"] == "sb3:PPO:ppo_pendulum.zip"
    for ep in ds.episodes:
        assert ep.observations is not None
        expected, _ = model.predict(ep.observations[:-1], deterministic=True)
        np.testing.assert_allclose(ep.actions, expected, atol=1e-6)

    # the same policy does not fit an env with other spaces
    status, err = run_cli(
        capsys, "collect", "--env", "MountainCarContinuous-v0", "--expert",
        str(tmp_path / "ppo_pendulum.zip"), "--episodes", "2", "--out", str(tmp_path / "car"),
    )  # fmt: skip
    assert status == 2
    assert "trained with observation space Box" in error_line(err)
    assert "use a policy trained on MountainCarContinuous-v0" in error_line(err)
    assert not (tmp_path / "car").exists()


def test_default_dataset_ids() -> None:
    assert default_dataset_id("absaction/Reach2D-v0", "scripted") == "reach2d-scripted-v0"
    assert default_dataset_id("Pendulum-v1", "random") == "pendulum-random-v0"
    assert default_dataset_id("ALE/Weird Env-v5", "ppo") == "weird-env-ppo-v0"


def test_namespaced_dataset_id(tmp_path: Path) -> None:
    out = tmp_path / "ns"
    summary = collect(
        CollectConfig(
            "Pendulum-v1", out, "random", episodes=1, max_steps=3, dataset_id="tests/pend-v2", progress=False
        )
    )
    assert summary.dataset_id == "tests/pend-v2"
    assert load_dataset(out).dataset_id == "tests/pend-v2"
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "collect.json", "data"]


# ---------------------------------------------------------------------------------------- bad input
BASE = ("collect", "--episodes", "2", "--max-steps", "4")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--env", "Pendulm-v1", "--expert", "random"),
            "unknown environment id 'Pendulm-v1'; did you mean Pendulum-v1, ",
        ),
        (("--env", "pendulum-v1", "--expert", "random"), "did you mean Pendulum-v1?"),
        (
            ("--env", "CartPole-v1", "--expert", "random"),
            "has action space Discrete(2); absaction records continuous",
        ),
        (("--env", "Pendulum-v1", "--expert", "scripted"), "no scripted expert"),
        (("--env", "Pendulum-v1", "--expert", "expert"), "unknown expert 'expert'; use scripted, random"),
        (("--env", "Pendulum-v1", "--expert", "missing.zip"), "expert policy missing.zip not found"),
        (
            ("--env", "Pendulum-v1", "--expert", "random", "--dataset-id", "no version"),
            "malformed dataset id",
        ),
    ],
)
def test_bad_input_one_line_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, err = run_cli(capsys, *BASE, *args, "--out", "out")
    assert status == 2
    line = error_line(err)
    assert line.startswith("absaction collect: error: ") and message in line
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing left on disk


def test_sb3_zip_that_is_not_a_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "junk.zip").write_bytes(b"PK not really")
    status, err = run_cli(
        capsys,
        *BASE,
        "--env",
        "Pendulum-v1",
        "--expert",
        str(tmp_path / "junk.zip"),
        "--out",
        str(tmp_path / "o"),
    )
    assert status == 2 and "is not a stable-baselines3 .zip" in error_line(err)


@pytest.mark.parametrize("episodes", ["0", "-3", "two"])
def test_non_positive_episodes_is_an_argparse_error(
    capsys: pytest.CaptureFixture[str], episodes: str
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["collect", "--env", "Pendulum-v1", "--episodes", episodes, "--out", "never"])
    assert exc.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err
    assert not Path("never").exists()


def test_collect_function_validates_numbers(tmp_path: Path) -> None:
    with pytest.raises(AbsactionError, match="episodes must be positive"):
        collect(CollectConfig("Pendulum-v1", tmp_path / "x", "random", episodes=0))
    with pytest.raises(AbsactionError, match="noise must be a finite number >= 0"):
        collect(CollectConfig("Pendulum-v1", tmp_path / "x", "random", noise=-1.0))
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_and_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_bytes(b"keep me\x00\x01")
    (out / ".hidden").write_bytes(b"me too")
    before = snapshot(tmp_path)
    status, err = run_cli(capsys, *BASE, "--env", "Pendulum-v1", "--expert", "random", "--out", str(out))
    assert status == 2
    assert "already exists; pass --force" in error_line(err)
    assert snapshot(tmp_path) == before

    # --force replaces only collect's own output: a folder of the user's files is refused, untouched
    status, err = run_cli(
        capsys, *BASE, "--env", "Pendulum-v1", "--expert", "random", "--out", str(out), "--force"
    )
    assert status == 2
    assert "holds files that absaction collect did not write (.hidden, precious.txt)" in error_line(err)
    assert snapshot(tmp_path) == before
    out = tmp_path / "ours"
    for _ in range(2):  # the second run replaces the first one's output
        status, _ = run_cli(
            capsys, *BASE, "--env", "Pendulum-v1", "--expert", "random", "--out", str(out), "--force"
        )
        assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "collect.json", "data"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours", "out"]  # no temporary or backup folder left


def test_unwritable_location(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a_file").write_text("x")
    status, err = run_cli(
        capsys, *BASE, "--env", "Pendulum-v1", "--expert", "random", "--out", str(tmp_path / "a_file" / "ds")
    )
    assert status == 2 and "is not writable; choose a writable location" in error_line(err)
    assert (tmp_path / "a_file").read_text() == "x"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        status, err = run_cli(
            capsys, *BASE, "--env", "Pendulum-v1", "--expert", "random", "--out", str(locked / "ds")
        )
    finally:
        locked.chmod(0o700)
    assert status == 2 and "is not writable" in error_line(err)
    assert list(locked.iterdir()) == []


def test_interrupt_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in episode 3, after a first chunk of episodes was already written to the temporary folder."""
    monkeypatch.setattr(collect_module, "_CHUNK_EPISODES", 2)
    monkeypatch.setenv("MINARI_DATASETS_PATH", "/somewhere/else")
    original = RandomExpert.act
    calls = {"n": 0}

    def act(self: RandomExpert, obs: object) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 3 * 4 + 2:  # episode 3 (0-based), step 1
            raise KeyboardInterrupt
        return original(self, obs)

    monkeypatch.setattr(RandomExpert, "act", act)
    out = tmp_path / "out"
    status, err = run_cli(
        capsys, *BASE[:2], "6", *BASE[3:], "--env", "Pendulum-v1", "--expert", "random", "--out", str(out)
    )
    assert status == 130 and "interrupted" in err
    assert calls["n"] == 14
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder either
    assert os.environ["MINARI_DATASETS_PATH"] == "/somewhere/else"  # restored


def test_env_without_time_limit(tmp_path: Path) -> None:
    from gymnasium.envs.registration import register

    if "absaction-tests/NoLimit-v0" not in gym.registry:
        register(
            "absaction-tests/NoLimit-v0", entry_point="gymnasium.envs.classic_control.pendulum:PendulumEnv"
        )
    with pytest.raises(AbsactionError, match="has no time limit; pass max_steps=M"):  # Python's spelling
        collect(CollectConfig("absaction-tests/NoLimit-v0", tmp_path / "x", "random", episodes=1))
    summary = collect(
        CollectConfig("absaction-tests/NoLimit-v0", tmp_path / "y", "random", 1, max_steps=5, progress=False)
    )
    assert summary.steps == 5


# --------------------------------------------------------------------------------------------- plot
def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_plot_expert_dataset(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fig = tmp_path / "paths.png"
    status = main(
        [
            "plot",
            "--data",
            str(expert_dataset),
            "--out",
            str(fig),
            "--color-by",
            "bulge_out",
            "--max-episodes",
            "5",
        ]
    )
    assert status == 0
    assert png_size(fig) == (640, 640)
    assert "5 episodes coloured by bulge_out (positions from observations)" in capsys.readouterr().out
    # an existing figure is kept without --force
    before = fig.read_bytes()
    status, err = run_cli(capsys, "plot", "--data", str(expert_dataset), "--out", str(fig))
    assert status == 2 and "figure" in error_line(err) and fig.read_bytes() == before
    status, err = run_cli(
        capsys,
        "plot",
        "--data",
        str(expert_dataset),
        "--out",
        str(tmp_path / "b.png"),
        "--color-by",
        "colour",
    )
    assert status == 2 and "unknown factor 'colour'" in error_line(err) and "target" in error_line(err)
    assert not (tmp_path / "b.png").exists()


def test_reach2d_positions_from_actions_match_observations(expert_dataset: Path) -> None:
    """Documented claim: away from walls, start + step_size * cumsum(actions) is the observed path."""
    from absaction.analysis.paths import dataset_paths
    from absaction.envs.reach2d import OBS_FIELDS, REACH2D_GOAL_COLUMNS, REACH2D_POSITION_COLUMNS

    assert [OBS_FIELDS[i] for i in REACH2D_POSITION_COLUMNS] == ["x", "y"]
    assert [OBS_FIELDS[i] for i in REACH2D_GOAL_COLUMNS] == ["goal_x", "goal_y"]
    ds = load_dataset(expert_dataset)
    from_obs, goals, used = dataset_paths(ds, "observations")
    from_actions, no_goals, used2 = dataset_paths(ds, "actions")
    assert (used, used2, no_goals) == ("observations", "actions", None)
    for a, b in zip(from_obs, from_actions, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert goals is not None and all(g.tolist() in ([[-0.1, 1.0]], [[0.1, 1.0]]) for g in np.round(goals, 6))


def test_plot_two_dimensional_actions_without_env(
    tmp_path: Path, write_minari_dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    actions = [np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32), np.full((4, 2), -0.5, np.float32)]
    data = write_minari_dataset(tmp_path / "d", actions, box)
    from absaction.analysis.paths import dataset_paths

    paths, goals, used = dataset_paths(load_dataset(data))
    assert used == "actions" and goals is None
    assert paths[0].tolist() == [[0, 0], [1, 0], [1, 1], [2, 2]]  # step size 1: no env declares one
    status = main(["plot", "--data", str(data), "--out", str(tmp_path / "f.png")])
    assert status == 0 and png_size(tmp_path / "f.png") == (640, 640)
    assert "coloured by episode (positions from actions)" in capsys.readouterr().out


def test_path_positions_from_one_dimensional_actions_are_refused(pendulum_dataset: Path) -> None:
    """A path needs 2-D actions (``absaction plot`` draws 1-D ones over time instead)."""
    from absaction.analysis.paths import dataset_paths

    with pytest.raises(AbsactionError, match=r"actions have 1 dimension\(s\); a path plot needs 2"):
        dataset_paths(load_dataset(pendulum_dataset), "actions")


def test_plot_missing_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str], minari_home: Path) -> None:
    status, err = run_cli(capsys, "plot", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "p.png"))
    assert status == 2 and "not found" in error_line(err)
    assert not (tmp_path / "p.png").exists()


class _DictObservation(gym.ObservationWrapper):
    """Pendulum with a Dict observation, registered through a callable (a spec Minari cannot store)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Dict(
            {"state": env.observation_space, "flag": gym.spaces.Box(0.0, 1.0, (1,), np.float32)}
        )

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        return {"state": observation, "flag": np.ones(1, np.float32)}


def _make_dict_pendulum(**kwargs: object) -> gym.Env:
    return _DictObservation(gym.make("Pendulum-v1").unwrapped)


def test_dict_observations_and_unserialisable_spec(tmp_path: Path) -> None:
    from gymnasium.envs.registration import register

    if "absaction-tests/DictPendulum-v0" not in gym.registry:
        register(
            "absaction-tests/DictPendulum-v0",
            entry_point=_make_dict_pendulum,
            max_episode_steps=5,
        )
    summary = collect(
        CollectConfig("absaction-tests/DictPendulum-v0", tmp_path / "d", "random", 2, progress=False)
    )
    assert summary.steps == 10
    ds = load_dataset(tmp_path / "d")
    assert ds.env_id == "absaction-tests/DictPendulum-v0"  # from metadata: Minari could not store the spec
    assert isinstance(ds.observation_space, gym.spaces.Dict)
    assert ds.episodes[0].actions.shape == (5, 1)
    # a Dict of Boxes is flattened in the space's key order (flag, state), as gymnasium.spaces.flatten
    assert ds.obs_layout is not None and ds.obs_layout.to_dict() == {"flag": [0, 1], "state": [1, 4]}
    obs = ds.episodes[0].observations
    assert obs is not None and obs.shape == (6, 4) and np.all(obs[:, 0] == 1.0)


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "absaction", "collect", "--env", "NoSuchEnv-v0", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "absaction collect: error: unknown environment id 'NoSuchEnv-v0'; list the ids with "
        "`python -c 'import gymnasium; gymnasium.pprint_registry()'`, or pass module:EnvId for an env "
        "that a module of yours registers"
    ]
    assert list(tmp_path.iterdir()) == []


def test_collect_emits_no_warnings(tmp_path: Path) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        collect(
            CollectConfig("Pendulum-v1", tmp_path / "w", "random", episodes=2, max_steps=3, progress=False)
        )
        load_dataset(tmp_path / "w")
    assert [str(w.message) for w in caught] == []


def test_negative_seed_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["collect", "--env", "Pendulum-v1", "--seed", "-1", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2 and "expected an integer >= 0" in capsys.readouterr().err
    with pytest.raises(AbsactionError, match="seed must be >= 0"):
        collect(CollectConfig("Pendulum-v1", tmp_path / "o", "random", seed=-1))
    assert list(tmp_path.iterdir()) == []


def test_recorded_paths_expert_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--expert paths:FILE.npz` records noisy copies of the file's paths (resampled to the episode
    length) with the scripted expert's factors; a file whose paths miss the env's goals is refused."""
    from absaction.envs.paths import bulge_path

    paths = np.array([bulge_path((0, 0), (g, 0.99), s, 99) for g in (-0.1, 0.1) for s in (-0.02, 0.02)])
    np.savez(tmp_path / "paths.npz", positions=paths, factors=np.zeros((4, 3)))
    argv = ["collect", "--env", "absaction/Reach2D-v0", "--expert", f"paths:{tmp_path / 'paths.npz'}"]
    status, _ = run_cli(capsys, *argv, "--episodes", "12", "--noise", "0.02", "--out", str(tmp_path / "d"))
    assert status == 0
    ds = load_dataset(tmp_path / "d")
    assert ds.dataset_id == "reach2d-paths-paths-v0"
    assert ds.factor_names == ("target", "bulge_out", "bulge_right", "curvature")
    assert all(ep.success and len(ep.actions) == 32 for ep in ds.episodes)
    for ep in ds.episodes:  # the end point and the side of the bulge are those of the drawn path
        assert ep.factors["curvature"] == 0  # both sizes are 0.02
        end = ep.observations[-1, :2]
        assert abs(end[0] - (0.1 if ep.factors["target"] else -0.1)) < 0.02 and abs(end[1] - 0.99) < 0.02
        middle = ep.observations[16, 0] - end[0] / 2
        assert (middle > 0) == bool(ep.factors["bulge_right"])
    assert {ep.factors["target"] for ep in ds.episodes} == {0, 1}

    argv[2] = "absaction/Reach2DNewGoals-v0"
    status, err = run_cli(capsys, *argv, "--out", str(tmp_path / "x"))
    assert status == 2 and "none of the 4 recorded paths ends within 0.05" in error_line(err)
    assert not (tmp_path / "x").exists()


def test_max_steps_lengthens_reach2d_episodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Reach2D world truncates by its own clock too, so --max-steps must reach it: 64-step episodes
    (the scripted reach takes 32, then holds at the goal), and recorded paths resampled to 64 steps."""
    from absaction.envs.paths import bulge_path

    status, _ = run_cli(capsys, "collect", "--env", "absaction/Reach2D-v0", "--max-steps", "64",
                        "--episodes", "2", "--out", str(tmp_path / "s"))  # fmt: skip
    assert status == 0
    assert [len(ep.actions) for ep in load_dataset(tmp_path / "s").episodes] == [64, 64]
    np.savez(
        tmp_path / "p.npz", positions=np.array([bulge_path((0, 0), (g, 1.0), 0.02, 99) for g in (-0.1, 0.1)])
    )
    expert = f"paths:{tmp_path / 'p.npz'}"
    status, _ = run_cli(capsys, "collect", "--env", "absaction/Reach2D-v0", "--max-steps", "96", "--expert",
                        expert, "--episodes", "2", "--out", str(tmp_path / "p"))  # fmt: skip
    assert status == 0
    episodes = load_dataset(tmp_path / "p").episodes
    assert [len(ep.actions) for ep in episodes] == [96, 96]
    steps = np.linalg.norm(np.diff(episodes[0].observations[:, :2], axis=0), axis=1)
    assert steps.min() > 0.005  # the path is spread over all 96 steps, not finished early


def test_env_kwargs_configure_the_world_and_are_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--env-kwarg reaches gymnasium.make (the scripted expert then reaches the moved goals), is kept in
    collect.json and in the dataset's env spec; an option the env does not take is one line, exit 2."""
    argv = ["collect", "--env", "absaction/Reach2D-v0", "--episodes", "4",
            "--env-kwarg", "goals=[[-0.3, 0.9]]", "--env-kwarg", "success_radius=0.02"]  # fmt: skip
    status, _ = run_cli(capsys, *argv, "--out", str(tmp_path / "d"))
    assert status == 0
    ds = load_dataset(tmp_path / "d")
    for ep in ds.episodes:
        assert ep.success and np.allclose(ep.observations[-1, :2], (-0.3, 0.9), atol=0.02)
    record = json.loads((tmp_path / "d" / "collect.json").read_text())
    assert record["config"]["env_kwargs"] == {"goals": [[-0.3, 0.9]], "success_radius": 0.02}
    spec = json.loads((tmp_path / "d" / "data" / "metadata.json").read_text())["env_spec"]
    assert json.loads(spec)["kwargs"] == {"goals": [[-0.3, 0.9]], "success_radius": 0.02}

    status, err = run_cli(capsys, *argv[:5], "--env-kwarg", "colour=3", "--out", str(tmp_path / "x"))
    assert status == 2 and "unknown Reach2D option(s) colour" in error_line(err)
    assert not (tmp_path / "x").exists()
    status, err = run_cli(capsys, "collect", "--env", "Pendulum-v1", "--expert", "random",
                          "--env-kwarg", "colour=3", "--out", str(tmp_path / "y"))  # fmt: skip
    assert status == 2 and error_line(err).endswith("check the --env-kwarg values")
