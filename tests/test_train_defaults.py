"""Training defaults and the small things around them: the default TCVLAE window leaves an agent many
decisions per episode, flags that do not apply to a model kind are refused, every command defaults to one
torch thread, the help names skills, and a Ctrl-C message starts on its own line."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from absaction.cli import main
from absaction.cli._args import field_docs
from absaction.train.config import TrainConfig


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------------- the default window
def test_default_window_leaves_an_agent_several_decisions_per_episode(
    collect_dataset: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gymnasium.utils.env_checker import check_env

    from absaction.wrappers import LatentActionWrapper

    data = collect_dataset("Pendulum-v1", "random", episodes=3, seed=0, max_steps=128)
    run = tmp_path / "run"
    code, out, err = run_cli(capsys, "train", "--data", str(data), "--out", str(run), "--epochs", "1")
    assert code == 0, err
    config = json.loads((run / "config.json").read_text())
    # the paper's 32 steps, not the whole 128-step episode
    assert config["data"]["window"] == 32 and config["model_config"]["seq_len"] == 32
    assert config["train"]["window"] is None  # chosen for the user, recorded as chosen
    assert (config["data"]["n_train"], config["data"]["n_val"]) == (8, 4)  # 4 windows an episode
    assert config["data"]["decisions_per_episode"] == 4.0
    assert "episodes of 128 steps; training on windows of 32 steps (at most 32 by default" in err
    assert "makes 4 decisions per episode; choose with --window L" in err
    assert re.search(r"agent decisions per episode\s*│ 4 \(episodes of 128 steps", out)
    assert re.search(r"window \(steps\)\s*│ 32 ", out)

    env = LatentActionWrapper(gym.make("Pendulum-v1", max_episode_steps=128), run)
    check_env(env, skip_render_check=True)
    env.reset(seed=0)
    decisions, done = 0, False
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        decisions, done = decisions + 1, terminated or truncated
    assert decisions == 4
    env.close()


def test_window_default_lives_in_the_train_config() -> None:
    assert TrainConfig().window is None and TrainConfig.DEFAULT_WINDOW == 32
    doc = field_docs(TrainConfig)["window"]
    assert "min(32, episode length)" in doc and "several decisions per episode" in doc
    assert "DEFAULT_WINDOW" not in {f for f in TrainConfig().to_dict()}  # not a number-deciding field


def test_default_window_rule() -> None:
    from absaction.data.windows import decisions_per_episode, longest_window

    assert longest_window([128] * 3, 8, cap=32) == 32
    assert longest_window([32] * 3, 8, cap=32) is None  # whole episodes, the same 32 steps
    assert longest_window([20] * 3, 4, cap=32) is None  # shorter episodes: whole, as before
    assert longest_window([99] * 3, 8, cap=32) == 32
    assert longest_window([22, 30], 4, cap=32) == 20
    assert longest_window([128] * 3, 64, cap=32) == 64  # a deeper model reads at least its multiple
    assert decisions_per_episode([128, 100], 32) == 4.0
    assert decisions_per_episode([3, 10, 11], 10) == pytest.approx(4 / 3)


# ------------------------------------------------------------------------------------- small CLI defects
def test_window_with_a_skill_model_names_the_horizon(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "train", "--model", "skill", "--data", str(expert_dataset), "--out", str(tmp_path / "s"),
        "--window", "8",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.strip() == (
        "absaction train: error: --window does not apply to skill models: a skill lasts --horizon steps; "
        "pass --horizon 8 instead of --window 8"
    )
    assert not (tmp_path / "s").exists()


def test_bench_vae_defaults_to_one_thread() -> None:
    from benchmarks.vae.catalogue import VAEBenchConfig
    from benchmarks.vae.cli import build_parser

    assert VAEBenchConfig().threads == 1
    assert build_parser().parse_args([]).threads == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        ([], ["skills with a learned prior", "--model tcvlae | skill", "latent | skill"]),
        (["train"], ["or a skill model (--model skill", "tcvlae | tcvae | seq2seq | skill"]),
        (["rl"], ["in the skills of a trained skill model (SkillWrapper", "--prior"]),
    ],
)
def test_help_names_skills(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for word in words:
        assert word in text, word
    if not argv:
        assert "train an SB3 agent on primitive, latent, skill or repeated actions" in text
        assert "train an action VAE or a skill model" in text


def test_skill_flags_show_the_skill_configs_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    from absaction.train.config import SkillTrainConfig

    with pytest.raises(SystemExit):
        main(["train", "--model", "skill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    defaults = SkillTrainConfig()
    assert f"steps per skill (default: {defaults.horizon})" in text
    assert f"skill latent size (default: {defaults.z_dim})" in text
    assert f"passes over the training windows (default: {defaults.epochs})" in text


# ------------------------------------------------------------------------------------ Ctrl-C messages
def test_ctrl_c_in_skill_training_keeps_the_checkpoint_on_a_line_of_its_own(
    expert_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from absaction.train.skill_loop import SkillKind

    original = SkillKind.end_epoch
    calls = {"n": 0}

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(SkillKind, "end_epoch", interrupted)
    run = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "train", "--model", "skill", "--data", str(expert_dataset), "--out", str(run),
        "--epochs", "5", "--checkpoint-every", "1",
    )  # fmt: skip
    assert code == 130
    message = (
        f"absaction train: interrupted; {run} keeps the checkpoint of epoch 2; continue with: "
        f"absaction train --resume {run}"
    )
    assert "train:  40%" in err  # the bar was showing
    assert err.endswith(f"\n{message}\n"), err[-400:]
    assert json.loads((run / "config.json").read_text())["epochs_completed"] == 2


def test_ctrl_c_in_rl_starts_its_message_on_a_new_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import absaction.agents.training as training_module

    original = training_module._Session.evaluate_now
    calls = {"n": 0}

    def evaluate_now(self: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # inside learning, with the progress bar drawn
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(training_module._Session, "evaluate_now", evaluate_now)
    run = tmp_path / "agent"
    code, _, err = run_cli(
        capsys, "rl", "--env", "absaction/Reach2D-v0", "--steps", "128", "--eval-every", "32",
        "--eval-episodes", "1", "--checkpoint-every", "32", "--out", str(run),
        "--set", "n_steps=32", "--set", "batch_size=32", "--set", "n_epochs=1",
    )  # fmt: skip
    assert code == 130
    lines = err.split("\n")
    start = [i for i, line in enumerate(lines) if "absaction rl: interrupted" in line]
    assert len(start) == 1 and lines[start[0]].startswith("absaction rl: interrupted; "), err[-600:]
    assert "primitive" in err[: err.index("absaction rl: interrupted")]  # after the bar, not inside it
