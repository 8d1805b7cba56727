"""The RL study (``python -m benchmarks.rl``): its verdicts against hand computations, the sweep end to
end on a tiny budget (files, table columns, numbers in range, resume), the ablations' stage-1 models, bad
input, and the order of its modules."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic_runs import synthetic_runs

from absaction.bench import estimate as engine_estimate
from absaction.bench import results as bench_results
from absaction.bench import runs as bench_runs
from absaction.bench.stats import Estimate, normalised_auc
from absaction.errors import AbsactionError
from absaction.outputs import path_from_record, path_in_record
from benchmarks.rl import agents as bench_agents
from benchmarks.rl import catalogue, lookahead, sweep
from benchmarks.rl import estimate as bench_estimate
from benchmarks.rl import verdicts as bench_verdicts
from benchmarks.rl.cli import main

REPO = Path(__file__).resolve().parents[2]
ERROR = "python -m benchmarks.rl: error: "


# ------------------------------------------------------------------------------- verdict logic
def _runs(agent: str, family: str, steps_to_80: list[float], auc: list[float], budget: int) -> list[Any]:
    return synthetic_runs("obstacle", agent, family, steps_to_80, auc, budget)


def _cell(agent: str, family: str, steps_to_80: list[float], auc: list[float], budget: int = 50_000) -> Any:
    runs = _runs(agent, family, steps_to_80, auc, budget)
    return bench_results.cell_stats("obstacle", agent, family, [runs], np.array([0, budget]), reps=400)


def test_target_check_by_hand():
    budget = 50_000
    # 5 seeds: the censored 5th run is the largest value and is trimmed, so the IQM is exact:
    # mean(1200, 1400, 1600) = 1400
    latent = _cell("ppo-latent", "latent", [1000, 1200, 1400, 1600, budget], [0.9, 0.9, 0.8, 0.8, 0.1])
    assert latent.steps_to_80.value == pytest.approx(1400) and latent.censored == 1 and latent.steps_exact
    never = _cell("ppo", "primitive", [budget] * 5, [0.0] * 5)
    assert never.steps_to_80 == Estimate(budget, budget, budget) and not never.steps_exact
    check = bench_verdicts.target_check("obstacle", [latent, never])
    assert check is not None and check.target_task
    assert check.ratio == pytest.approx(budget / 1400) and check.ratio_lower_bound
    assert not check.overlap and check.met
    assert "3x target met: yes" in check.line(budget) and ">= 35.71x" in check.line(budget)

    # a primitive agent at IQM 4000 steps: 4000 / 1400 = 2.9x < 3x, however narrow the intervals
    close = _cell("ppo-bc", "primitive", [3000, 3500, 4000, 4500, 5000], [0.95] * 5)
    check = bench_verdicts.target_check("obstacle", [latent, never, close])
    assert check is not None and check.primitive.agent == "ppo-bc"  # the best primitive agent
    assert check.ratio == pytest.approx(4000 / 1400) and not check.ratio_lower_bound and not check.met

    # a latent agent censored in 2 of 5 runs: its IQM is only a lower bound, so no claim
    weak = _cell("ppo-latent", "latent", [1000, 1200, 1400, budget, budget], [0.5] * 5)
    check = bench_verdicts.target_check("obstacle", [weak, never])
    assert check is not None and not check.met
    assert "does not reach 80 % within the budget" in check.line(budget)

    # both at 80 % before any RL (BC alone, the decoder alone): as fast, not infinitely faster
    cloned = _cell("ppo-bc", "primitive", [0] * 5, [0.9] * 5)
    decoded = _cell("ppo-latent-bc", "latent", [0] * 5, [0.5] * 5)
    check = bench_verdicts.target_check("dense", [decoded, cloned])
    assert check is not None and check.ratio == 1.0 and not check.met
    assert "both are at 80 % before any RL -> 3x target met: no" in check.line(budget)
    alone = bench_verdicts.target_check("dense", [decoded, never])
    assert alone is not None and math.isinf(alone.ratio) and "inf fewer steps" in alone.line(budget)


def test_the_maze_target_asks_for_5x_on_every_task():
    from benchmarks.rl.suites import SUITE_DATA

    maze = SUITE_DATA["pointmaze"]
    assert maze.target_ratio == 5.0 and maze.all_targets and SUITE_DATA["reach2d"].target_ratio == 3.0
    budget = 36_000
    skill = _cell("ppo-skill-prior", "skill", [4000, 4000, 8000, 8000, 12000], [0.9] * 5, budget)
    bc = _cell("ppo-bc", "primitive", [24000, 28000, 32000, 36000, 36000], [0.4] * 5, budget)
    # IQM (middle three of five) 6,667 against 32,000: 4.8x, enough for Reach2D's 3x, not the maze's 5x
    reach = bench_verdicts.target_check("obstacle", [skill, bc])
    maze_check = bench_verdicts.target_check("medium-2", [skill, bc], maze.target_ratio, maze.all_targets)
    assert reach is not None and maze_check is not None
    assert reach.ratio == pytest.approx(maze_check.ratio) == pytest.approx(32_000 / 6_666.67, rel=1e-4)
    assert not reach.overlap and reach.met and "3x target met: yes" in reach.line(budget)
    assert maze_check.target_task and not maze_check.met and "5x target met: no" in maze_check.line(budget)
    assert maze_check.to_dict()["target_ratio"] == 5.0


def test_help_verdicts_and_the_no_help_sentence():
    latent = _cell("ppo-latent", "latent", [1000] * 5, [0.8, 0.82, 0.84, 0.86, 0.88])
    weak_primitive = _cell("ppo", "primitive", [50_000] * 5, [0.1, 0.12, 0.14, 0.16, 0.18])
    bc = _cell("ppo-bc", "primitive", [0] * 5, [0.81, 0.83, 0.85, 0.87, 0.89])
    helps = bench_verdicts.help_verdict("obstacle", [latent, weak_primitive], bc_agents={"ppo-bc"})
    assert helps is not None and helps.verdict == "helps"
    assert bench_verdicts.no_help_line([helps]).startswith("Latent actions help on every task")
    tie = bench_verdicts.help_verdict("obstacle", [latent, weak_primitive, bc], bc_agents={"ppo-bc"})
    assert tie is not None and tie.verdict == "no clear difference" and tie.primitive.agent == "ppo-bc"
    line = bench_verdicts.no_help_line([helps, tie])
    assert line.startswith(
        "Latent actions do not help on: obstacle (no clear difference: best primitive ppo-bc"
    )
    assert bench_verdicts.compare_auc(weak_primitive, latent) == "below"


# ------------------------------------------------------------------------------ plan and estimate
def test_agent_table_and_presets_are_consistent():
    families = {a.family for a in bench_agents.AGENTS.values()}
    assert families == set(bench_agents.FAMILIES)
    for preset in catalogue.PRESETS.values():
        assert set(preset.agents) <= set(bench_agents.AGENTS) and set(preset.tasks) <= set(catalogue.TASKS)
    default = catalogue.PRESETS["default"]
    assert default.seeds >= 5 and set(default.tasks) == set(catalogue.TASKS)
    for family in set(bench_agents.FAMILIES) - {"skill"}:  # primitive (incl. BC), latent, ablations
        assert any(bench_agents.AGENTS[a].family == family for a in default.agents)
    with_skills = catalogue.RLBenchConfig.from_preset("default", skills=True).agents  # --skills adds them
    assert any(bench_agents.AGENTS[a].family == "skill" for a in with_skills)
    assert any(bench_agents.AGENTS[a].bc for a in default.agents)
    assert {"ppo-flat", "ppo-untrained", "ppo-repeat"} <= set(default.agents)
    assert set(catalogue.PRESETS["full"].agents) == set(bench_agents.AGENTS)


def test_estimate_is_linear_in_the_budget_and_the_default_fits_the_hour():
    agent = bench_agents.AGENTS["ppo"]
    short = catalogue.RLBenchConfig.from_preset("default", steps=10_000)
    long = catalogue.RLBenchConfig.from_preset("default", steps=20_000)
    run_seconds = bench_estimate.estimate_run_seconds
    env_id = "absaction/Reach2D-v0"
    delta = run_seconds(agent, env_id, long) - run_seconds(agent, env_id, short)
    assert delta == pytest.approx(10_000 * engine_estimate.TRAIN_MS_PER_STEP[("ppo", "primitive")] / 1000)
    one = catalogue.RLBenchConfig.from_preset("default", workers=1)
    two = catalogue.RLBenchConfig.from_preset("default", workers=2)
    costs = [10.0] * 8
    assert bench_estimate.estimate_seconds(one, costs, True) == pytest.approx(80.0)
    start = engine_estimate.WORKER_START_SECONDS
    assert bench_estimate.estimate_seconds(two, costs, True) == pytest.approx(40.0 + start)
    # the default sweep on 2 workers: well under an hour by the measured per-step costs
    text, seconds = sweep.describe_sweep(two)
    assert seconds < 45 * 60 and "225 runs of 50,000 primitive steps on 2 worker(s)" in text


def test_bc_demonstrations_fit_every_reach2d_task(expert_dataset: Path):
    import gymnasium as gym

    from absaction.data import load_dataset

    demos = load_dataset(expert_dataset)
    assert demos.env_id == catalogue.DEMO_ENV
    for env_id in catalogue.TASKS.values():
        env = gym.make(env_id)
        bench_runs.check_bc_applicable(demos, env, env_id)  # same observation layout and actions: no error
        env.close()
    pendulum = gym.make("Pendulum-v1")
    with pytest.raises(
        AbsactionError, match=r"do not fit Pendulum-v1 \(observations \(3,\), actions \(1,\)\)"
    ):
        bench_runs.check_bc_applicable(demos, pendulum, "Pendulum-v1")


# ----------------------------------------------------------------------------------- end to end
QUICK = ["--quick", "--workers", "1", "--no-progress", "--bootstrap-reps", "300"]


@pytest.fixture(scope="module")
def quick_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``python -m benchmarks.rl --quick`` once per module (a subprocess from the checkout, one worker): the
    folder and stdout."""
    out = tmp_path_factory.mktemp("bench") / "quick"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.rl", *QUICK, "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "estimated" in proc.stderr  # the plan is printed before the start
    return out, proc.stdout


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_quick_sweep_writes_every_output(quick_sweep: tuple[Path, str]):
    out, stdout = quick_sweep
    preset = catalogue.PRESETS["quick"]
    budget = preset.steps
    for name in (
        "bench.json",
        "results.csv",
        "summary.csv",
        "summary.md",
        "summary.json",
        "learning_curves.png",
        "performance_profiles.png",
        "probability_of_improvement.png",
    ):
        assert (out / name).is_file(), name
    for figure in ("learning_curves.png", "performance_profiles.png", "probability_of_improvement.png"):
        assert (out / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (out / "stage1").iterdir()) == ["demos", "tcvlae"]

    results = _read_csv(out / "results.csv")
    assert [(r["task"], r["agent"], r["seed"]) for r in results] == [
        ("dense", agent, str(seed)) for agent in sorted(preset.agents) for seed in range(preset.seeds)
    ]
    assert list(results[0]) == list(bench_results.RESULT_COLUMNS)
    for row in results:
        run_dir = out / "runs" / row["task"] / row["agent"] / f"seed{row['seed']}"
        # stored relative to the results folder, so a moved or committed sweep still finds its runs
        assert row["run_dir"] == f"runs/{row['task']}/{row['agent']}/seed{row['seed']}"
        assert (run_dir / "agent.zip").is_file()
        for key in ("success_before", "success_random", "success_final", "auc"):
            assert 0.0 <= float(row[key]) <= 1.0
        record = json.loads((run_dir / "agent.json").read_text())
        assert float(row["success_random"]) == pytest.approx(record["random_actions"]["success_rate"])
        if row["agent"] == "ppo-latent":
            assert float(row["decode_ms"]) == pytest.approx(
                record["decode_overhead_ms"], rel=1e-5
            ) and 0 < float(row["decode_ms"])
        else:
            assert row["decode_ms"] == "nan"
        assert budget <= int(row["primitive_steps"]) < budget + 32  # less than one decision over
        assert (row["steps_to_80"] == "") == (row["reached_80"] == "0")
        if row["steps_to_80"]:
            assert 0 <= int(row["steps_to_80"]) <= budget
        # the AUC and success before learning recomputed from the run's own eval.csv
        evals = _read_csv(run_dir / "eval.csv")
        steps = [int(e["primitive_steps"]) for e in evals]
        success = [float(e["success_rate"]) for e in evals]
        assert steps[0] == 0 and float(row["success_before"]) == success[0]
        assert float(row["auc"]) == pytest.approx(normalised_auc(steps, success, budget), abs=1e-6)
    resolved = bench_results.read_results_csv(out)  # the reader resolves them against the folder
    assert [Path(r["run_dir"]) for r in resolved] == [out / r["run_dir"] for r in results]
    # the BC warm start makes the primitive agent succeed before any RL on the dense task
    assert all(float(r["success_before"]) >= 0.5 for r in results if r["agent"] == "ppo-bc")

    summary = _read_csv(out / "summary.csv")
    assert list(summary[0]) == list(bench_results.SUMMARY_COLUMNS)
    assert [(s["task"], s["agent"]) for s in summary] == [("dense", a) for a in preset.agents]
    for s in summary:
        runs = [r for r in results if r["agent"] == s["agent"]]
        # 2 seeds: the IQM trims nothing, so it is the mean of the two runs
        assert float(s["auc_iqm"]) == pytest.approx(np.mean([float(r["auc"]) for r in runs]), abs=1e-6)
        assert float(s["auc_low"]) <= float(s["auc_iqm"]) <= float(s["auc_high"])
        assert int(s["steps_to_80_censored"]) == sum(r["reached_80"] == "0" for r in runs)
        assert (
            float(s["steps_to_80_low"])
            <= float(s["steps_to_80_iqm"])
            <= float(s["steps_to_80_high"])
            <= budget
        )

    text = (out / "summary.md").read_text()
    header = "| agent | dense: before / random / prior | dense: steps to 80 % | dense: AUC |"
    assert header in text and "| `ppo-bc` (primitive) |" in text and "| `ppo-latent` (latent) |" in text
    assert "## 3x target" in text and "## Where latent actions do not help" in text
    assert "Skill models (stage 1)" not in text  # no skill agent ran
    assert "## Decode overhead" in text and "ms (target: <= 1 ms on CPU" in text
    assert ("Latent actions do not help on:" in text) or ("Latent actions help on every task" in text)
    assert "3x target check" in stdout and "3x target met: " in stdout

    def strict(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    data = json.loads((out / "summary.json").read_text(), parse_constant=strict)
    assert len(data["runs"]) == len(results) and data["config"]["steps"] == budget
    curve = data["cells"][0]["curve"]
    assert curve["steps"] == [0, 80, 160, 240, 320]  # 0, every steps // eval_points, the budget
    assert all(lo <= v <= hi for v, lo, hi in zip(curve["iqm"], curve["low"], curve["high"], strict=True))
    assert data["target_check"][0]["task"] == "dense" and data["target_check"][0]["met"] in (True, False)

    # rliable's probability of improvement (one task: no pooled row), recomputed from results.csv by hand:
    # P(a latent run's AUC > a primitive run's), ties one half
    (improvement,) = data["probability_of_improvement"]
    assert (improvement["task"], improvement["latent_agent"]) == ("dense", "ppo-latent")
    assert improvement["primitive_agent"] in ("ppo", "ppo-bc")
    lat = [float(r["auc"]) for r in results if r["agent"] == "ppo-latent"]
    prim = [float(r["auc"]) for r in results if r["agent"] == improvement["primitive_agent"]]
    by_hand = np.mean([1.0 if a > b else 0.5 if a == b else 0.0 for a in lat for b in prim])
    p = improvement["probability"]
    assert p["value"] == pytest.approx(by_hand) and p["low"] <= p["value"] <= p["high"]
    assert (
        "## Probability of improvement" in text
        and f"dense: P(ppo-latent > {improvement['primitive_agent']})" in text
    )
    # the performance profile of each agent's AUC: the fraction of its runs above each tau, by hand
    profiles = data["performance_profiles"]["profiles"]
    assert data["performance_profiles"]["score"] == "auc" and list(profiles) == list(preset.agents)
    for agent, profile in profiles.items():
        aucs = np.array([float(r["auc"]) for r in results if r["agent"] == agent])
        np.testing.assert_allclose(profile["fraction"], [np.mean(aucs > t) for t in profile["taus"]])
    assert "## Performance profiles (AUC, all tasks pooled)" in text and "| agent | AUC > 0.25 |" in text

    # the lookahead ceiling: for the macro agent only, on seed 0's evaluation episodes; its random-action
    # column is the run's own record (same function, same episodes)
    assert "## What each macro action space can express" in text
    assert "| agent | dense: random / lookahead |" in text and "| `ppo-latent` |" in text
    (ceiling,) = data["lookahead"]
    assert (ceiling["task"], ceiling["agent"], ceiling["seed"]) == ("dense", "ppo-latent", 0)
    assert ceiling["candidates"] == 256 and 0.0 <= ceiling["success_rate"] <= 1.0
    seed0 = json.loads((out / "runs" / "dense" / "ppo-latent" / "seed0" / "agent.json").read_text())
    assert ceiling["random_success_rate"] == seed0["random_actions"]["success_rate"]
    assert ceiling["episodes"] == seed0["random_actions"]["episodes"]
    assert data["shared"] == []  # the two agents differ: nothing is shared
    cached = json.loads((out / lookahead.LOOKAHEAD_FILE).read_text())
    assert cached["dense/ppo-latent"]["ceiling"] == ceiling
    # every record names its folders relative to the bench folder: none holds this machine's paths
    assert cached["dense/ppo-latent"]["settings"]["config"]["model"] == "stage1/tcvlae"
    assert data["stage1"]["data"] == "stage1/demos" and data["stage1"]["models"]["tcvlae"] == "stage1/tcvlae"
    assert {run["out_dir"] for run in data["runs"]} >= {"runs/dense/ppo-latent/seed0"}
    for name in ("bench.json", "summary.json", lookahead.LOOKAHEAD_FILE, "results.csv"):
        assert str(out.parent) not in (out / name).read_text(), name


def test_resume_skips_finished_runs_and_checks_the_settings(
    quick_sweep: tuple[Path, str], capsys: pytest.CaptureFixture[str]
):
    import shutil

    out, _ = quick_sweep
    runs = sorted((out / "runs").glob("*/*/seed*"))
    stamps = {run: (run / "eval.csv").stat().st_mtime_ns for run in runs}
    shutil.rmtree(runs[0])  # as if the sweep had been interrupted before this run
    assert main([*QUICK, "--out", str(out), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "1 run(s) trained, 3 reused" in captured.out
    assert f"{len(runs) - 1} finished run(s) found" in captured.err
    assert "lookahead ceiling of" not in captured.err  # seed 0 of ppo-latent was kept: reused, not rerun
    assert (runs[0] / "eval.csv").is_file()
    for run in runs[1:]:
        assert (run / "eval.csv").stat().st_mtime_ns == stamps[run]  # not rerun
    assert len(_read_csv(out / "results.csv")) == len(runs)
    config = catalogue.RLBenchConfig.from_preset("quick")
    assert f"({len(runs)} finished)" in sweep.describe_sweep(config, out)[0]  # the estimate skips them

    # a damaged lookahead cache is recomputed, not a crash
    cache = out / lookahead.LOOKAHEAD_FILE
    kept = json.loads(cache.read_text())
    cache.write_text("{ not json")
    assert main([*QUICK, "--out", str(out), "--resume"]) == 0
    assert "lookahead ceiling of dense/ppo-latent" in capsys.readouterr().err
    redone = json.loads(cache.read_text())["dense/ppo-latent"]
    assert redone["settings"] == kept["dense/ppo-latent"]["settings"]

    # the same folder without --resume, or with other settings, is refused (and left as it was)
    before = (out / "bench.json").read_text()
    assert main([*QUICK, "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{ERROR}bench folder {out} already exists; pass --resume to continue its sweep, "
        "--force to start over, or choose another --out"
    ]
    refusal = [
        f"{ERROR}{out} was swept with steps=320, now steps=640; pass the same settings to "
        "--resume, or use another --out (or --force to start over)"
    ]
    assert main([*QUICK, "--out", str(out), "--resume", "--steps", "640"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == refusal
    assert main([*QUICK, "--out", str(out), "--resume", "--steps", "640", "--dry-run"]) == 2  # says so too
    assert capsys.readouterr().err.strip().splitlines() == refusal
    assert (out / "bench.json").read_text() == before


@pytest.mark.parametrize("damage", ["{ not json", "[1, 2]", '{"config": 3}'])
def test_resume_of_a_damaged_bench_json_is_one_line(
    damage: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "bench.json").write_text(damage)
    expected = [
        f"{ERROR}{out / 'bench.json'} is damaged (not a sweep's settings), so the sweep "
        "cannot be resumed; restore it, or start over with --force (or another --out)"
    ]
    for dry in ([], ["--dry-run"]):
        assert main([*QUICK, "--out", str(out), "--resume", *dry]) == 2
        assert capsys.readouterr().err.strip().splitlines() == expected
    assert [p.name for p in out.iterdir()] == ["bench.json"]
    assert (out / "bench.json").read_text() == damage  # left as it was


def test_resume_with_more_seeds_adds_runs_and_reuses_the_finished_ones(
    quick_sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # how a 5-seed sweep grows to 10: --seeds is not a resume key, so a larger value adds the new seeds
    import shutil

    out = tmp_path / "sweep"
    shutil.copytree(quick_sweep[0], out)
    runs = sorted((out / "runs").glob("*/*/seed*"))
    assert {run.name for run in runs} == {"seed0", "seed1"}
    stamps = {run: (run / "eval.csv").stat().st_mtime_ns for run in runs}
    assert main([*QUICK, "--out", str(out), "--resume", "--seeds", "3", "--lookahead", "0"]) == 0
    assert "2 run(s) trained, 4 reused" in capsys.readouterr().out
    for run in runs:
        assert (run / "eval.csv").stat().st_mtime_ns == stamps[run]  # seeds 0 and 1 kept as they were
    rows = _read_csv(out / "results.csv")
    assert sorted((row["agent"], row["seed"]) for row in rows) == [
        (agent, str(seed)) for agent in ("ppo-bc", "ppo-latent") for seed in range(3)
    ]
    assert json.loads((out / "bench.json").read_text())["config"]["seeds"] == 3


def test_resume_refuses_runs_trained_with_other_packaged_hyperparameters(
    quick_sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # as if the packaged YAML had changed since the run: its config.json records the values it trained with
    import shutil

    out = tmp_path / "sweep"
    shutil.copytree(quick_sweep[0], out)
    run = sorted((out / "runs").glob("*/ppo-latent/seed0"))[0]
    record = json.loads((run / "config.json").read_text())
    record["hyperparams"]["learning_rate"] = 0.5
    (run / "config.json").write_text(json.dumps(record))
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("eval.csv")}
    assert main([*QUICK, "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the plan line
    assert err.startswith(ERROR) and f"{run} was trained with other hyperparameters" in err
    assert "learning_rate=0.5 (now " in err and "--force to start the sweep over" in err
    assert {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("eval.csv")} == stamps  # nothing rerun


def test_ablations_use_the_given_data_and_model(quick_sweep: tuple[Path, str], tmp_path: Path):
    """--data and --model skip collecting and the TCVLAE; the flat VAE and the untrained copy are built."""
    from safetensors.numpy import load_file

    from absaction.models import load

    quick, _ = quick_sweep
    data, model = quick / "stage1" / "demos", quick / "stage1" / "tcvlae"
    out = tmp_path / "ablations"
    argv = [
        *QUICK,
        "--data",
        str(data),
        "--model",
        str(model),
        "--agents",
        "ppo-latent-top",
        "ppo-flat",
        "ppo-untrained",
        "ppo-repeat",
        "--seeds",
        "1",
        "--steps",
        "64",
        "--eval-points",
        "2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert sorted(p.name for p in (out / "stage1").iterdir()) == ["tcvae", "untrained"]
    trained = json.loads((model / "config.json").read_text())
    untrained = json.loads((out / "stage1" / "untrained" / "config.json").read_text())
    # same architecture, normaliser and measured active units: the agent controls the same latents ...
    for key in ("model_config", "normalizer", "kl_per_dim", "action_low", "action_high"):
        assert untrained[key] == trained[key], key
    # ... but through freshly initialised weights
    w_trained = load_file(model / "model.safetensors")
    w_untrained = load_file(out / "stage1" / "untrained" / "model.safetensors")
    assert w_trained.keys() == w_untrained.keys()
    assert any(not np.array_equal(w_trained[k], w_untrained[k]) for k in w_trained)

    def wrapper(agent: str) -> dict[str, Any]:
        return json.loads((out / "runs" / "dense" / agent / "seed0" / "agent.json").read_text())["wrapper"]

    ladders = len(trained["model_config"]["ladder_dims"])
    assert list(wrapper("ppo-latent-top")["dims"]) == [str(ladders)]  # the top ladder only
    # records name folders relative to their own folder
    top_run = out / "runs" / "dense" / "ppo-latent-top" / "seed0"
    assert path_from_record(wrapper("ppo-latent-top")["model"], top_run).resolve() == model.resolve()
    assert list(wrapper("ppo-flat")["dims"]) == ["1"] and wrapper("ppo-flat")["model"].endswith("tcvae")
    active = load(model).active_dims()
    assert wrapper("ppo-untrained")["dims"] == {str(i): d for i, d in enumerate(active, start=1) if d}
    assert wrapper("ppo-repeat")["wrapper"] == "repeat" and wrapper("ppo-repeat")["chunk_steps"] == 32
    settings = json.loads((out / "bench.json").read_text())["config"]
    assert settings["data"] == path_in_record(data, out) and settings["model"] == path_in_record(model, out)
    assert path_from_record(settings["model"], out).resolve() == model.resolve()


# ------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--agents", "ppo-latnet"], "unknown agent 'ppo-latnet'; did you mean ppo-latent? choose from ppo,"),
        (
            ["--tasks", "obstacel"],
            "unknown task 'obstacel'; use a short name (dense, sparse, obstacle, chain, ",
        ),
        (["--tasks", "dense", "absaction/Reach2D-v0"], "a task is listed twice"),
        (["--steps", "3"], "3 steps cannot hold 4 evaluation points; pass --steps 4 or more"),
        (["--model", "no-such-run"], "model folder no-such-run does not exist"),
        (["--force", "--resume"], "--force and --resume contradict each other; pass one of them"),
        (["--resume"], "holds no sweep to resume; start one without --resume"),
    ],
)
def test_bad_input_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
):
    out = tmp_path / "out"
    assert main([*QUICK, *extra, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR) and message in lines[0]
    assert not out.exists()


def test_force_never_deletes_a_folder_that_is_not_a_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main([*QUICK, "--force", "--out", str(out)]) == 2
    assert "is not an absaction bench folder (no bench.json)" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_quick_and_full_exclude_each_other(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--full", "--out", "x"])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_subprocess_error_and_dry_run(tmp_path: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    study = [sys.executable, "-m", "benchmarks.rl"]
    proc = subprocess.run(
        [*study, "--agents", "nope", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"{ERROR}unknown agent 'nope'; choose from " + ", ".join(bench_agents.AGENTS)
    ]
    # --dry-run checks and plans without writing
    proc = subprocess.run(
        [*study, "--quick", "--dry-run", "--out", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 task(s) x 2 agent(s) x 2 seed(s) = 4 runs of 320 primitive steps" in proc.stdout
    assert not (tmp_path / "d").exists()


def test_help_lists_every_agent_and_the_library_points_here(capsys: pytest.CaptureFixture[str]):
    from absaction.cli import main as absaction_main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for name in bench_agents.AGENTS:
        assert name in text
    assert "--quick" in text and "--full" in text and "--resume" in text and "--workers" in text
    assert "python -m benchmarks.rl --quick" in text
    # `absaction bench rl`, the study's former command, says where it is now, in one line
    assert absaction_main(["bench", "rl", "--quick", "--out", "x"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "`absaction bench rl` is not a command" in line and "python -m benchmarks.rl ..." in line


def test_a_moved_sweep_resumes_without_recomputing(
    quick_sweep: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """The lookahead cache is keyed on paths relative to the bench folder: a sweep copied elsewhere (or
    committed and checked out on another machine) resumes with its ceilings and runs reused."""
    import shutil

    out, _ = quick_sweep
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)
    assert main([*QUICK, "--out", str(moved), "--resume"]) == 0
    captured = capsys.readouterr()
    assert "0 run(s) trained" in captured.out and "lookahead ceiling of" not in captured.err


def test_decoder_reach_script_end_to_end(tmp_path: Path, expert_dataset: Path):
    """benchmarks/bench_decoder_reach.py on a tiny TCVLAE: its figures agree with a direct decode, and bad
    input is one line and exit 2."""
    import gymnasium as gym

    from absaction.agents.evaluation import candidate_actions
    from absaction.train import TrainConfig, fit
    from absaction.wrappers import LatentActionWrapper

    run = tmp_path / "vae"
    fit(expert_dataset, TrainConfig(model_options={"channels": 4}, epochs=2, threads=1), run, progress=False)
    script = REPO / "benchmarks" / "bench_decoder_reach.py"
    out = tmp_path / "reach.json"
    argv = [sys.executable, str(script), "--model", str(run), "--data", str(expert_dataset), "--points", "9"]
    proc = subprocess.run([*argv, "--episodes", "2", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["chain_mean_z_success"][1] == 2 and 0 <= report["chain_mean_z_success"][0] <= 2
    assert report["model"] == "vae"  # relative to the folder of the JSON file
    assert sorted(report["per_target"]) == ["0", "1"]
    # the box's end points, recomputed by decoding the same points here
    wrapper = LatentActionWrapper(gym.make("absaction/Reach2DNewGoals-v0"), str(run))
    points = candidate_actions(wrapper.action_space, 9)
    ends = np.array([0.1 * wrapper.decode_action(a).sum(axis=0) for a in points])
    box = report["box"]
    assert box["grid_points"] == len(points) <= 9
    assert box["x_range"] == pytest.approx([ends[:, 0].min(), ends[:, 0].max()], abs=1e-6)
    assert box["y_range"] == pytest.approx([ends[:, 1].min(), ends[:, 1].max()], abs=1e-6)
    nearest = np.linalg.norm(ends[:, None] - np.array(box["new_goals"])[None], axis=-1).min(axis=0)
    assert box["nearest_end_to_each_new_goal"] == pytest.approx(nearest.tolist(), abs=1e-6)
    # one closed-loop decision: the first 8 decoded actions; 32 / 8 of them bound the episode's reach in y
    first = np.array([0.1 * wrapper.decode_action(a)[:8].sum(axis=0) for a in points])
    eight = box["closed_loop"]["8"]
    assert eight["x_range"] == pytest.approx([first[:, 0].min(), first[:, 0].max()], abs=1e-6)
    assert eight["y_max_in_episode"] == pytest.approx(4 * first[:, 1].max(), abs=1e-5)
    # an existing output is refused and kept; a missing dataset is one line
    before = out.read_text()
    again = subprocess.run([*argv, "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and "already exists" in again.stderr and out.read_text() == before
    missing = subprocess.run([*argv[:5], str(tmp_path / "nope")], capture_output=True, text=True)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------------------------------ layout
STUDY_ORDER = (
    "suites",
    "agents",
    "catalogue",
    "estimate",
    "inputs",
    "stage1",
    "lookahead",
    "verdicts",
    "ingredients",
    "report",
    "maze_figure",
    "sweep",
    "cli",
)


def test_study_modules_import_only_downward():
    """Each module of the RL study imports only study modules before it in STUDY_ORDER (no cycle)."""
    import ast

    package = REPO / "benchmarks" / "rl"
    assert {p.stem for p in package.glob("*.py")} == {*STUDY_ORDER, "__init__", "__main__"}
    for position, name in enumerate(STUDY_ORDER):
        tree = ast.parse((package / f"{name}.py").read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y / from . import x
                imported |= {node.module} if node.module else {alias.name for alias in node.names}
        assert imported <= set(STUDY_ORDER[:position]), (name, imported - set(STUDY_ORDER[:position]))
