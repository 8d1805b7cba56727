"""Shared fixtures.

- ``minari_home``: points ``MINARI_DATASETS_PATH`` at a fresh temporary folder (Minari ids resolve there).
- ``collect_dataset``: session-scoped factory; ``collect_dataset(env_id, expert, episodes, seed, **kw)``
  runs :func:`absaction.data.collect.collect` once per distinct argument set and returns the dataset folder.
- ``pendulum_dataset``: 4 random-action episodes of ``Pendulum-v1``, 16 steps each, seed 0 (no factors).
- ``expert_dataset``: 8 scripted-expert episodes of ``absaction/Reach2D-v0``, seed 0 (with factors).
- ``write_minari_dataset``: writes a hand-made Minari dataset from arrays (any action space, optional
  infos and extra metadata), for loader tests and bad-input cases (NaN actions, Discrete actions, ...).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: one thread per test process


@pytest.fixture
def minari_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary ``MINARI_DATASETS_PATH`` (restored after the test)."""
    root = tmp_path / "minari_datasets"
    root.mkdir()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture(scope="session")
def collect_dataset(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Path]]:
    """Factory: ``collect_dataset(env_id="absaction/Reach2D-v0", expert="scripted", episodes=8, seed=0,
    **config_fields) -> Path``; each distinct call is collected once per test session (no progress bar).
    Treat the returned folder as read-only."""
    from absaction.data.collect import CollectConfig, collect

    cache: dict[tuple[Any, ...], Path] = {}
    base = tmp_path_factory.mktemp("datasets")

    def make(
        env_id: str = "absaction/Reach2D-v0",
        expert: str = "scripted",
        episodes: int = 8,
        seed: int = 0,
        **fields: Any,
    ) -> Path:
        key = (env_id, expert, episodes, seed, tuple(sorted(fields.items())))
        if key not in cache:
            out = base / f"ds{len(cache)}"
            collect(
                CollectConfig(
                    env_id=env_id,
                    expert=expert,
                    episodes=episodes,
                    seed=seed,
                    out=out,
                    progress=False,
                    **fields,
                )
            )
            cache[key] = out
        return cache[key]

    yield make


@pytest.fixture(scope="session")
def pendulum_dataset(collect_dataset: Callable[..., Path]) -> Path:
    """4 random-action Pendulum-v1 episodes of 16 steps (seed 0); no factors, no success flag."""
    return collect_dataset("Pendulum-v1", "random", episodes=4, seed=0, max_steps=16)


@pytest.fixture(scope="session")
def expert_dataset(collect_dataset: Callable[..., Path]) -> Path:
    """8 scripted-expert episodes of absaction/Reach2D-v0 (seed 0), with ground-truth factors."""
    return collect_dataset("absaction/Reach2D-v0", "scripted", episodes=8, seed=0)


@pytest.fixture
def write_minari_dataset() -> Callable[..., Path]:
    """``write_minari_dataset(out, actions, action_space, observations=None, observation_space=None,
    infos=None, metadata=None, dataset_id="handmade-v0") -> out``.

    ``actions``: one ``(T_i, A)`` array per episode (or any sequence Minari accepts for the space);
    ``observations``: one ``(T_i + 1, ...)`` array per episode (default zeros of shape (T_i + 1, 1));
    ``infos``: one dict per episode; ``metadata``: extra ``metadata.json`` entries (e.g. factor_names).
    The dataset is written the way ``absaction collect`` lays it out: ``out/data/{main_data.hdf5,
    metadata.json}``.
    """

    def write(
        out: Path,
        actions: Sequence[Any],
        action_space: Any,
        observations: Sequence[np.ndarray] | None = None,
        observation_space: Any = None,
        infos: Sequence[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        dataset_id: str = "handmade-v0",
    ) -> Path:
        import gymnasium as gym
        import minari
        from minari.data_collector import EpisodeBuffer

        if observation_space is None:
            observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
        buffers = []
        for i, acts in enumerate(actions):
            n = len(acts)
            obs = observations[i] if observations is not None else np.zeros((n + 1, 1), np.float32)
            buffers.append(
                EpisodeBuffer(
                    id=i,
                    seed=i,
                    observations=obs,
                    actions=acts,
                    rewards=np.zeros(n),
                    terminations=np.zeros(n, dtype=bool),
                    truncations=np.r_[np.zeros(n - 1, dtype=bool), True],
                    infos=infos[i] if infos is not None else {},
                )
            )
        staging = out.parent / f".{out.name}.staging"
        old = os.environ.get("MINARI_DATASETS_PATH")
        os.environ["MINARI_DATASETS_PATH"] = str(staging.resolve())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds = minari.create_dataset_from_buffers(
                    dataset_id,
                    buffers,
                    action_space=action_space,
                    observation_space=observation_space,
                    algorithm_name="handmade",
                    author="tests",
                    code_permalink="tests",
                    description="hand-made test dataset",
                )
                if metadata:
                    ds.storage.update_metadata(metadata)
        finally:
            if old is None:
                os.environ.pop("MINARI_DATASETS_PATH", None)
            else:
                os.environ["MINARI_DATASETS_PATH"] = old
        out.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging / dataset_id / "data"), str(out / "data"))
        shutil.rmtree(staging)
        return out

    return write
