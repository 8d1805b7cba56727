"""``absaction rl`` survives interruption: checkpoints, ``--resume`` (exact), ``--threads``, ``--device``,
and the small things of the rl command (help defaults, progress bar, default evaluation, demo figure).

A resumed run is compared with an uninterrupted one of the same seed on every ``eval.csv`` column except
``seconds`` (wall-clock time, which differs between any two runs).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from absaction.agents import AgentConfig, train_agent
from absaction.agents import training as training_module
from absaction.agents.resume import RESUME_JSON, has_checkpoint
from absaction.agents.training import resolve_config, resume_agent
from absaction.cli import main
from absaction.errors import AbsactionError
from absaction.outputs import RECORD_FILE, read_record

ENV = "absaction/Reach2D-v0"
NET = "dict(net_arch=[16])"
HYPERPARAMS = {
    "ppo": {"policy_kwargs": NET, "n_steps": 64, "batch_size": 32, "n_epochs": 2},
    "sac": {"policy_kwargs": NET, "learning_starts": 50, "batch_size": 16, "buffer_size": 1000},
}
FINAL_LAYOUT = [RECORD_FILE, "agent.json", "agent.zip", "config.json", "eval.csv", "sb3"]


def _config(algo: str, **fields: Any) -> AgentConfig:
    hyperparams = {**HYPERPARAMS[algo], **fields.pop("hyperparams", {})}
    base: dict[str, Any] = {"steps": 600, "eval_every": 100, "eval_episodes": 2, "seed": 5}
    return AgentConfig(ENV, algo=algo, hyperparams=hyperparams, **{**base, **fields})


def _curve(run: Path) -> list[dict[str, str]]:
    """eval.csv without its wall-clock column."""
    with open(run / "eval.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)]


def _sb3_steps(run: Path) -> list[str]:
    with open(run / "sb3" / "progress.csv", newline="") as fh:
        return [row["time/total_timesteps"] for row in csv.DictReader(fh)]


def _interrupt_at_evaluation(
    monkeypatch: pytest.MonkeyPatch, number: int, error: type[BaseException]
) -> None:
    """The ``number``-th evaluation of the next run raises ``error`` (as Ctrl-C or a crash would)."""
    original = training_module._Session.evaluate_now
    calls = {"n": 0}

    def evaluate_now(self: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == number:
            raise error("stopped by the test")
        return original(self)

    monkeypatch.setattr(training_module._Session, "evaluate_now", evaluate_now)


@pytest.mark.parametrize(
    ("algo", "fields", "error"),
    [
        ("ppo", {}, KeyboardInterrupt),
        ("sac", {"steps": 400}, RuntimeError),
        # VecNormalize statistics and a BC warm start whose critic warm-up (300 steps) spans the checkpoint
        # at 256: the resumed run must freeze the cloned actor again, then release it at the same step
        ("ppo", {"hyperparams": {"normalize": True}, "bc_epochs": 2, "bc_critic_warmup": 300}, RuntimeError),
    ],
    ids=["ppo", "sac", "ppo-normalize-bc"],
)
def test_an_interrupted_run_resumes_to_the_uninterrupted_curve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    expert_dataset: Path,
    algo: str,
    fields: dict[str, Any],
    error: type[BaseException],
) -> None:
    torch.set_num_threads(1)
    if "bc_epochs" in fields:
        fields = {**fields, "bc_dataset": str(expert_dataset)}
    config = _config(algo, **fields)
    layout = sorted(FINAL_LAYOUT + (["bc.json"] if config.bc_dataset else []))
    whole = train_agent(config, tmp_path / "whole", progress=False, plot=False, checkpoint_every=200)
    assert sorted(p.name for p in (tmp_path / "whole").iterdir()) == layout

    cut = tmp_path / "cut"
    with monkeypatch.context() as patch:
        _interrupt_at_evaluation(patch, 5, error)  # at 400 steps; the last checkpoint is the one at >= 200
        with pytest.raises(error):
            train_agent(config, cut, progress=False, plot=False, checkpoint_every=200)
    # an incomplete run: its record, resume.json and exactly one checkpoint
    names = sorted(p.name for p in cut.iterdir())
    checkpoints = [n for n in names if n.startswith("checkpoint-")]
    assert RECORD_FILE in names and RESUME_JSON in names and len(checkpoints) == 1
    assert (read_record(cut) or {}).get("command") == "rl" and has_checkpoint(cut)
    record = json.loads((cut / RESUME_JSON).read_text())
    assert (
        200 <= record["primitive_steps"] < 400
        and checkpoints[0] == f"checkpoint-{record['primitive_steps']:09d}"
    )
    assert not (cut / "agent.json").exists()

    resumed = resume_agent(cut, progress=False, plot=False)
    assert sorted(p.name for p in cut.iterdir()) == layout
    assert _curve(cut) == _curve(tmp_path / "whole") and len(_curve(cut)) == len(whole.evaluations)
    assert [r.mean_return for r in resumed.evaluations] == [r.mean_return for r in whole.evaluations]
    assert _sb3_steps(cut) == _sb3_steps(tmp_path / "whole")  # SB3's log: rows before + after the resume
    assert resumed.agent.num_timesteps == whole.agent.num_timesteps
    assert all(p.requires_grad for p in resumed.agent.policy.parameters())
    a, b = whole.agent.policy.state_dict(), resumed.agent.policy.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the very same final weights


def test_resume_without_the_random_state_would_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The comparison above can fail: a resume that skips restoring the random state ends elsewhere."""
    torch.set_num_threads(1)
    config = _config("ppo")
    train_agent(config, tmp_path / "whole", progress=False, plot=False, checkpoint_every=200)
    with monkeypatch.context() as patch:
        _interrupt_at_evaluation(patch, 5, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            train_agent(config, tmp_path / "cut", progress=False, plot=False, checkpoint_every=200)
    monkeypatch.setattr(training_module, "restore_rng", lambda agent, states: None)
    resume_agent(tmp_path / "cut", progress=False, plot=False)
    assert _curve(tmp_path / "cut")[:3] == _curve(tmp_path / "whole")[:3]  # before the checkpoint
    assert _curve(tmp_path / "cut") != _curve(tmp_path / "whole")


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_kill_9_then_resume_gives_the_uninterrupted_eval_csv(tmp_path: Path, algo: str) -> None:
    hp = {"ppo": ["n_steps=64", "batch_size=32", "n_epochs=2"], "sac": ["learning_starts=50", "batch_size=16",
          "buffer_size=3000"]}[algo]  # fmt: skip
    args = ["rl", "--env", ENV, "--algo", algo, "--steps", "1500" if algo == "ppo" else "900",
            "--eval-every", "300", "--eval-episodes", "2", "--seed", "2", "--checkpoint-every", "150",
            "--no-progress", "--set", f"policy_kwargs={NET}"]  # fmt: skip
    for item in hp:
        args += ["--set", item]
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "absaction", *args, "--out", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                if json.loads((run / RESUME_JSON).read_text())["primitive_steps"] >= 300:
                    break
            except (OSError, ValueError, KeyError):
                pass
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        else:
            pytest.fail("the run never wrote a checkpoint at 300 steps")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert has_checkpoint(run) and not (run / "agent.json").exists()
    # an existing incomplete run says how to continue it
    assert main([*args, "--out", str(run)]) == 2
    assert main(["rl", "--resume", str(run), "--no-progress"]) == 0
    assert sorted(p.name for p in run.iterdir()) == [
        *FINAL_LAYOUT[:4],
        "eval.csv",
        "learning_curve.png",
        "sb3",
    ]
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    assert _curve(run) == _curve(whole)
    shutil.rmtree(whole)


def test_ctrl_c_says_where_to_resume_and_the_folder_asks_for_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    torch.set_num_threads(1)
    out = tmp_path / "run"
    argv = ["rl", "--env", ENV, "--steps", "400", "--eval-every", "100", "--eval-episodes", "1",
            "--checkpoint-every", "100", "--no-progress", "--out", str(out),
            "--set", "n_steps=64", "--set", "batch_size=32", "--set", f"policy_kwargs={NET}"]  # fmt: skip
    with monkeypatch.context() as patch:
        _interrupt_at_evaluation(patch, 3, KeyboardInterrupt)
        assert main(argv) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"absaction rl: interrupted; {out} keeps the checkpoint at 1")  # at 128 steps
    assert "of 400 primitive steps" in err and err.endswith(f"continue with: absaction rl --resume {out}")
    assert "no partial output" not in err and len(err.splitlines()) == 1
    # the incomplete folder is refused without --force, with the resume named first
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert f"already exists; continue it with absaction rl --resume {out}, pass --force to start over" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # --resume takes only run-control options
    assert main(["rl", "--resume", str(out), "--steps", "800"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "absaction rl: error: --steps cannot change a run being resumed (its own settings apply); pass only "
        f"--resume {out} (with --threads, --checkpoint-every or --no-progress)"
    )
    assert main(["rl", "--resume", str(out), "--no-progress", "--threads", "1"]) == 0
    assert not has_checkpoint(out) and (out / "agent.json").is_file()
    summary = capsys.readouterr().out  # training time spans both sessions, the wall time this one only
    assert "training time (all sessions)" in summary and "s wall" in summary
    # a finished run cannot be resumed
    assert main(["rl", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"absaction rl: error: {out} is a finished run, so it cannot be resumed; start a new run with --out "
        "(or replace this one with --force)"
    )
    assert main(["rl", "--resume", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_ctrl_c_before_the_first_checkpoint_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_at_evaluation(patch, 1, KeyboardInterrupt)  # the evaluation before learning
        status = main(["rl", "--env", ENV, "--steps", "100", "--no-progress", "--out", str(out),
                       "--set", "n_steps=64", "--set", "batch_size=32"])  # fmt: skip
    assert status == 130
    assert capsys.readouterr().err.strip() == (
        "absaction rl: interrupted before the first checkpoint; nothing was kept"
    )
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_env_or_out_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rl", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.strip() == (
        "absaction rl: error: missing --env; pass --env ID --out DIR (or --resume RUN_DIR)"
    )
    assert main(["rl", "--env", ENV]) == 2
    assert "missing --out" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_device_cuda_without_cuda_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status = main(["rl", "--env", ENV, "--steps", "50", "--device", "cuda", "--out", str(tmp_path / "run")])
    assert status == 2
    assert capsys.readouterr().err.strip() == (
        "absaction rl: error: --device cuda needs CUDA, which is not available; use --device cpu"
    )
    assert list(tmp_path.iterdir()) == []


def test_threads_apply_while_training_and_are_restored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    original = training_module._Session.evaluate_now

    def evaluate_now(self: Any) -> Any:
        seen.append(torch.get_num_threads())
        return original(self)

    monkeypatch.setattr(training_module._Session, "evaluate_now", evaluate_now)
    torch.set_num_threads(1)
    config = _config("ppo", steps=64, eval_every=64, eval_episodes=1)
    train_agent(config, tmp_path / "two", progress=False, plot=False, threads=2)
    assert seen == [2, 2] and torch.get_num_threads() == 1
    with pytest.raises(AbsactionError, match="threads must be >= 0"):
        train_agent(config, tmp_path / "bad", progress=False, plot=False, threads=-1)


def _probe_threads(job: int) -> int:
    return torch.get_num_threads()


def test_bench_workers_and_the_demo_take_threads() -> None:
    from absaction.bench.executors import LocalExecutor
    from absaction.cli import build_parser
    from benchmarks.rl.catalogue import RLBenchConfig

    with LocalExecutor(workers=2, threads=2) as runner:
        assert {threads for _, threads in runner.imap_unordered(_probe_threads, [1, 2])} == {2}
    assert RLBenchConfig.from_preset("quick").threads == 1
    parser = build_parser()
    assert parser.parse_args(["bench", "--out", "b", "--threads", "3"]).threads == 3
    assert (
        parser.parse_args(["demo"]).threads == 1
        and parser.parse_args(["demo", "--threads", "0"]).threads == 0
    )
    assert parser.parse_args(["rl", "--env", ENV, "--out", "o"]).threads == 1


def test_rl_help_shows_each_default_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["rl", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "(default: None)" not in text and "(default: False)" not in text
    assert text.count("(default: all)") == 1 and "(default: all) (default" not in text
    assert "(default: 0)" in text and "(default: ppo)" in text  # real defaults are still shown
    assert "--checkpoint-every N primitive env steps between checkpoints (default: a tenth of --steps" in text


def test_progress_bar_stops_at_its_total_and_shows_no_nan_success(capsys: pytest.CaptureFixture[str]) -> None:
    # Pendulum-v1 has no is_success; 7-step repeats overshoot a 100-step budget by up to 6 steps
    config = AgentConfig("Pendulum-v1", actions="repeat", chunk=7, steps=100, eval_every=50, eval_episodes=1,
                         hyperparams={"n_steps": 8, "batch_size": 8, "policy_kwargs": NET})  # fmt: skip
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = train_agent(config, Path(tmp) / "run", progress=True, plot=False)
    assert result.primitive_steps > 100
    bar = capsys.readouterr().err
    assert "100/100" in bar and "nan" not in bar and "ret=" in bar
    assert f"{result.primitive_steps}/100" not in bar


def test_default_evaluation_is_scaled_to_the_budget() -> None:
    def resolved(env_id: str, **fields: Any) -> tuple[int | None, int | None]:
        from absaction.agents.hyperparams import resolve_hyperparams

        config = AgentConfig(env_id, **fields)
        out = resolve_config(config, resolve_hyperparams(config))
        return out.eval_every, out.eval_episodes

    # 999-step episodes, 10k steps: 10 episodes at 11 points would be 110k evaluation steps; 1 episode
    assert resolved("MountainCarContinuous-v0", steps=10_000) == (1000, 1)
    # 999-step episodes and a 5k budget: one episode every 999 steps, not every 500
    assert resolved("MountainCarContinuous-v0", steps=5_000) == (999, 1)
    assert resolved("Pendulum-v1", steps=100_000) == (10_000, 10)  # long budgets: unchanged
    assert resolved("MountainCarContinuous-v0", steps=10_000, eval_episodes=4) == (1000, 4)  # honoured
    assert resolved("MountainCarContinuous-v0", steps=10_000, eval_every=300) == (300, 1)
    with pytest.raises(AbsactionError, match="eval_episodes must be >= 1"):
        AgentConfig(ENV, eval_episodes=0).validate()


def _fake_run(folder: Path, success: list[float], returns: list[float], random_success: float) -> None:
    folder.mkdir(parents=True)
    with open(folder / "eval.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["primitive_steps", "decisions", "success_rate", "mean_return", "seconds",
                         "mean_length", "mean_decisions"])  # fmt: skip
        for i, (s, r) in enumerate(zip(success, returns, strict=True)):
            writer.writerow([100 * i, 100 * i, s, r, 0.0, 50 - 10 * i, 50 - 10 * i])
    record = {
        "format": "absaction-agent",
        "format_version": 1,
        "random_actions": {"success_rate": random_success},
    }
    (folder / "agent.json").write_text(json.dumps(record))


@pytest.mark.parametrize("sparse", [True, False])
def test_rl_comparison_shows_the_random_baselines_and_no_repeated_panel(tmp_path: Path, sparse: bool) -> None:
    from absaction.cli.demo import _plot_rl, _rl_figure

    success = {"primitive": [0.0, 0.2, 0.4], "latent": [0.1, 0.6, 0.9]}
    for kind, random_success in (("primitive", 0.05), ("latent", 0.35)):
        returns = success[kind] if sparse else [-5.0, -3.0, -1.0]
        _fake_run(tmp_path / "rl" / kind, success[kind], returns, random_success)
    fig = _rl_figure(tmp_path / "rl", "absaction/Reach2DObstacle-v0")
    left, right = fig.axes
    assert left.get_ylabel() == "success rate"
    baselines = {
        line.get_label(): list(line.get_ydata()) for line in left.lines if line.get_linestyle() == "--"
    }
    assert baselines == {"primitive: random actions": [0.05, 0.05], "latent: random z": [0.35, 0.35]}
    curves = [list(line.get_ydata()) for line in right.lines]
    if sparse:  # the return equals the success rate: the second panel shows episode lengths instead
        assert right.get_ylabel() == "mean episode length (steps)" and curves == [[50, 40, 30]] * 2
    else:
        assert right.get_ylabel() == "mean return" and curves == [[-5.0, -3.0, -1.0]] * 2
    _plot_rl(tmp_path / "rl", tmp_path / "rl_comparison.png", "x")
    assert (tmp_path / "rl_comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert np.isfinite(np.asarray(curves, dtype=float)).all()


def test_checkpoints_default_to_a_tenth_of_the_budget_and_a_changed_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _interrupt_at_evaluation(patch, 3, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt):
            train_agent(_config("ppo", steps=640, eval_every=128), run, progress=False, plot=False)
    record = json.loads((run / RESUME_JSON).read_text())
    # stopped by the evaluation at 256, inside the step that ends the rollout: the last checkpoint is at the
    # start of that rollout (64-step PPO rollouts, a checkpoint at every one)
    assert record["checkpoint_every"] == 64 and record["primitive_steps"] == 192
    # the run records its action model (none here); one that differs now is named, nothing is touched
    record["model"] = {"run_dir": "/elsewhere", "sha256": "0" * 64}
    (run / RESUME_JSON).write_text(json.dumps(record))
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(AbsactionError, match=r"changed since .* started"):
        resume_agent(run, progress=False, plot=False)
    assert sorted(p.name for p in run.iterdir()) == before
