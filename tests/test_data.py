"""absaction.data: loading Minari datasets, action windows, normalisation, splits, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from absaction.data import (
    ActionWindows,
    Normalizer,
    load_dataset,
    make_windows,
    pad_episodes,
    train_val_split,
)
from absaction.errors import AbsactionError

BOX2 = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def ramp_episodes(lengths: list[int], action_dim: int = 2) -> list[np.ndarray]:
    """Episode e has actions a[t, d] = 100 e + 10 d + t, so every value names its origin."""
    return [
        (100 * e + 10 * np.arange(action_dim)[None, :] + np.arange(t)[:, None]).astype(np.float32)
        for e, t in enumerate(lengths)
    ]


# ----------------------------------------------------------------------------------------- windows
def test_sliding_windows_shapes_and_values() -> None:
    episodes = ramp_episodes([7, 9])
    factors = np.array([[0, 3], [1, 4]])
    w = make_windows(episodes, length=3, stride=2, factors=factors, factor_names=("target", "bulge"))
    # (7 - 3) // 2 + 1 = 3 windows, (9 - 3) // 2 + 1 = 4 windows
    assert isinstance(w, ActionWindows)
    assert w.actions.shape == (7, 3, 2) and w.actions.dtype == np.float32
    assert w.episode_index.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert w.start.tolist() == [0, 2, 4, 0, 2, 4, 6]
    for k in range(len(w)):
        e, s = w.episode_index[k], w.start[k]
        np.testing.assert_array_equal(w.actions[k], episodes[e][s : s + 3])
    # window 5 = episode 1, steps 4..6, dimension 1: 100 + 10 + t
    assert w.actions[5, :, 1].tolist() == [114.0, 115.0, 116.0]
    assert w.factors is not None and w.factors.tolist() == [[0, 3]] * 3 + [[1, 4]] * 4
    assert w.factor_names == ("target", "bulge")
    assert (w.length, w.action_dim) == (3, 2)


def test_default_stride_is_the_window_length_and_tail_is_dropped() -> None:
    w = make_windows(ramp_episodes([10]), length=4)
    assert w.start.tolist() == [0, 4]  # steps 8, 9 do not fill a window
    assert w.actions[1, :, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert make_windows(ramp_episodes([10]), length=4, stride=1).actions.shape == (7, 4, 2)


def test_whole_episode_windows() -> None:
    episodes = ramp_episodes([5, 5, 5])
    w = make_windows(episodes)
    assert w.actions.shape == (3, 5, 2)
    np.testing.assert_array_equal(w.actions, np.stack(episodes))
    assert w.factors is None and w.factor_names == ()


def test_whole_episodes_of_different_lengths_suggest_a_window() -> None:
    with pytest.raises(AbsactionError, match=r"different lengths \(4 to 6 steps\).*window length <= 4"):
        make_windows(ramp_episodes([6, 4]))


def test_episode_shorter_than_window() -> None:
    with pytest.raises(AbsactionError, match=r"episode 1 has 4 steps, shorter than the window length 5"):
        make_windows(ramp_episodes([6, 4]), length=5)


def test_split_by_episode_keeps_episodes_whole() -> None:
    w = make_windows(ramp_episodes([8] * 10), length=4, stride=2)  # 3 windows per episode
    train, val = w.split_by_episode(0.3, seed=1)
    assert len(train) + len(val) == len(w) == 30
    assert set(train.episode_index.tolist()).isdisjoint(val.episode_index.tolist())
    assert len(set(val.episode_index.tolist())) == 3


def test_pad_episodes_keeps_every_step() -> None:
    episodes = ramp_episodes([2, 4, 3])
    padded, lengths = pad_episodes(episodes, pad_value=-9.0)
    assert padded.shape == (3, 4, 2) and padded.dtype == np.float32
    assert lengths.tolist() == [2, 4, 3]
    for e, actions in enumerate(episodes):
        np.testing.assert_array_equal(padded[e, : len(actions)], actions)
        assert (padded[e, len(actions) :] == -9.0).all()
    with pytest.raises(AbsactionError, match="episode 1 has no steps"):
        pad_episodes([episodes[0], np.zeros((0, 2))])


# -------------------------------------------------------------------------------------- normaliser
def test_normalizer_statistics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(20, 16, 3)) * [1.0, 5.0, 0.1] + [0.0, -2.0, 3.0]).astype(np.float32)
    norm = Normalizer.fit(x)
    flat = x.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(norm.mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(norm.std, flat.std(axis=0), rtol=1e-12)
    z = norm.transform(x)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 3).std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(norm.inverse(z), x, atol=1e-5)


def test_normalizer_on_variable_length_episodes_equals_concatenation() -> None:
    episodes = ramp_episodes([3, 7, 5])
    a = Normalizer.fit(episodes)
    b = Normalizer.fit(np.concatenate(episodes))
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.std, b.std)


def test_normalizer_hand_computed_and_constant_dimension() -> None:
    # dim 0 takes 0 and 2 (mean 1, std 1); dim 1 is constant 5 (std 0 -> 1, only centred)
    norm = Normalizer.fit(np.array([[[0.0, 5.0], [2.0, 5.0]]]))
    assert norm.mean.tolist() == [1.0, 5.0]
    assert norm.std.tolist() == [1.0, 1.0]
    assert norm.transform(np.array([3.0, 7.0])).tolist() == [2.0, 2.0]
    assert np.isfinite(norm.transform(np.full((4, 2), 5.0))).all()


def test_normalizer_torch_round_trip() -> None:
    norm = Normalizer(mean=[1.0, -2.0], std=[2.0, 0.5])
    x = torch.tensor([[3.0, -1.0], [1.0, -2.0]], dtype=torch.float32)
    z = norm.transform(x)
    assert isinstance(z, torch.Tensor) and z.dtype == torch.float32
    assert z.tolist() == [[1.0, 2.0], [0.0, 0.0]]
    assert torch.equal(norm.inverse(z), x)
    z64 = norm.transform(x.double())
    assert z64.dtype == torch.float64


def test_normalizer_json_round_trip_is_exact() -> None:
    rng = np.random.default_rng(3)
    norm = Normalizer.fit(rng.normal(size=(5, 8, 2)))
    again = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    np.testing.assert_array_equal(again.mean, norm.mean)
    np.testing.assert_array_equal(again.std, norm.std)


def test_normalizer_bad_input() -> None:
    norm = Normalizer([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(AbsactionError, match="2 action dimensions"):
        norm.transform(np.zeros((4, 3)))
    with pytest.raises(AbsactionError, match="malformed normaliser"):
        Normalizer.from_dict({"mean": [0.0]})
    with pytest.raises(AbsactionError, match="finite"):
        Normalizer([np.nan], [1.0])


# ------------------------------------------------------------------------------------------- split
def test_train_val_split_disjoint_deterministic_sized() -> None:
    train, val = train_val_split(50, 0.2, seed=7)
    assert len(val) == 10 and len(train) == 40
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted([*train.tolist(), *val.tolist()]) == list(range(50))
    assert train.tolist() == sorted(train.tolist())
    train2, val2 = train_val_split(50, 0.2, seed=7)
    assert np.array_equal(train, train2) and np.array_equal(val, val2)
    _, val3 = train_val_split(50, 0.2, seed=8)
    assert not np.array_equal(val, val3)


def test_train_val_split_edges() -> None:
    assert [len(a) for a in train_val_split(3, 0.01, seed=0)] == [2, 1]  # never an empty side by rounding
    assert [len(a) for a in train_val_split(3, 0.9, seed=0)] == [1, 2]
    assert [len(a) for a in train_val_split(4, 0.0, seed=0)] == [4, 0]
    assert [len(a) for a in train_val_split(1, 0.5, seed=0)] == [1, 0]
    with pytest.raises(AbsactionError, match=r"\[0, 1\)"):
        train_val_split(10, 1.0, seed=0)
    with pytest.raises(AbsactionError, match="cannot split 0 items"):
        train_val_split(0, 0.1, seed=0)


# ------------------------------------------------------------------------------------------ loading
def test_load_pendulum_dataset_without_factors(pendulum_dataset: Path) -> None:
    ds = load_dataset(pendulum_dataset)
    assert len(ds) == 4 and ds.env_id == "Pendulum-v1"
    assert ds.factor_names == () and ds.factor_array() is None
    assert ds.action_space.shape == (1,) and ds.observation_space.shape == (3,)
    assert ds.path == pendulum_dataset and ds.dataset_id == "pendulum-random-v0"
    json.dumps(ds.metadata)  # plain JSON (Minari hands authors over as a set)
    assert ds.metadata["author"] == ["absaction collect"] and ds.metadata["env_id"] == "Pendulum-v1"
    for ep in ds.episodes:
        assert ep.actions.shape == (16, 1) and ep.actions.dtype == np.float32
        assert ep.observations is not None and ep.observations.shape == (17, 3)
        assert ep.rewards.shape == (16,) and ep.rewards.dtype == np.float64
        assert ep.truncated and not ep.terminated
        assert ep.success is None and ep.factors == {}
    w = ds.action_windows()
    assert w.actions.shape == (4, 16, 1) and w.factors is None
    assert [a.shape for a in ds.episode_actions()] == [(16, 1)] * 4
    assert ds.episode_lengths().tolist() == [16] * 4


def test_load_accepts_dir_data_subdir_and_minari_id(pendulum_dataset: Path, minari_home: Path) -> None:
    a = load_dataset(pendulum_dataset)
    b = load_dataset(pendulum_dataset / "data")
    assert b.path == pendulum_dataset
    shutil.copytree(pendulum_dataset, minari_home / "pendulum-random-v0")
    c = load_dataset("pendulum-random-v0")
    assert c.path == minari_home / "pendulum-random-v0"
    for other in (b, c):
        for ea, eo in zip(a.episodes, other.episodes, strict=True):
            np.testing.assert_array_equal(ea.actions, eo.actions)


def test_load_missing_dataset_suggests_close_ids(
    tmp_path: Path, minari_home: Path, pendulum_dataset: Path
) -> None:
    shutil.copytree(pendulum_dataset, minari_home / "pendulum-random-v0")
    with pytest.raises(
        AbsactionError, match=r"'pendulum-randm-v0' not found.*did you mean pendulum-random-v0"
    ):
        load_dataset("pendulum-randm-v0")
    with pytest.raises(AbsactionError, match="not found"):
        load_dataset(tmp_path / "nowhere")


def test_load_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AbsactionError, match=r"is not a Minari dataset \(no data/metadata.json inside\)"):
        load_dataset(tmp_path)


def test_load_corrupt_dataset(tmp_path: Path, pendulum_dataset: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(pendulum_dataset, broken)
    (broken / "data" / "main_data.hdf5").write_bytes(b"not an hdf5 file")
    with pytest.raises(AbsactionError, match="cannot read the Minari dataset"):
        load_dataset(broken)


def test_nan_actions_name_the_episode(tmp_path: Path, write_minari_dataset) -> None:
    actions = ramp_episodes([4, 4, 4])
    actions[1][2, 0] = np.nan
    out = write_minari_dataset(tmp_path / "nan", actions, BOX2)
    with pytest.raises(AbsactionError, match=r"episode 1 of .* NaN or infinite actions \(first at step 2\)"):
        load_dataset(out)
    actions[1][2, 0] = 0.0
    actions[2][0, 1] = np.inf
    out = write_minari_dataset(tmp_path / "inf", actions, BOX2)
    with pytest.raises(AbsactionError, match=r"episode 2 of .* NaN or infinite actions \(first at step 0\)"):
        load_dataset(out)


def test_discrete_action_space_is_refused(tmp_path: Path, write_minari_dataset) -> None:
    out = write_minari_dataset(tmp_path / "discrete", [np.array([0, 1, 1])], gym.spaces.Discrete(2))
    with pytest.raises(AbsactionError, match=r"action space Discrete\(2\).*1-D gymnasium Box"):
        load_dataset(out)


def test_foreign_dataset_with_flat_factor_infos(tmp_path: Path, write_minari_dataset) -> None:
    """A dataset from another tool: factors as flat info keys, listed under factor_names."""
    actions = ramp_episodes([3, 3])
    infos = [
        {"shape": np.full(4, 2), "speed": np.full(4, 0.5), "is_success": np.array([0, 0, 0, 1], bool)},
        {"shape": np.full(4, 1), "speed": np.full(4, 1.5), "is_success": np.zeros(4, bool)},
    ]
    out = write_minari_dataset(
        tmp_path / "foreign", actions, BOX2, infos=infos, metadata={"factor_names": ["shape", "speed"]}
    )
    ds = load_dataset(out)
    assert ds.env_id is None  # no env spec: written from spaces only
    assert ds.factor_names == ("shape", "speed")
    assert ds.episodes[0].factors == {"shape": 2, "speed": 0.5}
    assert [ep.success for ep in ds.episodes] == [True, False]
    fa = ds.factor_array()
    assert fa is not None and fa.dtype == np.float64 and fa.tolist() == [[2.0, 0.5], [1.0, 1.5]]


def test_listed_factor_missing_from_infos(tmp_path: Path, write_minari_dataset) -> None:
    out = write_minari_dataset(
        tmp_path / "missing", ramp_episodes([3]), BOX2, metadata={"factor_names": ["goal"]}
    )
    with pytest.raises(AbsactionError, match=r"episode 0 .* no value for factor 'goal'"):
        load_dataset(out)


def test_expert_dataset_factors(expert_dataset: Path) -> None:
    ds = load_dataset(expert_dataset)
    assert ds.env_id == "absaction/Reach2D-v0" and len(ds) == 8
    assert len(ds.factor_names) >= 1
    fa = ds.factor_array()
    assert fa is not None and fa.shape == (8, len(ds.factor_names)) and fa.dtype == np.int64
    w = ds.action_windows()
    assert w.actions.shape[0] == 8 and w.actions.shape[2] == 2
    assert w.factors is not None and np.array_equal(w.factors, fa)
