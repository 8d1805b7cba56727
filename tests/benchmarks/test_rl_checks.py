"""What the RL study refuses before it writes anything (:mod:`benchmarks.rl.inputs`): a
``--model`` or ``--data`` of the wrong kind, and agents whose demonstrations or action model do not fit a
task. The dry run and the real run refuse each in the same one line with exit 2, and the real run leaves
no folder behind (so the corrected command is not refused as an existing sweep)."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from absaction.train import TrainConfig, fit
from absaction.train.skill_loop import SkillTrainConfig, fit_skills
from benchmarks.rl.cli import main

QUICK = ["--quick", "--workers", "1", "--no-progress", "--lookahead", "0"]
ERROR = "python -m benchmarks.rl: error: "


def _train(data: Path, run: Path, **fields: object) -> Path:
    fit(data, TrainConfig(epochs=1, threads=1, model_options={"channels": 4}, **fields), run, progress=False)
    return run


@pytest.fixture(scope="module")
def models(
    tmp_path_factory: pytest.TempPathFactory,
    expert_dataset: Path,
    pendulum_dataset: Path,
    collect_dataset: Callable[..., Path],
) -> dict[str, Path]:
    """Tiny trained models, one epoch each: ``reach`` and ``pendulum`` TCVLAEs (2-D and 1-D actions),
    ``short`` (a Pendulum TCVLAE of 8-step chunks), ``skill`` and ``seq2seq`` on the Reach2D experts."""
    root = tmp_path_factory.mktemp("models")
    short_data = collect_dataset("Pendulum-v1", "random", episodes=4, seed=0, max_steps=12)
    skill = root / "skill"
    fit_skills(expert_dataset, SkillTrainConfig(horizon=4, z_dim=2, epochs=1, threads=1), skill)
    seq2seq = root / "seq2seq"
    fit(
        expert_dataset,
        TrainConfig(model="seq2seq", epochs=1, threads=1, model_options={"hidden_size": 8}),
        seq2seq,
        progress=False,
    )
    return {
        "reach": _train(expert_dataset, root / "reach"),
        "pendulum": _train(pendulum_dataset, root / "pendulum"),
        "short": _train(short_data, root / "short"),
        "skill": skill,
        "seq2seq": seq2seq,
    }


def _refusal(argv: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line that both the dry run and the real run of ``argv`` print (exit 2, nothing written)."""
    lines = []
    for dry in (["--dry-run"], []):
        assert main([*QUICK, *argv, "--out", str(out), *dry]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(ERROR), err
        lines.append(err[0][len(ERROR) :])
        assert not out.exists()
    assert lines[0] == lines[1]  # the same words: one check serves both
    return lines[0]


# ------------------------------------------------------------------------------------------ --model
@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("skill", "a skill model (it decodes one step at a time, closed loop)"),
        ("seq2seq", "a seq2seq model (it decodes chunks of any length)"),
    ],
)
def test_a_model_the_latent_agents_cannot_act_in_is_refused_as_model(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, what: str
) -> None:
    model = models[kind]
    line = _refusal(["--model", str(model)], tmp_path / "out", capsys)
    assert line == (
        f"--model {model} is {what}, not a latent-chunk model of fixed length (tcvlae, tcvae) for the "
        "latent agents to act in; pass the run folder of `absaction train --model tcvlae`, or drop --model "
        "and stage 1 trains one"
    )


def test_a_model_of_other_actions_than_the_task_is_refused(
    models: dict[str, Path],
    expert_dataset: Path,
    pendulum_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pendulum = models["pendulum"]
    line = _refusal(["--data", str(expert_dataset), "--model", str(pendulum)], tmp_path / "out", capsys)
    assert line == (
        "ppo-latent cannot run on absaction/Reach2D-v0 (observations (6,), actions (2,)): it builds on the "
        f"model {pendulum} (trained on Pendulum-v1), with actions (1,); drop ppo-latent (--agents), or pass "
        "--model trained on data of absaction/Reach2D-v0"
    )
    # without --data, stage 1 would take the model's own training data for BC: that does not fit either
    line = _refusal(["--model", str(pendulum)], tmp_path / "out", capsys)
    assert line.startswith(
        f"ppo-bc cannot run on absaction/Reach2D-v0 (observations (6,), actions (2,)): it builds on the "
        f"--model's training data {pendulum_dataset}, with observations (3,), actions (1,); drop ppo-bc, "
        "ppo-latent (--agents)"
    )
    # on its own task, with its own data, the same model is accepted
    argv = [*QUICK, "--tasks", "Pendulum-v1", "--data", str(pendulum_dataset), "--model", str(pendulum)]
    assert main([*argv, "--out", str(tmp_path / "fits"), "--dry-run"]) == 0
    assert "1 task(s) x 2 agent(s)" in capsys.readouterr().out


def test_the_models_latents_and_chunks_must_serve_the_latent_agents(
    models: dict[str, Path],
    collect_dataset: Callable[..., Path],
    expert_dataset: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    short = models["short"]
    assert json.loads((short / "config.json").read_text())["model_config"]["seq_len"] == 8
    data = collect_dataset("Pendulum-v1", "random", episodes=4, seed=0, max_steps=12)
    argv = ["--tasks", "Pendulum-v1", "--data", str(data), "--model", str(short)]
    line = _refusal([*argv, "--agents", "ppo-latent-phase8"], tmp_path / "out", capsys)
    assert line == (
        f"ppo-latent-phase8 re-decides every 8 steps along the plan, the model {short} decodes chunks of 8 "
        "(it needs chunks longer than 8 that 8 divides); drop ppo-latent-phase8 (--agents), or pass a "
        "--model with such chunks"
    )
    assert main([*QUICK, *argv, "--agents", "ppo-latent", "--out", str(tmp_path / "o"), "--dry-run"]) == 0
    # a model whose every latent unit collapsed gives the latent agents nothing to control
    collapsed = tmp_path / "collapsed"
    shutil.copytree(models["reach"], collapsed)
    record = json.loads((collapsed / "config.json").read_text())
    record["kl_per_dim"] = [[0.001] * len(ladder) for ladder in record["kl_per_dim"]]
    (collapsed / "config.json").write_text(json.dumps(record))
    argv = ["--data", str(expert_dataset), "--model", str(collapsed), "--agents", "ppo-bc", "ppo-latent-top"]
    line = _refusal(argv, tmp_path / "out", capsys)
    assert line.startswith(
        f"the model {collapsed} has no active latent units (every KL is below 0.01 nats), so ppo-latent-top "
        "has nothing to control"
    )


# ------------------------------------------------------------------------------------------- --data
@pytest.mark.parametrize("given", ["folder", "zip"])
def test_a_trained_agent_is_refused_as_data(tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str):
    run = tmp_path / "expert"  # laid out as `absaction rl --out` writes it: agent.zip beside config.json
    run.mkdir()
    with zipfile.ZipFile(run / "agent.zip", "w") as archive:
        archive.writestr("data", "{}")
    (run / "config.json").write_text(json.dumps({"config": {"env_id": "absaction/Reach2DObstacle-v0"}}))
    data = run if given == "folder" else run / "agent.zip"
    line = _refusal(["--data", str(data)], tmp_path / "out", capsys)
    assert line == (
        f"--data {data} is a trained agent (a stable-baselines3 agent.zip), not demonstrations; record "
        f"demonstrations with it first (absaction collect --env absaction/Reach2DObstacle-v0 --expert "
        f"{run / 'agent.zip'} --out DIR) and pass --data DIR"
    )


def test_skill_agents_need_the_skill_observation_in_the_data(
    pendulum_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refusal(
        ["--data", str(pendulum_dataset), "--agents", "ppo-skill-prior", "ppo-skill-bc"],
        tmp_path / "o",
        capsys,
    )
    assert line == (
        f"the skill models of ppo-skill-prior, ppo-skill-bc observe x, y, which the demonstrations "
        f"{pendulum_dataset} does not hold (its columns: obs_0, obs_1, obs_2); drop those agents (--agents), "
        "or pass --data recorded in absaction/Reach2D-v0"
    )


# -------------------------------------------------------------------------------------------- tasks
def test_a_task_the_preset_agents_cannot_act_in_is_refused_before_stage_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    line = _refusal(["--tasks", "Pendulum-v1"], out, capsys)
    assert line == (
        "ppo-bc, ppo-latent cannot run on Pendulum-v1 (observations (3,), actions (1,)): they build on the "
        "demonstrations stage 1 collects in absaction/Reach2D-v0, with observations (6,), actions (2,); drop "
        "ppo-bc, ppo-latent (--agents), or pass --data with demonstrations recorded in Pendulum-v1"
    )
    # nothing was left behind: no sweep to resume, and the corrected command is no "existing" sweep
    assert main([*QUICK, "--tasks", "Pendulum-v1", "--out", str(out), "--resume", "--dry-run"]) == 2
    assert f"{out} holds no sweep to resume" in capsys.readouterr().err
    assert main([*QUICK, "--tasks", "Pendulum-v1", "--agents", "ppo", "--out", str(out), "--dry-run"]) == 0
    assert "1 task(s) x 1 agent(s)" in capsys.readouterr().out
