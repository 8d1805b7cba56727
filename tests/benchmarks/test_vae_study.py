"""The VAE study (``python -m benchmarks.vae``): the statistics it reports, its command line, and one smoke
run of the real command on a tiny budget.

The smoke run (``--quick``: 1 seed, 3 epochs, 24-episode datasets, three of the six models) checks that
every output is written with the promised columns and finite numbers, and one measured fact that holds
at any budget: the paper's adaptive ``beta (KL - C)`` with C fixed within an epoch trains exactly like a
plain beta-VAE with the same seed.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from absaction.bench.stats import mean_interval, t_critical_975
from benchmarks.vae.catalogue import QUICK_SIZES, VAEBenchConfig
from benchmarks.vae.cli import build_parser, config_from_args
from benchmarks.vae.cli import main as bench_vae
from benchmarks.vae.runs import linear_capacity
from benchmarks.vae.scoring import is_disentangled

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ statistics


def test_t_interval_matches_hand_computation() -> None:
    # mean 3, sample std sqrt(2.5), n 5: half-width t_{0.975,4} * sqrt(2.5 / 5) = 2.776 * 0.70711
    stat = mean_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    assert stat["mean"] == 3.0 and stat["n"] == 5
    assert stat["half"] == pytest.approx(2.776 * math.sqrt(0.5), rel=1e-9)
    assert (stat["lo"], stat["hi"]) == pytest.approx((3.0 - stat["half"], 3.0 + stat["half"]))


def test_t_interval_ignores_missing_and_needs_two_values() -> None:
    stat = mean_interval([None, 2.0, float("nan")])
    assert stat["mean"] == 2.0 and stat["n"] == 1 and math.isnan(stat["half"])
    assert mean_interval([])["n"] == 0


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (30, 2.042), (40, 2.0211), (120, 1.9799)])
def test_t_critical_values(df: int, expected: float) -> None:
    # beyond the table the Cornish-Fisher expansion is within 1e-3 of the exact quantile
    assert t_critical_975(df) == pytest.approx(expected, abs=1e-3)


def _row(target: float, bulge_out: float, bulge_right: float, lt: str, lo: str, lr: str) -> dict[str, Any]:
    return {
        "mig_active_target": target,
        "mig_active_bulge_out": bulge_out,
        "mig_active_bulge_right": bulge_right,
        "latent_target": lt,
        "latent_bulge_out": lo,
        "latent_bulge_right": lr,
    }


def test_disentangled_needs_two_distinct_latents_above_threshold() -> None:
    # the bulge scored as left/right (the better labelling) in another latent: passes
    assert is_disentangled(_row(0.97, 0.2, 0.93, "l3z0", "l2z1", "l2z1")) == (True, "bulge_right")
    # one latent carrying both factors (four clusters) is not disentangled
    assert is_disentangled(_row(0.97, 0.95, 0.2, "l3z0", "l3z0", "l1z2"))[0] is False
    # below the 0.9 threshold
    assert is_disentangled(_row(0.89, 0.95, 0.2, "l3z0", "l2z0", "l1z2"))[0] is False


def test_linear_capacity_ramps_over_half_the_steps() -> None:
    # 100 epochs x ceil(360 / 32) = 12 steps per epoch -> 1200 steps, ramp over 600
    assert linear_capacity(6.0, 100, 360, 32) == "linear:6,600"


# ------------------------------------------------------------------------------------------ command line


def _run_python(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, env=env, cwd=ROOT
    )


def test_help_explains_reads_the_config_defaults_and_does_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from benchmarks.vae.cli import main\n"
        "try:\n    main(['--help'])\n"
        "except SystemExit as stop:\n    assert stop.code == 0, stop.code\n"
        "print('HEAVY', sorted(m for m in ('torch', 'minari', 'stable_baselines3') if m in sys.modules))\n"
    )
    proc = _run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
    text = " ".join(proc.stdout.split())  # argparse wraps the help to the terminal width
    defaults = VAEBenchConfig()
    assert f"training seeds per model and dataset (seeds 0..N-1) (default: {defaults.seeds})" in text
    assert f"torch threads per run (default: {defaults.threads})" in text
    assert f"(default: {defaults.out})" in text and f"(default: {defaults.noise})" in text
    assert f"default: {','.join(defaults.models)}" in text  # the models table, opt-in seq2seq marked
    assert "seq2seq-ladder" in text and "(only when named)" in text
    assert "--quick sets seeds 1, epochs 3, reach-episodes 24" in text
    assert "(default: True)" not in text  # switches show no default


def test_the_entry_point_runs_from_the_checkout() -> None:
    proc = _run_python("-m", "benchmarks.vae", "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: python -m benchmarks.vae")


def test_quick_replaces_the_sizes_and_keeps_the_other_flags() -> None:
    argv = ["--quick", "--seeds", "4", "--noise", "0.02", "--set", "beta=50"]
    config = config_from_args(build_parser().parse_args(argv))
    assert config.quick and {k: getattr(config, k) for k in QUICK_SIZES} == QUICK_SIZES
    assert config.noise == 0.02 and config.overrides == {"beta": 50}
    assert config.datasets == ("reach2d", "wavy") and config.models == VAEBenchConfig().models


def test_unknown_training_setting_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    for setting in ("bogus=1", "seed=3"):  # not a field; a field the benchmark sets per run
        assert bench_vae(["--quick", "--set", setting, "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and setting.split("=")[0] in err and "use one of" in err
    assert not out.exists()


# ------------------------------------------------------------------------------------------ smoke run

REQUIRED_COLUMNS = [
    "dataset", "model", "seed", "train_wall_s", "seq_per_s", "recon_mse", "kl_l1", "active_l1", "n_active",
    "mig_avg_bulge_out", "mig_active_avg_bulge_out", "sap_avg_bulge_out", "dci_d_avg_bulge_out",
    "mig_avg_bulge_right", "mig_active_target", "ladder_target", "mig_active_bulge_out", "ladder_bulge_out",
    "mig_active_bulge_right", "ladder_bulge_right", "mig_sampled_target", "mig_sampled_bulge_right",
    "disentangled",
]  # fmt: skip
FINITE_COLUMNS = ["train_wall_s", "seq_per_s", "recon_mse", "kl_total", "kl_l1", "mig_avg_bulge_out",
                  "mig_active_avg_bulge_out", "sap_avg_bulge_out", "dci_d_avg_bulge_out"]  # fmt: skip
MODELS = ("tcvlae", "beta-vae", "tcvae")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("bench_vae") / "results"
    argv = ["--quick", "--out", str(out), "--models", ",".join(MODELS), "--threads", "1", "--no-progress"]
    return out, bench_vae(argv)


@pytest.mark.slow
def test_quick_run_writes_every_output(quick_run: tuple[Path, int]) -> None:
    out, status = quick_run
    assert status == 0
    names = ["results.csv", "capacity_curves.csv", "summary.json", "summary.md", "capacity_reach2d.png",
             "capacity_wavy.png", ".gitignore", *(f"traversals/reach2d_{m}.png" for m in MODELS)]  # fmt: skip
    for name in names:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    assert (out / ".gitignore").read_text().splitlines()[-1] == "work/"


@pytest.mark.slow
def test_quick_run_results_have_the_columns_and_finite_numbers(quick_run: tuple[Path, int]) -> None:
    out, _ = quick_run
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["dataset"], r["model"]) for r in rows} == {(d, m) for d in ("reach2d", "wavy") for m in MODELS}
    assert set(REQUIRED_COLUMNS) <= set(rows[0])
    for row in rows:
        for column in FINITE_COLUMNS if row["dataset"] == "reach2d" else FINITE_COLUMNS[:5]:
            assert math.isfinite(float(row[column])), (row["model"], column)
        assert int(row["epochs"]) == 3 and int(row["n_train"]) > 0
    reach = {r["model"]: r for r in rows if r["dataset"] == "reach2d"}
    # three ladders for the ladder models, one for the flat baseline (no kl_l2 there)
    assert reach["tcvlae"]["kl_l3"] != "" and reach["tcvae"]["kl_l2"] == ""
    assert int(reach["tcvlae"]["active_l1"]) <= 8 and int(reach["tcvae"]["active_l1"]) <= 4
    wavy = next(r for r in rows if r["dataset"] == "wavy")
    assert {"mig_active_shape_1", "ladder_degree_2", "mig_avg_all"} <= set(wavy)


@pytest.mark.slow
def test_quick_run_summary_tables_and_findings(quick_run: tuple[Path, int]) -> None:
    out, _ = quick_run
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["summary"]) == {f"{d}/{m}" for d in ("reach2d", "wavy") for m in MODELS}
    assert summary["summary"]["reach2d/tcvlae"]["metrics"]["recon_mse"]["n"] == 1
    speed = summary["speed_check"]
    assert len(speed) == 1 and speed[0]["returncode"] == 0 and speed[0]["wall_s"] > 0
    assert speed[0]["via"] == "python -m absaction train"
    assert [c["verdict"] for c in summary["claims"]]  # both claims stated with a verdict
    # C is constant within an epoch, so beta (KL - C) has the gradient of beta KL: same seed, same curves
    assert any("identical (bit for bit)" in f for f in summary["capacity_findings"] if "[reach2d]" in f)
    markdown = (out / "summary.md").read_text()
    assert "| model | runs | fit wall (s) | train seq/s | recon MSE |" in markdown
    assert "target: MIG active (ladder)" in markdown and "bulge_right: MIG active (ladder)" in markdown
    # every row of every Markdown table has as many cell separators as its header (a bare "|" inside a
    # cell, as in "|KL - C|", would add one)
    blocks: list[list[int]] = [[]]
    for line in markdown.splitlines():
        if line.startswith("|"):
            blocks[-1].append(len(re.findall(r"(?<!\\)\|", line)))
        elif blocks[-1]:
            blocks.append([])
    assert all(len(set(b)) == 1 for b in blocks if b) and len([b for b in blocks if b]) >= 4


@pytest.mark.slow
def test_existing_results_are_refused_and_resume_reuses_runs(
    quick_run: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    out, _ = quick_run
    before = (out / "results.csv").read_bytes()
    argv = ["--quick", "--out", str(out), "--models", ",".join(MODELS), "--threads", "1", "--no-progress"]
    assert bench_vae(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already exist" in err and "--force" in err
    assert (out / "results.csv").read_bytes() == before
    # --resume takes every finished run from its record: the same numbers, timings included
    assert bench_vae([*argv, "--resume", "--no-speed-check", "--no-figures", "--datasets", "reach2d"]) == 0
    with (out / "results.csv").open(newline="") as handle:
        again = {r["model"]: r for r in csv.DictReader(handle)}
    first = {r["model"]: r for r in csv.DictReader(before.decode().splitlines()) if r["dataset"] == "reach2d"}
    assert {m: again[m]["train_wall_s"] for m in MODELS} == {m: first[m]["train_wall_s"] for m in MODELS}


@pytest.mark.slow
def test_recorded_paths_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--paths FILE.npz`` adds the ``paths`` dataset (tracked in Reach2D-v0, scored like reach2d:
    both bulge labellings, the disentanglement verdict, the claims named after it); ``--datasets paths``
    without a file is refused before anything runs."""
    import numpy as np

    from absaction.envs.paths import bulge_path

    sizes = (-0.02, -0.01, 0.01, 0.02)
    paths = np.array([bulge_path((0, 0), (g, 0.99), s, 99) for g in (-0.1, 0.1) for s in sizes])
    np.savez(tmp_path / "paths.npz", positions=paths)
    assert bench_vae(["--quick", "--datasets", "paths", "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert "needs --paths FILE.npz" in err and err.count("\n") == 0
    assert not (tmp_path / "none").exists()

    out = tmp_path / "results"
    argv = ["--quick", "--out", str(out), "--models", "tcvlae,tcvae", "--paths", str(tmp_path / "paths.npz"),
            "--datasets", "paths", "--threads", "1", "--no-progress", "--no-figures"]  # fmt: skip
    assert bench_vae(argv) == 0
    with (out / "results.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["dataset"], r["model"]) for r in rows} == {("paths", "tcvlae"), ("paths", "tcvae")}
    assert all(r["disentangled"] in ("0", "1") and r["bulge_labelling"] for r in rows)
    assert {"mig_active_bulge_out", "mig_active_bulge_right", "mig_active_target"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    assert [c["claim"].endswith("[paths data]") for c in summary["claims"]] == [True, True]
    assert summary["data"]["paths"]["env_id"] == "absaction/Reach2D-v0"
    # relative to the results folder: a committed summary names no folder of the machine it ran on
    assert summary["config"]["paths_file"] == "../paths.npz" and summary["config"]["out"] == "."
    assert summary["data"]["paths"]["path"] == "work/data/paths"
