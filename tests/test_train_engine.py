"""The one training engine (absaction.train.engine) under every model kind: a resume ends bit-identical to an
uninterrupted run for the action VAEs and the skill models alike, through the same engine code; a kind that
is no action model at all trains on it too; the numbers are those the two separate loops gave before the
engine (golden values); and ``absaction train --help`` shows each kind's own options and defaults, read
from its configuration."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch
from torch import Tensor

from absaction.cli import main
from absaction.cli._args import field_help, show_default
from absaction.errors import AbsactionError
from absaction.train import SkillTrainConfig, TrainConfig, engine, fit, fit_arrays, fit_skills, resume
from absaction.train.engine import LossTerms

TINY_VAE = {"ladder_dims": [2, 1], "channels": 4}


def _windows(n: int = 24, seq_len: int = 16, seed: int = 0) -> np.ndarray:
    """Smooth 2-D action sequences (n, T, 2) float32 (the windows of tests/test_train.py)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, seq_len)
    side = rng.choice([-1.0, 1.0], size=(n, 1))
    amplitude = rng.uniform(0.2, 1.0, size=(n, 1))
    dx = side * amplitude * np.cos(np.pi * t)[None] + 0.01 * rng.standard_normal((n, seq_len))
    dy = 0.3 + 0.05 * amplitude * np.sin(np.pi * t)[None]
    return np.stack([dx, dy], axis=-1).astype(np.float32)


def _config(kind: str, **fields: Any) -> TrainConfig | SkillTrainConfig:
    """A few-second configuration of ``kind`` with a capacity schedule whose state a resume must restore."""
    if kind == "vae":
        return TrainConfig(model_options=dict(TINY_VAE), batch_size=8, threads=1, **fields)
    return SkillTrainConfig(
        horizon=4, z_dim=2, hidden_size=16, batch_size=64, capacity="adaptive:2", **fields
    )


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def _weights(run: Path) -> dict[str, Tensor]:
    return safetensors.torch.load_file(str(run / "model.safetensors"))


class _Stop(Exception):
    """Raised by an epoch callback: the run dies as a crash or kill would leave it."""


# ------------------------------------------------------------------- one resume for every kind
@pytest.mark.parametrize("kind", ["vae", "skill"])
def test_resume_equals_an_uninterrupted_run_for_every_kind(
    kind: str, expert_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    restored: list[str] = []
    real_restore = engine._Run.restore

    def spy(self: Any) -> None:  # the one restore every kind goes through
        restored.append(type(self.kind).__name__)
        real_restore(self)

    monkeypatch.setattr(engine._Run, "restore", spy)
    whole = fit(expert_dataset, _config(kind, epochs=4), tmp_path / "whole", progress=False)

    def stop_in_epoch_3(epoch: int, row: dict[str, Any]) -> None:
        if epoch == 3:
            raise _Stop  # after epoch 3's row was appended, before its (never written) checkpoint

    cut = tmp_path / "cut"
    with pytest.raises(_Stop):
        fit(expert_dataset, _config(kind, epochs=4, checkpoint_every=2), cut, epoch_callback=stop_in_epoch_3)
    record = json.loads((cut / "config.json").read_text())
    assert (record["epochs_completed"], record["complete"]) == (2, False)
    assert len(_rows(cut)) == 3  # the row of epoch 3 was appended; the resume drops it

    resumed = resume(cut, progress=False)  # the run's kind is read from its folder
    assert restored == ["VAEKind" if kind == "vae" else "SkillKind"]
    assert _rows(cut) == _rows(tmp_path / "whole") and len(_rows(cut)) == 4
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.metrics] == [
        {k: v for k, v in r.items() if k != "seconds"} for r in whole.metrics
    ]
    a, b = _weights(tmp_path / "whole"), _weights(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    record = json.loads((cut / "config.json").read_text())
    assert (record["epochs_completed"], record["complete"]) == (4, True)
    assert (
        record["data"]["sha256"]
        == json.loads((tmp_path / "whole" / "config.json").read_text())["data"]["sha256"]
    )


def test_every_kind_refuses_to_resume_on_other_data(
    collect_dataset: Any, expert_dataset: Path, tmp_path: Path
) -> None:
    run_vae, run_skill = tmp_path / "vae", tmp_path / "skill"
    vae, skill = _config("vae", epochs=2), _config("skill", epochs=2)
    fit_arrays(_windows(), vae, run_vae, progress=False)  # type: ignore[arg-type]
    fit_skills(expert_dataset, skill, run_skill)  # type: ignore[arg-type]
    other = collect_dataset("absaction/Reach2D-v0", "scripted", episodes=8, seed=1)
    for retry in (
        lambda: fit_arrays(_windows(seed=9), vae, run_vae, resume=True, progress=False),  # type: ignore[arg-type]
        lambda: fit_skills(other, skill, run_skill, resume=True),  # type: ignore[arg-type]
    ):
        with pytest.raises(AbsactionError, match=r"(vae|skill): data windows of fingerprint") as err:
            retry()
        assert "\n" not in str(err.value)


# ------------------------------------------------------------------- the numbers of the old loops
def test_vae_numbers_equal_the_loop_before_the_engine(tmp_path: Path) -> None:
    """One epoch of a tiny TCVLAE: the values the action-VAE loop gave before the engine existed."""
    config = TrainConfig(model_options=dict(TINY_VAE), epochs=1, batch_size=8, threads=1)
    result = fit_arrays(_windows(), config, tmp_path / "run", val_actions=_windows(8, seed=1), progress=False)
    row = result.metrics[0]
    golden = {
        "loss": 1970.0240885416667,
        "recon": 1951.6925455729167,
        "kl": 0.1833166368305683,
        "kl_l1_d0": 0.1331794708967209,
        "kl_l2_d0": 0.012281730771064758,
        "val_recon": 1507.72265625,
        "val_rmse": 0.3280760864857243,
    }
    assert {key: row[key] for key in golden} == pytest.approx(golden, rel=1e-5)


def test_skill_numbers_equal_the_loop_before_the_engine(expert_dataset: Path, tmp_path: Path) -> None:
    """One epoch of a tiny skill model: the values the skill loop gave before the engine existed."""
    config = SkillTrainConfig(horizon=4, z_dim=2, epochs=1, batch_size=64, hidden_size=16, threads=1)
    row = fit_skills(expert_dataset, config, tmp_path / "run").metrics[0]
    golden = {
        "loss": 4.009478569030762,
        "recon": 3.964944839477539,
        "kl": 0.023288944736123085,
        "prior_kl": 0.04430069401860237,
        "kl_d0": 0.016726931557059288,
        "val_recon": 7.817306041717529,
        "val_rmse": 0.11599588394165039,
        "val_prior_nll": 1.8953914642333984,
    }
    assert {key: row[key] for key in golden} == pytest.approx(golden, rel=1e-5)


# ------------------------------------------------------------------- a kind that is no action model
@dataclasses.dataclass
class LineConfig:
    """A least-squares line y = w x + b: the smallest configuration the engine runs."""

    epochs: int = 4
    batch_size: int = 8
    lr: float = 0.05
    seed: int = 0
    checkpoint_every: int = 2
    threads: int = 1
    device: str = "cpu"
    tensorboard: bool = False

    def validate(self) -> None:
        pass

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LineConfig:
        return cls(**data)

    def conflicts(self, overrides: dict[str, Any], model_config: Any = None) -> list[tuple[str, Any, Any]]:
        from absaction.train.config import changed_keys

        return changed_keys(self, overrides)


class LineKind:
    """A model kind with its own model, loss, record and schedule (a step counter), none of them an action
    VAE's: what a later kind (a goal-conditioned offline agent) gives the engine."""

    progress_terms = ("mse",)
    divergence_fix = "lower lr"

    def __init__(self, config: LineConfig, x: np.ndarray, y: np.ndarray) -> None:
        self.config, self.x_np, self.y_np = config, x, y
        self.steps = 0

    def data_arrays(self) -> Sequence[np.ndarray | None]:
        return [self.x_np, self.y_np]

    def data_info(self) -> dict[str, Any]:
        return {"n": len(self.x_np)}

    @property
    def n_train(self) -> int:
        return len(self.x_np)

    def build(self, device: torch.device) -> torch.nn.Module:
        self.model = torch.nn.Linear(1, 1).to(device)
        self.x = torch.from_numpy(self.x_np).to(device)
        self.y = torch.from_numpy(self.y_np).to(device)
        return self.model

    def columns(self) -> list[str]:
        return ["epoch", "loss", "mse", "steps", "val_w", "seconds"]

    def begin_epoch(self, epoch: int) -> None:
        pass

    def loss(self, index: Tensor, generator: torch.Generator) -> LossTerms:
        noise = torch.randn(len(index), 1, generator=generator, device=self.x.device) * 0.01
        mse = ((self.model(self.x[index] + noise) - self.y[index]) ** 2).mean()
        return LossTerms(mse, {"loss": mse}, len(index))

    def end_step(self) -> None:
        self.steps += 1

    def end_epoch(self, sums: dict[str, Tensor], n: int) -> dict[str, Any]:
        mse = (sums["loss"] / n).item()
        return {"loss": mse, "mse": mse, "steps": self.steps}

    def evaluate(self) -> dict[str, Any]:
        return {"val_w": float(self.model.weight.item())}

    def schedule_state(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_schedule_state(self, state: dict[str, Any]) -> None:
        self.steps = state["steps"]

    def read_record(self, run_dir: Path) -> dict[str, Any]:
        return dict(json.loads((run_dir / "config.json").read_text()))

    def record_conflicts(self, run_dir: Path, saved: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        return []

    def save(self, folder: Path, extra: dict[str, Any]) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        safetensors.torch.save_file(state, str(folder / "model.safetensors"))
        (folder / "config.json").write_text(json.dumps({"kind": "line", **extra}))

    def trained_model(self) -> torch.nn.Module:
        return self.model.cpu().eval()


def test_a_kind_that_is_no_action_model_trains_and_resumes_on_the_engine(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (40, 1)).astype(np.float32)
    y = (3 * x - 1).astype(np.float32)
    whole = engine.train(LineKind(LineConfig(), x, y), tmp_path / "whole", progress=False)
    assert [row["steps"] for row in whole.metrics] == [5, 10, 15, 20]  # 40 items in batches of 8
    assert whole.metrics[-1]["mse"] < whole.metrics[0]["mse"]
    record = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert record["kind"] == "line" and record["complete"] is True and record["train"]["lr"] == 0.05
    assert record["data"] == {"n": 40, "sha256": engine.fingerprint([x, y])}

    def stop(epoch: int, row: dict[str, Any]) -> None:
        if epoch == 3:
            raise _Stop

    with pytest.raises(_Stop):
        engine.train(LineKind(LineConfig(), x, y), tmp_path / "cut", progress=False, epoch_callback=stop)
    resumed = engine.train(LineKind(LineConfig(), x, y), tmp_path / "cut", resume=True, progress=False)
    assert [r["steps"] for r in resumed.metrics] == [5, 10, 15, 20]  # the schedule's state came back
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "whole")
    assert torch.equal(resumed.model.weight, whole.model.weight)

    with pytest.raises(AbsactionError, match=r"cut: lr 0.1 vs the run's 0.05"):
        engine.train(LineKind(LineConfig(lr=0.1), x, y), tmp_path / "cut", resume=True, progress=False)
    with pytest.raises(AbsactionError, match="cut: data windows of fingerprint"):
        engine.train(LineKind(LineConfig(), x, y + 1), tmp_path / "cut", resume=True, progress=False)


# ------------------------------------------------------------------- a step budget: the offline agents
def test_an_offline_agent_resumes_through_the_engine_from_inside_a_metrics_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An offline run is the engine's step-budget kind: a crash after the checkpoint of step 4, inside the
    metrics row of steps 4-6, resumes through the engine's one restore (the row's sums come back) to the
    uninterrupted run's numbers, and every message names ``absaction offline``."""
    from absaction.offline import runs
    from absaction.offline.configs import OfflineConfig
    from absaction.offline.runs import resume_offline, train_offline

    data = tmp_path / "data"
    argv = ["collect", "--env", "ogbench:pointmaze-medium-v0", "--expert", "oracle:stitch",
            "--episodes", "10", "--max-steps", "40", "--out", str(data)]  # fmt: skip
    assert main(argv) == 0
    config = OfflineConfig(
        dataset="pointmaze-medium-stitch-v0", ogbench_dir=str(data), agent="gcbc", steps=9, eval_every=100,
        eval_episodes=1, eval_tasks=1, log_every=3, checkpoint_every=4,
        agent_options={"batch_size": 8, "actor_hidden_dims": [4]},
    )  # fmt: skip
    restored: list[str] = []
    real_restore = engine._Run.restore

    def spy(self: Any) -> None:
        restored.append(type(self.kind).__name__)
        real_restore(self)

    monkeypatch.setattr(engine._Run, "restore", spy)
    whole = train_offline(config, tmp_path / "whole", progress=False)

    def crash_at_5(step: int) -> None:
        if step == 5:
            raise _Stop

    cut = tmp_path / "cut"
    with pytest.raises(_Stop):
        train_offline(config, cut, progress=False, step_callback=crash_at_5)
    state = engine.load_resume_state(cut / "resume.safetensors")
    assert (state.epoch, state.row["steps"], state.row["items"]) == (4, 1, 1)  # one step into row 2
    assert state.row_sums["metrics"].shape == (4,)  # GCBC's four metrics, summed
    record = json.loads((cut / "config.json").read_text())
    assert (record["steps_completed"], record["complete"], record["train"]["steps"]) == (4, False, 9)
    assert engine.interrupted_message(cut, "offline") == (
        f"interrupted; {cut} keeps the checkpoint of step 4; continue with: absaction offline --resume {cut}"
    )
    assert f"absaction offline --resume {cut}" in engine.resume_or_force(cut, "offline")

    def ctrl_c(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:  # Ctrl-C during absaction offline --resume
        patch.setattr(runs, "resume_offline", ctrl_c)
        capsys.readouterr()
        assert main(["offline", "--resume", str(cut), "--quiet"]) == 130
        assert capsys.readouterr().err == f"absaction offline: {engine.interrupted_message(cut, 'offline')}\n"

    resumed = resume_offline(cut, progress=False)
    assert restored == ["OfflineKind"]
    assert [row["step"] for row in resumed.loop.metrics] == [3, 6, 9]
    timing = {"seconds", "updates_per_s"}
    assert [{k: v for k, v in r.items() if k not in timing} for r in resumed.loop.metrics] == [
        {k: v for k, v in r.items() if k not in timing} for r in whole.loop.metrics
    ]
    a, b = _weights(tmp_path / "whole"), _weights(cut)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert engine.load_resume_state(cut / "resume.safetensors").row == {}  # the run ends on a row's end
    with pytest.raises(AbsactionError, match=r"steps=5 is less than the 9 steps"):
        resume_offline(cut, {"steps": 5}, progress=False)


# ------------------------------------------------------------------- each kind's --help
def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit):
        main(["train", *argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


COMMON = ("beta", "sigma", "epochs", "batch_size", "lr", "seed", "val_fraction", "checkpoint_every", "device")


def test_train_help_shows_the_action_vaes_options_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    text = _help(capsys)
    for name in COMMON:
        assert " ".join(field_help(TrainConfig, name).split()) in text, name
    assert f"capacity schedule, see below (default: {show_default(TrainConfig, 'capacity')})" in text
    for vae_flag in ("--window L", "--progressive P", "--tc W", "--normalize {", "--merge MODE"):
        assert vae_flag in text
    assert "steps per skill" not in text and "(default: 1024)" not in text  # no skill option or default
    for skill_flag in ("--horizon H", "--z-dim Z", "--prior-weight W", "--skill-obs A,B"):
        assert skill_flag not in text  # only named where the skill model's help is


@pytest.mark.parametrize("argv", [["--model", "skill"], ["--model=skill"]])
def test_train_model_skill_help_shows_the_skill_models_options_and_defaults(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(capsys, *argv)
    for name in COMMON:
        assert " ".join(field_help(SkillTrainConfig, name).split()) in text, name
    assert f"capacity schedule, see below (default: {show_default(SkillTrainConfig, 'capacity')})" in text
    assert f"steps per skill (default: {SkillTrainConfig().horizon})" in text
    assert "(default: 1024)" in text and "(default: 100)" not in text  # not the VAE's batch size or beta
    for vae_flag in ("--window L", "--progressive P", "--tc W", "--normalize {", "--merge MODE"):
        assert vae_flag not in text  # only named where the action VAEs' help is
    assert "the paper's 100" not in text  # the VAE's beta


def test_resume_help_shows_the_runs_own_kind(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fit_skills(expert_dataset, SkillTrainConfig(horizon=4, z_dim=2, epochs=1, hidden_size=16), tmp_path / "s")
    assert "--horizon H" in _help(capsys, "--resume", str(tmp_path / "s"))
    assert "--horizon H" not in _help(capsys, "--resume", str(tmp_path / "missing"))


def test_the_horizon_default_is_read_from_the_skill_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Change the one default (SkillTrainConfig.horizon) and every help text follows it."""
    field = next(f for f in dataclasses.fields(SkillTrainConfig) if f.name == "horizon")
    monkeypatch.setattr(field, "default", 7)
    text = _help(capsys, "--model", "skill")
    assert "steps per skill (default: 7)" in text
    assert "windows of H = --horizon (default 7) steps" in text


def test_skill_runs_take_the_engines_run_flags(
    expert_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "s"
    argv = ["train", "--model", "skill", "--data", str(expert_dataset), "--out", str(run), "--horizon", "4",
            "--z-dim", "2", "--epochs", "2", "--device", "cpu", "--threads", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    record = json.loads((run / "config.json").read_text())
    assert record["train"]["device"] == "cpu" and record["complete"] is True
    assert main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    assert len(_rows(run)) == 3
    assert main(["train", "--resume", str(run), "--horizon", "5", "--quiet"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_skill_help_imports_no_torch() -> None:
    """Picking the kind's parser reads only the configuration dataclasses: no torch, as for every --help."""
    code = (
        "import contextlib, io, sys\n"
        "from absaction.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    main(['train', '--model', 'skill', '--help'])\n"
        "assert '--horizon H' in out.getvalue(), out.getvalue()\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
