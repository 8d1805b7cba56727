"""absaction.train and `absaction train`: the run folder, metrics, determinism, resume equivalence,
bad input, and the CLI end to end on a collected Reach2D dataset."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from absaction.cli import main
from absaction.cli._args import field_docs
from absaction.data.normalizer import fit_normalizer
from absaction.errors import AbsactionError
from absaction.models import MODELS, ActionVAE, ModelConfig, load
from absaction.outputs import RECORD_FILE, path_from_record
from absaction.train import (
    RESUME_FILE,
    TrainConfig,
    fit,
    fit_arrays,
    load_resume_state,
    metric_columns,
    resume,
)
from absaction.train.loop import VAEKind, ladder_scales
from absaction.train.optim import Adam

TINY = {"ladder_dims": [2, 1], "channels": 4}


def _windows(n: int = 24, seq_len: int = 16, seed: int = 0) -> np.ndarray:
    """Smooth 2-D action sequences with two factors (a side and an amplitude), (n, T, 2) float32."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, seq_len)
    side = rng.choice([-1.0, 1.0], size=(n, 1))
    amplitude = rng.uniform(0.2, 1.0, size=(n, 1))
    dx = side * amplitude * np.cos(np.pi * t)[None] + 0.01 * rng.standard_normal((n, seq_len))
    dy = 0.3 + 0.05 * amplitude * np.sin(np.pi * t)[None]
    return np.stack([dx, dy], axis=-1).astype(np.float32)


def _config(**overrides: Any) -> TrainConfig:
    fields: dict[str, Any] = {"model_options": dict(TINY), "epochs": 3, "batch_size": 8, "threads": 1}
    return TrainConfig(**{**fields, **overrides})


def _fit(run: Path, config: TrainConfig, **kwargs: Any) -> Any:
    return fit_arrays(_windows(), config, run, val_actions=_windows(8, seed=1), progress=False, **kwargs)


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load(run).state_dict()


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------------------- the run folder


def test_fit_arrays_writes_a_complete_run_folder(tmp_path: Path) -> None:
    result = _fit(tmp_path / "run", _config(), env_id="absaction/Reach2D-v0", data_info={"path": "somewhere"})
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        RECORD_FILE,
        "config.json",
        "metrics.csv",
        "model.safetensors",
        "resume.safetensors",
    ]
    config = json.loads((run / "config.json").read_text())
    assert config["complete"] is True and config["epochs_completed"] == 3
    assert config["train"]["beta"] == 100.0 and config["train"]["capacity"] == "adaptive:50,signed"
    assert config["data"]["path"] == "somewhere" and config["data"]["n_train"] == 24
    assert config["data"]["n_val"] == 8 and len(config["data"]["sha256"]) == 64
    assert config["env_id"] == "absaction/Reach2D-v0"
    assert [len(k) for k in config["kl_per_dim"]] == [2, 1]
    rows = _rows(run)
    assert list(rows[0]) == metric_columns([2, 1])
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert len(result.metrics) == 3 and result.seconds > 0
    assert float(rows[-1]["val_rmse"]) > 0 and float(rows[-1]["kl"]) >= 0


def test_metric_columns() -> None:
    assert metric_columns([2, 1]) == [
        "epoch",
        "loss",
        "recon",
        "val_recon",
        "val_rmse",
        "kl",
        "kl_l1",
        "kl_l2",
        "c_l1",
        "c_l2",
        "c_total",
        "kl_l1_d0",
        "kl_l1_d1",
        "kl_l2_d0",
        "seconds",
    ]


def test_metric_rows_are_consistent(tmp_path: Path) -> None:
    rows = _fit(tmp_path / "run", _config(epochs=4, capacity="adaptive:2")).metrics
    for row in rows:
        assert row["kl"] == pytest.approx(row["kl_l1"] + row["kl_l2"])
        assert row["kl_l1"] == pytest.approx(row["kl_l1_d0"] + row["kl_l1_d1"])
    # adaptive:2 by hand: C of epoch e = mean KL of epochs e-2, e-1 (0 in epoch 1)
    assert rows[0]["c_l1"] == 0.0
    assert rows[1]["c_l1"] == pytest.approx(rows[0]["kl_l1"])
    assert rows[2]["c_l2"] == pytest.approx((rows[0]["kl_l2"] + rows[1]["kl_l2"]) / 2)
    assert rows[3]["c_l1"] == pytest.approx((rows[1]["kl_l1"] + rows[2]["kl_l1"]) / 2)
    assert rows[3]["c_total"] == pytest.approx(rows[3]["c_l1"] + rows[3]["c_l2"])


def test_linear_capacity_ramps_with_optimiser_steps(tmp_path: Path) -> None:
    # 24 windows / batch 8 = 3 steps per epoch; C ramps 0 -> 6 nats over 9 steps: 2 nats per epoch
    rows = _fit(tmp_path / "run", _config(epochs=4, capacity="linear:6,9")).metrics
    assert [r["c_total"] for r in rows] == pytest.approx([0.0, 2.0, 4.0, 6.0])
    assert all(r["c_l1"] is None for r in rows)
    assert _rows(tmp_path / "run")[0]["c_l1"] == ""  # empty cell in the CSV


def test_kl_per_dim_is_the_training_set_mean(tmp_path: Path) -> None:
    _fit(tmp_path / "run", _config())
    model = load(tmp_path / "run")
    x = model.normalizer.transform(torch.from_numpy(_windows()))
    expected = [(0.5 * (m**2 + lv.exp() - 1 - lv)).mean(0).tolist() for m, lv in model.encode_normalized(x)]
    assert model.kl_per_dim is not None
    for got, want in zip(model.kl_per_dim, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-7)


def test_fit_normalizer_modes() -> None:
    actions = np.array([[[1.0, 10.0], [3.0, 10.0]], [[1.0, 14.0], [3.0, 14.0]]])  # stds 1 and 2
    per_dim = fit_normalizer(actions, "per-dim")
    assert per_dim.mean.tolist() == [2.0, 12.0] and per_dim.std.tolist() == [1.0, 2.0]
    shared = fit_normalizer(actions, "global")
    assert shared.mean.tolist() == [2.0, 12.0]
    assert shared.std.tolist() == pytest.approx([np.sqrt(2.5)] * 2)  # RMS of the per-dimension stds


def test_adam_matches_torch_adam() -> None:
    torch.manual_seed(0)
    ours = [torch.randn(4, 3, requires_grad=True), torch.randn(5, requires_grad=True)]
    theirs = [p.detach().clone().requires_grad_(True) for p in ours]
    a, b = Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    for _ in range(30):
        for params, opt in ((ours, a), (theirs, b)):
            loss = torch.stack([(p.sin() * p).sum() for p in params]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    for p, q in zip(ours, theirs, strict=True):
        assert torch.allclose(p, q, atol=1e-6)


# ------------------------------------------------------------------- determinism and resuming


def test_same_seed_same_weights_other_seed_other_weights(tmp_path: Path) -> None:
    _fit(tmp_path / "a", _config(seed=5))
    _fit(tmp_path / "b", _config(seed=5))
    _fit(tmp_path / "c", _config(seed=6))
    a, b, c = _weights(tmp_path / "a"), _weights(tmp_path / "b"), _weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


class Crash(Exception):
    pass


def _crash_after(epoch: int) -> Any:
    def callback(done: int, row: dict[str, Any]) -> None:
        if done == epoch:
            raise Crash

    return callback


@pytest.mark.parametrize("capacity", ["adaptive:3,abs", "linear:4,10"])
def test_resumed_run_ends_identical_to_an_uninterrupted_one(tmp_path: Path, capacity: str) -> None:
    config = _config(epochs=6, checkpoint_every=2, capacity=capacity)
    whole = _fit(tmp_path / "whole", config)

    with pytest.raises(Crash):
        _fit(tmp_path / "cut", config, epoch_callback=_crash_after(5))
    cut = tmp_path / "cut"
    # the crash came after epoch 5: the folder holds the epoch-4 checkpoint (and 5 appended CSV rows)
    assert load_resume_state(cut / RESUME_FILE).epoch == 4
    saved = json.loads((cut / "config.json").read_text())
    assert saved["epochs_completed"] == 4 and saved["complete"] is False
    assert len(_rows(cut)) == 5

    resumed = _fit(cut, config, resume=True)
    a, b = _weights(tmp_path / "whole"), _weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in whole.metrics]
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.metrics] == strip
    assert [r["epoch"] for r in _rows(cut)] == ["1", "2", "3", "4", "5", "6"]
    assert (
        json.loads((cut / "config.json").read_text())["kl_per_dim"]
        == (json.loads((tmp_path / "whole" / "config.json").read_text())["kl_per_dim"])
    )


def test_ladder_scales_schedule() -> None:
    assert ladder_scales(1, 3, 0) is None  # off: the paper's training, every ladder from the start
    # P = 4, fade over 2 epochs: ladder 3 from epoch 1, ladder 2 fades in over epochs 5-6, ladder 1 over 9-10
    table = [ladder_scales(epoch, 3, 4) for epoch in range(1, 12)]
    assert table[:4] == [[0.0, 0.0, 1.0]] * 4
    assert table[4:6] == [[0.0, 0.5, 1.0], [0.0, 1.0, 1.0]]
    assert table[6:8] == [[0.0, 1.0, 1.0]] * 2
    assert table[8] == [0.5, 1.0, 1.0]
    assert table[9] is None and table[10] is None  # every ladder at 1: the plain training step
    assert ladder_scales(1, 1, 5) is None  # one ladder has nothing to stage


def test_progressive_training_holds_lower_ladders_at_the_prior(tmp_path: Path) -> None:
    # ladder 1 is held at z = 0 for the whole run: the decoder never sees it, so its KL term alone drives
    # its posterior to the prior, while ladder 2 (the top) learns the factors.
    _fit(tmp_path / "p", _config(epochs=10, progressive=50, lr=1e-2))
    kl1 = [float(row["kl_l1"]) for row in _rows(tmp_path / "p")]
    kl2 = [float(row["kl_l2"]) for row in _rows(tmp_path / "p")]
    assert kl1[-1] < 0.1 * kl1[0] and kl1[-1] < 0.01
    assert kl2[-1] > 1.0
    # the same run without progressive training puts most of its information in ladder 1
    _fit(tmp_path / "plain", _config(epochs=10, lr=1e-2))
    assert float(_rows(tmp_path / "plain")[-1]["kl_l1"]) > 1.0


def test_total_correlation_term_lowers_the_logged_tc(tmp_path: Path) -> None:
    # the metrics log the epoch's TC estimate when the loss has the term; a heavy weight on it leaves the
    # latents less dependent on each other than the same run with a light one (means of the last 10
    # epochs: the per-epoch estimate is noisy)
    light = _fit(tmp_path / "light", _config(epochs=30, tc=0.01, lr=1e-2))
    heavy = _fit(tmp_path / "heavy", _config(epochs=30, tc=500.0, lr=1e-2))
    assert "tc" not in _fit(tmp_path / "none", _config(epochs=1)).metrics[0]
    light_tc, heavy_tc = (np.mean([row["tc"] for row in run.metrics[-10:]]) for run in (light, heavy))
    assert heavy_tc < 0.5 * light_tc
    assert light_tc > 0.1  # the light run's latents do depend on each other


def test_progressive_run_resumes_identically(tmp_path: Path) -> None:
    config = _config(epochs=6, checkpoint_every=2, progressive=2)
    _fit(tmp_path / "whole", config)
    with pytest.raises(Crash):
        _fit(tmp_path / "cut", config, epoch_callback=_crash_after(3))
    _fit(tmp_path / "cut", config, resume=True)
    a, b = _weights(tmp_path / "whole"), _weights(tmp_path / "cut")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_can_extend_a_finished_run(tmp_path: Path) -> None:
    whole = _fit(tmp_path / "whole", _config(epochs=4))
    _fit(tmp_path / "short", _config(epochs=2))
    extended = _fit(tmp_path / "short", _config(epochs=4), resume=True)
    assert [r["loss"] for r in extended.metrics] == [r["loss"] for r in whole.metrics]
    assert (
        _fit(tmp_path / "short", _config(epochs=4), resume=True).metrics == extended.metrics
    )  # nothing to do


@pytest.mark.parametrize(
    ("change", "match"),
    [
        # Python's names here; the command line's flags in test_cli_trains_resumes_and_reports_conflicts
        ({"beta": 50.0}, "run: beta 50.0 vs the run's 100.0"),
        ({"capacity": "none"}, "run: capacity none vs the run's adaptive:50,signed"),
        ({"model_options": {"ladder_dims": [3, 1], "channels": 4}}, r"run: ladder_dims \[3, 1\]"),
        ({"model": "tcvae", "model_options": {"channels": 4}}, "run: model tcvae vs the run's tcvlae"),
    ],
)
def test_resume_with_a_conflicting_configuration_names_the_key(
    tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    _fit(tmp_path / "run", _config())
    before = (tmp_path / "run" / "resume.safetensors").read_bytes()
    with pytest.raises(AbsactionError, match=match) as err:
        _fit(tmp_path / "run", _config(**change), resume=True)
    assert "cannot resume" in str(err.value) and "\n" not in str(err.value)
    assert (tmp_path / "run" / "resume.safetensors").read_bytes() == before


def test_resume_on_other_data_is_refused(tmp_path: Path) -> None:
    _fit(tmp_path / "run", _config())
    with pytest.raises(AbsactionError, match="run: data windows of fingerprint"):
        fit_arrays(_windows(seed=9), _config(), tmp_path / "run", resume=True, progress=False)


def test_resume_needs_an_intact_resume_file(tmp_path: Path) -> None:
    _fit(tmp_path / "run", _config())
    state = tmp_path / "run" / RESUME_FILE
    state.write_bytes(state.read_bytes()[:1000])
    with pytest.raises(AbsactionError, match="corrupt or truncated"):
        _fit(tmp_path / "run", _config(), resume=True)
    state.unlink()
    with pytest.raises(AbsactionError, match="cannot be resumed"):
        _fit(tmp_path / "run", _config(), resume=True)


def test_an_existing_run_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "keep.txt").write_text("mine")
    with pytest.raises(AbsactionError, match="already exists"):
        _fit(run, _config())
    assert [p.name for p in run.iterdir()] == ["keep.txt"]
    # force replaces only a run folder that training wrote, never a folder of the user's files
    with pytest.raises(AbsactionError, match=r"holds files that absaction train did not write \(keep.txt\)"):
        _fit(run, _config(), force=True)
    assert [p.name for p in run.iterdir()] == ["keep.txt"]
    (run / "keep.txt").unlink()
    _fit(run, _config(), force=True)  # an empty folder holds nothing to lose
    first = (run / "model.safetensors").read_bytes()
    _fit(run, dataclasses.replace(_config(), seed=1), force=True)  # its own output: replaced
    assert (run / "model.safetensors").read_bytes() != first


@pytest.mark.parametrize(
    ("actions", "match"),
    [
        (np.full((4, 16, 2), np.nan, np.float32), "NaN or infinite"),
        (np.zeros((0, 16, 2), np.float32), "no training windows"),
        (np.zeros((4, 16), np.float32), "expected"),
        (np.zeros((4, 10, 2), np.float32), "do not divide by 4"),
    ],
)
def test_bad_training_data_writes_nothing(tmp_path: Path, actions: np.ndarray, match: str) -> None:
    with pytest.raises(AbsactionError, match=match):
        fit_arrays(actions, _config(), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind either


def test_divergence_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AbsactionError, match="training diverged"):
        _fit(tmp_path / "run", _config(lr=1e30, sigma=1e-6))


def test_missing_tensorboard_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name)
    )
    with pytest.raises(AbsactionError, match=r"pip install absaction\[tensorboard\]"):
        _fit(tmp_path / "run", _config(tensorboard=True))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, "epochs must be at least 1"),
        ("sigma", 0.0, "sigma must be positive"),
        ("val_fraction", 1.0, "val_fraction"),
        ("normalize", "minmax", "unknown normalisation"),
        ("progressive", -1, "progressive must be 0"),
    ],
)
def test_bad_configuration_values(field: str, value: Any, match: str) -> None:
    with pytest.raises(AbsactionError, match=match):
        _config(**{field: value}).validate()


# --------------------------------------------------------------------------------------- the CLI


def test_help_shows_train_config_defaults_and_docs(capsys: pytest.CaptureFixture[str]) -> None:
    """`absaction train --help` reads every default and its text from TrainConfig (no copy to keep equal)."""

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    config = TrainConfig()
    assert f"windows per optimiser step (default: {config.batch_size})" in text
    assert f"Adam learning rate (default: {config.lr:g})" in text
    assert f"{field_docs(TrainConfig)['epochs']} (default: {config.epochs})" in text
    assert "capacity schedule, see below (default: adaptive:50)" in text


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "exists"
    existing.mkdir()
    cases = [
        (["train", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")], "not found"),
        (["train", "--data", str(tmp_path), "--out", str(existing)], "already exists"),
        (["train", "--out", str(tmp_path / "r")], "missing --data"),
        (["train", "--resume", str(tmp_path / "nope")], "does not exist"),
        (["train", "--data", "x", "--out", "y", "--capacity", "cyclic"], "unknown capacity mode"),
    ]
    for argv, match in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("absaction train: error:") and match in err and "\n" not in err, err
    assert list(existing.iterdir()) == []


def test_cli_trains_resumes_and_reports_conflicts(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    base = [
        "train",
        "--data",
        str(expert_dataset),
        "--ladder-dims",
        "2,1",
        "--channels",
        "4",
        "--batch-size",
        "4",
    ]
    assert main([*base, "--epochs", "2", "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["env_id"] == "absaction/Reach2D-v0" and config["model_config"]["seq_len"] == 32
    assert config["data"]["factor_names"][:3] == ["target", "bulge_out", "bulge_right"]
    # relative to the run folder, so that it resolves from any working folder
    assert path_from_record(config["data"]["path"], run) == expert_dataset.resolve()
    assert config["action_low"] == [-1.0, -1.0]
    model = load(run)
    assert model.decode([torch.zeros(1, 2), torch.zeros(1, 1)]).shape == (1, 32, 2)

    # a conflicting resume names the flag and changes nothing
    assert main(["train", "--resume", str(run), "--beta", "3"]) == 2
    assert "--beta 3.0 vs the run's 100.0" in capsys.readouterr().err
    # extending the run; the summary goes to stdout, as every command's summary does
    assert main(["train", "--resume", str(run), "--epochs", "3"]) == 0
    assert "trained tcvlae" in capsys.readouterr().out
    assert len(_rows(run)) == 3

    # the same three epochs in one go give the same weights
    assert main([*base, "--epochs", "3", "--out", str(tmp_path / "whole"), "--quiet"]) == 0
    a, b = _weights(run), _weights(tmp_path / "whole")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cli_ctrl_c_keeps_a_resumable_run(
    expert_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:

    real = VAEKind.end_epoch
    calls = {"n": 0}

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(VAEKind, "end_epoch", interrupted)
    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(expert_dataset),
        "--ladder-dims",
        "2,1",
        "--channels",
        "4",
        "--epochs",
        "4",
    ]
    assert main([*argv, "--checkpoint-every", "1", "--out", str(run), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert f"keeps the checkpoint of epoch 2; continue with: absaction train --resume {run}" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files
    monkeypatch.setattr(VAEKind, "end_epoch", real)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["epochs_completed"] == 4


def test_fit_from_a_dataset_and_resume_by_folder(expert_dataset: Path, tmp_path: Path) -> None:
    config = _config(epochs=2, batch_size=4)
    fit(expert_dataset, config, tmp_path / "run", progress=False)
    with pytest.raises(AbsactionError, match=f"run: data {tmp_path} vs the run's "):
        resume(tmp_path / "run", data=tmp_path, progress=False)
    assert resume(tmp_path / "run", {"epochs": 3}, progress=False).metrics[-1]["epoch"] == 3


@pytest.mark.slow
def test_kill_9_loses_at_most_the_epochs_since_the_last_checkpoint(
    expert_dataset: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    args = ["--data", str(expert_dataset), "--ladder-dims", "2,1", "--channels", "4", "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "absaction", "train", *args, "--epochs", "100000", "--checkpoint-every", "3"]
    proc = subprocess.Popen([*cmd, "--out", str(run), "--quiet"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if (run / "config.json").exists() and json.loads((run / "config.json").read_text())[
                "epochs_completed"
            ] >= 6:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the run never reached epoch 6")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = load_resume_state(run / RESUME_FILE).epoch
    assert done >= 6 and done % 3 == 0
    target = done + 2
    assert main(["train", "--resume", str(run), "--epochs", str(target), "--quiet"]) == 0
    assert [int(r["epoch"]) for r in _rows(run)] == list(range(1, target + 1))
    whole = tmp_path / "whole"
    assert main(["train", *args, "--epochs", str(target), "--out", str(whole), "--quiet"]) == 0
    a, b = _weights(run), _weights(whole)
    assert all(torch.equal(a[k], b[k]) for k in a)
    shutil.rmtree(whole)


def test_cli_subprocess_missing_dataset(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "absaction",
            "train",
            "--data",
            str(tmp_path / "no"),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("absaction train: error: dataset") and "not found" in lines[0]
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("flags", "model", "ladders"),
    [
        (["--model", "tcvae", "--ladder-dims", "3"], "tcvae", [3]),
        (["--merge", "gated", "--ladder-dims", "2,1"], "tcvlae", [2, 1]),
        (["--merge", "concat", "--ladder-dims", "1,1,1,1", "--normalize", "per-dim"], "tcvlae", [1, 1, 1, 1]),
    ],
)
def test_cli_model_options(
    expert_dataset: Path, tmp_path: Path, flags: list[str], model: str, ladders: list[int]
) -> None:
    run = tmp_path / "run"
    argv = [
        "train",
        "--data",
        str(expert_dataset),
        "--channels",
        "2",
        "--epochs",
        "1",
        "--out",
        str(run),
        "--quiet",
    ]
    assert main([*argv, *flags]) == 0
    loaded = load(run)
    assert loaded.name == model and loaded.ladder_dims == ladders
    assert loaded.decode([torch.zeros(2, d) for d in ladders]).shape == (2, 32, 2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AbsactionError, match="needs CUDA"):
        _fit(tmp_path / "run", _config(device="cuda"))
    assert not (tmp_path / "run").exists()


def test_tensorboard_logging_goes_through_summary_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    calls: list[tuple[str, float, int]] = []
    opened: list[dict[str, Any]] = []

    class FakeWriter:  # stands in for torch.utils.tensorboard.SummaryWriter (tensorboard is optional)
        def __init__(self, log_dir: str, purge_step: int | None = None) -> None:
            opened.append({"log_dir": log_dir, "purge_step": purge_step})

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            calls.append((tag, value, step))

        def close(self) -> None:
            pass

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "tensorboard" else real(name)
    )
    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", types.SimpleNamespace(SummaryWriter=FakeWriter)
    )
    config = _config(epochs=2, tensorboard=True)
    _fit(tmp_path / "run", config)
    assert opened == [{"log_dir": str(tmp_path / "run" / "tensorboard"), "purge_step": 1}]
    tags = {tag for tag, _, _ in calls}
    assert {"train/loss", "train/val_rmse", "capacity/kl_l1", "capacity/c_total", "kl_dim/kl_l1_d0"} <= tags
    assert sorted({step for _, _, step in calls}) == [1, 2]
    # a resumed run purges what a killed session logged after its last checkpoint
    _fit(tmp_path / "run", _config(epochs=3, tensorboard=True), resume=True)
    assert opened[-1]["purge_step"] == 3


# ----------------------------------------------------------- variable-length models (e.g. seq2seq)


@dataclasses.dataclass
class PoolConfig(ModelConfig):
    ladder_dims: list[int] = dataclasses.field(default_factory=lambda: [2])


class PoolVAE(ActionVAE):
    """A minimal variable-length model: mean-pools the real steps, decodes a constant sequence."""

    name = "pool"
    config_class = PoolConfig
    fixed_length = False

    def __init__(self, config: PoolConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.enc = torch.nn.Linear(config.action_dim, 4)
        self.dec = torch.nn.Linear(2, config.action_dim)

    def encode_normalized(self, x_norm: torch.Tensor, lengths: torch.Tensor | None = None) -> Any:
        if lengths is None:
            pooled = x_norm.mean(dim=1)
        else:
            mask = (torch.arange(x_norm.shape[1]) < lengths[:, None]).unsqueeze(-1)
            pooled = (x_norm * mask).sum(dim=1) / lengths[:, None]
        mean, logvar = self.enc(pooled).chunk(2, dim=-1)
        return [(mean, logvar)]

    def decode_normalized(self, latents: list[torch.Tensor], length: int | None = None) -> torch.Tensor:
        return self.dec(latents[0]).unsqueeze(1).expand(-1, length or 1, -1)


def test_padded_variable_length_sequences_ignore_their_padding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "pool", f"{__name__}:PoolVAE")
    actions = _windows(12, 16)
    lengths = np.array([16, 8, 12, 5] * 3)
    padded_a, padded_b = actions.copy(), actions.copy()
    for i, n in enumerate(lengths):
        padded_a[i, n:] = 0.0
        padded_b[i, n:] = 99.0  # different padding must change nothing
    config = TrainConfig(model="pool", epochs=3, batch_size=4)
    runs = []
    for name, padded in (("a", padded_a), ("b", padded_b)):
        result = fit_arrays(
            padded, config, tmp_path / name, train_lengths=lengths, val_actions=padded[:4],
            val_lengths=lengths[:4], progress=False,
        )  # fmt: skip
        runs.append(result)
    assert [r["loss"] for r in runs[0].metrics] == [r["loss"] for r in runs[1].metrics]
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    real = np.concatenate([actions[i, :n] for i, n in enumerate(lengths)])  # (S, 2) real steps only
    model = load(tmp_path / "a")
    assert model.seq_len is None
    assert model.normalizer.mean == pytest.approx(real.mean(axis=0), rel=1e-5)
    config_json = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config_json["data"]["seq_len"] is None and config_json["model_config"]["seq_len"] is None


def test_a_variable_length_model_is_built_without_a_fixed_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MODELS, "pool", f"{__name__}:PoolVAE")
    result = fit_arrays(_windows(), TrainConfig(model="pool", epochs=1), tmp_path / "run", progress=False)
    assert result.model.seq_len is None
    assert result.model.decode([torch.zeros(1, 2)], length=5).shape == (1, 5, 2)


def test_cli_model_option_reaches_the_model_config(expert_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ["train", "--data", str(expert_dataset), "--epochs", "1", "--out", str(run), "--quiet"]
    assert main([*argv, "--model-option", "channels=2", "--model-option", "ladder_dims=[1, 1]"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["model_config"]["channels"] == 2 and config["model_config"]["ladder_dims"] == [1, 1]


def test_bad_lengths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AbsactionError, match=r"lengths must lie in 1\.\.16"):
        fit_arrays(_windows(), _config(), tmp_path / "run", train_lengths=np.full(24, 17), progress=False)
    with pytest.raises(AbsactionError, match=r"expected \(24,\) integers"):
        fit_arrays(_windows(), _config(), tmp_path / "run", train_lengths=np.ones(3, int), progress=False)
    with pytest.raises(AbsactionError, match="need a fixed sequence length"):
        fit_arrays(_windows(), _config(), tmp_path / "run", train_lengths=np.full(24, 16), progress=False)


def test_cli_pads_whole_episodes_for_a_variable_length_model(
    tmp_path: Path,
    write_minari_dataset: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:

    rng = np.random.default_rng(0)
    episodes = [rng.uniform(-1, 1, (n, 2)).astype(np.float32) for n in (12, 7, 9, 12, 5, 10)]
    data = write_minari_dataset(tmp_path / "varlen", episodes, gym.spaces.Box(-1, 1, (2,), np.float32))
    # a fixed-length model cannot stack these episodes: the data layer says which window to use
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "conv"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the shortest episode has 5 steps, fewer than the 8" in err and "variable-length model" in err
    monkeypatch.setitem(MODELS, "pool", f"{__name__}:PoolVAE")
    run = tmp_path / "run"
    argv = ["train", "--data", str(data), "--model", "pool", "--epochs", "2", "--val-fraction", "0.34"]
    assert main([*argv, "--out", str(run), "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["window"] is None and config["model_config"]["seq_len"] is None
    assert config["data"]["n_train"] + config["data"]["n_val"] == 6 and config["data"]["n_val"] == 2
    held_out = set(config["data"]["val_episodes"])
    real = np.concatenate([e for i, e in enumerate(episodes) if i not in held_out])  # training steps only
    assert load(run).normalizer.mean == pytest.approx(real.mean(axis=0), rel=1e-5)
