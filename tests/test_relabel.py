"""Hindsight goal relabelling (:mod:`absaction.data.relabel`): every transition's desired goal replaced by
a later achieved goal of its own segment, the pairs written as the ``.npz`` a BC warm start reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from absaction.agents.bc import demonstration_pairs, load_demonstrations
from absaction.data import hindsight_pairs
from absaction.data.relabel import write_pairs
from absaction.errors import AbsactionError


def test_hindsight_relabelling_on_a_hand_made_segment() -> None:
    # two segments; columns: achieved goal (0, 1), desired goal (2, 3), something else (4)
    first = np.array([[t, 10 * t, -1, -1, 7] for t in range(5)], dtype=np.float32)  # 4 actions
    second = np.array([[100 + t, 0, -2, -2, 8] for t in range(3)], dtype=np.float32)  # 2 actions
    segments = [(first, np.arange(4.0)[:, None]), (second, np.arange(2.0)[:, None] + 10)]
    final_obs, final_act = hindsight_pairs(segments, [0, 1], [2, 3], strategy="final")
    np.testing.assert_array_equal(final_obs[:4, 2:4], [[4, 40]] * 4)  # the segment's last achieved goal
    np.testing.assert_array_equal(final_obs[4:, 2:4], [[102, 0]] * 2)  # never the other segment's
    np.testing.assert_array_equal(final_obs[:, [0, 1, 4]], np.r_[first[:4], second[:2]][:, [0, 1, 4]])
    np.testing.assert_array_equal(final_act[:, 0], [0, 1, 2, 3, 10, 11])
    for seed in range(5):
        obs, _ = hindsight_pairs(segments, [0, 1], [2, 3], strategy="future", seed=seed)
        later = obs[:4, 2]  # the achieved x of a later step t' in t+1..4 (x = t', y = 10 t')
        assert np.all(later > np.arange(4)) and np.all(later <= 4)
        np.testing.assert_array_equal(obs[:4, 3], 10 * later)
        assert set(obs[4:, 2]) <= {101.0, 102.0} and obs[5, 2] == 102.0  # the last step: only t' = T
    assert first[0, 2] == -1  # the input is not modified


def test_pairs_are_written_for_a_bc_warm_start_and_bad_segments_are_one_line(tmp_path: Path) -> None:
    segment = np.array([[t, 0.0, 9.0, 9.0] for t in range(4)], dtype=np.float32)  # 3 actions
    obs, actions = hindsight_pairs([(segment, np.ones((3, 2)))], [0, 1], [2, 3], strategy="final")
    path = write_pairs(tmp_path / "pairs.npz", obs, actions, "absaction/PointMaze-v0")
    loaded = load_demonstrations(str(path))
    read_obs, read_actions = demonstration_pairs(loaded)
    np.testing.assert_array_equal(read_obs, obs)
    np.testing.assert_array_equal(read_actions, actions)
    np.testing.assert_array_equal(read_obs[:, 2], [3.0, 3.0, 3.0])  # the last achieved x
    with pytest.raises(AbsactionError, match="unknown relabelling strategy 'past'"):
        hindsight_pairs([(segment, np.ones((3, 2)))], [0, 1], [2, 3], strategy="past")
    with pytest.raises(AbsactionError, match="a segment has 3 observations for 3 actions"):
        hindsight_pairs([(segment[:3], np.ones((3, 2)))], [0, 1], [2, 3])
    with pytest.raises(AbsactionError, match="differ in size"):
        hindsight_pairs([(segment, np.ones((3, 2)))], [0, 1], [2])
