"""What a user sees of a skill model, and of a dataset: the training summary, the refusal of data too small
for a validation split (shared with the action VAEs), the evaluation's report.md and table, readable
skill figures, and ``absaction plot`` on actions that are not 2-D."""

from __future__ import annotations

import csv
import json
import re
import struct
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from absaction.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def last_metrics(run: Path) -> dict[str, str]:
    with open(run / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))[-1]


@pytest.fixture(scope="module")
def skill_run(tmp_path_factory: pytest.TempPathFactory, expert_dataset: Path) -> Path:
    """A skill model (H = 10, z 4) trained for 3 epochs on the 8 scripted Reach2D episodes of 32 steps."""
    run = tmp_path_factory.mktemp("skills") / "run"
    argv = ["train", "--model", "skill", "--data", str(expert_dataset), "--out", str(run), "--epochs", "3",
            "--z-dim", "4", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    return run


# ---------------------------------------------------------------------------------- the training summary
def test_skill_training_prints_a_summary_table(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "train", "--model", "skill", "--data", str(expert_dataset), "--out", str(run),
        "--epochs", "2", "--threads", "1",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads((run / "config.json").read_text())["data"]
    row = last_metrics(run)
    assert "trained skill model" in out
    # 8 episodes of 32 steps, H = 10, stride 2: 12 windows each; one episode held out
    assert (data["n_train"], data["n_val"]) == (84, 12)
    assert "84 trained, 12 held out (stride 2)" in out
    assert re.search(r"horizon H\s*│ 10 steps", out)
    assert re.search(r"latent size\s*│ 8, mlp encoder", out)
    terms = f"{float(row['recon']):.3g} / {float(row['kl']):.3g} / {float(row['prior_kl']):.3g}"
    assert "train recon / KL / prior KL (nats)" in out and terms in out
    assert f"{float(row['val_recon']):.3g} / {float(row['val_prior_nll']):.3g}" in out
    # env units with four significant digits, not a raw float
    val_rmse = f"{float(row['val_rmse']):.4g}"
    assert re.search(rf"val RMSE \(env units\)\s*│ {re.escape(val_rmse)} ", out)
    assert not re.search(r"\d\.\d{8}", out)
    # a skill every 10 steps of a 32-step episode: ceil(3.2) = 4 decisions
    assert data["decisions_per_episode"] == 4.0
    assert re.search(r"skill decisions per episode\s*│ 4 \(episodes of 32 steps", out)
    assert re.search(r"epochs\s*│ 2 ", out) and "training time" in out
    assert "train: 100%" in err  # the same progress bar as the action VAEs


# --------------------------------------------------------------------------- too few windows to validate
def _short_episodes(write: Callable[..., Path], out: Path, lengths: list[int]) -> Path:
    rng = np.random.default_rng(0)
    actions = [rng.uniform(-1, 1, (n, 2)).astype(np.float32) for n in lengths]
    observations = [rng.uniform(-1, 1, (n + 1, 2)).astype(np.float32) for n in lengths]
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    obs_box = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    return write(out, actions, box, observations=observations, observation_space=obs_box)


def test_skill_training_refuses_too_few_windows_for_a_validation_split(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # like InvertedPendulum's 3-10 step episodes with H = 10: only one episode holds a window
    data = _short_episodes(write_minari_dataset, tmp_path / "short", [3, 4, 12, 5, 6, 7, 3, 9])
    code, _, err = run_cli(
        capsys, "train", "--model", "skill", "--data", str(data), "--out", str(tmp_path / "run"),
        "--epochs", "1", "--quiet",
    )  # fmt: skip
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "too few windows for a validation split: 2 window(s)" in lines[0]
    assert (
        "pass a shorter --horizon (the episodes hold 3 to 12 steps, 1 of 8 of them at least 10)" in lines[0]
    )
    assert "collect more episodes" in lines[0] and "--val-fraction 0" in lines[0]
    assert not (tmp_path / "run").exists()
    # the fix it names works
    code, _, err = run_cli(
        capsys, "train", "--model", "skill", "--data", str(data), "--out", str(tmp_path / "run"),
        "--epochs", "1", "--horizon", "5", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["n_val"] > 0


def test_held_out_episodes_are_ones_that_hold_windows(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from absaction.data import load_dataset, train_val_split
    from absaction.data.skill_windows import dataset_skill_windows

    lengths = [3, 12, 12, 12, 4, 3, 12, 5, 12, 12]
    data = _short_episodes(write_minari_dataset, tmp_path / "mixed", lengths)
    windows = dataset_skill_windows(load_dataset(data), horizon=10, stride=2)
    train, val = windows.split_by_episode(0.1, seed=0)
    with_windows = [i for i, n in enumerate(lengths) if n >= 10]
    _, val_index = train_val_split(len(with_windows), 0.1, 0)
    assert sorted(set(val.episodes.tolist())) == [with_windows[i] for i in val_index]
    assert len(val) == 2 and len(train) == 10  # 6 episodes of 2 windows; one held out


def test_action_vaes_refuse_the_same_split(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data = _short_episodes(write_minari_dataset, tmp_path / "one", [32])  # one episode: nothing to hold out
    code, _, err = run_cli(capsys, "train", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert (
        "too few windows for a validation split: 1 window(s)" in lines[0] and "--val-fraction 0" in lines[0]
    )
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(
        capsys, "train", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet", "--epochs", "1",
        "--val-fraction", "0",
    )  # fmt: skip
    assert code == 0, err


# ------------------------------------------------------------------------------------- the evaluation
def test_skill_evaluate_writes_report_md_and_a_table(
    skill_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code, stdout, err = run_cli(capsys, "evaluate", "--model", str(skill_run), "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "prior_rollouts.png", "report.json", "report.md", "traversal.png",
    ]  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    rmse, nll = report["reconstruction"]["rmse"], report["prior_nll"]
    assert md.startswith("# absaction evaluate: skill model")
    assert "skills of H = 10 steps, latent size 4" in md
    assert f"| {rmse:.4f} |" in md and f"| {nll:.2f} |" in md
    assert "12 windows of 1 episodes (the run's held-out episodes)" in md
    assert "| L1.z0 |" in md and "| L1.z3 |" in md and "| L1.z4 |" not in md
    rollouts = report["prior_rollouts"]
    assert f"| {rollouts['episodes']} | {rollouts['success_rate']:.2f} |" in md
    assert "![prior rollouts](prior_rollouts.png)" in md and "![skill traversals](traversal.png)" in md
    # the terminal: a table, no Python dict
    assert "{'mse'" not in stdout and "absaction evaluate: skill model" in stdout
    assert re.search(rf"reconstruction RMSE \(action units\)\s*│\s*{re.escape(f'{rmse:.4g}')} ", stdout)
    assert re.search(rf"prior NLL \(nats per window\)\s*│\s*{nll:.2f} ", stdout)
    assert f"{rollouts['success_rate']:.0%}" in stdout
    assert f"wrote {out / 'report.md'} (+ report.json, prior_rollouts.png, traversal.png)" in stdout


# --------------------------------------------------------------------------------------- the figures
def test_skill_figures_are_readable(
    skill_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from absaction.analysis.skills import prior_rollouts, prior_rollouts_figure, skill_traversal_figure
    from absaction.models import load

    out = tmp_path / "report"
    assert main(["evaluate", "--model", str(skill_run), "--out", str(out)]) == 0
    for name in ("traversal.png", "prior_rollouts.png"):
        width, height = png_size(out / name)
        assert width >= 600 and 0.4 <= height / width <= 1.5, (name, width, height)

    model = load(skill_run)
    fig = skill_traversal_figure(model, np.zeros(2, np.float32), np.linspace(-2, 2, 5))
    assert fig._suptitle is not None and "skill traversals" in fig._suptitle.get_text()
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split(":")[0] for ax in panels] == ["L1.z0", "L1.z1", "L1.z2", "L1.z3"]
    assert all("KL" in ax.get_title() and "nats" in ax.get_title() for ax in panels)
    assert {(ax.get_xlabel(), ax.get_ylabel()) for ax in panels} == {("x", "y")}
    assert any("traversed latent" in ax.get_ylabel() for ax in fig.axes)  # the colour bar

    result = prior_rollouts(model, episodes=2, seed=0)
    ax = prior_rollouts_figure(result, ("x", "y"), model.horizon).axes[0]
    assert "prior rollouts on absaction/Reach2D-v0: 2 episodes" in ax.get_title()
    assert "every 10 steps" in ax.get_title()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    labels = ax.get_legend_handles_labels()[1]
    assert "start" in labels and "goal" in labels


# ----------------------------------------------------------------------- plot: actions that are not 2-D
def test_plot_draws_one_dimensional_actions_over_time(
    collect_dataset: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from absaction.analysis.paths import plot_action_series, plot_dataset
    from absaction.data import load_dataset

    data = collect_dataset("Pendulum-v1", "random", episodes=3, seed=0, max_steps=20)
    figure = tmp_path / "pendulum.png"
    code, out, err = run_cli(capsys, "plot", "--data", str(data), "--out", str(figure))
    assert code == 0, err
    assert "actions over time of 3 episodes, one panel per action dimension (1)" in out
    width, height = png_size(figure)
    assert width == 800 and height == 320  # 8 in x (2 in per panel + 1.2 in), 100 dpi

    dataset = load_dataset(data)
    info = plot_dataset(dataset, tmp_path / "again.png", max_episodes=2)
    assert (info["kind"], info["panels"], info["episodes"]) == ("actions over time", 1, 2)
    fig = plot_action_series([ep.actions for ep in dataset.episodes], values=np.arange(3))
    assert len(fig.axes) == 1 and fig.axes[0].get_ylabel() == "action[0]"
    assert len(fig.axes[0].lines) == 3 + 3  # one line per episode, one legend entry each
    # three action dimensions: three panels, stacked, sharing the step axis
    three = plot_action_series([np.zeros((5, 3)), np.ones((7, 3))], values=np.arange(2))
    assert [ax.get_ylabel() for ax in three.axes] == ["action[0]", "action[1]", "action[2]"]
    assert three.axes[-1].get_xlabel() == "step"
