"""Offline runs: a run interrupted at any step and resumed ends bit-identical to the uninterrupted run
(weights, optimiser, metrics, evaluations), an extended run equals a longer one, and the batched
evaluation gives exactly the episodes of the unbatched one.

The data is a tiny regenerated stitch dataset of the medium maze (20 episodes of 50 rows); the agents
have 8-unit layers and batches of 16, so a run of a dozen steps takes a fraction of a second and each
evaluation (one episode per task) about half a second.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch

from absaction.cli import main
from absaction.envs.ogbench_maze import global_numpy_seed
from absaction.offline.configs import GCBCConfig, OfflineConfig
from absaction.offline.data import maze_layout
from absaction.offline.evaluation import Evaluator, episode_seed, make_eval_env
from absaction.offline.persistence import build_agent
from absaction.offline.runs import resume_offline, train_offline

MEDIUM = "ogbench:pointmaze-medium-v0"
NAME = "pointmaze-medium-stitch-v0"
TIMING = {"seconds", "updates_per_s"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ogbench")
    argv = ["collect", "--env", MEDIUM, "--expert", "oracle:stitch", "--episodes", "20", "--max-steps", "50"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def tiny(data_dir: Path, agent: str, **fields: Any) -> OfflineConfig:
    options: dict[str, Any] = {"batch_size": 16, "actor_hidden_dims": [8, 8]}
    if agent != "gcbc":
        options["value_hidden_dims"] = [8, 8]
    if agent == "gciql":
        options["const_std"] = False  # the DDPG term then samples: the noise generator must resume too
    values: dict[str, Any] = {
        "dataset": NAME, "ogbench_dir": str(data_dir), "agent": agent, "steps": 12, "eval_every": 12,
        "eval_episodes": 1, "eval_tasks": 2, "log_every": 3, "checkpoint_every": 4, "agent_options": options,
    }  # fmt: skip
    return OfflineConfig(**{**values, **fields})


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(handle)]


def assert_same_run(a: Path, b: Path) -> None:
    assert (a / "model.safetensors").read_bytes() == (b / "model.safetensors").read_bytes()
    first = safetensors.torch.load((a / "resume.safetensors").read_bytes())
    second = safetensors.torch.load((b / "resume.safetensors").read_bytes())
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    assert rows(a / "metrics.csv") == rows(b / "metrics.csv")
    assert rows(a / "eval.csv") == rows(b / "eval.csv")


class Crash(Exception):
    pass


def crash_at(step: int) -> Any:
    def callback(done: int) -> None:
        if done == step:
            raise Crash

    return callback


@pytest.mark.parametrize(("agent", "eval_every"), [("gcbc", 12), ("gcivl", 6), ("gciql", 12)])
def test_a_crashed_run_resumes_to_the_uninterrupted_run(
    data_dir: Path, tmp_path: Path, agent: str, eval_every: int
) -> None:
    config = tiny(data_dir, agent, eval_every=eval_every)
    whole = train_offline(config, tmp_path / "whole", progress=False)
    assert whole.loop.step == 12 and len(whole.loop.metrics) == 4
    with pytest.raises(Crash):  # after the checkpoint of step 4, mid-way through a metrics row
        train_offline(config, tmp_path / "crashed", progress=False, step_callback=crash_at(7))
    with pytest.raises(Crash):  # after the evaluation and checkpoint of step 8 (gcivl: evaluated at 6)
        resume_offline(tmp_path / "crashed", progress=False, step_callback=crash_at(10))
    resumed = resume_offline(tmp_path / "crashed", progress=False)
    assert resumed.loop.step == 12
    assert_same_run(tmp_path / "whole", tmp_path / "crashed")


def test_an_extended_run_equals_the_longer_run(data_dir: Path, tmp_path: Path) -> None:
    longer = tiny(data_dir, "gcivl", steps=12, eval_every=6)
    train_offline(longer, tmp_path / "long", progress=False)
    train_offline(tiny(data_dir, "gcivl", steps=6, eval_every=6), tmp_path / "short", progress=False)
    result = resume_offline(tmp_path / "short", {"steps": 12}, progress=False)
    assert [row["step"] for row in result.loop.evaluations] == [6, 12]
    assert_same_run(tmp_path / "long", tmp_path / "short")


def oracle_policy(env_id: str) -> Any:
    """OGBench's oracle direction toward each goal (no noise): reaches most goals, at varied lengths."""
    layout = maze_layout(env_id)

    def act(observations: np.ndarray, goals: np.ndarray) -> np.ndarray:
        return np.stack([layout.oracle_direction(o, g) for o, g in zip(observations, goals, strict=True)])

    return act


def test_batched_evaluation_equals_one_episode_at_a_time() -> None:
    policy = oracle_policy(MEDIUM)
    before = np.random.get_state()[1].copy()  # noqa: NPY002 - the caller's global state must survive
    with Evaluator(MEDIUM, episodes=3, seed=5, envs=1) as alone, Evaluator(MEDIUM, 3, 5, envs=4) as batched:
        one, many = alone.run(policy), batched.run(policy)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    assert len(one.episodes) == len(many.episodes) == 15  # 4 envs take turns at 15 episodes
    assert one.success == many.success and one.overall > 0.5
    assert len({e.steps for e in one.episodes}) > 5  # episodes end at different steps
    for a, b in zip(one.episodes, many.episodes, strict=True):
        assert (a.task, a.index, a.success, a.steps) == (b.task, b.index, b.success, b.steps)
        np.testing.assert_array_equal(a.path, b.path)
        np.testing.assert_array_equal(a.goal, b.goal)
    # another seed: other start and goal noise
    with Evaluator(MEDIUM, episodes=3, seed=6, envs=4) as other:
        assert not np.array_equal(other.run(policy).episodes[0].path[0], one.episodes[0].path[0])


def test_an_episode_is_the_one_a_plain_gymnasium_loop_runs() -> None:
    """OGBench's evaluation loop by hand (``gymnasium.make``, reset with the task, step to the end) gives
    the evaluator's episode: its steps, success and path."""
    policy = oracle_policy(MEDIUM)
    with Evaluator(MEDIUM, episodes=2, seed=9, tasks=[2, 4], envs=3) as evaluator:
        result = evaluator.run(policy)
    for episode in result.episodes:
        env = make_eval_env(MEDIUM)
        seed = episode_seed(9, episode.task, episode.index)
        with global_numpy_seed(seed):
            env.action_space.seed(seed)
            observation, info = env.reset(seed=seed, options={"task_id": episode.task})
        path, done, steps = [env.unwrapped.get_xy()], False, 0
        while not done:
            # the policy sees float32 observations and goals, as an agent's networks compute
            goal = np.asarray(info["goal"], dtype=np.float32)[None]
            action = policy(np.asarray(observation, dtype=np.float32)[None], goal)[0]
            observation, _, terminated, truncated, step_info = env.step(np.clip(action, -1, 1))
            done, steps = terminated or truncated, steps + 1
            path.append(env.unwrapped.get_xy())
            info = {"goal": goal[0], **step_info}
        env.close()
        assert (steps, bool(step_info["success"])) == (episode.steps, episode.success)
        np.testing.assert_allclose(np.stack(path), episode.path, rtol=0, atol=1e-12)


def test_batched_evaluation_of_an_agent_equals_unbatched() -> None:
    torch.manual_seed(0)
    agent = build_agent(GCBCConfig(actor_hidden_dims=(16, 16)), 2, 2, seed=3)
    policy = agent.policy()
    with Evaluator(MEDIUM, 2, 0, [1, 3], envs=1) as alone, Evaluator(MEDIUM, 2, 0, [1, 3], envs=3) as batched:
        one, many = alone.run(policy), batched.run(policy)
    assert one.success == many.success
    for a, b in zip(one.episodes, many.episodes, strict=True):
        assert a.steps == b.steps
        np.testing.assert_allclose(a.path, b.path, atol=1e-5)  # a row's matmul may round by batch size
