"""`absaction demo` end to end on a tiny budget, and its failure behaviour."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from absaction.cli import demo, main
from absaction.outputs import RECORD_FILE, write_record

# the smallest budgets with one PPO update of every comparison agent (primitive PPO: 1,024 steps)
TINY = ["--episodes", "16", "--epochs", "1", "--rl-steps", "1024"]
TINY_SKILLS = ["--skill-episodes", "16", "--skill-epochs", "1", "--skill-steps", "1024"]


@pytest.mark.slow
def test_demo_end_to_end_tiny(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    status = main(
        ["demo", "--out", str(out), *TINY, *TINY_SKILLS, "--skill-horizon", "2", "--skill-z-dim", "3"]
    )
    assert status == 0
    for name in ("dataset/collect.json", "dataset.png", "model/model.safetensors", "model/config.json",
                 "traversal.png", "evaluation/report.json", "rl/primitive/eval.csv", "rl/latent/eval.csv",
                 "rl_comparison.png", "skills/play/collect.json", "skills/model/model.safetensors",
                 "skills/evaluation/report.json", "skills/evaluation/prior_rollouts.png",
                 "skills/rl/primitive/eval.csv", "skills/rl/skill/eval.csv", "skills_comparison.png",
                 "summary.md", "demo.json"):  # fmt: skip
        assert (out / name).is_file(), name
    summary = (out / "summary.md").read_text()
    assert "16 scripted episodes on absaction/Reach2D-v0 (action noise std 0.05)" in summary
    assert "| target |" in summary and "PPO, latent actions" in summary
    assert "16 play episodes on absaction/Reach2DPlay-v0 (512 steps" in summary
    assert "H = 2, z of size 3, 1 epochs" in summary
    report = json.loads((out / "skills" / "evaluation" / "report.json").read_text())
    rollout_success = report["prior_rollouts"]["success_rate"]
    assert "Prior rollouts (z drawn from p(z | s) every H steps, no learning, 20 episodes on " in summary
    assert f"success {100 * rollout_success:.0f}%" in summary
    # the skill comparison's table reports the last evaluation of both agents, 1,024 primitive steps in
    assert "PPO on absaction/Reach2DNewGoals-v0" in summary and "success after 1024 steps" in summary
    for kind in ("primitive", "skill"):
        last = (out / "skills" / "rl" / kind / "eval.csv").read_text().strip().splitlines()[-1]
        assert int(last.split(",")[0]) >= 1024
        assert f"| PPO, {kind} actions |" in summary
    skill_config = json.loads((out / "skills" / "model" / "config.json").read_text())
    assert skill_config["train"]["horizon"] == 2 and skill_config["train"]["z_dim"] == 3
    demo = json.loads((out / "demo.json").read_text())
    assert demo["skills"] is True and demo["skill_steps"] == 1024
    assert set(demo["timings"]) == {"collect", "plot", "train", "traverse", "evaluate", "rl", "play data",
                                    "skill model", "prior rollouts", "skill rl"}  # fmt: skip
    # summary.md lists the stage times in the order the stages ran
    times = summary.split("Stage times (s): ")[1].split("; total")[0]
    assert [re.sub(r" [0-9.]+$", "", part) for part in times.split(", ")] == [
        "collect", "plot", "train", "traverse", "evaluate", "rl", "play data", "skill model",
        "prior rollouts", "skill rl"]  # fmt: skip
    # every record names its folders relative to itself: staged elsewhere, they still resolve here
    assert json.loads((out / "demo.json").read_text())["out"] == "."
    assert json.loads((out / "model" / "config.json").read_text())["data"]["path"] == "../dataset"
    assert json.loads((out / "rl" / "latent" / "agent.json").read_text())["config"]["model"] == "../../model"
    assert json.loads((out / "evaluation" / "report.json").read_text())["data"]["path"] == "../dataset"
    for record in out.rglob("*.json"):
        assert str(tmp_path) not in record.read_text(), record
    # no temporary or set-aside folders are left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


@pytest.mark.slow
def test_demo_without_skills_and_rl(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--episodes", "16", "--epochs", "1", "--rl-steps", "0",
                 "--no-skills"]) == 0  # fmt: skip
    assert not (out / "skills").exists() and not (out / "skills_comparison.png").exists()
    assert not (out / "rl").exists()
    summary = (out / "summary.md").read_text()
    assert "## 3." not in summary and "Skills" not in summary
    assert set(json.loads((out / "demo.json").read_text())["timings"]) == {
        "collect", "plot", "train", "traverse", "evaluate"}  # fmt: skip


def test_demo_help_names_the_skill_flags_and_one_measured_time(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    for flag in ("--skills, --no-skills", "--skill-episodes", "--skill-epochs", "--skill-steps",
                 "--skill-horizon", "--skill-z-dim", "--skill-env"):  # fmt: skip
        assert flag in text, flag
    # the help, the module docstring and the README quote the same measured demo time
    assert f"about {demo.DEMO_TIME} on 2 CPU cores" in " ".join(text.split())
    assert f"about {demo.DEMO_TIME} of wall time" in " ".join((demo.__doc__ or "").split())
    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert f"about {demo.DEMO_TIME} on 2 CPU cores" in readme


def test_demo_refuses_existing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["demo", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already exists" in err[0] and "--force" in err[0]
    assert (out / "mine.txt").read_text() == "keep me"


def test_failed_stage_restores_the_old_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    # --force never replaces a folder of the user's files
    assert main(["demo", "--out", str(out), "--force"]) == 2
    assert "did not write (mine.txt)" in capsys.readouterr().err
    (out / "mine.txt").unlink()
    write_record(out, "demo")  # an earlier demo's folder, which --force may replace
    (out / "old.txt").write_text("from the earlier demo")
    # an unknown RL task is refused before any stage runs
    status = main(["demo", "--out", str(out), "--rl-env", "absaction/NoSuchTask-v0", "--force"])
    err = capsys.readouterr().err
    assert status == 2 and "unknown environment id 'absaction/NoSuchTask-v0'" in err and "demo 1/" not in err
    # so is a task with discrete actions, which the RL stage would refuse after the others had run
    status = main(["demo", "--out", str(out), *TINY, "--rl-env", "CartPole-v1", "--force"])
    err = capsys.readouterr().err
    assert status == 2 and "CartPole-v1 has a Discrete action space" in err and "demo 1/" not in err
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "old.txt"]
    # a stage that fails after others have written into the folder: the earlier demo is put back, and the
    # hint says that replacing it again takes --force
    monkeypatch.setattr(demo, "_stages", _failing_stages)
    assert main(["demo", "--out", str(out), "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "demo 2/2: rl" in " ".join(err) and "unknown environment id 'absaction/NoSuchTask-v0'" in err[-2]
    assert err[-1] == (
        "absaction demo: error: the demo's `absaction collect` stage failed (exit 2); see the message "
        f"above; {out} holds the earlier demo again: rerun with --force once it is fixed"
    )
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]


def _failing_stages(config: demo.DemoConfig, out: Path) -> list[tuple[str, Callable[[], None]]]:
    """A first stage that writes into the folder and a second whose sub-command fails."""
    failing = ["collect", "--env", "absaction/NoSuchTask-v0", "--out", str(out / "dataset")]
    return [("collect", lambda: (out / "partial.txt").write_text("half")), ("rl", lambda: demo._cli(failing))]


def test_a_failed_stage_asks_for_force_only_when_a_folder_is_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "demo"
    monkeypatch.setattr(demo, "_stages", _failing_stages)
    assert main(["demo", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "absaction demo: error: the demo's `absaction collect` stage failed (exit 2); see the message "
        "above; nothing was kept: rerun once it is fixed"
    )
    assert list(tmp_path.iterdir()) == []  # the partial folder is gone: a plain rerun is not refused


@pytest.mark.parametrize(
    ("flag", "model", "world", "default"),
    [
        ("rl", "TCVLAE", "absaction/Reach2D-v0", "absaction/Reach2DObstacle-v0"),
        ("skill", "skill model", "absaction/Reach2DPlay-v0", "absaction/Reach2DNewGoals-v0"),
    ],
)
def test_a_task_the_demos_agents_cannot_act_in_is_refused_before_any_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, model: str, world: str, default: str
) -> None:
    # Pendulum's 1-D actions: the latent (skill) agent decodes the 2-D actions of the Reach2D data its model
    # learns from; the comparison would fail after every stage before it had run
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--threads", "1", f"--{flag}-env", "Pendulum-v1"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"absaction demo: error: --{flag}-env Pendulum-v1 (observations (3,), actions (1,)) does not fit the "
        f"demo's {model}, which learns from {world}, with observations (6,), actions (2,); choose a task of "
        f"that world (default: {default}), or pass --{flag}-steps 0 to skip the comparison"
    ]
    assert not out.exists()


def test_skills_figure_draws_both_agents_and_their_random_baselines(tmp_path: Path) -> None:
    from absaction.cli.demo import SKILL_KINDS, SKILL_TITLE, _rl_figure

    curves = {"primitive": [0.0, 0.3, 0.7], "skill": [0.0, 0.5, 1.0]}
    for kind, random_success in (("primitive", 0.0), ("skill", 0.1)):
        folder = tmp_path / "rl" / kind
        folder.mkdir(parents=True)
        rows = ["primitive_steps,decisions,success_rate,mean_return,mean_length"]
        rows += [f"{5000 * i},{5000 * i},{s},{-30 + 10 * i},32" for i, s in enumerate(curves[kind])]
        (folder / "eval.csv").write_text("\n".join(rows) + "\n")
        record = {
            "format": "absaction-agent",
            "format_version": 1,
            "random_actions": {"success_rate": random_success},
        }
        (folder / "agent.json").write_text(json.dumps(record))
    fig = _rl_figure(tmp_path / "rl", "absaction/Reach2DNewGoals-v0", SKILL_KINDS, SKILL_TITLE)
    left, right = fig.axes
    solid = {line.get_label(): list(line.get_ydata()) for line in left.lines if line.get_linestyle() == "-"}
    dashed = {line.get_label(): list(line.get_ydata()) for line in left.lines if line.get_linestyle() == "--"}
    assert solid == curves
    assert dashed == {
        "primitive: random actions": [0.0, 0.0],
        "skill: random skills from the prior": [0.1, 0.1],
    }
    assert list(left.lines[0].get_xdata()) == [0.0, 5000.0, 10000.0]  # primitive env steps on the x axis
    # the returns differ from the success rates, so the second panel shows the mean return
    assert right.get_ylabel() == "mean return"
    assert fig._suptitle.get_text() == SKILL_TITLE.format(env="absaction/Reach2DNewGoals-v0")


def test_a_budget_without_a_ppo_update_is_refused_before_any_stage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--rl-steps", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--rl-steps 64 ends before the first PPO update" in err[0], err
    assert "which comes after 1024 primitive steps; pass --rl-steps 1024 or more, or 0" in err[0]
    assert not out.exists()
    assert main(["demo", "--out", str(out), "--rl-steps", "0", "--skill-steps", "100"]) == 2
    assert "--skill-steps 100 ends before" in capsys.readouterr().err
    assert not out.exists()
