"""The RL study with skill agents (Reach2D, ``--skills``) and the PointMaze suite: skill-space BC,
hindsight goal relabelling, the maze estimate, and both sweeps end to end on tiny budgets."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

from absaction.agents.bc import bc_pretrain, skill_demonstration_pairs
from absaction.bench import estimate as engine_estimate
from absaction.bench.executors import LocalExecutor
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.train import TrainConfig
from absaction.train.skill_loop import SkillTrainConfig, fit_skills
from absaction.wrappers import SkillWrapper
from benchmarks.rl import estimate as bench_estimate
from benchmarks.rl.agents import AGENTS
from benchmarks.rl.catalogue import MAZE_AGENTS, RLBenchConfig
from benchmarks.rl.cli import main
from benchmarks.rl.stage1 import prepare_stage1
from benchmarks.rl.sweep import describe_sweep


# ------------------------------------------------------------------------------------ skill-space BC
@pytest.fixture(scope="module")
def reach_skill_model(tmp_path_factory: pytest.TempPathFactory, collect_dataset: Callable[..., Path]) -> Path:
    data = collect_dataset("absaction/Reach2D-v0", "scripted", episodes=16, seed=0)
    run = tmp_path_factory.mktemp("skill") / "model"
    fit_skills(data, SkillTrainConfig(horizon=4, z_dim=4, epochs=3), run)
    return run


def test_skill_space_bc_reduces_the_z_error_on_its_demonstrations(
    reach_skill_model: Path, collect_dataset: Callable[..., Path]
) -> None:
    data = load_dataset(collect_dataset("absaction/Reach2D-v0", "scripted", episodes=16, seed=0))
    env = SkillWrapper(
        gym.make("absaction/Reach2DNewGoals-v0"), reach_skill_model, prior="none", z_bound=0.25
    )
    obs, actions = skill_demonstration_pairs(data, env)
    windows = sum(len(ep.actions) // 4 for ep in data.episodes)
    assert obs.shape == (windows, 6) and actions.shape == (windows, 4)
    # the inverse mapping: where nothing was clipped, the wrapper maps the cloned action back to the
    # encoded z (the posterior mean of that window)
    inside = np.all(np.abs(actions) < 0.999, axis=1)
    assert inside.any()
    i = int(np.flatnonzero(inside)[0])
    z = env.latent(obs[i], actions[i])
    model = env.model
    flat_obs = np.concatenate([np.asarray(ep.observations[: len(ep.actions)]) for ep in data.episodes])
    flat_act = np.concatenate([np.asarray(ep.actions) for ep in data.episodes])
    s = next(t for t in range(len(flat_obs)) if np.array_equal(flat_obs[t], obs[i]))  # window i's start
    mean, _ = model.encode_windows(
        model.skill_observation(flat_obs[s : s + 4])[None], flat_act[s : s + 4][None].astype(np.float32)
    )
    np.testing.assert_allclose(z, mean[0].numpy(), atol=1e-4)
    targets = np.stack([env.latent(o, a) for o, a in zip(obs, actions, strict=True)])  # (N, z)

    def z_error() -> float:
        predicted, _ = agent.predict(obs, deterministic=True)
        return float(
            np.mean(
                np.abs(np.stack([env.latent(o, a) for o, a in zip(obs, predicted, strict=True)]) - targets)
            )
        )

    agent = PPO("MlpPolicy", env, seed=0, n_steps=64, batch_size=32, device="cpu")
    before = z_error()
    result = bc_pretrain(agent, (obs, actions), epochs=100, batch_size=32, learning_rate=3e-3)
    assert z_error() < 0.5 * before
    assert result.action_error_after < 0.5 * result.action_error_before


# --------------------------------------------------------------------------------------- estimates
def test_pointmaze_default_sweep_is_estimated_within_two_and_a_half_hours() -> None:
    config = RLBenchConfig.from_preset("default", suite="pointmaze")
    config.validate()
    text, seconds = describe_sweep(config)
    # the 2.5 h as --dry-run prints it: the ladder variant (11th agent, a third skill model in
    # stage 1) took the estimate from 2.42 h to 2.54 h
    assert "estimated 2.5 h" in text and seconds < 2.55 * 3600
    assert config.seeds >= 5 and len(config.tasks) == 5 and config.workers == 2
    assert "5 task(s) x 11 agent(s) x 5 seed(s)" in text
    assert {"ppo-skill-bc", "ppo-skill-ladder-top"} <= set(config.agents)
    # no lookahead ceiling on the maze by default (a deep copy of a MuJoCo maze per candidate), unless asked
    assert config.lookahead == 0 and "lookahead" not in text
    asked = RLBenchConfig.from_preset("default", suite="pointmaze", lookahead=16)
    assert describe_sweep(asked)[1] > seconds + 0.4 * 3600  # 16 candidates: ~25 min more, said up front
    assert {AGENTS[a].family for a in config.agents} == {"primitive", "latent", "skill", "ablation"}


def test_data_from_another_maze_is_refused(tmp_path: Path, collect_dataset: Callable[..., Path]) -> None:
    medium = collect_dataset("PointMaze_Medium-v3", "waypoint:stitch", episodes=2, seed=0, noise=0.5)
    args = ["--suite", "pointmaze", "--dry-run", "--out", str(tmp_path / "b")]
    assert main([*args, "--data", str(medium), "--tasks", "large-1"]) == 2
    assert main([*args, "--data", str(medium), "--tasks", "medium-2"]) == 0


# ------------------------------------------------------------------------------- ladder skill models
def test_stage1_builds_a_ladder_skill_model_only_for_the_agents_that_need_it(tmp_path: Path) -> None:
    config = RLBenchConfig.from_preset(
        "quick",
        agents=["ppo-skill-ladder", "ppo-skill-prior-play"],
        demo_episodes=16,
        play_episodes=16,
        skill_epochs=1,
        skill_z_dim=6,
    )
    config.validate()
    messages: list[str] = []
    with LocalExecutor(1) as runner:
        stage1 = prepare_stage1(config, tmp_path, runner, messages.append)
    assert sorted(stage1.models) == ["skill-ladder", "skill-play"]  # no flat demo model, no ladder play one
    assert sorted(p.name for p in (tmp_path / "stage1").iterdir() if p.is_dir()) == [
        "demos",
        "play",
        "skill-ladder",
        "skill-play",
    ]
    ladder = json.loads((tmp_path / "stage1" / "skill-ladder" / "config.json").read_text())
    flat = json.loads((tmp_path / "stage1" / "skill-play" / "config.json").read_text())
    assert ladder["model_config"]["encoder"] == "ladder" and ladder["model_config"]["ladder_dims"] == [3, 3]
    assert flat["model_config"]["encoder"] == "mlp" and flat["model_config"]["ladder_dims"] == [6]
    for key in ("horizon", "epochs", "seed", "skill_obs"):  # the flat model's settings otherwise
        assert ladder["train"][key] == flat["train"][key]
    assert ladder["data"]["path"].endswith("demos") and flat["data"]["path"].endswith("play")
    # -top: the ladder model's top ladder (None), the flat model's first half (3 of 6)
    assert stage1.skill_top_dims == {"skill-ladder": None, "skill-play": 3}
    weights = (tmp_path / "stage1" / "skill-ladder" / "model.safetensors").stat().st_mtime_ns
    messages.clear()
    with LocalExecutor(1) as runner:  # a resumed sweep reuses it
        again = prepare_stage1(config, tmp_path, runner, messages.append)
    assert again.models == stage1.models and not any("training" in m for m in messages)
    assert (tmp_path / "stage1" / "skill-ladder" / "model.safetensors").stat().st_mtime_ns == weights


def test_a_ladder_agent_needs_two_latents_to_split() -> None:
    config = RLBenchConfig.from_preset("quick", agents=["ppo-skill-ladder-top"], skill_z_dim=1)
    with pytest.raises(AbsactionError, match="split into two ladders"):
        config.validate()


def test_ladder_agents_are_in_the_tables_with_what_they_control() -> None:
    for suffix, model in (("", "skill-ladder"), ("-play", "skill-ladder-play")):
        everything, top = AGENTS["ppo-skill-ladder" + suffix], AGENTS["ppo-skill-ladder-top" + suffix]
        assert (everything.model, everything.ladders, everything.prior) == (model, "all", "reparam")
        assert (top.model, top.ladders, top.prior, top.family) == (model, "top", "reparam", "skill")
        assert "ladder skill model" in top.description and "ladder skill model" in everything.description
    assert "flat skill model" in AGENTS["ppo-skill-prior-top"].description
    assert "first half" in AGENTS["ppo-skill-prior-top"].description
    assert "ppo-skill-ladder-top" in MAZE_AGENTS
    skills = RLBenchConfig.from_preset("default", skills=True).agents
    assert {
        "ppo-skill-ladder",
        "ppo-skill-ladder-play",
        "ppo-skill-ladder-top",
        "ppo-skill-ladder-top-play",
    } <= set(skills)


def test_dry_run_counts_the_ladder_skill_model_in_stage_1() -> None:
    flat = RLBenchConfig.from_preset("default", agents=["ppo-skill-prior"], skill_epochs=20)
    both = RLBenchConfig.from_preset(
        "default", agents=["ppo-skill-prior", "ppo-skill-ladder-top"], skill_epochs=20
    )
    costs = [0.0]
    vae = flat.demo_episodes * TrainConfig().epochs * bench_estimate.VAE_SECONDS_PER_EPISODE_EPOCH
    skill = flat.demo_episodes * 20 * bench_estimate.SKILL_SECONDS_PER_EPISODE_EPOCH
    collecting = flat.demo_episodes * bench_estimate.COLLECT_SECONDS_PER_EPISODE
    start = engine_estimate.WORKER_START_SECONDS
    # the models train in parallel: the longest decides (the ladder one, LADDER_SKILL_SCALE x the flat one)
    assert bench_estimate.estimate_seconds(flat, costs, False) == pytest.approx(
        collecting + max(vae, skill) + start
    )
    ladder = skill * bench_estimate.LADDER_SKILL_SCALE
    assert bench_estimate.estimate_seconds(both, costs, False) == pytest.approx(
        collecting + max(vae, ladder) + start
    )


# ---------------------------------------------------------------------------------------- end to end
def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_quick_maze_bench_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "maze"
    code = main(
        [
            "--suite",
            "pointmaze",
            "--quick",
            "--workers",
            "1",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = _rows(out)
    assert sorted(r["agent"] for r in rows) == ["ppo-bc", "ppo-skill-prior"]
    assert {r["task"] for r in rows} == {"medium-1"}
    pairs = np.load(out / "stage1" / "bc_relabelled.npz")
    assert pairs["observations"].shape[1] == 8 and pairs["actions"].shape[1] == 2
    assert (out / "stage1" / "skill" / "model.safetensors").is_file()
    assert (out / "maze_rollouts.png").stat().st_size > 10_000
    assert "skill observation `observation`; **absolute** frame" in (out / "summary.md").read_text()
    for row in rows:
        assert 0.0 <= float(row["success_random"]) <= 1.0


def test_reach2d_bench_with_skill_agents_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "skills"
    agents = [
        "ppo-skill-prior-play",
        "ppo-skill-bc",
        "sac-skill-prior-play",
        "ppo-skill-residual",
        "ppo-skill-ladder-top-play",
        "ppo",
    ]
    argv = [
        "--quick", "--skills", "--agents", *agents, "--demo-episodes", "16",
        "--play-episodes", "16", "--skill-epochs", "1", "--steps", "96", "--eval-points", "2",
        "--eval-episodes", "2", "--seeds", "1", "--workers", "1", "--no-progress", "--lookahead", "0",
        "--out", str(out),
    ]  # fmt: skip
    code = main([*argv, "--skill-frame", "relative"])  # every skill agent through relative-frame skills
    assert code == 0
    rows = _rows(out)
    assert sorted(r["agent"] for r in rows) == sorted(agents)
    for kind in ("skill", "skill-play", "skill-ladder-play"):
        assert (out / "stage1" / kind / "model.safetensors").is_file()
        trained = json.loads((out / "stage1" / kind / "config.json").read_text())
        assert trained["model_config"]["frame"] == "relative"
    assert not (out / "stage1" / "skill-ladder").exists()  # no agent acts through it
    ladder = json.loads((out / "stage1" / "skill-ladder-play" / "config.json").read_text())
    assert ladder["model_config"]["ladder_dims"] == [2, 2]  # Reach2D's z of 4 in halves
    # the ladder agent controls the top ladder (latents 2, 3 of [2, 2]) and nothing else
    record = json.loads(
        (out / "runs" / "dense" / "ppo-skill-ladder-top-play" / "seed0" / "agent.json").read_text()
    )
    assert record["config"]["skill_ladders"] == "top" and record["config"]["top_dims"] is None
    assert record["wrapper"]["ladders"] == "top" and record["wrapper"]["exposed"] == [2, 3]
    assert record["action_space"]["shape"] == [2]
    assert Path(record["wrapper"]["model"]).name == "skill-ladder-play"
    bc = (out / "runs" / "dense" / "ppo-skill-bc" / "seed0" / "bc.json").read_text()
    assert '"n_samples"' in bc
    prior = {}
    for row in rows:
        assert int(row["primitive_steps"]) >= 96
        record = json.loads((out / row["run_dir"] / "agent.json").read_text())
        if row["agent"] == "ppo":
            assert row["success_prior"] == "nan" and record["prior_rollouts"] is None
        else:  # every skill run records its model's prior rollouts on its evaluation episodes
            assert float(row["success_prior"]) == record["prior_rollouts"]["success_rate"]
            prior[row["agent"]] = float(row["success_prior"])
    # the same model, task and seed: the same prior rollouts, whatever the agent
    assert prior["ppo-skill-prior-play"] == prior["sac-skill-prior-play"]
    summary = (out / "summary.md").read_text()
    assert "/ prior |" in summary
    assert "H = 4 primitive steps per skill, z of 4, skill observation `x`, `y`; **relative**" in summary
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 2  # the stage-1 models are relative: absolute ones are another sweep
    assert "was swept with skill_frame='relative', now skill_frame=None" in capsys.readouterr().err


def test_skill_bc_clones_the_recorded_windows_where_primitive_bc_gets_relabelled_pairs(
    tmp_path: Path,
) -> None:
    from benchmarks.rl.agents import Stage1

    stage1 = Stage1(
        data=str(tmp_path / "demos"),
        models={"skill": tmp_path / "skill"},
        top_ladder={},
        chunk=None,
        bc_data={"demos": str(tmp_path / "bc_relabelled.npz")},
    )
    task = "absaction/PointMazeMedium-Task1-v0"
    primitive = AGENTS["ppo-bc"].config(task, 0, 1000, 100, 2, stage1)
    skill = AGENTS["ppo-skill-bc"].config(task, 0, 1000, 100, 2, stage1)
    assert primitive.bc_dataset == str(tmp_path / "bc_relabelled.npz")  # hindsight-relabelled pairs
    assert skill.bc_dataset == str(tmp_path / "demos")  # H-step windows need the recorded episodes
