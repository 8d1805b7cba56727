"""Traversal figures and evaluation reports: a hand-built model with a known code, then the CLI end to end.

The hand-built model (`KnownVAE`) encodes a 2-D reaching sequence into exactly the latents a perfectly
disentangled model would have — ladder 2 holds the target, ladder 1 z[0] the bulge — plus a collapsed
ladder-1 latent whose mean wiggles by 1e-6 with the target, and decodes the latents back exactly. So the
numbers of the report are known in advance.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import Tensor, nn

from absaction.analysis import report as report_mod
from absaction.analysis import traversal
from absaction.cli import main
from absaction.data import load_dataset
from absaction.errors import AbsactionError
from absaction.models import ActionVAE, ModelConfig, build_model, kl_normal, load, save
from absaction.outputs import RECORD_FILE
from absaction.train import TrainConfig, fit

T = 16
BOX2 = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def reaching_actions(target: int, bulge: int, t: int = T) -> np.ndarray:
    """(t, 2) actions: constant x speed +-0.1 (target left/right), y speed 0.1, plus a sine bulge in x."""
    s = (np.arange(t) + 0.5) / t
    x = 0.1 * (2 * target - 1) + 0.3 * (2 * bulge - 1) * np.cos(np.pi * s) / t * np.pi
    return np.stack([x, np.full(t, 0.1)], axis=1).astype(np.float32)


class KnownVAE(ActionVAE):
    """ladder 1 = (bulge, collapsed echo of the target), ladder 2 = (target,); decode inverts encode."""

    name = "known"
    config_class = ModelConfig

    def __init__(self, action_dim: int = 2) -> None:
        super().__init__(ModelConfig(action_dim=action_dim, seq_len=T, ladder_dims=[2, 1]))
        self.anchor = nn.Parameter(torch.zeros(1))  # the base class reads the device from the parameters
        s = (torch.arange(T) + 0.5) / T
        self.shape: Tensor = 0.3 * torch.cos(np.pi * s) / T * np.pi  # (T,), CPU only

    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        x = x_norm[:, :, 0]  # (B, T)
        target = x.mean(dim=1) * 10.0  # +-1
        bulge = (x * self.shape).sum(dim=1) / (self.shape**2).sum()  # +-1
        echo = 1e-6 * target  # a collapsed latent that still follows the target
        zeros = torch.zeros_like(target)
        ladder1 = (torch.stack([bulge, echo], 1), torch.stack([zeros, zeros], 1))  # KL(bulge) = 0.5 nats
        ladder2 = (target[:, None], zeros[:, None])
        return [ladder1, ladder2]

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        bulge, target = latents[0][:, 0], latents[1][:, 0]
        x = 0.1 * target[:, None] + bulge[:, None] * self.shape[None, :]  # (B, T)
        return torch.stack([x, torch.full_like(x, 0.1)], dim=2)


@pytest.fixture(scope="module")
def known() -> KnownVAE:
    return KnownVAE().eval()


def episodes_and_factors(repeats: int = 4) -> tuple[list[np.ndarray], np.ndarray]:
    combos = [(t, b) for t in (0, 1) for b in (0, 1)] * repeats
    return [reaching_actions(t, b) for t, b in combos], np.array(combos)


@pytest.fixture
def reach_data(tmp_path: Path, write_minari_dataset: Callable[..., Path]) -> Path:
    """16 episodes of 16 steps, factors target/bulge (4 of each combination)."""
    actions, factors = episodes_and_factors()
    infos = [{"factors": {"target": np.full(T + 1, f[0]), "bulge": np.full(T + 1, f[1])}} for f in factors]
    return write_minari_dataset(
        tmp_path / "reach", actions, BOX2, infos=infos, metadata={"factor_names": ["target", "bulge"]}
    )


@pytest.fixture
def no_factor_data(tmp_path: Path, write_minari_dataset: Callable[..., Path]) -> Path:
    actions, _ = episodes_and_factors(1)
    return write_minari_dataset(tmp_path / "plain", actions, BOX2)


@pytest.fixture
def run_dir(tmp_path: Path, reach_data: Path) -> Path:
    """An untrained TCVLAE [2, 2, 1] saved like a training run (seeded weights, recorded KL)."""
    torch.manual_seed(0)
    model = build_model("tcvlae", action_dim=2, seq_len=T, options={"ladder_dims": [2, 2, 1], "channels": 4})
    model.kl_per_dim = [[0.9, 0.0], [0.0, 1e-5], [2.5]]  # ladder 1 z0 and ladder 3 z0 "active"
    return save(model, tmp_path / "run", extra={"train": {"sigma": 0.1}, "data": {"path": str(reach_data)}})


# --------------------------------------------------------------------------------------------------
# traversal, in process


def test_traverse_latent_moves_only_the_traversed_factor(known: KnownVAE) -> None:
    actions = reaching_actions(target=1, bulge=0)
    values = np.array([-2.0, 0.0, 2.0])
    recon, swept = traversal.traverse_latent(known, actions, ladder=2, dim=0, values=values)
    np.testing.assert_allclose(recon, actions, atol=1e-6)  # the known model reconstructs exactly
    # ladder 2 z[0] is the target: x speed = 0.1 * value, the bulge (value -1) stays
    bulge_part = actions[:, 0] - 0.1
    for value, path in zip(values, swept, strict=True):
        np.testing.assert_allclose(path[:, 0], 0.1 * value + bulge_part, atol=1e-6)
        np.testing.assert_allclose(path[:, 1], 0.1, atol=1e-7)
    # the collapsed latent changes nothing at all
    _, flat = traversal.traverse_latent(known, actions, ladder=1, dim=1, values=values)
    np.testing.assert_allclose(flat, np.broadcast_to(actions, flat.shape), atol=1e-6)


def test_positions_are_cumulative_sums_scaled_by_the_step_size() -> None:
    actions = np.array([[[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]]])  # (1, 3, 2)
    expected = np.array([[[0, 0], [1, 0], [1, 2], [0, 3]]], dtype=float)
    np.testing.assert_allclose(traversal._positions(actions, None), expected)
    np.testing.assert_allclose(traversal._positions(actions, 0.1), 0.1 * expected)
    assert traversal.position_label(None) == "cumsum of actions"
    assert traversal.position_label(0.1) == "env units: cumsum of actions × 0.1"


def test_active_grid_and_unknown_latent() -> None:
    rows = traversal.active_grid([[0.5, 0.0, 3.0], [0.001], [0.02, 0.2]], threshold=0.01)
    assert rows == [[(1, 2), (1, 0)], [], [(3, 1), (3, 0)]]  # strongest KL first; ladder 2 has none
    with pytest.raises(AbsactionError) as err:
        traversal.check_latent([8, 4, 2], 2, 4)
    assert str(err.value) == (
        "the model has no latent ladder 2 dim 4 (it has ladder 1: dims 0-7, ladder 2: dims 0-3, "
        "ladder 3: dims 0-1); pass --ladder L --dim D from that list (ladders count from 1, dims from 0)"
    )
    with pytest.raises(AbsactionError, match="no latent ladder 4 dim 0"):
        traversal.check_latent([8, 4, 2], 4, 0)


def test_traversal_figure_titles_colours_and_grid(known: KnownVAE) -> None:
    actions = reaching_actions(0, 1)
    values = np.linspace(-2, 2, 5)
    kl = [[0.5, 0.0], [0.5]]
    fig = traversal.traversal_figure(known, actions, [[(1, 0)], [], [(2, 0)]], values, kl, step_size=0.1,
                                     kl_source="train", title="t")  # fmt: skip
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in axes] == [
        "ladder 1 z[0], KL 0.5 nats (train)",
        "ladder 2: no active latent",
        "ladder 2 z[0], KL 0.5 nats (train)",
    ]
    # panel 1: one coloured line per value, plus reconstruction, input and start marker
    collection = axes[0].collections[0]
    assert len(collection.get_paths()) == 5
    np.testing.assert_allclose(np.asarray(collection.get_array()), values)
    input_line = axes[0].lines[1]
    assert input_line.get_color() == "black" and input_line.get_linewidth() == 2.0
    np.testing.assert_allclose(
        np.asarray(input_line.get_xydata()), traversal._positions(actions, 0.1)[:, :2], atol=1e-12
    )
    assert axes[2].get_xlabel() == "x (env units: cumsum of actions × 0.1)"
    assert len(axes[1].texts) == 0 and axes[1].lines[0].get_color() == "0.6"  # the input alone, grey
    assert fig.axes[-1].get_ylabel() == "value of the traversed latent"  # the colour bar


class KnownWideVAE(KnownVAE):
    """:class:`KnownVAE` decoding ``n`` action dimensions: the first is the known path's x, the others
    constants, so a model with 1-D (Pendulum-like) or 3-D actions can be traversed."""

    def __init__(self, n: int) -> None:
        super().__init__(action_dim=n)

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        x = super().decode_normalized(latents, length)[:, :, :1]  # (B, T, 1)
        return torch.cat([x] + [torch.full_like(x, 0.1 * k) for k in range(1, self.config.action_dim)], dim=2)


@pytest.mark.parametrize("n_dims", [1, 3])
def test_traversal_of_1d_and_3d_actions_draws_a_of_t_per_dimension(n_dims: int) -> None:
    """Without a known layout (no step size) actions are drawn against time, one panel per action dim
    (1-D actions used to crash reshaping positions)."""
    model = KnownWideVAE(n_dims).eval()
    actions = np.concatenate(
        [reaching_actions(0, 1)[:, :1]] + [np.full((T, 1), 0.1 * k) for k in range(1, n_dims)], 1
    )
    values = np.linspace(-1, 1, 3)
    fig = traversal.traversal_figure(model, actions, [[(1, 0), (2, 0)]], values)
    drawn = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.get_title()]
    assert len(drawn) == 2 * n_dims  # each latent: one panel per action dimension
    assert {ax.get_xlabel() for ax in drawn} == {"step"}
    assert [ax.get_ylabel() for ax in drawn[:n_dims]] == [f"action[{d}]" for d in range(n_dims)]
    curves = drawn[0].collections[0]
    assert len(curves.get_paths()) == 3 and np.asarray(curves.get_paths()[0].vertices).shape == (T, 2)
    np.testing.assert_allclose(drawn[0].lines[1].get_ydata(), actions[:, 0], atol=1e-6)  # the input a(t)


def test_traversal_grid_wraps_many_latents_onto_rows(known: KnownVAE) -> None:
    row = [(1, 0)] * 10  # e.g. 10 active latents in one ladder
    fig = traversal.traversal_figure(
        known, reaching_actions(0, 0), [row], np.linspace(-1, 1, 2), step_size=0.1
    )
    width, height = fig.get_size_inches()
    assert width <= 3.2 * traversal.MAX_COLUMNS + 1.2 and height > 2 * 2.8  # 3 rows, not a strip
    assert sum(1 for ax in fig.axes if ax.get_title()) == 10


def test_save_figure_is_atomic_and_refuses_overwrite(tmp_path: Path, known: KnownVAE) -> None:
    fig = traversal.traversal_figure(known, reaching_actions(0, 0), [[(2, 0)]], np.linspace(-1, 1, 3))
    out = traversal.save_figure(fig, tmp_path / "f.png", force=False)
    assert out.read_bytes().startswith(PNG_MAGIC)
    before = out.read_bytes()
    with pytest.raises(AbsactionError, match="already exists"):
        traversal.save_figure(fig, out, force=False)
    assert out.read_bytes() == before
    with pytest.raises(AbsactionError, match=r"figure format .*\.png, \.pdf, \.svg"):
        traversal.save_figure(fig, tmp_path / "f.jpg", force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]  # no temporary files left


# --------------------------------------------------------------------------------------------------
# evaluation, in process


def known_data() -> report_mod.EvaluationData:
    actions, factors = episodes_and_factors(repeats=8)  # 32 sequences
    return report_mod.EvaluationData(np.stack(actions), None, factors, ("target", "bulge"), 32, T)


def test_evaluate_known_model(known: KnownVAE) -> None:
    report = report_mod.evaluate_model(known, known_data(), sigma=0.5)
    rec = report["reconstruction"]
    assert rec["mse"] == pytest.approx(0.0, abs=1e-12)
    assert rec["endpoint_error"] == pytest.approx(0.0, abs=1e-5)
    # NLL of an exact reconstruction = T * A * log(sigma sqrt(2 pi)) per sequence
    assert rec["nll"] == pytest.approx(T * 2 * (math.log(0.5) + 0.5 * math.log(2 * math.pi)), rel=1e-5)
    assert rec["recon_loss"] == pytest.approx(0.0, abs=1e-9)
    kl = report["kl"]
    # KL = mean^2 / 2 with logvar 0 and means +-1: 0.5 nats for bulge and target, ~0 for the echo
    np.testing.assert_allclose(kl["per_dim"][0], [0.5, 0.0], atol=1e-5)
    np.testing.assert_allclose(kl["per_dim"][1], [0.5], atol=1e-5)
    assert kl["n_active"] == 2
    assert report["latents"] == ["L1.z0", "L1.z1", "L2.z0"]
    m = report["metrics"]
    assert m["factors"] == ["target", "bulge"]
    np.testing.assert_allclose(m["entropy"], [math.log(2)] * 2)
    # the collapsed echo holds the target as fully as ladder 2 does: plain MIG loses it, active-unit MIG not
    np.testing.assert_allclose(m["mutual_info"][:, 0], [0.0, math.log(2), math.log(2)], atol=1e-12)
    target, bulge = m["per_factor"]
    assert target["mig"] == pytest.approx(0.0, abs=1e-12)
    assert target["mig_active"] == pytest.approx(1.0)
    assert (target["latent_active"], target["ladder_active"]) == ("L2.z0", 2)
    assert bulge["mig"] == pytest.approx(1.0) and (bulge["latent"], bulge["ladder"]) == ("L1.z0", 1)
    assert m["mig"] == pytest.approx(0.5) and m["mig_active"] == pytest.approx(1.0)
    assert m["dci"]["informativeness"] == pytest.approx(1.0)
    # DCI and SAP see the same artefact: the echo shares the target's importance and accuracy
    assert m["dci"]["completeness"] < 0.9 and m["sap"] < 0.3
    assert m["dci_active"]["completeness"] == pytest.approx(1.0, abs=1e-3)
    assert m["dci_active"]["disentanglement"] == pytest.approx(1.0, abs=1e-3)
    assert m["sap_active"] == pytest.approx(0.5, abs=0.15)  # runner-up accuracy is chance (0.5)
    assert report["notes"] == []


class ZeroVAE(ActionVAE):
    """A variable-length model whose decoder outputs zeros: its MSE is the mean square of the data."""

    name = "zero"
    config_class = ModelConfig

    def __init__(self) -> None:
        super().__init__(ModelConfig(action_dim=2, seq_len=None, ladder_dims=[1]))
        self.anchor = nn.Parameter(torch.zeros(1))

    def encode_normalized(self, x_norm: Tensor, lengths: Tensor | None = None) -> list[tuple[Tensor, Tensor]]:
        assert lengths is not None  # variable-length batches always come with their lengths
        zeros = torch.zeros(len(x_norm), 1)
        return [(zeros, zeros)]

    def decode_normalized(self, latents: list[Tensor], length: int | None = None) -> Tensor:
        return torch.zeros(len(latents[0]), length or 1, 2)


def test_evaluate_variable_length_masks_padding(
    tmp_path: Path, write_minari_dataset: Callable[..., Path]
) -> None:

    episodes = [np.full((3, 2), 1.0, np.float32), np.full((5, 2), 2.0, np.float32)]
    dataset = load_dataset(write_minari_dataset(tmp_path / "var", episodes, BOX2))
    data = report_mod.evaluation_data(ZeroVAE(), dataset)
    assert data.actions.shape == (2, 5, 2) and data.lengths is not None and data.lengths.tolist() == [3, 5]
    report = report_mod.evaluate_model(ZeroVAE(), data, sigma=1.0)
    # 3 steps of 1^2 and 5 steps of 2^2 over 8 real steps; the 2 padded steps do not count
    assert report["reconstruction"]["mse"] == pytest.approx((3 * 1 + 5 * 4) / 8)
    # NLL term per sequence: sum of squares / 2, averaged over the two sequences
    assert report["reconstruction"]["recon_loss"] == pytest.approx((3 * 2 * 1 / 2 + 5 * 2 * 4 / 2) / 2)
    np.testing.assert_allclose(report["kl"]["per_dim"][0], [0.0])
    assert report["kl"]["n_active"] == 0 and report["metrics"] is None


def test_evaluate_selects_factors_and_rejects_unknown_ones(known: KnownVAE) -> None:
    report = report_mod.evaluate_model(known, known_data(), factors=["bulge"])
    assert report["metrics"]["factors"] == ["bulge"] and report["metrics"]["mig"] == pytest.approx(1.0)
    with pytest.raises(AbsactionError, match=r"unknown factor\(s\) curvature .*target, bulge"):
        report_mod.evaluate_model(known, known_data(), factors=["curvature"])


def test_write_report_files(tmp_path: Path, known: KnownVAE) -> None:
    report = report_mod.evaluate_model(known, known_data(), sigma=None)
    written = report_mod.write_report(report, tmp_path, known.ladder_dims)
    assert sorted(p.name for p in written) == ["mi_heatmap.png", "report.json", "report.md"]
    data = json.loads((tmp_path / "report.json").read_text())  # strict JSON: no NaN
    assert data["reconstruction"]["nll"] is None
    assert "NLL skipped" in data["notes"][0]
    md = (tmp_path / "report.md").read_text()
    assert "| target | 0.693 | 0.000 | L1.z1 (1) | 1.000 | L2.z0 (2) |" in md
    assert "![latent x factor mutual information](mi_heatmap.png)" in md
    assert (tmp_path / "mi_heatmap.png").read_bytes().startswith(PNG_MAGIC)


def test_mi_heatmap_marks_ladders_and_active_units() -> None:
    fig = report_mod.mi_heatmap(
        np.array([[0.0, 0.5], [0.693, 0.0], [0.1, 0.2]]), np.array([math.log(2), 1.0]),
        ["L1.z0", "L1.z1", "L2.z0"], ["a", "b"], [2, 1], np.array([False, True, True]),
    )  # fmt: skip
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["L1.z0", "L1.z1 *", "L2.z0 *"]
    assert [np.asarray(line.get_ydata())[0] for line in ax.lines] == [
        1.5
    ]  # one boundary between ladders 1 and 2
    assert {t.get_text() for t in ax.texts} >= {"1.00", "0.50", "0.20"}  # MI / H annotated


# --------------------------------------------------------------------------------------------------
# CLI end to end (a saved TCVLAE; `absaction train` runs are exercised by its own tests)


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_traverse_one_latent_and_all(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "one.png"
    code, stdout, _ = run_cli(["traverse", "--model", str(run_dir), "--ladder", "3", "--dim", "0",
                               "--steps", "5", "--out", str(out)], capsys)  # fmt: skip
    assert code == 0 and out.read_bytes().startswith(PNG_MAGIC)
    assert "1 latent(s) traversed over [-2, 2] in 5 steps" in stdout
    grid = tmp_path / "all.png"
    code, stdout, _ = run_cli(["traverse", "--model", str(run_dir), "--all", "--out", str(grid)], capsys)
    assert code == 0 and grid.read_bytes().startswith(PNG_MAGIC)
    assert "2 latent(s)" in stdout  # the recorded KL makes L1.z0 and L3.z0 active


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--ladder", "2", "--dim", "5"],
            "has no latent ladder 2 dim 5 (it has ladder 1: dims 0-1, ladder 2: dims 0-1",
        ),
        (["--ladder", "4", "--dim", "0"], "has no latent ladder 4 dim 0"),
        (["--all", "--ladder", "1"], "--all cannot be combined with --ladder/--dim"),
        (["--ladder", "1"], "no latent chosen"),
        (["--all", "--range", "2", "-2"], "--range 2 -2 is not an increasing interval"),
        (["--all", "--index", "99"], "episode index 99 is out of range: the dataset has 16 episodes"),
    ],
)
def test_cli_traverse_bad_input(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "x.png"
    code, _, err = run_cli(["traverse", "--model", str(run_dir), "--out", str(out), *extra], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("absaction traverse: error: ") and message in err
    assert not out.exists()


def test_cli_traverse_refuses_existing_output_and_missing_model(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.png"
    out.write_bytes(b"mine")
    code, _, err = run_cli(["traverse", "--model", str(run_dir), "--all", "--out", str(out)], capsys)
    assert code == 2 and "already exists" in err and out.read_bytes() == b"mine"
    # --force replaces only a figure: "mine" is not a PNG
    forced = ["traverse", "--model", str(run_dir), "--all", "--out", str(out), "--force"]
    code, _, err = run_cli(forced, capsys)
    assert code == 2 and "is not a figure" in err and out.read_bytes() == b"mine"
    out.write_bytes(PNG_MAGIC + b"an earlier figure")
    code, _, _ = run_cli(forced, capsys)
    assert code == 0 and out.read_bytes().startswith(PNG_MAGIC) and b"earlier" not in out.read_bytes()
    code, _, err = run_cli(
        ["traverse", "--model", str(tmp_path / "nope"), "--all", "--out", str(tmp_path / "y.png")], capsys
    )
    assert code == 2 and "does not exist" in err


def test_cli_evaluate_end_to_end(
    run_dir: Path, reach_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    code, stdout, _ = run_cli(
        ["evaluate", "--model", str(run_dir), "--data", str(reach_data), "--out", str(out)], capsys
    )
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD_FILE,
        "mi_heatmap.png",
        "report.json",
        "report.md",
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["sequences"] == 16 and report["data"]["episodes"] == 16
    assert report["model"]["ladder_dims"] == [2, 2, 1]
    # the numbers match a direct computation with the saved model

    model = load(run_dir)
    x = load_dataset(reach_data).action_windows().actions
    with torch.no_grad():
        stats = model.encode(torch.as_tensor(x))
        recon = model.decode([m for m, _ in stats]).numpy()
        kl = torch.cat([kl_normal(m, lv) for m, lv in stats], dim=1).mean(dim=0).numpy()
    assert report["reconstruction"]["mse"] == pytest.approx(float(np.mean((x - recon) ** 2)), rel=1e-5)
    flat_kl = [v for ladder in report["kl"]["per_dim"] for v in ladder]
    np.testing.assert_allclose(flat_kl, kl, rtol=1e-5, atol=1e-9)
    m = report["metrics"]
    assert [row["factor"] for row in m["per_factor"]] == ["target", "bulge"]
    assert 0.0 <= m["mig"] <= 1.0 and np.array(m["mutual_info"]).shape == (5, 2)
    assert "MIG (active units)" in stdout
    # existing output is refused and left alone
    code, _, err = run_cli(
        ["evaluate", "--model", str(run_dir), "--data", str(reach_data), "--out", str(out)], capsys
    )
    assert code == 2 and "report folder" in err and "already exists" in err
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD_FILE,
        "mi_heatmap.png",
        "report.json",
        "report.md",
    ]


def test_cli_evaluate_without_factors_and_default_data(
    run_dir: Path, no_factor_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "plain-report"
    code, stdout, _ = run_cli(
        ["evaluate", "--model", str(run_dir), "--data", str(no_factor_data), "--out", str(out)], capsys
    )
    assert (
        code == 0 and "MIG (all" not in stdout and "note: the dataset has no ground-truth factors" in stdout
    )
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"] is None and report["sequences"] == 4
    assert any("no ground-truth factors" in note for note in report["notes"])
    assert sorted(p.name for p in out.iterdir()) == [RECORD_FILE, "report.json", "report.md"]
    # without --data, the run's recorded training data is used
    code, _, _ = run_cli(["evaluate", "--model", str(run_dir), "--out", str(tmp_path / "default")], capsys)
    assert code == 0
    assert json.loads((tmp_path / "default" / "report.json").read_text())["sequences"] == 16


def test_cli_evaluate_mismatched_data(
    run_dir: Path,
    tmp_path: Path,
    write_minari_dataset: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    box3 = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    wide = write_minari_dataset(tmp_path / "wide", [np.zeros((T, 3), np.float32)] * 2, box3)
    short = write_minari_dataset(tmp_path / "short", [np.zeros((8, 2), np.float32)] * 2, BOX2)
    for data, message in [
        (wide, "the model reads 2-D actions but the dataset"),
        (short, "the model reads windows of 16 steps but the dataset"),
    ]:
        out = tmp_path / f"r-{data.name}"
        code, _, err = run_cli(
            ["evaluate", "--model", str(run_dir), "--data", str(data), "--out", str(out)], capsys
        )
        assert code == 2 and message in err and err.count("\n") == 1
        assert not out.exists()
    code, _, err = run_cli(["evaluate", "--model", str(run_dir), "--data", str(tmp_path / "reach"),
                            "--factors", "curvature", "--out", str(tmp_path / "r")], capsys)  # fmt: skip
    assert code == 2 and "unknown factor(s) curvature" in err and not (tmp_path / "r").exists()


def test_cli_help_runs_as_a_subprocess() -> None:
    for command in ("traverse", "evaluate"):
        result = subprocess.run(
            [sys.executable, "-m", "absaction", command, "--help"], capture_output=True, text=True
        )
        assert result.returncode == 0 and "--model RUN_DIR" in result.stdout and "--out" in result.stdout


def test_cli_on_a_trained_run(reach_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A real (short) training run: the CLI reads the data path, sigma and KL record that training writes."""

    config = TrainConfig(
        epochs=4, batch_size=8, threads=1, model_options={"ladder_dims": [2, 2, 1], "channels": 4}
    )
    run = fit(reach_data, config, tmp_path / "trained", progress=False).run_dir
    model = load(run)
    n_active = sum(len(dims) for dims in model.active_dims())
    # no --data: the figure uses the dataset recorded in the run's config.json
    code, stdout, _ = run_cli(
        ["traverse", "--model", str(run), "--all", "--out", str(tmp_path / "all.png")], capsys
    )
    assert code == 0 and f"wrote {tmp_path / 'all.png'}: {n_active} latent(s)" in stdout
    code, _, _ = run_cli(["evaluate", "--model", str(run), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    # the report names its inputs relative to its own folder
    assert report["model"]["name"] == "tcvlae" and report["data"]["path"] == "../reach"
    assert report["model"]["run_dir"] == "../trained"
    assert report["reconstruction"]["sigma"] == pytest.approx(0.1)  # the training sigma (TrainConfig default)
    assert report["reconstruction"]["nll"] is not None and report["metrics"] is not None


def test_cli_train_traverse_evaluate_seq2seq_on_variable_length_episodes(
    tmp_path: Path, write_minari_dataset: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The paper's Fig. 5 pipeline: seq2seq trained by the CLI on episodes of 10..16 steps (never cropped),
    then traversed and evaluated through the same commands as the TCVLAE."""
    combos = [(t, b) for t in (0, 1) for b in (0, 1)] * 3
    lengths = [10 + (i % 7) for i in range(len(combos))]
    actions = [reaching_actions(t, b, n) for (t, b), n in zip(combos, lengths, strict=True)]
    infos = [
        {"factors": {"target": np.full(n + 1, t), "bulge": np.full(n + 1, b)}}
        for (t, b), n in zip(combos, lengths, strict=True)
    ]
    data = write_minari_dataset(
        tmp_path / "var", actions, BOX2, infos=infos, metadata={"factor_names": ["target", "bulge"]}
    )
    run = tmp_path / "s2s"
    code, _, _ = run_cli(
        ["train", "--data", str(data), "--model", "seq2seq", "--epochs", "3", "--batch-size", "4",
         "--quiet", "--out", str(run)],
        capsys,
    )  # fmt: skip
    assert code == 0

    model = load(run)
    assert model.name == "seq2seq" and model.config.seq_len is None  # any length: episodes are not cropped
    n_active = sum(len(dims) for dims in model.active_dims())
    code, stdout, _ = run_cli(
        ["traverse", "--model", str(run), "--all", "--out", str(tmp_path / "f.png")], capsys
    )
    assert code == 0 and f"{n_active} latent(s)" in stdout
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG_MAGIC
    code, _, _ = run_cli(["evaluate", "--model", str(run), "--out", str(tmp_path / "rep")], capsys)
    assert code == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["model"]["name"] == "seq2seq" and report["data"]["episodes"] == len(combos)
    assert set(report["metrics"]["factors"]) == {"target", "bulge"}


def test_cli_traverse_on_a_1d_action_model(
    pendulum_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pendulum-v1 (1-D torque): the traversal draws a(t) per latent instead of crashing."""
    config = TrainConfig(
        epochs=2, batch_size=4, threads=1, model_options={"ladder_dims": [2, 1], "channels": 4}
    )
    run = fit(pendulum_dataset, config, tmp_path / "pend", progress=False).run_dir
    out = tmp_path / "pend.png"
    code, stdout, err = run_cli(
        ["traverse", "--model", str(run), "--ladder", "1", "--dim", "0", "--out", str(out)], capsys
    )
    assert code == 0, err
    assert out.read_bytes().startswith(PNG_MAGIC) and "1 latent(s) traversed" in stdout
